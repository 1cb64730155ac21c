"""Layer normalization over the rows of a (M, D) matrix: forward and backward.

Each row ``r`` (one sample/position) is normalised over its D features, statistics
in float64: ``mean``, biased ``var``, ``inv = 1 / sqrt(var + eps)``.

* plain: ``y = (x - mean) * inv * gamma + beta``;
* ``rms``: Keras 3's (deprecated) ``rms_scaling=True``, ``y = x * inv * gamma``: the
  *un-centred* input scaled by the variance (not the root mean square), kept as Keras
  computes it so saved models predict the same.

``gamma``/``beta`` are length-D vectors (ones/zeros when the layer has none).
Rows run in parallel (``prange``), each independent, so no reductions collide;
``dgamma``/``dbeta`` are summed over row blocks.

>>> import numpy as np
>>> x = np.array([[1.0, 3.0]]); y = np.empty_like(x)
>>> mean = np.empty(1); inv = np.empty(1)
>>> _ = layer_norm_forward_ref(x, np.ones(2), np.zeros(2), 0.0, False, y, mean, inv)
>>> y.tolist(), inv.tolist()
([[-1.0, 1.0]], [1.0])
"""

from __future__ import annotations

import numpy as np

from core.kernels import _cold
from core.kernels._jit import njit, prange

_BLOCKS = 16  # row blocks for the parallel dgamma/dbeta partial sums


@njit(parallel=True)
def layer_norm_forward(x2, gamma, beta, eps, rms, y2, mean, inv):
    """Fill ``y2`` (M, D), ``mean`` and ``inv`` (M,) float64; returns ``y2``."""
    m, d = x2.shape
    for r in prange(m):
        s = 0.0
        for j in range(d):
            s += x2[r, j]
        mu = s / d
        s2 = 0.0
        for j in range(d):
            t = x2[r, j] - mu
            s2 += t * t
        iv = 1.0 / np.sqrt(s2 / d + eps)
        mean[r] = mu
        inv[r] = iv
        shift = 0.0 if rms else mu
        for j in range(d):
            y2[r, j] = (x2[r, j] - shift) * iv * gamma[j] + beta[j]
    return y2


def layer_norm_forward_ref(x2, gamma, beta, eps, rms, y2, mean, inv):
    """Numpy twin of ``layer_norm_forward``."""
    xd = x2.astype(np.float64)
    mean[...] = xd.mean(axis=1)
    inv[...] = 1.0 / np.sqrt(xd.var(axis=1) + eps)
    shift = 0.0 if rms else mean[:, None]
    y2[...] = (xd - shift) * inv[:, None] * gamma + beta
    return y2


@njit(parallel=True)
def layer_norm_backward(x2, dy2, gamma, mean, inv, rms, dx2, dgamma, dbeta, need_input_grad):
    """``dgamma``, ``dbeta`` (D,) float64 and, when asked, ``dx2`` (M, D)."""
    m, d = x2.shape
    nb = min(_BLOCKS, max(m, 1))
    pg = np.zeros((nb, d), np.float64)
    pb = np.zeros((nb, d), np.float64)
    for k in prange(nb):
        for r in range(k * m // nb, (k + 1) * m // nb):
            mu, iv = mean[r], inv[r]
            shift = 0.0 if rms else mu
            a = 0.0  # sum(du)        (plain: mean term)
            b = 0.0  # plain: sum(du * xhat); rms: sum(du * x)
            for j in range(d):
                g = dy2[r, j]
                u = (x2[r, j] - shift) * iv
                pg[k, j] += g * u
                pb[k, j] += g
                du = g * gamma[j]
                a += du
                b += du * (u if not rms else x2[r, j])
            if need_input_grad:
                for j in range(d):
                    du = dy2[r, j] * gamma[j]
                    if rms:
                        dx2[r, j] = iv * du - iv * iv * iv * (x2[r, j] - mu) * b / d
                    else:
                        xh = (x2[r, j] - mu) * iv
                        dx2[r, j] = iv * (du - a / d - xh * b / d)
    for j in range(d):
        sg = 0.0
        sb = 0.0
        for k in range(nb):
            sg += pg[k, j]
            sb += pb[k, j]
        dgamma[j] = sg
        dbeta[j] = sb
    return dx2


def layer_norm_backward_ref(x2, dy2, gamma, mean, inv, rms, dx2, dgamma, dbeta,
                            need_input_grad):
    """Numpy twin of ``layer_norm_backward``."""
    d = x2.shape[1]
    xd, g = x2.astype(np.float64), dy2.astype(np.float64)
    mu, iv = mean[:, None], inv[:, None]
    u = (xd - (0.0 if rms else mu)) * iv
    dgamma[...] = (g * u).sum(axis=0)
    dbeta[...] = g.sum(axis=0)
    if need_input_grad:
        du = g * gamma
        if rms:
            b = (du * xd).sum(axis=1, keepdims=True)
            dx2[...] = iv * du - iv ** 3 * (xd - mu) * b / d
        else:
            dx2[...] = iv * (du - du.mean(axis=1, keepdims=True)
                             - u * (du * u).mean(axis=1, keepdims=True))
    return dx2


def warmup() -> None:
    """Compile (or load from cache) the float32 kernels on tiny inputs."""
    x = np.ones((4, 3), np.float32)
    g = np.ones(3, np.float32)
    mean, inv = np.empty(4), np.empty(4)
    y = np.empty_like(x)
    layer_norm_forward(x, g, g, 1e-3, False, y, mean, inv)
    layer_norm_backward(x, y, g, mean, inv, False, x.copy(), np.empty(3), np.empty(3), True)


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
# The transformer template's LayerNormalization compiled at its first call otherwise.
_cold.wrap(globals(), ["layer_norm_forward", "layer_norm_backward"])
