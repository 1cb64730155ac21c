"""2-D max and average pooling in NHWC, forward and backward.

Padding is explicit ``(top, bottom, left, right)`` (see
``core.kernels.conv.same_padding``). Max pooling never picks a padded position
(TF pads with -inf) and records the winner of each window as a flat spatial
index ``iy * W + ix`` so that backward is a scatter. Average pooling divides by
the number of *valid* (non-padded) elements in each window, as TF does for
'same' (for 'valid' that number is always ``ph * pw``).

>>> import numpy as np
>>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
>>> y = np.empty((1, 2, 2, 1), "float32"); idx = np.empty(y.shape, "int32")
>>> _ = max_pool2d_ref(x, 2, 2, 2, 2, 0, 0, 0, 0, y, idx)
>>> y.ravel().tolist()
[5.0, 7.0, 13.0, 15.0]
"""

from __future__ import annotations

import numpy as np

from core.kernels import _cold
from core.kernels._jit import njit, prange


# ----------------------------------------------------------------- max pool
@njit(parallel=True)
def max_pool2d(x, ph, pw, sh, sw, pt, pb, pl, pr, y, argmax):
    """``y`` (N, OH, OW, C) = window maxima; ``argmax`` (int32) = flat index iy*W+ix."""
    n, h, w, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for b in prange(n):
        for oy in range(oh):
            y0 = oy * sh - pt
            for ox in range(ow):
                x0 = ox * sw - pl
                first = True
                for i in range(ph):
                    iy = y0 + i
                    if iy < 0 or iy >= h:
                        continue
                    for j in range(pw):
                        ix = x0 + j
                        if ix < 0 or ix >= w:
                            continue
                        pos = iy * w + ix
                        if first:
                            for ch in range(c):
                                y[b, oy, ox, ch] = x[b, iy, ix, ch]
                                argmax[b, oy, ox, ch] = pos
                            first = False
                        else:
                            for ch in range(c):
                                v = x[b, iy, ix, ch]
                                if v > y[b, oy, ox, ch]:
                                    y[b, oy, ox, ch] = v
                                    argmax[b, oy, ox, ch] = pos
    return y


def max_pool2d_ref(x, ph, pw, sh, sw, pt, pb, pl, pr, y, argmax):
    """Numpy twin of ``max_pool2d`` (first maximum in window order wins ties)."""
    n, h, w, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-np.inf)
    windows, positions = [], []
    for i in range(ph):
        for j in range(pw):
            windows.append(xp[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :])
            iy = np.arange(oh) * sh - pt + i
            ix = np.arange(ow) * sw - pl + j
            positions.append(iy[:, None] * w + ix[None, :])
    stack = np.stack(windows)                      # (ph*pw, N, OH, OW, C)
    k = np.argmax(stack, axis=0)
    y[...] = np.take_along_axis(stack, k[None], axis=0)[0]
    pos = np.stack(positions)                      # (ph*pw, OH, OW)
    argmax[...] = pos[k, np.arange(oh)[None, :, None, None], np.arange(ow)[None, None, :, None]]
    return y


@njit(parallel=True)
def max_pool2d_backward(dy, argmax, dx):
    """``dx`` (N, H, W, C), overwritten: each ``dy`` goes to its window's winner."""
    n, h, w, c = dx.shape
    oh, ow = dy.shape[1], dy.shape[2]
    for b in prange(n):
        flat = dx[b].reshape(h * w, c)
        flat[:, :] = 0.0
        for oy in range(oh):
            for ox in range(ow):
                for ch in range(c):
                    flat[argmax[b, oy, ox, ch], ch] += dy[b, oy, ox, ch]
    return dx


def max_pool2d_backward_ref(dy, argmax, dx):
    """Numpy twin of ``max_pool2d_backward``."""
    n, h, w, c = dx.shape
    flat = np.zeros((n, h * w, c), dx.dtype)
    bidx = np.broadcast_to(np.arange(n)[:, None, None, None], dy.shape)
    cidx = np.broadcast_to(np.arange(c), dy.shape)
    np.add.at(flat, (bidx, argmax, cidx), dy)
    dx[...] = flat.reshape(n, h, w, c)
    return dx


# ------------------------------------------------------------- average pool
@njit(parallel=True)
def avg_pool2d(x, ph, pw, sh, sw, pt, pb, pl, pr, y):
    """``y`` = mean of the valid (non-padded) elements of each window."""
    n, h, w, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for b in prange(n):
        for oy in range(oh):
            iy0 = max(oy * sh - pt, 0)
            iy1 = min(oy * sh - pt + ph, h)
            for ox in range(ow):
                ix0 = max(ox * sw - pl, 0)
                ix1 = min(ox * sw - pl + pw, w)
                for ch in range(c):
                    y[b, oy, ox, ch] = 0.0
                for iy in range(iy0, iy1):
                    for ix in range(ix0, ix1):
                        for ch in range(c):
                            y[b, oy, ox, ch] += x[b, iy, ix, ch]
                inv = 1.0 / ((iy1 - iy0) * (ix1 - ix0))
                for ch in range(c):
                    y[b, oy, ox, ch] *= inv
    return y


def _valid_counts(h, w, ph, pw, sh, sw, pt, pb, pl, pr, oh, ow):
    ones = np.pad(np.ones((h, w)), ((pt, pb), (pl, pr)))
    cnt = np.zeros((oh, ow))
    for i in range(ph):
        for j in range(pw):
            cnt += ones[i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
    return cnt


def avg_pool2d_ref(x, ph, pw, sh, sw, pt, pb, pl, pr, y):
    """Numpy twin of ``avg_pool2d`` (zero-padded window sums / valid counts)."""
    n, h, w, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    s = np.zeros((n, oh, ow, c), np.float64)
    for i in range(ph):
        for j in range(pw):
            s += xp[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
    y[...] = s / _valid_counts(h, w, ph, pw, sh, sw, pt, pb, pl, pr, oh, ow)[None, :, :, None]
    return y


@njit(parallel=True)
def avg_pool2d_backward(dy, ph, pw, sh, sw, pt, pb, pl, pr, dx):
    """``dx`` (N, H, W, C), overwritten: each ``dy / count`` spread over its window."""
    n, h, w, c = dx.shape
    oh, ow = dy.shape[1], dy.shape[2]
    for b in prange(n):
        dx[b] = 0.0
        for oy in range(oh):
            iy0 = max(oy * sh - pt, 0)
            iy1 = min(oy * sh - pt + ph, h)
            for ox in range(ow):
                ix0 = max(ox * sw - pl, 0)
                ix1 = min(ox * sw - pl + pw, w)
                inv = 1.0 / ((iy1 - iy0) * (ix1 - ix0))
                for iy in range(iy0, iy1):
                    for ix in range(ix0, ix1):
                        for ch in range(c):
                            dx[b, iy, ix, ch] += dy[b, oy, ox, ch] * inv
    return dx


def avg_pool2d_backward_ref(dy, ph, pw, sh, sw, pt, pb, pl, pr, dx):
    """Numpy twin of ``avg_pool2d_backward``."""
    n, h, w, c = dx.shape
    oh, ow = dy.shape[1], dy.shape[2]
    g = dy / _valid_counts(h, w, ph, pw, sh, sw, pt, pb, pl, pr, oh, ow)[None, :, :, None]
    dxp = np.zeros((n, h + pt + pb, w + pl + pr, c), np.float64)
    for i in range(ph):
        for j in range(pw):
            dxp[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :] += g
    dx[...] = dxp[:, pt:pt + h, pl:pl + w, :]
    return dx


def warmup() -> None:
    """Compile (or load from cache) the float32 kernels on tiny inputs."""
    x = np.zeros((2, 4, 4, 2), np.float32)
    y = np.empty((2, 2, 2, 2), np.float32)
    idx = np.empty(y.shape, np.int32)
    max_pool2d(x, 2, 2, 2, 2, 0, 0, 0, 0, y, idx)
    max_pool2d_backward(y, idx, x)
    avg_pool2d(x, 2, 2, 2, 2, 0, 0, 0, 0, y)
    avg_pool2d_backward(y, 2, 2, 2, 2, 0, 0, 0, 0, x)


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
# A standalone MaxPooling2D (the ResNet template's, after an Add) compiled at its first
# call otherwise, blocking that first batch.
_cold.wrap(globals(), ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"])
