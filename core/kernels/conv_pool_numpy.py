"""Float32 numpy versions of the conv + pool kernels, run while numba compiles them.

``core.kernels._cold`` runs a kernel's numpy version until its compile is done. The
oracle twins in ``conv_pool`` work in float64, one tap at a time (~440 ms for the seed
CNN's batch of 128, forward + filter gradient); these take the GEMM route instead: the
column matrix from strided slices of the padded input, one float32 matmul, and the
pooling as ``ph * pw`` whole-array compares. Same results as the kernels (first maximum
in window order wins, ``DEAD`` where ReLU zeroes the window), float rounding aside
(and NaN inputs, see ``_pool_windows``); tested against the twins in
``tests/core/test_cold_start.py``.

>>> import numpy as np
>>> x = np.ones((1, 4, 4, 1), "float32"); k = np.ones((3, 3, 1, 2), "float32")
>>> out = np.empty((1, 1, 1, 2), "float32"); win = np.empty((1, 1, 1, 2), "uint8")
>>> _ = conv2d_relu_maxpool_numpy(x, k, np.zeros(2, "float32"), 1, 1, 1, 1, 0, 0, True,
...                               2, 2, out, win)
>>> out.ravel().tolist(), win.ravel().tolist()
([9.0, 9.0], [0, 0])
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

DEAD = 255  # as conv_pool.DEAD (not imported: conv_pool imports this module)


@contextmanager
def one_blas_thread():
    """These skinny, memory-bound products run under the engine's BLAS policy
    (``core.runtime``: one thread by default). With two, each product waits for the
    second thread to be scheduled: on the shared box at load 9.6 the filter-gradient
    product took 1666 ms a call with two threads, 28 ms with one (seed CNN, batch 128).
    Inside fit/predict the policy is already on; a direct call gets it here."""
    from core.runtime import engine_call

    with engine_call():
        yield


def columns(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):
    """(N*OH*OW, KH*KW*C) receptive fields of the zero-padded ``x``, columns (i, j, c)."""
    n, h, w, c = x.shape
    pb = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - h - pt)
    pr = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - w - pl)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0))) if pt or pb or pl or pr else x
    cols = np.empty((n, oh, ow, kh * kw * c), x.dtype)
    for i in range(kh):
        for j in range(kw):
            y0, x0, base = i * dh, j * dw, (i * kw + j) * c
            cols[..., base:base + c] = xp[:, y0:y0 + sh * (oh - 1) + 1:sh,
                                          x0:x0 + sw * (ow - 1) + 1:sw, :]
    return cols.reshape(n * oh * ow, -1)


def pooled_columns(x, kh, kw, sh, sw, dh, dw, pt, pl, ph, pw, poh, pow_):
    """``columns`` for the conv outputs some pooling window covers, rows in window order:
    (N, PH, PW, ph*pw, KH*KW*C), window position a*pw + b next to last. Pooling and
    unpooling then work on contiguous runs of filters instead of stride-2 views (~2x)."""
    n, h, w, c = x.shape
    oh, ow = poh * ph, pow_ * pw
    pb = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - h - pt)
    pr = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - w - pl)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0))) if pt or pb or pl or pr else x
    cols = np.empty((n, poh, pow_, ph * pw, kh * kw * c), x.dtype)
    ys, xs = ph * sh, pw * sw  # input step from one window to the next
    for a in range(ph):
        for b in range(pw):
            for i in range(kh):
                for j in range(kw):
                    y0, x0, base = a * sh + i * dh, b * sw + j * dw, (i * kw + j) * c
                    cols[:, :, :, a * pw + b, base:base + c] = \
                        xp[:, y0:y0 + ys * (poh - 1) + 1:ys, x0:x0 + xs * (pow_ - 1) + 1:xs, :]
    return cols


def _pool_windows(z5, relu, out, win):
    """``out``/``win`` from conv outputs ``z5`` (N, PH, PW, ph*pw, F) in window order:
    one max reduction, then the first position equal to it (whole-array ``where``s;
    masked copies per position took twice as long). A NaN may win here where the kernel
    keeps the first value: only NaN inputs differ."""
    best = z5.max(axis=3)
    last = z5.shape[3] - 1
    arg = np.full(best.shape, last, np.uint8)
    for k in range(last - 1, -1, -1):  # last to first, so the first maximum wins ties
        arg = np.where(z5[:, :, :, k] == best, np.uint8(k), arg)
    if relu:
        dead = ~(best > 0)
        best = np.where(dead, np.zeros((), best.dtype), best)
        arg = np.where(dead, np.uint8(DEAD), arg)
    out[...] = best
    win[...] = arg
    return out


def relu_maxpool_numpy(z, relu, ph, pw, out, win):
    """``conv_pool.relu_maxpool``: ``out``/``win`` (N, PH, PW, F) from ``z`` (N, OH, OW, F)."""
    n, poh, pow_, f = out.shape
    zc = z[:, :poh * ph, :pow_ * pw].reshape(n, poh, ph, pow_, pw, f)
    best = zc[:, :, 0, :, 0].copy()
    arg = np.zeros(best.shape, np.uint8)
    for k in range(1, ph * pw):
        v = zc[:, :, k // pw, :, k % pw]
        better = v > best  # strict: ties keep the earlier position, NaN never wins
        np.copyto(best, v, where=better)
        np.copyto(arg, k, where=better)  # masked copies: boolean indexing is ~5x slower
    if relu:
        dead = ~(best > 0)
        np.copyto(best, 0, where=dead)
        np.copyto(arg, DEAD, where=dead)
    out[...] = best
    win[...] = arg
    return out


def conv2d_relu_maxpool_numpy(x, kernel, bias, sh, sw, dh, dw, pt, pl, relu, ph, pw, out,
                              win):
    """``conv_pool.conv2d_relu_maxpool``: the covered conv outputs as one GEMM over
    ``pooled_columns``, then the window maximum."""
    n, poh, pow_, f = out.shape
    kh, kw = kernel.shape[:2]
    cols = pooled_columns(x, kh, kw, sh, sw, dh, dw, pt, pl, ph, pw, poh, pow_)
    with one_blas_thread():
        z = cols.reshape(-1, cols.shape[-1]) @ kernel.reshape(-1, f).astype(x.dtype,
                                                                             copy=False)
    z += bias
    return _pool_windows(z.reshape(n, poh, pow_, ph * pw, f), relu, out, win)


def unpool_covered(dpool, win, ph, pw):
    """The conv output gradient over the rows/columns some window covers."""
    n, poh, pow_, f = dpool.shape
    dz = np.zeros((n, poh, ph, pow_, pw, f), dpool.dtype)
    for k in range(ph * pw):  # a masked copy per window position (no boolean indexing)
        np.copyto(dz[:, :, k // pw, :, k % pw], dpool, where=win == k)
    return dz.reshape(n, poh * ph, pow_ * pw, f)


def backward_filter_partials_numpy(x, dpool, win, kh, kw, sh, sw, dh, dw, pt, pl, ph, pw,
                                   partial):
    """``conv_pool._backward_filter_partials``: the whole batch's kernel-gradient rows and
    bias row go in ``partial[0]``, the other chunks are zero (the caller sums them)."""
    n, poh, pow_, f = dpool.shape
    at = np.arange(ph * pw, dtype=np.uint8)[:, None]
    dz = np.where(win[:, :, :, None, :] == at, dpool[:, :, :, None, :],
                  np.zeros((), dpool.dtype)).reshape(-1, f)  # window order, as the columns
    cols = pooled_columns(x, kh, kw, sh, sw, dh, dw, pt, pl, ph, pw, poh, pow_)
    partial[1:] = 0
    with one_blas_thread():
        partial[0, :-1] = cols.reshape(dz.shape[0], -1).T @ dz
    partial[0, -1] = dz.sum(axis=0)
    return partial


def unpool_gradient_numpy(dpool, win, ph, pw, dy):
    """``conv_pool.unpool_gradient``: ``dy`` zero outside the covered area."""
    dz = unpool_covered(dpool, win, ph, pw)
    dy[...] = 0
    dy[:, :dz.shape[1], :dz.shape[2]] = dz
    return dy
