"""im2col / col2im for 2-D convolution in NHWC (channels_last) layout.

A convolution becomes one BLAS GEMM: ``im2col`` copies every receptive field of
``x`` (N, H, W, C) into a row of ``cols`` (N*OH*OW, KH*KW*C), column order
``(i, j, c)`` so that ``cols @ kernel.reshape(-1, filters)`` is the output for a
Keras kernel of shape (KH, KW, C, filters). ``col2im`` is its adjoint: it adds
each row of ``dcols`` back onto the input positions it was read from.

Padding is explicit ``(top, bottom, left, right)``; ``same_padding`` gives the
TF/Keras split, which puts the odd pixel after (bottom / right).

>>> import numpy as np
>>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
>>> cols = np.empty((9, 4), "float32")
>>> _ = im2col_ref(x, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, cols)
>>> cols[0].tolist()
[0.0, 1.0, 4.0, 5.0]
"""

from __future__ import annotations

import numpy as np

from core.kernels._jit import njit, prange


# ----------------------------------------------------------------- geometry
def conv_output_size(size: int, k: int, stride: int, dilation: int,
                     pad_before: int, pad_after: int) -> int:
    """Output length of one spatial axis (may be <= 0 when the window does not fit)."""
    return (size + pad_before + pad_after - dilation * (k - 1) - 1) // stride + 1


def same_padding(size: int, k: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """``(before, after)`` padding of TF/Keras 'same': output ceil(size/stride),
    the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


# -------------------------------------------------------------------- im2col
@njit(parallel=True)
def im2col(x, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, cols):
    """Fill ``cols`` (N*OH*OW, >= KH*KW*C) with the receptive fields of ``x``; returns ``cols``.

    Columns past KH*KW*C are left untouched: the Conv2D layer keeps a constant
    column of ones there so the bias rides along in the GEMM (no extra pass).
    """
    n, h, w, c = x.shape
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    for b in prange(n):
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


def im2col_ref(x, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, cols):
    """Numpy twin of ``im2col`` (strided slices of the zero-padded input)."""
    n, h, w, c = x.shape
    oh = conv_output_size(h, kh, sh, dh, pt, pb)
    ow = conv_output_size(w, kw, sw, dw, pl, pr)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    for i in range(kh):
        for j in range(kw):
            y0, x0, base = i * dh, j * dw, (i * kw + j) * c
            patch = xp[:, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw, :]
            cols[:, base:base + c] = patch.reshape(n * oh * ow, c)
    return cols


# -------------------------------------------------------------------- col2im
@njit(parallel=True)
def col2im(dcols, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, dx):
    """``dx`` (N, H, W, C) = adjoint of ``im2col`` applied to ``dcols``; returns ``dx``.

    ``dx`` is overwritten (zeroed inside the parallel loop, so a reused buffer
    needs no separate clearing pass).
    """
    n, h, w, c = dx.shape
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    for b in prange(n):
        dx[b] = 0.0
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


def col2im_ref(dcols, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, dx):
    """Numpy twin of ``col2im``."""
    n, h, w, c = dx.shape
    oh = conv_output_size(h, kh, sh, dh, pt, pb)
    ow = conv_output_size(w, kw, sw, dw, pl, pr)
    dxp = np.zeros((n, h + pt + pb, w + pl + pr, c), dtype=dx.dtype)
    view = dcols.reshape(n, oh, ow, kh, kw, c)
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            dxp[:, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw, :] += \
                view[:, :, :, i, j, :]
    dx[...] = dxp[:, pt:pt + h, pl:pl + w, :]
    return dx


def warmup() -> None:
    """Compile (or load from cache) the float32 kernels on tiny inputs."""
    x = np.zeros((2, 4, 4, 2), np.float32)
    cols = np.empty((2 * 4 * 4, 3 * 3 * 2), np.float32)
    im2col(x, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, cols)
    col2im(cols, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, x)
