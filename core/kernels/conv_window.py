"""Single-threaded im2col / col2im / pool / unpool kernels for a chunk of images, over
an explicit output window (``oh`` x ``ow``, which may be smaller than the conv's).

Why serial: the fused conv + pool step (``core.layers.fusion``) runs the GEMM route
of a convolution in chunks of a few images, each chunk whole on one thread (im2col,
a single-threaded BLAS GEMM, the pooling), both cores taking chunks from one
counter (``core.models.batch_threads.run``). A parallel numba kernel there would put
two OpenMP teams on two cores. Why a window: a 2x2 pool over an 11x11 conv output
reads only its top-left 10x10, so the GEMMs skip the 21 rows per image no window
covers (their gradient is 0, their values unused).

Arrays are NHWC and C-contiguous; a chunk is a leading-axis view (``x[b0:b1]``), so
the kernels need no batch offsets. Column order ``(i, j, c)`` as ``core.kernels.conv``.

>>> import numpy as np
>>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
>>> cols = np.empty((4, 4), "float32")   # a 2x2 window of the 3x3 conv outputs
>>> _ = im2col_window_ref(x, 2, 2, 1, 1, 1, 1, 0, 0, 2, 2, cols)
>>> cols[3].tolist()
[5.0, 6.0, 9.0, 10.0]
"""

from __future__ import annotations

import numpy as np

from core.kernels import _cold
from core.kernels._jit import njit
from core.kernels.conv_pool import (
    _pool_rows,
    _unpool_rows,
    relu_maxpool_ref,
    unpool_gradient_ref,
)


def _padded(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):
    """``x`` zero-padded so every tap of the ``oh`` x ``ow`` window is inside it."""
    n, h, w, c = x.shape
    pb = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - h - pt)
    pr = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - w - pl)
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))


@njit
def im2col_window(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, cols):
    """Fill ``cols`` (N*OH*OW, >= KH*KW*C) with the receptive fields of conv outputs
    ``(oy, ox)``, oy < ``oh``, ox < ``ow``; columns past KH*KW*C are left untouched
    (the bias's ones column). Returns ``cols``."""
    n, h, w, c = x.shape
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                r = (b * oh + oy) * ow + ox
                for i in range(kh):
                    iy = oy * sh - pt + i * dh
                    row_ok = iy >= 0 and iy < h
                    for j in range(kw):
                        ix = ox * sw - pl + j * dw
                        base = (i * kw + j) * c
                        if row_ok and ix >= 0 and ix < w:
                            for ch in range(c):
                                cols[r, base + ch] = x[b, iy, ix, ch]
                        else:
                            for ch in range(c):
                                cols[r, base + ch] = 0.0
    return cols


def im2col_window_ref(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, cols):
    """Numpy twin of ``im2col_window`` (strided slices of the padded input)."""
    n, c = x.shape[0], x.shape[3]
    xp = _padded(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
    for i in range(kh):
        for j in range(kw):
            y0, x0, base = i * dh, j * dw, (i * kw + j) * c
            patch = xp[:, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw, :]
            cols[:, base:base + c] = patch.reshape(n * oh * ow, c)
    return cols


@njit
def col2im_window(dcols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, dx):
    """Overwrite ``dx`` (N, H, W, C) with the adjoint of ``im2col_window`` applied to
    ``dcols`` (N*OH*OW, KH*KW*C); returns ``dx``."""
    n, h, w, c = dx.shape
    for b in range(n):
        for iy in range(h):
            for ix in range(w):
                for ch in range(c):
                    dx[b, iy, ix, ch] = 0.0
        for oy in range(oh):
            for ox in range(ow):
                r = (b * oh + oy) * ow + ox
                for i in range(kh):
                    iy = oy * sh - pt + i * dh
                    if iy < 0 or iy >= h:
                        continue
                    for j in range(kw):
                        ix = ox * sw - pl + j * dw
                        if ix < 0 or ix >= w:
                            continue
                        base = (i * kw + j) * c
                        for ch in range(c):
                            dx[b, iy, ix, ch] += dcols[r, base + ch]
    return dx


def col2im_window_ref(dcols, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, dx):
    """Numpy twin of ``col2im_window``."""
    n, h, w, c = dx.shape
    dxp = np.zeros(_padded(dx, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow).shape, np.float64)
    view = dcols.reshape(n, oh, ow, kh, kw, c)
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            dxp[:, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw, :] += \
                view[:, :, :, i, j, :]
    dx[...] = dxp[:, pt:pt + h, pl:pl + w, :]
    return dx


@njit(fastmath=True)
def maxpool_window(z, relu, ph, pw, out, win):
    """``core.kernels.conv_pool.relu_maxpool`` on one thread: ``out``/``win`` (N, PH,
    PW, F) from the conv output ``z`` (N, >= PH*ph, >= PW*pw, F)."""
    n, poh = z.shape[0], out.shape[1]
    for b in range(n):
        for py in range(poh):
            _pool_rows(z[b, py * ph:(py + 1) * ph], relu, pw, out[b, py], win[b, py])
    return out


maxpool_window_ref = relu_maxpool_ref


@njit(fastmath=True)
def unpool_window(dpool, win, ph, pw, dz):
    """``core.kernels.conv_pool.unpool_gradient`` on one thread, for a ``dz`` (N,
    PH*ph, PW*pw, F) that the windows cover exactly: every element is written."""
    n, poh = dpool.shape[0], dpool.shape[1]
    for b in range(n):
        for py in range(poh):
            _unpool_rows(dpool[b, py], win[b, py], pw, dz[b, py * ph:(py + 1) * ph])
    return dz


unpool_window_ref = unpool_gradient_ref


def warmup() -> None:
    """Compile (or load from cache) the float32 kernels on tiny inputs."""
    x = np.zeros((2, 5, 5, 2), np.float32)
    cols = np.empty((2 * 2 * 2, 3 * 3 * 2), np.float32)
    im2col_window(x, 3, 3, 1, 1, 1, 1, 0, 0, 2, 2, cols)
    col2im_window(cols, 3, 3, 1, 1, 1, 1, 0, 0, 2, 2, x)
    z = np.zeros((2, 2, 2, 3), np.float32)
    out = np.empty((2, 1, 1, 3), np.float32)
    win = np.empty((2, 1, 1, 3), np.uint8)
    maxpool_window(z, True, 2, 2, out, win)
    unpool_window(out, win, 2, 2, z)


# Not compiled yet (a fresh install): run the numpy twin meanwhile (core.kernels._cold).
_cold.wrap(globals(), ["im2col_window", "col2im_window", "maxpool_window", "unpool_window"])
