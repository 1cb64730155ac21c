"""Conv2D (direct, small reduction) + ReLU + non-overlapping MaxPooling2D in one pass.

The seed CNN's first block, ``Conv2D(32, 3, activation="relu")`` then
``MaxPooling2D(2)``, spends most of its time moving the 128 x 26 x 26 x 32 conv
output (11 MB a batch) through memory four times: written by the conv, read and
written by the pool, read back by both backwards. These kernels never store it:

* forward computes each pooling window's conv outputs in registers/L1, keeps the
  window maximum per filter and stores only the pooled value and which window
  position won (``uint8``; ``DEAD`` when ReLU zeroed it, i.e. no gradient);
* backward-filter rebuilds the conv output gradient on the fly from the pooled
  gradient and the winner index and accumulates dW/db without an 11 MB ``dy``.

Semantics are exactly ReLU (``max(z, 0)``, gradient only where z > 0) followed
by max pooling whose gradient goes to the first maximum in window order (ties),
as ``core.kernels.pool.max_pool2d``: ``max(relu(z)) == relu(max(z))``.
Pool windows are ``ph x pw`` with strides equal to the window and 'valid'
padding; conv strides, dilation and padding are free.

>>> import numpy as np
>>> x = np.ones((1, 4, 4, 1), "float32"); k = np.ones((3, 3, 1, 2), "float32")
>>> out = np.empty((1, 1, 1, 2), "float32"); win = np.empty((1, 1, 1, 2), "uint8")
>>> _ = conv2d_relu_maxpool(x, k, np.zeros(2, "float32"), 1, 1, 1, 1, 0, 0, True,
...                         2, 2, out, win)
>>> out.ravel().tolist(), win.ravel().tolist()
([9.0, 9.0], [0, 0])
"""

from __future__ import annotations

import numpy as np

from core.kernels._jit import njit, prange
from core.kernels.conv import conv2d_direct_forward_ref

DEAD = 255  # winner index meaning "no gradient" (ReLU output 0 or window empty)


@njit(fastmath=True, inline="always")
def _conv_generic(x, b, oy, ox, w2, bias, kh, kw, sh, sw, dh, dw, pt, pl, acc, k):
    """``acc[k]`` = bias + the conv output at (b, oy, ox), any geometry."""
    _, h, w, c = x.shape
    f = acc.shape[1]
    for fi in range(f):
        acc[k, fi] = bias[fi]
    y0, x0 = oy * sh - pt, ox * sw - pl
    for i in range(kh):
        iy = y0 + i * dh
        if iy < 0 or iy >= h:
            continue
        for j in range(kw):
            ix = x0 + j * dw
            if ix < 0 or ix >= w:
                continue
            base = (i * kw + j) * c
            for ch in range(c):
                xv = x[b, iy, ix, ch]
                for fi in range(f):
                    acc[k, fi] += xv * w2[base + ch, fi]


@njit(parallel=True, fastmath=True)
def conv2d_relu_maxpool(x, kernel, bias, sh, sw, dh, dw, pt, pl, relu, ph, pw, out, win):
    """``out`` (N, PH, PW, F) = maxpool(ph x pw)(relu(conv(x))) and ``win`` (uint8, same
    shape) = index a*pw + b of the winning window position, ``DEAD`` where the pooled
    value is a ReLU zero. Conv geometry as ``conv2d_direct_forward``; the conv output
    rows/columns beyond the last whole window are never computed ('valid' pooling).
    ``kernel``, ``out`` and ``win`` C-contiguous; returns ``out``."""
    n, h, w, _ = x.shape
    kh, kw, c, f = kernel.shape
    poh, pow_ = out.shape[1], out.shape[2]
    kk = kh * kw * c
    w2 = kernel.reshape(kk, f)
    # 3x3 single-channel taps that never leave the image (the MNIST first layer): all
    # nine products of a filter in one expression over rows hoisted out of the loops,
    # so each output is stored once instead of loaded and stored per tap (measured
    # 1.2 ms vs 4.2 ms single-threaded for the seed CNN's batch of 128).
    fast = (kh == 3 and kw == 3 and c == 1 and pt == 0 and pl == 0
            and (poh * ph - 1) * sh + 2 * dh < h and (pow_ * pw - 1) * sw + 2 * dw < w)
    r0, r1, r2 = w2[0], w2[min(1, kk - 1)], w2[min(2, kk - 1)]
    r3, r4, r5 = w2[min(3, kk - 1)], w2[min(4, kk - 1)], w2[min(5, kk - 1)]
    r6, r7, r8 = w2[min(6, kk - 1)], w2[min(7, kk - 1)], w2[min(8, kk - 1)]
    for b in prange(n):
        acc = np.empty((ph * pw, f), out.dtype)
        best = np.empty(f, out.dtype)
        arg = np.zeros(f, np.uint8)
        zero = np.zeros(1, out.dtype)[0]  # a typed 0: a float64 literal would widen the loop
        for py in range(poh):
            for px in range(pow_):
                for a in range(ph):
                    for bb in range(pw):
                        oy, ox, k = py * ph + a, px * pw + bb, a * pw + bb
                        if fast:
                            y0, x0 = oy * sh, ox * sw
                            y1, y2, x1, x2 = y0 + dh, y0 + 2 * dh, x0 + dw, x0 + 2 * dw
                            a0, a1, a2 = x[b, y0, x0, 0], x[b, y0, x1, 0], x[b, y0, x2, 0]
                            a3, a4, a5 = x[b, y1, x0, 0], x[b, y1, x1, 0], x[b, y1, x2, 0]
                            a6, a7, a8 = x[b, y2, x0, 0], x[b, y2, x1, 0], x[b, y2, x2, 0]
                            o = acc[k]
                            for fi in range(f):
                                o[fi] = (bias[fi] + a0 * r0[fi] + a1 * r1[fi] + a2 * r2[fi]
                                         + a3 * r3[fi] + a4 * r4[fi] + a5 * r5[fi]
                                         + a6 * r6[fi] + a7 * r7[fi] + a8 * r8[fi])
                        else:
                            _conv_generic(x, b, oy, ox, w2, bias, kh, kw, sh, sw, dh, dw,
                                          pt, pl, acc, k)
                # Window maximum per filter, vectorised over filters (branch-free selects;
                # strict >: the first maximum in window order wins ties).
                for fi in range(f):
                    best[fi] = acc[0, fi]
                    arg[fi] = 0
                for k in range(1, ph * pw):
                    k8 = np.uint8(k)
                    for fi in range(f):
                        gt = acc[k, fi] > best[fi]
                        best[fi] = acc[k, fi] if gt else best[fi]
                        arg[fi] = k8 if gt else arg[fi]
                dead8 = np.uint8(DEAD)
                for fi in range(f):
                    v = best[fi]
                    dead = relu and not v > 0.0
                    out[b, py, px, fi] = zero if dead else v
                    win[b, py, px, fi] = dead8 if dead else arg[fi]
    return out


def conv2d_relu_maxpool_ref(x, kernel, bias, sh, sw, dh, dw, pt, pl, relu, ph, pw, out, win):
    """Numpy twin: the conv output in full (``conv2d_direct_forward_ref``), then
    windowed argmax (first maximum wins) and ReLU."""
    n = x.shape[0]
    f = kernel.shape[3]
    poh, pow_ = out.shape[1], out.shape[2]
    # Only the conv rows/columns that some window covers.
    z = np.empty((n, poh * ph, pow_ * pw, f), np.float64)
    conv2d_direct_forward_ref(x, kernel, bias, sh, sw, dh, dw, pt, pl, False, z)
    z = z.reshape(n, poh, ph, pow_, pw, f)
    z = z.transpose(0, 1, 3, 2, 4, 5).reshape(n, poh, pow_, ph * pw, f)
    k = np.argmax(z, axis=3)
    best = np.take_along_axis(z, k[:, :, :, None], axis=3)[:, :, :, 0]
    dead = ~(best > 0) if relu else np.zeros(best.shape, bool)
    out[...] = np.where(dead, 0.0, best)
    win[...] = np.where(dead, DEAD, k)
    return out


@njit(parallel=True, fastmath=True)
def conv2d_relu_maxpool_backward_filter(x, dpool, win, sh, sw, dh, dw, pt, pl, ph, pw,
                                        grad_kernel, grad_bias, chunks):
    """Overwrite ``grad_kernel`` (KH, KW, C, F) and ``grad_bias`` (F,) with the gradients
    of ``conv2d_relu_maxpool`` given ``dpool`` (N, PH, PW, F): the conv output gradient
    is ``dpool`` at each window's winner and 0 elsewhere, rebuilt per position.
    ``chunks`` batch chunks run in parallel with private partial sums."""
    n, h, w, c = x.shape
    kh, kw, _, f = grad_kernel.shape
    poh, pow_ = dpool.shape[1], dpool.shape[2]
    k = kh * kw * c
    chunks = max(1, min(n, chunks))
    per = (n + chunks - 1) // chunks
    gk = np.zeros((chunks, k, f), grad_kernel.dtype)
    gb = np.zeros((chunks, f), grad_kernel.dtype)
    # 2x2 windows whose taps never leave the image: each tap row of dW takes the four
    # positions' products in one expression (one load/store of the row per 4 FMAs).
    quad = (ph == 2 and pw == 2 and pt == 0 and pl == 0
            and (poh * 2 - 1) * sh + (kh - 1) * dh < h and (pow_ * 2 - 1) * sw + (kw - 1) * dw < w)
    for t in prange(chunks):
        acc = np.zeros((k, f), grad_kernel.dtype)
        accb = np.zeros(f, grad_kernel.dtype)
        dz = np.empty((ph * pw, f), dpool.dtype)
        zero = np.zeros(1, dpool.dtype)[0]  # a typed 0: a float64 literal would widen the loop
        d0, d1 = dz[0], dz[min(1, ph * pw - 1)]
        d2, d3 = dz[min(2, ph * pw - 1)], dz[min(3, ph * pw - 1)]
        for b in range(t * per, min(n, (t + 1) * per)):
            for py in range(poh):
                for px in range(pow_):
                    for kk in range(ph * pw):
                        for fi in range(f):
                            g = dpool[b, py, px, fi]
                            dz[kk, fi] = g if win[b, py, px, fi] == kk else zero
                    for kk in range(ph * pw):
                        for fi in range(f):
                            accb[fi] += dz[kk, fi]
                    if quad:
                        y0, x0 = 2 * py * sh, 2 * px * sw
                        for i in range(kh):
                            for j in range(kw):
                                iy, ix = y0 + i * dh, x0 + j * dw
                                base = (i * kw + j) * c
                                for ch in range(c):
                                    v0, v1 = x[b, iy, ix, ch], x[b, iy, ix + sw, ch]
                                    v2, v3 = x[b, iy + sh, ix, ch], x[b, iy + sh, ix + sw, ch]
                                    r = base + ch
                                    for fi in range(f):
                                        acc[r, fi] += (v0 * d0[fi] + v1 * d1[fi]
                                                       + v2 * d2[fi] + v3 * d3[fi])
                        continue
                    for a in range(ph):
                        oy = py * ph + a
                        for bb in range(pw):
                            ox = px * pw + bb
                            kk = a * pw + bb
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
                                        xv = x[b, iy, ix, ch]
                                        for fi in range(f):
                                            acc[base + ch, fi] += xv * dz[kk, fi]
        gk[t] = acc
        gb[t] = accb
    g2 = grad_kernel.reshape(k, f)
    g2[...] = gk[0]
    grad_bias[...] = gb[0]
    for t in range(1, chunks):
        g2 += gk[t]
        grad_bias += gb[t]
    return grad_kernel


@njit(parallel=True)
def unpool_gradient(dpool, win, ph, pw, dy):
    """Overwrite ``dy`` (N, OH, OW, F) with the conv output gradient: ``dpool`` at each
    window's winner, 0 elsewhere (also on rows/columns no window covers)."""
    n, poh, pow_, f = dpool.shape
    for b in prange(n):
        dy[b] = 0.0
        for py in range(poh):
            for px in range(pow_):
                for fi in range(f):
                    kk = win[b, py, px, fi]
                    if kk != DEAD:
                        dy[b, py * ph + kk // pw, px * pw + kk % pw, fi] = dpool[b, py, px, fi]
    return dy


def unpool_gradient_ref(dpool, win, ph, pw, dy):
    """Numpy twin of ``unpool_gradient``."""
    n, poh, pow_, f = dpool.shape
    dy[...] = 0
    for k in range(ph * pw):
        a, bb = divmod(k, pw)
        sel = np.where(win == k, dpool, 0)
        dy[:, a:a + poh * ph:ph, bb:bb + pow_ * pw:pw, :] = sel
    return dy


def conv2d_relu_maxpool_backward_filter_ref(x, dpool, win, sh, sw, dh, dw, pt, pl, ph, pw,
                                            grad_kernel, grad_bias, chunks=1):
    """Numpy twin: unpool the gradient in full, then the per-tap matmuls of
    ``conv2d_direct_backward_filter_ref``."""
    from core.kernels.conv import conv2d_direct_backward_filter_ref

    n, poh, pow_, f = dpool.shape
    dy = np.zeros((n, poh * ph, pow_ * pw, f), np.float64)  # the covered conv outputs
    unpool_gradient_ref(dpool, win, ph, pw, dy)
    return conv2d_direct_backward_filter_ref(x, dy, dy, False, sh, sw, dh, dw, pt, pl,
                                             grad_kernel, grad_bias)


def warmup() -> None:
    """Compile (or load from cache) the float32 kernels on tiny inputs."""
    x = np.zeros((2, 4, 4, 1), np.float32)
    kernel = np.zeros((3, 3, 1, 3), np.float32)
    bias = np.zeros(3, np.float32)
    out = np.empty((2, 2, 2, 3), np.float32)
    win = np.empty((2, 2, 2, 3), np.uint8)
    conv2d_relu_maxpool(x, kernel, bias, 1, 1, 1, 1, 1, 1, True, 2, 2, out, win)
    conv2d_relu_maxpool_backward_filter(x, out, win, 1, 1, 1, 1, 1, 1, 2, 2, kernel, bias, 2)
    unpool_gradient(out, win, 2, 2, np.empty((2, 4, 4, 3), np.float32))
