"""Fused, in-place optimizer update kernels (one call per variable and step).

Every kernel works on flat (1-D, C-contiguous) views of the variable, its
gradient and its slot buffers, so a step reads each array once and allocates
nothing. The step's scalars come packed in one small array ``p`` of the
variable's dtype (one argument instead of eight keeps numba's per-call dispatch
cheap): math then stays in float32 for float32 weights, as Keras' own update
rules do, and numba compiles one signature per dtype. Flags are stored as 0/1.

The last three entries of every ``p``, applied in Keras' order before the rule:
  * ``gscale`` — multiplies the gradient (1/loss_scale_factor, clipnorm and
    global_clipnorm ratios folded together by the caller);
  * ``clip`` — ``clipvalue``; clips the scaled gradient to [-clip, clip] when > 0;
  * ``decay`` — ``weight_decay * learning_rate``; ``w -= w * decay`` first.

Each ``<rule>_step`` is serial; ``<rule>_step_par`` splits the array in chunks
over ``prange`` (worth it above ``PAR_MIN`` elements) and hands each chunk to the
serial loop as its own slice: indexing the whole arrays at an offset kept LLVM
from vectorising (5x slower per thread). ``<rule>_step_ref`` is the plain numpy
twin used as test oracle.

>>> import numpy as np
>>> w = np.ones(4, "float32"); g = np.full(4, 0.5, "float32")
>>> sgd_step(w, g, np.array([0.1, 1.0, 0.0, 0.0], "float32"))  # lr, gscale, clip, decay
>>> float(w[0])
0.949999988079071
"""

from __future__ import annotations

import numpy as np

from core.kernels import _cold
from core.kernels._jit import njit, prange

# Elements: below this threads cost more than they save (2 cores, Adam: 262k elements
# 145 vs 127 us, 524k 298 vs 202 us, 2M 1125 vs 631 us serial vs parallel).
PAR_MIN = 1 << 18
CHUNK = 1 << 14
# Decaying slots (momentum, velocity) of weights whose gradient stays 0 - e.g. the
# first Dense kernel rows fed by Fashion-MNIST's always-black border pixels - sink
# into float32 denormals within a few hundred steps, and every arithmetic on a
# denormal takes a microcode assist: Adam on the MLP's 100k-weight kernel measured
# 393 us per step with 6 % denormal momenta against 39 us without. Slots below
# FLUSH in magnitude are stored as 0; the update they would have made is below
# 1e-26 relative to any weight, so no result changes. NaN and inf pass unchanged.
FLUSH = np.float32(1e-30)


@njit(error_model="numpy")
def _ftz(x, tiny):
    """x, or 0 of x's dtype when |x| < tiny (branch-free so loops still vectorise)."""
    return x if abs(x) >= tiny else x - x


def _ftz_ref(x, tiny=FLUSH):
    x[np.abs(x) < tiny] = 0


@njit(error_model="numpy")
def _grad(g, i, gscale, clip):
    gi = g[i] * gscale
    if clip > 0:
        if gi > clip:
            gi = clip
        elif gi < -clip:
            gi = -clip
    return gi


def _grad_ref(g, gscale, clip):
    gi = g * gscale
    return np.clip(gi, -clip, clip) if clip > 0 else gi


def _decay_ref(w, decay):
    if decay != 0:
        w -= w * decay


# ----------------------------------------------------------------- SGD (plain)
@njit(error_model="numpy")
def _sgd_range(w, g, lr, gscale, clip, decay, start, stop):
    if clip == 0 and decay == 0:  # branch-free loop: LLVM vectorises it
        for i in range(start, stop):
            w[i] -= (g[i] * gscale) * lr
        return
    for i in range(start, stop):
        wi = w[i]
        if decay != 0:
            wi = wi - wi * decay
        w[i] = wi - _grad(g, i, gscale, clip) * lr


@njit
def sgd_step(w, g, p):
    """p = [lr, gscale, clip, decay]"""
    _sgd_range(w, g, p[0], p[1], p[2], p[3], 0, w.shape[0])


@njit(parallel=True)
def sgd_step_par(w, g, p):
    n = w.shape[0]
    for c in prange((n + CHUNK - 1) // CHUNK):
        s, e = c * CHUNK, min(n, (c + 1) * CHUNK)
        _sgd_range(w[s:e], g[s:e], p[0], p[1], p[2], p[3], 0, e - s)


def sgd_step_ref(w, g, p):
    lr, gscale, clip, decay = p
    gi = _grad_ref(g, gscale, clip)
    _decay_ref(w, decay)
    w -= gi * lr


# ------------------------------------------------------- SGD momentum/Nesterov
@njit(error_model="numpy")
def _momentum_range(w, g, m, lr, momentum, nesterov, gscale, clip, decay, start, stop):
    if clip == 0 and decay == 0 and not nesterov:
        for i in range(start, stop):
            mi = _ftz(m[i] * momentum - (g[i] * gscale) * lr, FLUSH)
            m[i] = mi
            w[i] += mi
        return
    for i in range(start, stop):
        gi = _grad(g, i, gscale, clip)
        wi = w[i]
        if decay != 0:
            wi = wi - wi * decay
        mi = _ftz(m[i] * momentum - gi * lr, FLUSH)
        m[i] = mi
        if nesterov:
            w[i] = wi + (mi * momentum - gi * lr)
        else:
            w[i] = wi + mi


@njit
def momentum_step(w, g, m, p):
    """p = [lr, momentum, nesterov (0/1), gscale, clip, decay]"""
    _momentum_range(w, g, m, p[0], p[1], p[2] != 0, p[3], p[4], p[5], 0, w.shape[0])


@njit(parallel=True)
def momentum_step_par(w, g, m, p):
    n = w.shape[0]
    for c in prange((n + CHUNK - 1) // CHUNK):
        s, e = c * CHUNK, min(n, (c + 1) * CHUNK)
        _momentum_range(w[s:e], g[s:e], m[s:e], p[0], p[1], p[2] != 0, p[3], p[4], p[5],
                        0, e - s)


def momentum_step_ref(w, g, m, p):
    lr, momentum, nesterov, gscale, clip, decay = p
    gi = _grad_ref(g, gscale, clip)
    _decay_ref(w, decay)
    m[...] = m * momentum - gi * lr
    _ftz_ref(m)
    if nesterov:
        w += m * momentum - gi * lr
    else:
        w += m


# ---------------------------------------------------------------- Adam / AdamW
@njit(error_model="numpy")
def _adam_range(w, g, m, v, vhat, alpha, one_m_b1, one_m_b2, eps, amsgrad, gscale, clip,
                decay, start, stop):
    # With epsilon 0 a flushed velocity would turn 0/0 into NaN: flush only when eps > 0.
    vflush = FLUSH if eps > 0 else FLUSH - FLUSH
    if clip == 0 and decay == 0 and not amsgrad:
        for i in range(start, stop):
            gi = g[i] * gscale
            mi = _ftz(m[i] + (gi - m[i]) * one_m_b1, FLUSH)
            vi = _ftz(v[i] + (gi * gi - v[i]) * one_m_b2, vflush)
            m[i] = mi
            v[i] = vi
            w[i] -= (mi * alpha) / (np.sqrt(vi) + eps)
        return
    for i in range(start, stop):
        gi = _grad(g, i, gscale, clip)
        wi = w[i]
        if decay != 0:
            wi = wi - wi * decay
        mi = _ftz(m[i] + (gi - m[i]) * one_m_b1, FLUSH)
        vi = _ftz(v[i] + (gi * gi - v[i]) * one_m_b2, vflush)
        m[i] = mi
        v[i] = vi
        if amsgrad:
            if vhat[i] > vi:
                vi = vhat[i]
            vhat[i] = vi
        # Keras: eps is added to sqrt(v) and the bias corrections live in alpha.
        w[i] = wi - (mi * alpha) / (np.sqrt(vi) + eps)


@njit
def adam_step(w, g, m, v, vhat, p):
    """p = [alpha, 1 - beta_1, 1 - beta_2, epsilon, amsgrad (0/1), gscale, clip, decay]"""
    _adam_range(w, g, m, v, vhat, p[0], p[1], p[2], p[3], p[4] != 0, p[5], p[6], p[7],
                0, w.shape[0])


@njit(parallel=True)
def adam_step_par(w, g, m, v, vhat, p):
    n = w.shape[0]
    for c in prange((n + CHUNK - 1) // CHUNK):
        s, e = c * CHUNK, min(n, (c + 1) * CHUNK)
        _adam_range(w[s:e], g[s:e], m[s:e], v[s:e], vhat[s:e], p[0], p[1], p[2], p[3],
                    p[4] != 0, p[5], p[6], p[7], 0, e - s)


def adam_step_ref(w, g, m, v, vhat, p):
    alpha, one_m_b1, one_m_b2, eps, amsgrad, gscale, clip, decay = p
    gi = _grad_ref(g, gscale, clip)
    _decay_ref(w, decay)
    m += (gi - m) * one_m_b1
    v += (gi * gi - v) * one_m_b2
    _ftz_ref(m)
    if eps > 0:
        _ftz_ref(v)
    vv = v
    if amsgrad:
        np.maximum(vhat, v, out=vhat)
        vv = vhat
    w -= (m * alpha) / (np.sqrt(vv) + eps)


# --------------------------------------------------------------------- RMSprop
@njit(error_model="numpy")
def _rmsprop_range(w, g, vel, mom, avg, lr, rho, one_m_rho, momentum, eps, centered, gscale,
                   clip, decay, start, stop):
    vflush = FLUSH if eps > 0 else FLUSH - FLUSH  # see _adam_range
    if clip == 0 and decay == 0 and not centered and momentum == 0:
        for i in range(start, stop):
            gi = g[i] * gscale
            vi = _ftz(rho * vel[i] + one_m_rho * (gi * gi), vflush)
            vel[i] = vi
            w[i] -= (lr * gi) / np.sqrt(vi + eps)
        return
    for i in range(start, stop):
        gi = _grad(g, i, gscale, clip)
        wi = w[i]
        if decay != 0:
            wi = wi - wi * decay
        vi = _ftz(rho * vel[i] + one_m_rho * (gi * gi), vflush)
        vel[i] = vi
        if centered:
            ai = _ftz(rho * avg[i] + one_m_rho * gi, FLUSH)
            avg[i] = ai
            denom = vi - ai * ai + eps
        else:
            denom = vi + eps
        inc = (lr * gi) / np.sqrt(denom)
        if momentum > 0:
            mi = _ftz(momentum * mom[i] + inc, FLUSH)
            mom[i] = mi
            w[i] = wi - mi
        else:
            w[i] = wi - inc


@njit
def rmsprop_step(w, g, vel, mom, avg, p):
    """p = [lr, rho, 1 - rho, momentum, epsilon, centered (0/1), gscale, clip, decay]"""
    _rmsprop_range(w, g, vel, mom, avg, p[0], p[1], p[2], p[3], p[4], p[5] != 0, p[6], p[7],
                   p[8], 0, w.shape[0])


@njit(parallel=True)
def rmsprop_step_par(w, g, vel, mom, avg, p):
    n = w.shape[0]
    for c in prange((n + CHUNK - 1) // CHUNK):
        s, e = c * CHUNK, min(n, (c + 1) * CHUNK)
        _rmsprop_range(w[s:e], g[s:e], vel[s:e], mom[s:e], avg[s:e], p[0], p[1], p[2], p[3],
                       p[4], p[5] != 0, p[6], p[7], p[8], 0, e - s)


def rmsprop_step_ref(w, g, vel, mom, avg, p):
    lr, rho, one_m_rho, momentum, eps, centered, gscale, clip, decay = p
    gi = _grad_ref(g, gscale, clip)
    _decay_ref(w, decay)
    vel[...] = rho * vel + one_m_rho * (gi * gi)
    if eps > 0:
        _ftz_ref(vel)
    if centered:
        avg[...] = rho * avg + one_m_rho * gi
        _ftz_ref(avg)
        denom = vel - avg * avg + eps
    else:
        denom = vel + eps
    inc = (lr * gi) / np.sqrt(denom)
    if momentum > 0:
        mom[...] = momentum * mom + inc
        _ftz_ref(mom)
        w -= mom
    else:
        w -= inc


# --------------------------------------------------------------------- Adagrad
@njit(error_model="numpy")
def _adagrad_range(w, g, acc, lr, eps, gscale, clip, decay, start, stop):
    if clip == 0 and decay == 0:
        for i in range(start, stop):
            gi = g[i] * gscale
            ai = acc[i] + gi * gi
            acc[i] = ai
            w[i] -= (lr * gi) / np.sqrt(ai + eps)
        return
    for i in range(start, stop):
        gi = _grad(g, i, gscale, clip)
        wi = w[i]
        if decay != 0:
            wi = wi - wi * decay
        ai = acc[i] + gi * gi
        acc[i] = ai
        w[i] = wi - (lr * gi) / np.sqrt(ai + eps)


@njit
def adagrad_step(w, g, acc, p):
    """p = [lr, epsilon, gscale, clip, decay]"""
    _adagrad_range(w, g, acc, p[0], p[1], p[2], p[3], p[4], 0, w.shape[0])


@njit(parallel=True)
def adagrad_step_par(w, g, acc, p):
    n = w.shape[0]
    for c in prange((n + CHUNK - 1) // CHUNK):
        s, e = c * CHUNK, min(n, (c + 1) * CHUNK)
        _adagrad_range(w[s:e], g[s:e], acc[s:e], p[0], p[1], p[2], p[3], p[4], 0, e - s)


def adagrad_step_ref(w, g, acc, p):
    lr, eps, gscale, clip, decay = p
    gi = _grad_ref(g, gscale, clip)
    _decay_ref(w, decay)
    acc += gi * gi
    w -= (lr * gi) / np.sqrt(acc + eps)


# --------------------------------------------------------- norms and averages
@njit
def sum_squares(x):
    """Sum of squares accumulated in float64 (for clipnorm / global_clipnorm)."""
    s = 0.0
    for i in range(x.shape[0]):
        xi = np.float64(x[i])
        s += xi * xi
    return s


def sum_squares_ref(x):
    x64 = x.astype(np.float64)
    return float(np.dot(x64, x64))


@njit(error_model="numpy")
def ema_step(avg, w, momentum, one_m_momentum):
    """``avg = momentum * avg + (1 - momentum) * w`` in place (Keras' use_ema)."""
    for i in range(avg.shape[0]):
        avg[i] = momentum * avg[i] + one_m_momentum * w[i]


def ema_step_ref(avg, w, momentum, one_m_momentum):
    avg[...] = momentum * avg + one_m_momentum * w


# ------------------------------------------------------------------- warmup
def warmup() -> None:
    """Compile (or load from cache) every kernel for float32 once, on tiny inputs."""
    f = np.float32
    for par in (False, True):
        a = [np.zeros(3, f) for _ in range(5)]
        e = np.zeros(0, f)
        (sgd_step_par if par else sgd_step)(a[0], a[1], np.array([0.01, 1, 0, 0], f))
        (momentum_step_par if par else momentum_step)(a[0], a[1], a[2],
                                                     np.array([0.01, 0.9, 0, 1, 0, 0], f))
        (adam_step_par if par else adam_step)(a[0], a[1], a[2], a[3], e,
                                              np.array([0.01, 0.1, 1e-3, 1e-7, 0, 1, 0, 0], f))
        (rmsprop_step_par if par else rmsprop_step)(
            a[0], a[1], a[2], e, e, np.array([0.01, 0.9, 0.1, 0, 1e-7, 0, 1, 0, 0], f))
        a[2][:] = 0.1
        (adagrad_step_par if par else adagrad_step)(a[0], a[1], a[2],
                                                    np.array([0.01, 1e-7, 1, 0, 0], f))
    sum_squares(np.zeros(3, f))
    ema_step(np.zeros(3, f), np.zeros(3, f), f(0.99), f(0.01))


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
_cold.wrap(globals(), ["sgd_step", "sgd_step_par", "momentum_step", "momentum_step_par",
           "adam_step", "adam_step_par", "rmsprop_step", "rmsprop_step_par", "adagrad_step",
           "adagrad_step_par", "sum_squares", "ema_step"],
           {f"{r}_step_par": globals()[f"{r}_step_ref"]
            for r in ("sgd", "momentum", "adam", "rmsprop", "adagrad")})
