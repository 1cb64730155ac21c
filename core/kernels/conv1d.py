"""1-D convolution and max pooling over (batch, steps, channels), channels last.

``im2col_1d`` copies every receptive field of ``x`` (N, L, C) into a row of ``cols``
(N*OL, >= K*C), column order ``(tap, channel)``, so that
``cols @ kernel.reshape(K*C, filters)`` is the output for a Keras kernel of shape
(K, C, filters). ``col2im_1d`` is its adjoint. Padding is ``left`` zero steps before
the sequence (the right padding follows from the output length): 'causal' is
``left = dilation * (K - 1)``, 'same' is Keras' split (``core.kernels.conv.same_padding``).

Why not the 2-D kernels on a 1 x L image: those run in numba's thread pool, whose
hand-over costs more than these memory-bound copies on the shared 2-core box, and
are slower to compile. These are serial on purpose, with the channel loop innermost
(a "one contiguous K*C copy per window" variant measured 3x slower: 0.6-0.7 vs 0.19 ms
for the (6016, 160) columns of the benchmark's second conv).

``max_pool1d`` records the winning *step* of each (window, channel) as int32, which
backward gathers; a padded step never wins (TF pads with -inf), ties go to the
first step, as in ``core.kernels.pool``.

>>> import numpy as np
>>> x = np.arange(6, dtype="float32").reshape(1, 3, 2)
>>> cols = np.empty((2, 4), "float32")
>>> im2col_1d_ref(x, 2, 1, 1, 0, cols)[1].tolist()
[2.0, 3.0, 4.0, 5.0]
"""

from __future__ import annotations

import numpy as np

from core.kernels import _cold
from core.kernels._jit import njit


# -------------------------------------------------------------------- im2col
@njit
def im2col_1d(x, k, stride, dilation, left, cols):
    """Fill ``cols`` (N*OL, >= K*C) with the windows of ``x`` (N, L, C); returns ``cols``.

    OL is ``cols.shape[0] // N``; columns past K*C are left untouched.
    """
    n, steps, c = x.shape
    out = cols.shape[0] // n
    for b in range(n):
        for t in range(out):
            r = b * out + t
            s0 = t * stride - left
            for j in range(k):
                s = s0 + j * dilation
                base = j * c
                if s >= 0 and s < steps:
                    for ch in range(c):
                        cols[r, base + ch] = x[b, s, ch]
                else:
                    for ch in range(c):
                        cols[r, base + ch] = 0.0
    return cols


def im2col_1d_ref(x, k, stride, dilation, left, cols):
    """Numpy twin of ``im2col_1d`` (strided slices of the zero-padded input)."""
    n, steps, c = x.shape
    out = cols.shape[0] // n
    right = max(0, (out - 1) * stride + dilation * (k - 1) + 1 - steps - left)
    xp = np.pad(x, ((0, 0), (left, right), (0, 0)))
    for j in range(k):
        s0 = j * dilation
        patch = xp[:, s0:s0 + stride * (out - 1) + 1:stride, :]
        cols[:, j * c:(j + 1) * c] = patch.reshape(n * out, c)
    return cols


# -------------------------------------------------------------------- col2im
@njit
def col2im_1d(dcols, k, stride, dilation, left, dx):
    """``dx`` (N, L, C), overwritten, = adjoint of ``im2col_1d`` applied to ``dcols``."""
    n, steps, c = dx.shape
    out = dcols.shape[0] // n
    for b in range(n):
        for s in range(steps):
            for ch in range(c):
                dx[b, s, ch] = 0.0
        for t in range(out):
            r = b * out + t
            s0 = t * stride - left
            for j in range(k):
                s = s0 + j * dilation
                if s >= 0 and s < steps:
                    base = j * c
                    for ch in range(c):
                        dx[b, s, ch] += dcols[r, base + ch]
    return dx


def col2im_1d_ref(dcols, k, stride, dilation, left, dx):
    """Numpy twin of ``col2im_1d``."""
    n, steps, c = dx.shape
    out = dcols.shape[0] // n
    right = max(0, (out - 1) * stride + dilation * (k - 1) + 1 - steps - left)
    dxp = np.zeros((n, left + steps + right, c), dx.dtype)
    view = dcols[:, :k * c].reshape(n, out, k, c)
    for j in range(k):
        s0 = j * dilation
        dxp[:, s0:s0 + stride * (out - 1) + 1:stride, :] += view[:, :, j, :]
    dx[...] = dxp[:, left:left + steps]
    return dx


# ----------------------------------------------------------------- max pool
@njit
def max_pool1d(x, pool, stride, left, y, argmax):
    """``y`` (N, OL, C) = window maxima of ``x`` (N, L, C); ``argmax`` (int32) = step."""
    n, steps, c = x.shape
    out = y.shape[1]
    for b in range(n):
        for t in range(out):
            lo = max(t * stride - left, 0)
            hi = min(t * stride - left + pool, steps)
            for ch in range(c):
                y[b, t, ch] = x[b, lo, ch]
                argmax[b, t, ch] = lo
            for s in range(lo + 1, hi):
                for ch in range(c):  # selects, not branches: LLVM vectorises this
                    v = x[b, s, ch]
                    cur = y[b, t, ch]
                    better = v > cur
                    y[b, t, ch] = v if better else cur
                    argmax[b, t, ch] = s if better else argmax[b, t, ch]
    return y


def max_pool1d_ref(x, pool, stride, left, y, argmax):
    """Numpy twin of ``max_pool1d`` (first maximum in window order wins ties)."""
    n, steps, c = x.shape
    out = y.shape[1]
    right = max(0, (out - 1) * stride + pool - steps - left)
    xp = np.pad(x, ((0, 0), (left, right), (0, 0)), constant_values=-np.inf)
    stack = np.stack([xp[:, j:j + stride * (out - 1) + 1:stride] for j in range(pool)])
    win = np.argmax(stack, axis=0)                 # (N, OL, C): first maximum
    y[...] = np.take_along_axis(stack, win[None], axis=0)[0]
    argmax[...] = win + (np.arange(out) * stride - left)[None, :, None]
    return y


@njit
def max_pool1d_backward(dy, argmax, pool, stride, left, dx):
    """``dx`` (N, L, C), overwritten: each ``dy`` goes to its window's winning step.

    A gather, not a scatter: each step sums the gradients of the (few) windows that
    contain it and chose it, so ``dx`` is written once and the channel loop vectorises
    (0.08 vs 0.19 ms for the benchmark's (64, 196, 32) input).
    """
    n, steps, c = dx.shape
    out = dy.shape[1]
    for b in range(n):
        for s in range(steps):
            p = s + left  # position in the padded sequence
            t_lo = max((p - pool) // stride + 1, 0)  # windows t with t*stride <= p < t*stride+pool
            t_hi = min(p // stride, out - 1)
            for ch in range(c):
                dx[b, s, ch] = 0.0
            for t in range(t_lo, t_hi + 1):
                for ch in range(c):
                    dx[b, s, ch] += dy[b, t, ch] if argmax[b, t, ch] == s else 0.0
    return dx


def max_pool1d_backward_ref(dy, argmax, pool, stride, left, dx):
    """Numpy twin of ``max_pool1d_backward``."""
    n, _, c = dx.shape
    flat = np.zeros(dx.shape, dx.dtype)
    bidx = np.broadcast_to(np.arange(n)[:, None, None], dy.shape)
    cidx = np.broadcast_to(np.arange(c), dy.shape)
    np.add.at(flat, (bidx, argmax, cidx), dy)
    dx[...] = flat
    return dx


# ------------------------------------------------------- relu + bias backward
@njit
def relu_bias_backward(y, dy, dz, db):
    """``dz = dy * (y > 0)`` and ``db = dz.sum(axis=0)`` in one pass over (rows, F)
    arrays (``y`` the ReLU output). The column sums accumulate in the arrays' dtype,
    as numpy's ``sum(axis=0)`` does (a float64 accumulator ran 1.4x slower)."""
    rows, f = y.shape
    acc = np.zeros(f, dz.dtype)
    zero = acc[0]  # typed: an int 0 would make the select float64 and not vectorise
    for r in range(rows):
        for j in range(f):
            g = dy[r, j] if y[r, j] > 0 else zero
            dz[r, j] = g
            acc[j] += g
    for j in range(f):
        db[j] = acc[j]
    return dz


def relu_bias_backward_ref(y, dy, dz, db):
    """Numpy twin of ``relu_bias_backward``."""
    np.multiply(dy, y > 0, out=dz)
    db[...] = dz.sum(axis=0)
    return dz


def warmup() -> None:
    """Compile (or load from cache) the float32 kernels on tiny inputs."""
    x = np.zeros((2, 5, 3), np.float32)
    cols = np.empty((2 * 4, 7), np.float32)
    im2col_1d(x, 2, 1, 1, 0, cols)
    col2im_1d(cols, 2, 1, 1, 0, x)
    y = np.empty((2, 2, 3), np.float32)
    idx = np.empty(y.shape, np.int32)
    max_pool1d(x, 2, 2, 0, y, idx)
    max_pool1d_backward(y, idx, 2, 2, 0, x)
    dz = np.empty((4, 3), np.float32)
    relu_bias_backward(dz, dz, dz, np.empty(3, np.float32))


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
# The forecaster template's Conv1D compiled at its first call otherwise.
_cold.wrap(globals(), ["im2col_1d", "col2im_1d", "max_pool1d", "max_pool1d_backward",
           "relu_bias_backward"])
