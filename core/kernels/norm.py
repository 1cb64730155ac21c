"""Batch normalization over the rows of a (M, C) matrix: forward and backward, fused.

The layer reshapes its input so that the normalised axis is the last one: row
``r`` is one sample/position, column ``c`` one channel. Statistics are
accumulated in float64 whatever the data type, so float32 batches of ~100k
rows keep full float32 precision. Row blocks run in parallel (``prange``), each
writing its own partial sums, so no atomics are needed.

Training forward uses the batch mean and *biased* variance (Keras 3); inference
forward uses the given (moving) mean and variance.
``inv_std = 1 / sqrt(var + eps)``; ``y = (x - mean) * inv_std * gamma + beta``.

>>> import numpy as np
>>> x = np.array([[1.0, 2.0], [3.0, 6.0]])
>>> y = np.empty_like(x); mean = np.empty(2); var = np.empty(2); inv = np.empty(2)
>>> _ = batch_norm_train_forward_ref(x, np.ones(2), np.zeros(2), 0.0, y, mean, var, inv)
>>> y.tolist(), var.tolist()
([[-1.0, -1.0], [1.0, 1.0]], [1.0, 4.0])
"""

from __future__ import annotations

import numpy as np

from core.kernels._jit import njit, prange

_BLOCKS = 16  # row blocks for the parallel reductions (>= threads, small partial arrays)


@njit(parallel=True)
def _shifted_sums(x2, shift):
    """Per-column ``sum(x - shift)`` and ``sum((x - shift)**2)`` in float64, one pass.

    With ``shift`` a sample of each column (its first row), ``var = s2/m - (s1/m)**2``
    loses at most ~1e-16 * (shift - mean)**2 <= 1e-16 * m * var: the shift is one of
    the samples, so it cannot sit further than sqrt(m * var) from the mean."""
    m, c = x2.shape
    nb = min(_BLOCKS, max(m, 1))
    p1 = np.zeros((nb, c), np.float64)
    p2 = np.zeros((nb, c), np.float64)
    for k in prange(nb):
        r0 = k * m // nb
        r1 = (k + 1) * m // nb
        for r in range(r0, r1):
            for ch in range(c):
                d = x2[r, ch] - shift[ch]
                p1[k, ch] += d
                p2[k, ch] += d * d
    s1 = np.zeros(c, np.float64)
    s2 = np.zeros(c, np.float64)
    for k in range(nb):
        for ch in range(c):
            s1[ch] += p1[k, ch]
            s2[ch] += p2[k, ch]
    return s1, s2


@njit(parallel=True)
def _affine(x2, scale, offset, y2):
    m, c = x2.shape
    for r in prange(m):
        for ch in range(c):
            y2[r, ch] = x2[r, ch] * scale[ch] + offset[ch]


@njit
def batch_norm_train_forward(x2, gamma, beta, eps, y2, mean, var, inv_std):
    """Normalise with batch statistics; writes ``y2`` and the batch ``mean``, biased
    ``var`` and ``inv_std`` (all float64 (C,) buffers). One pass for the moments
    (shifted sums, see ``_shifted_sums``), one for the output."""
    m, c = x2.shape
    shift = np.empty(c, np.float64)
    for ch in range(c):
        shift[ch] = x2[0, ch] if m > 0 else 0.0
    s1, s2 = _shifted_sums(x2, shift)
    scale = np.empty(c, np.float64)
    offset = np.empty(c, np.float64)
    for ch in range(c):
        d = s1[ch] / m
        mean[ch] = shift[ch] + d
        var[ch] = max(s2[ch] / m - d * d, 0.0)
        inv_std[ch] = 1.0 / np.sqrt(var[ch] + eps)
        scale[ch] = gamma[ch] * inv_std[ch]
        offset[ch] = beta[ch] - mean[ch] * scale[ch]
    _affine(x2, scale, offset, y2)
    return y2


def batch_norm_train_forward_ref(x2, gamma, beta, eps, y2, mean, var, inv_std):
    """Numpy twin of ``batch_norm_train_forward``."""
    xd = x2.astype(np.float64)
    mean[...] = xd.mean(axis=0)
    var[...] = ((xd - mean) ** 2).mean(axis=0)
    inv_std[...] = 1.0 / np.sqrt(var + eps)
    y2[...] = (xd - mean) * inv_std * gamma + beta
    return y2


@njit
def batch_norm_infer_forward(x2, gamma, beta, mean, var, eps, y2, inv_std):
    """Normalise with given (moving) statistics; writes ``y2`` and ``inv_std``."""
    c = x2.shape[1]
    scale = np.empty(c, np.float64)
    offset = np.empty(c, np.float64)
    for ch in range(c):
        inv_std[ch] = 1.0 / np.sqrt(np.float64(var[ch]) + eps)
        scale[ch] = gamma[ch] * inv_std[ch]
        offset[ch] = beta[ch] - mean[ch] * scale[ch]
    _affine(x2, scale, offset, y2)
    return y2


def batch_norm_infer_forward_ref(x2, gamma, beta, mean, var, eps, y2, inv_std):
    """Numpy twin of ``batch_norm_infer_forward``."""
    inv_std[...] = 1.0 / np.sqrt(var.astype(np.float64) + eps)
    y2[...] = (x2.astype(np.float64) - mean) * inv_std * gamma + beta
    return y2


@njit(parallel=True)
def _grad_sums(x2, dy2, mean, inv_std):
    """Per-column ``sum(dy)`` and ``sum(dy * x_hat)`` in float64."""
    m, c = x2.shape
    nb = min(_BLOCKS, max(m, 1))
    p1 = np.zeros((nb, c), np.float64)
    p2 = np.zeros((nb, c), np.float64)
    for k in prange(nb):
        r0 = k * m // nb
        r1 = (k + 1) * m // nb
        for r in range(r0, r1):
            for ch in range(c):
                g = dy2[r, ch]
                p1[k, ch] += g
                p2[k, ch] += g * (x2[r, ch] - mean[ch]) * inv_std[ch]
    s1 = np.zeros(c, np.float64)
    s2 = np.zeros(c, np.float64)
    for k in range(nb):
        for ch in range(c):
            s1[ch] += p1[k, ch]
            s2[ch] += p2[k, ch]
    return s1, s2


@njit
def batch_norm_backward(x2, dy2, gamma, mean, inv_std, training, dx2, dgamma, dbeta,
                        need_input_grad):
    """Fused backward: ``dbeta = sum(dy)``, ``dgamma = sum(dy * x_hat)`` (float64
    (C,) outputs) and, when ``need_input_grad``, ``dx2``.

    training=True: mean/inv_std are the batch statistics and also depend on x,
    so ``dx = gamma*inv_std*(dy - dbeta/M - x_hat*dgamma/M)``.
    training=False: statistics are constants, ``dx = gamma*inv_std*dy``.
    """
    m, c = x2.shape
    s1, s2 = _grad_sums(x2, dy2, mean, inv_std)
    for ch in range(c):
        dbeta[ch] = s1[ch]
        dgamma[ch] = s2[ch]
    if need_input_grad:
        k = np.empty(c, np.float64)
        u = np.empty(c, np.float64)
        v = np.empty(c, np.float64)
        for ch in range(c):
            k[ch] = gamma[ch] * inv_std[ch]
            if training:
                u[ch] = s1[ch] / m
                v[ch] = s2[ch] / m
            else:
                u[ch] = 0.0
                v[ch] = 0.0
        _dx(x2, dy2, mean, inv_std, k, u, v, dx2)
    return dx2


@njit(parallel=True)
def _dx(x2, dy2, mean, inv_std, k, u, v, dx2):
    m, c = x2.shape
    for r in prange(m):
        for ch in range(c):
            xh = (x2[r, ch] - mean[ch]) * inv_std[ch]
            dx2[r, ch] = k[ch] * (dy2[r, ch] - u[ch] - xh * v[ch])


def batch_norm_backward_ref(x2, dy2, gamma, mean, inv_std, training, dx2, dgamma, dbeta,
                            need_input_grad):
    """Numpy twin of ``batch_norm_backward``."""
    m = x2.shape[0]
    xh = (x2.astype(np.float64) - mean) * inv_std
    dyd = dy2.astype(np.float64)
    dbeta[...] = dyd.sum(axis=0)
    dgamma[...] = (dyd * xh).sum(axis=0)
    if need_input_grad:
        if training:
            dx2[...] = gamma * inv_std * (dyd - dbeta / m - xh * dgamma / m)
        else:
            dx2[...] = gamma * inv_std * dyd
    return dx2


def warmup() -> None:
    """Compile (or load from cache) the float32 kernels on tiny inputs."""
    x = np.ones((4, 3), np.float32)
    g = np.ones(3, np.float32)
    stats = [np.empty(3, np.float64) for _ in range(5)]
    y = np.empty_like(x)
    batch_norm_train_forward(x, g, g, 1e-3, y, stats[0], stats[1], stats[2])
    batch_norm_infer_forward(x, g, g, g, g, 1e-3, y, stats[2])
    batch_norm_backward(x, y, g, stats[0], stats[2], True, x.copy(), stats[3], stats[4], True)
