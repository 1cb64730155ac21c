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

from core import aligned
from core.kernels import _cold
from core.kernels import conv_pool_numpy as _np
from core.kernels._jit import njit, prange
from core.kernels.conv import conv2d_direct_forward_ref

DEAD = 255  # winner index meaning "no gradient" (ReLU output 0 or window empty)


# Row-at-a-time: a window row's conv outputs (OW x F, a few KB, L1) get each tap added
# as one long vectorised loop over (ox, filter), so the taps' bounds checks leave the
# inner loops. Measured 2.2 ms vs 7.8 ms (the per-output 9-tap expression this
# replaced) for the seed CNN's batch of 128 on the 2-core box, and one code path for
# any geometry compiles in a fraction of the time the special cases took.
@njit(fastmath=True, inline="always")
def _tap_range(off, sw, w, ow):
    """``(lo, hi)``: the output columns ox with 0 <= ox * sw + off < w."""
    lo = 0 if off >= 0 else (sw - 1 - off) // sw
    return lo, min(ow, max(lo, (w - 1 - off) // sw + 1))


@njit(fastmath=True, inline="always")
def _conv_row(x, b, oy, w2, bias, kh, kw, sh, sw, dh, dw, pt, pl, z):
    """``z`` (OW, F) = bias + the conv outputs of row ``oy`` of image ``b``."""
    _, h, w, c = x.shape
    ow, f = z.shape
    for ox in range(ow):
        for fi in range(f):
            z[ox, fi] = bias[fi]
    for i in range(kh):
        iy = oy * sh - pt + i * dh
        if iy < 0 or iy >= h:
            continue
        for j in range(kw):
            off = j * dw - pl
            lo, hi = _tap_range(off, sw, w, ow)
            for ch in range(c):
                wr = w2[(i * kw + j) * c + ch]
                for ox in range(lo, hi):
                    xv = x[b, iy, ox * sw + off, ch]
                    for fi in range(f):
                        z[ox, fi] += xv * wr[fi]


# A 3x3 kernel on one channel, stride 1, no padding (the first layer of every MNIST-style
# CNN): the nine taps as scalars and one expression per filter, so the accumulator
# stays in a register instead of going through memory once per tap. Same sum in the
# same order as ``_conv_row``; measured 1.23 vs 2.66 ms CPU (one thread, seed CNN's
# batch of 128, load 12).
@njit(fastmath=True, inline="always")
def _conv_row3(x, b, oy, w2, bias, z):
    """``_conv_row`` for a 3x3 kernel on one channel, stride and dilation 1, no padding."""
    ow, f = z.shape
    r0, r1, r2 = x[b, oy, :, 0], x[b, oy + 1, :, 0], x[b, oy + 2, :, 0]
    for ox in range(ow):
        a0, a1, a2 = r0[ox], r0[ox + 1], r0[ox + 2]
        a3, a4, a5 = r1[ox], r1[ox + 1], r1[ox + 2]
        a6, a7, a8 = r2[ox], r2[ox + 1], r2[ox + 2]
        for fi in range(f):
            z[ox, fi] = (bias[fi] + a0 * w2[0, fi] + a1 * w2[1, fi] + a2 * w2[2, fi]
                         + a3 * w2[3, fi] + a4 * w2[4, fi] + a5 * w2[5, fi]
                         + a6 * w2[6, fi] + a7 * w2[7, fi] + a8 * w2[8, fi])


@njit(inline="always")
def _is_3x3_plain(kh, kw, c, sh, sw, dh, dw, pt, pl):
    return (kh == 3 and kw == 3 and c == 1 and sh == 1 and sw == 1 and dh == 1 and dw == 1
            and pt == 0 and pl == 0)


# 2x2 windows (nearly every CNN) as four straight-line compares per filter, which LLVM
# turns into vector selects over the filters: measured 1.2 ms for the seed CNN's conv +
# pool against 4.2 ms for the pooling alone as loops over the window (branches that
# mispredict on every other value) and 8 ms as selects into per-filter arrays.
@njit(fastmath=True)
def _pool_rows(z, relu, pw, out, win):
    """Pool ``z`` (PH, >= PW*pw, F) into ``out``/``win`` (PW, F): the first maximum in
    window order wins, ``DEAD`` where ReLU makes it 0."""
    ph = z.shape[0]
    pow_, f = out.shape
    zero = np.zeros(1, out.dtype)[0]  # a typed 0: a float64 literal would widen the loop
    for px in range(pow_):
        x0 = px * pw
        for fi in range(f):
            if ph == 2 and pw == 2:
                best, arg = z[0, x0, fi], 0
                v = z[0, x0 + 1, fi]
                if v > best:  # strict: ties keep the earlier position
                    best, arg = v, 1
                v = z[1, x0, fi]
                if v > best:
                    best, arg = v, 2
                v = z[1, x0 + 1, fi]
                if v > best:
                    best, arg = v, 3
            else:
                best, arg = z[0, x0, fi], 0
                for a in range(ph):
                    for bb in range(pw):
                        v = z[a, x0 + bb, fi]
                        if v > best:
                            best, arg = v, a * pw + bb
            if relu and not best > 0.0:
                out[px, fi], win[px, fi] = zero, DEAD
            else:
                out[px, fi], win[px, fi] = best, arg


@njit(parallel=True, fastmath=True)
def conv2d_relu_maxpool(x, kernel, bias, sh, sw, dh, dw, pt, pl, relu, ph, pw, out, win):
    """``out`` (N, PH, PW, F) = maxpool(ph x pw)(relu(conv(x))) and ``win`` (uint8, same
    shape) = index a*pw + b of the winning window position, ``DEAD`` where the pooled
    value is a ReLU zero. Conv geometry as ``conv2d_direct_forward``; the conv output
    rows/columns beyond the last whole window are never computed ('valid' pooling).
    ``kernel``, ``out`` and ``win`` C-contiguous; returns ``out``."""
    n = x.shape[0]
    kh, kw, c, f = kernel.shape
    poh, pow_ = out.shape[1], out.shape[2]
    w2 = kernel.reshape(kh * kw * c, f)
    plain3 = _is_3x3_plain(kh, kw, c, sh, sw, dh, dw, pt, pl)
    for b in prange(n):
        z = np.empty((ph, pow_ * pw, f), out.dtype)
        for py in range(poh):
            for a in range(ph):
                if plain3:
                    _conv_row3(x, b, py * ph + a, w2, bias, z[a])
                else:
                    _conv_row(x, b, py * ph + a, w2, bias, kh, kw, sh, sw, dh, dw, pt, pl,
                              z[a])
            _pool_rows(z, relu, pw, out[b, py], win[b, py])
    return out


@njit(parallel=True, fastmath=True)
def relu_maxpool(z, relu, ph, pw, out, win):
    """The pooling half of ``conv2d_relu_maxpool`` for a conv output ``z`` (N, OH, OW, F)
    that a GEMM already computed (large reductions): ``out``/``win`` as there."""
    n, poh = z.shape[0], out.shape[1]
    for b in prange(n):
        for py in range(poh):
            _pool_rows(z[b, py * ph:(py + 1) * ph], relu, pw, out[b, py], win[b, py])
    return out


def relu_maxpool_ref(z, relu, ph, pw, out, win):
    """Numpy twin of ``relu_maxpool``: windowed argmax (first maximum wins), then ReLU."""
    n, poh, pow_, f = out.shape
    z = np.asarray(z, np.float64)[:, :poh * ph, :pow_ * pw]
    z = z.reshape(n, poh, ph, pow_, pw, f).transpose(0, 1, 3, 2, 4, 5)
    z = z.reshape(n, poh, pow_, ph * pw, f)
    k = np.argmax(z, axis=3)
    best = np.take_along_axis(z, k[:, :, :, None], axis=3)[:, :, :, 0]
    dead = ~(best > 0) if relu else np.zeros(best.shape, bool)
    out[...] = np.where(dead, 0.0, best)
    win[...] = np.where(dead, DEAD, k)
    return out


def conv2d_relu_maxpool_ref(x, kernel, bias, sh, sw, dh, dw, pt, pl, relu, ph, pw, out, win):
    """Numpy twin: the conv output in full (``conv2d_direct_forward_ref``, only the
    rows/columns some window covers), then ``relu_maxpool_ref``."""
    n, f = x.shape[0], kernel.shape[3]
    poh, pow_ = out.shape[1], out.shape[2]
    z = np.empty((n, poh * ph, pow_ * pw, f), np.float64)
    conv2d_direct_forward_ref(x, kernel, bias, sh, sw, dh, dw, pt, pl, False, z)
    return relu_maxpool_ref(z, relu, ph, pw, out, win)


@njit(fastmath=True)
def _unpool_rows(dpool, win, pw, dz):
    """``dz`` (PH, OW, F) = ``dpool`` (PW, F) at each window's winner, 0 elsewhere."""
    ph, ow, f = dz.shape
    zero = np.zeros(1, dz.dtype)[0]
    for a in range(ph):
        for ox in range(ow):
            px, k8 = ox // pw, np.uint8(a * pw + ox % pw)
            for fi in range(f):
                dz[a, ox, fi] = dpool[px, fi] if win[px, fi] == k8 else zero


# The 3x3 one-channel case of the loop below (see ``_conv_row3``): the nine input
# values of an output position as scalars, each gradient value read once for all taps.
@njit(fastmath=True, inline="always")
def _filter_row3(x, b, oy, dza, acc, accb):
    """Add conv output row ``oy``'s gradient ``dza`` (OW, F) to ``acc`` (taps, then the
    bias row ``accb``) for a 3x3 kernel on one channel, stride 1, no padding."""
    ow, f = dza.shape
    r0, r1, r2 = x[b, oy, :, 0], x[b, oy + 1, :, 0], x[b, oy + 2, :, 0]
    for ox in range(ow):
        a0, a1, a2 = r0[ox], r0[ox + 1], r0[ox + 2]
        a3, a4, a5 = r1[ox], r1[ox + 1], r1[ox + 2]
        a6, a7, a8 = r2[ox], r2[ox + 1], r2[ox + 2]
        for fi in range(f):
            d = dza[ox, fi]
            accb[fi] += d
            acc[0, fi] += a0 * d
            acc[1, fi] += a1 * d
            acc[2, fi] += a2 * d
            acc[3, fi] += a3 * d
            acc[4, fi] += a4 * d
            acc[5, fi] += a5 * d
            acc[6, fi] += a6 * d
            acc[7, fi] += a7 * d
            acc[8, fi] += a8 * d


# Same row-at-a-time order as the forward, the dW row of a tap staying in registers
# across its long (ox, filter) loop; one code path for any geometry (see above). The
# chunks' partial sums are added by the caller: an array expression in a parallel
# kernel is a parallel loop of its own to compile (backward filter cold: 20.2 s before, 4.9 s now).
@njit(parallel=True, fastmath=True)
def _backward_filter_partials(x, dpool, win, kh, kw, sh, sw, dh, dw, pt, pl, ph, pw,
                              partial):
    """``partial[t]`` (KH*KW*C + 1, F) = batch chunk t's kernel-gradient rows (order
    (i, j, c)) and, last, its bias-gradient row; chunks split the batch evenly."""
    n, h, w, c = x.shape
    chunks, kb, f = partial.shape
    poh = dpool.shape[1]
    ow = dpool.shape[2] * pw
    per = (n + chunks - 1) // chunks
    plain3 = _is_3x3_plain(kh, kw, c, sh, sw, dh, dw, pt, pl)
    for t in prange(chunks):
        acc = partial[t]
        for r in range(kb):
            for fi in range(f):
                acc[r, fi] = 0.0
        accb = acc[kb - 1]
        dz = np.empty((ph, ow, f), dpool.dtype)
        for b in range(t * per, min(n, (t + 1) * per)):
            for py in range(poh):
                _unpool_rows(dpool[b, py], win[b, py], pw, dz)
                for a in range(ph):
                    if plain3:
                        _filter_row3(x, b, py * ph + a, dz[a], acc, accb)
                        continue
                    for ox in range(ow):
                        for fi in range(f):
                            accb[fi] += dz[a, ox, fi]
                    for i in range(kh):
                        iy = (py * ph + a) * sh - pt + i * dh
                        if iy < 0 or iy >= h:
                            continue
                        for j in range(kw):
                            off = j * dw - pl
                            lo, hi = _tap_range(off, sw, w, ow)
                            for ch in range(c):
                                row = acc[(i * kw + j) * c + ch]
                                for ox in range(lo, hi):
                                    xv = x[b, iy, ox * sw + off, ch]
                                    for fi in range(f):
                                        row[fi] += xv * dz[a, ox, fi]
    return partial


def conv2d_relu_maxpool_backward_filter(x, dpool, win, sh, sw, dh, dw, pt, pl, ph, pw,
                                        grad_kernel, grad_bias, chunks):
    """Overwrite ``grad_kernel`` (KH, KW, C, F) and ``grad_bias`` (F,) with the gradients
    of ``conv2d_relu_maxpool`` given ``dpool`` (N, PH, PW, F): the conv output gradient
    is ``dpool`` at each window's winner and 0 elsewhere, rebuilt a window row at a
    time. ``chunks`` batch chunks run in parallel with private partial sums."""
    kh, kw, c, f = grad_kernel.shape
    chunks = max(1, min(x.shape[0], chunks))
    # Aligned: at the other three 16-byte offsets this kernel ran 2-3.5x slower.
    partial = aligned.empty((chunks, kh * kw * c + 1, f), grad_kernel.dtype)
    _backward_filter_partials(x, dpool, win, kh, kw, sh, sw, dh, dw, pt, pl, ph, pw, partial)
    total = partial.sum(axis=0) if chunks > 1 else partial[0]
    grad_kernel.reshape(-1, f)[...] = total[:-1]
    grad_bias[...] = total[-1]
    return grad_kernel


@njit(parallel=True)
def unpool_gradient(dpool, win, ph, pw, dy):
    """Overwrite ``dy`` (N, OH, OW, F) with the conv output gradient: ``dpool`` at each
    window's winner, 0 elsewhere (also on rows/columns no window covers)."""
    n, poh, pow_, f = dpool.shape
    oh, ow = dy.shape[1], dy.shape[2]
    for b in prange(n):
        for y in range(oh):  # loops, not ``dy[b] = 0``: that would be a parallel loop of
            for x in range(ow):  # its own, compiled separately (cold start)
                for fi in range(f):
                    dy[b, y, x, fi] = 0.0
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
    relu_maxpool(np.zeros((2, 4, 4, 3), np.float32), True, 2, 2, out, win)


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
_cold.wrap(globals(), ["conv2d_relu_maxpool", "relu_maxpool", "_backward_filter_partials",
           "unpool_gradient"],
           {"conv2d_relu_maxpool": _np.conv2d_relu_maxpool_numpy,
            "relu_maxpool": _np.relu_maxpool_numpy,
            "_backward_filter_partials": _np.backward_filter_partials_numpy,
            "unpool_gradient": _np.unpool_gradient_numpy})
