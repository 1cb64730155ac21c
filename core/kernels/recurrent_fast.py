"""LSTM and GRU step kernels for the default activations (tanh, sigmoid gates).

``core.kernels.recurrent`` runs these when ``activation='tanh'`` and
``recurrent_activation='sigmoid'`` (Keras' defaults) and its general kernels otherwise.
They do the same arithmetic in fewer passes over each step's arrays:

* the sigmoid gates use ``sigmoid(x) = (1 + tanh(x / 2)) / 2`` as the general path does,
  the halving folded into the weights (``rk * half_scale``) and into the pass that adds
  the input projection. Scaling by 1/2 is exact in binary floating point;
* the LSTM's forward step is *one* kernel (``lstm_forward_step``): the input projection
  and bias added, the four gate activations, the cell and ``h = o * tanh(c)``, row by
  row while the row is in L1. Its tanh is ``fast_tanh``: in float32 the rational
  approximation Eigen, XLA and ONNX Runtime's MLAS use for float32 tanh (clamped to
  +-7.905, where tanh rounds to +-1; within 6 ulp, 3.9e-7 relative, of the exact tanh
  over the float32 range, measured), which LLVM vectorises; numba's scalar ``np.tanh``
  does not, and numpy's SIMD tanh needs passes of its own. In float64 (the gradient
  checks) it is ``np.tanh``. A 200-step (64, 128) forward on the 2-core box (one
  thread, load 8-9, three alternating runs): 174 -> 154 us a step, of which ~95 us is
  the step's recurrent GEMM (the four passes it replaces: add, tanh, cell, tanh + output).
  The GRU's forward step with ``reset_after=True`` likewise (``gru_forward_step``):
  141 -> 120 us a step, (64, 128), same conditions;
* the backward step takes row views and one fused loop per row, the derivatives
  written out for tanh/sigmoid (the general kernel dispatches on the activation code
  per element); measured on the 2-core box, (64, 128) units: 88 -> 58 us a step.

Every backward value passes ``_ftz``: gradient parts below ``sqrt`` of the smallest
normal float are zeroed (see ``_ftz``), in the general kernels too. The numpy versions
the kernels run while numba compiles them (``core.kernels._cold``) are in
``core.kernels.recurrent_numpy``.

>>> import numpy as np
>>> half_scale(2, 3, (0, 1), np.float32).tolist()
[0.5, 0.5, 0.5, 0.5, 1.0, 1.0]
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from core.kernels import _cold
from core.kernels import recurrent_numpy as _numpy
from core.kernels._jit import njit


def fast_tanh(x):
    """``tanh(x)``: ``np.tanh`` in Python; inside the kernels, in float32, the
    vectorisable rational approximation of the module docstring."""
    return np.tanh(x)


def _tanh32(x):
    # p(x) / q(x), p odd of degree 13, q even of degree 6 (Eigen's float32 tanh
    # coefficients). Written so that NaN stays NaN: ``x > c`` and ``v < -c`` are false
    # for NaN, and a clamp written with min/max would turn it into +-1.
    c = np.float32(7.90531110763549805)
    v = c if x > c else x
    v = -c if v < -c else v
    v2 = v * v
    p = np.float32(-2.76076847742355e-16)
    p = p * v2 + np.float32(2.00018790482477e-13)
    p = p * v2 + np.float32(-8.60467152213735e-11)
    p = p * v2 + np.float32(5.12229709037114e-08)
    p = p * v2 + np.float32(1.48572235717979e-05)
    p = p * v2 + np.float32(6.37261928875436e-04)
    p = p * v2 + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06)
    q = q * v2 + np.float32(1.18534705686654e-04)
    q = q * v2 + np.float32(2.26843463243900e-03)
    q = q * v2 + np.float32(4.89352518554385e-03)
    return (p * v) / q


@overload(fast_tanh)
def _fast_tanh_impl(x):
    if x == types.float32:
        return _tanh32
    return lambda x: np.tanh(x)


@njit(inline="always")
def _ftz(v, tiny):
    """``v``, or a zero of ``tiny``'s type when ``|v| < tiny`` (``flush_below``).

    A gradient that vanishes back through time passes through the subnormal floats,
    and on Intel cores (measured on Sapphire Rapids) every arithmetic op that reads or
    writes one takes a microcode assist: the GRU text benchmark's backward ran 5 s per
    batch instead of 0.4 s. Flushing only the subnormals (CPU flush-to-zero) is not
    enough: values just above 1.2e-38 times a state of 0.1 make subnormal *products*
    inside the weight-gradient GEMMs (their 128 x 12800 x 128 dR slice: 45 ms instead of
    4 ms). The test-and-select does no arithmetic on ``v`` (so no assist) and keeps NaN
    (NaN < tiny is false).
    """
    if abs(v) < tiny:
        return tiny - tiny
    return v


def flush_below(a):
    """The flush threshold of the backward kernels, as ``a``'s dtype: ``sqrt`` of the
    smallest normal float (1.1e-19 in float32, 1.5e-154 in float64), so the product of
    any two values they keep is a normal float. A gradient part that small is 1e-12 of
    float32's resolution next to the 1e-3..1e-8 gradients of a step; and alone, Adam's
    ``v = g*g`` underflows for it anyway. The float64 gradient checks see no change."""
    return a.dtype.type(np.sqrt(np.finfo(a.dtype).tiny))


def half_scale(U, G, sigmoid_gates, dtype):
    """(G*U,) ones, 0.5 over the columns of the sigmoid gates."""
    s = np.ones(G * U, dtype)
    for g in sigmoid_gates:
        s[g * U:(g + 1) * U] = 0.5
    return s


@njit
def add_scaled(rz, xz, t, s, bias, nx):
    """``rz = (rz + bias) + xz[t] * s`` on the first ``nx`` columns, ``rz + bias`` on the
    rest (``rz`` = h @ (rk * s), ``bias`` already scaled): the general path's
    ``(h @ rk + b + x) / 2`` exactly on the halved columns, in its order of additions.
    The GRU keeps x out of its candidate's recurrent term (``nx = 2U``)."""
    N, G = rz.shape
    for n in range(N):
        for j in range(nx):
            rz[n, j] = (rz[n, j] + bias[j]) + xz[t, n, j] * s[j]
        for j in range(nx, G):
            rz[n, j] = rz[n, j] + bias[j]


@njit(error_model="numpy")  # no zero-division check: it keeps the tanh's divide scalar
def lstm_forward_step(rz, xz, t, s, bias, mask, C, gates, ac, H, out):
    """Step ``t`` from ``rz`` = h @ (rk * s) (N, 4U), overwritten: the gates ``i, f, o =
    (1 + th) / 2``, ``g = th`` of ``th = tanh((rz + bias) + xz[t] * s)`` (``bias``
    scaled) into ``gates[t]``, ``C[t+1] = f * C[t] + i * g``, ``ac = tanh(C[t+1])``
    (N, U), ``H[t+1] = out[t] = o * ac``. A skipped row carries C and H, repeats the
    previous output (zeros at t = 0) and zeroes its gates.

    One short loop per quantity and row: LLVM vectorises a loop only when it can check
    at run time that its arrays do not overlap, and gives up beyond a few arrays (all
    of it in one loop ran scalar, 226 us a step)."""
    N, G4 = rz.shape
    U = G4 // 4
    half = s[0]
    for n in range(N):
        if mask[t, n]:
            r, x = rz[n], xz[t, n]
            for j in range(G4):
                r[j] = fast_tanh((r[j] + bias[j]) + x[j] * s[j])
            gi, gf, gg, go = gates[t, 0, n], gates[t, 1, n], gates[t, 2, n], gates[t, 3, n]
            for u in range(U):
                gi[u] = r[u] * half + half
                gf[u] = r[U + u] * half + half
                gg[u] = r[2 * U + u]
                go[u] = r[3 * U + u] * half + half
            cp, cn, a = C[t, n], C[t + 1, n], ac[n]
            for u in range(U):
                c = gf[u] * cp[u] + gi[u] * gg[u]
                cn[u] = c
                a[u] = fast_tanh(c)
            hn, o = H[t + 1, n], out[t, n]
            for u in range(U):
                h = go[u] * a[u]
                hn[u] = h
                o[u] = h
        else:
            for u in range(U):
                c = C[t, n, u]
                C[t + 1, n, u] = c
                ac[n, u] = fast_tanh(c)
                H[t + 1, n, u] = H[t, n, u]
                out[t, n, u] = out[t - 1, n, u] if t > 0 else 0.0
                for k in range(4):
                    gates[t, k, n, u] = 0.0


@njit
def lstm_step_backward(mask, t, C, gates, ac, dout, back, carry, dh, dc, dxz, tiny):
    """Step ``t`` back for tanh/sigmoid; ``ac`` = tanh(C[t+1]), ``back`` (N, U) the
    recurrent product of step ``t + 1``'s gradients (``dz @ rk.T``, zeros at the last
    step), added here to ``dh`` (a skipped row keeps the sum, a kept row leaves zero).
    As the general kernel."""
    N, U = dh.shape
    one = tiny / tiny
    for n in range(N):
        if not mask[t, n]:
            for u in range(U):
                carry[n, u] += dout[t, n, u]
                dh[n, u] += back[n, u]
                for k in range(4):
                    dxz[t, n, k * U + u] = 0.0
            continue
        gi, gf, gg, go_ = gates[t, 0, n], gates[t, 1, n], gates[t, 2, n], gates[t, 3, n]
        a_, dhr, cr, dor, dcr, cp = ac[n], dh[n], carry[n], dout[t, n], dc[n], C[t, n]
        bk = back[n]
        x0, x1 = dxz[t, n, :U], dxz[t, n, U:2 * U]
        x2, x3 = dxz[t, n, 2 * U:3 * U], dxz[t, n, 3 * U:]
        for u in range(U):
            dhc = _ftz(dhr[u] + bk[u], tiny) + (dor[u] + cr[u])
            a, i, f, g, o = a_[u], gi[u], gf[u], gg[u], go_[u]
            dct = _ftz(dcr[u] + dhc * o * (one - a * a), tiny)
            x0[u] = _ftz(dct * g * (i * (one - i)), tiny)
            x1[u] = _ftz(dct * cp[u] * (f * (one - f)), tiny)
            x2[u] = _ftz(dct * i * (one - g * g), tiny)
            x3[u] = _ftz(dhc * a * (o * (one - o)), tiny)
            dcr[u] = _ftz(dct * f, tiny)
            dhr[u] = 0.0
            cr[u] = 0.0


@njit(error_model="numpy")  # as lstm_forward_step
def gru_forward_step(rz, xz, t, s, rbias, mask, H, gates, rech, out):
    """Step ``t`` of the tanh/sigmoid GRU with ``reset_after=True`` from ``rz`` = h @
    (rk * s) (N, 3U), overwritten: ``z, r = (1 + th) / 2`` of ``th = tanh((rz + rbias) +
    xz[t] * s)`` on the first 2U columns (``rbias`` scaled), the candidate's recurrent
    term ``rech[t] = rz + rbias`` on the last U, ``h~ = tanh(xz[t] + r * rech[t])``,
    ``H[t+1] = out[t] = z * h + (1 - z) * h~``; gates z, r, h~ into ``gates[t]``. A
    skipped row carries H, repeats the previous output, zeroes its gates and keeps its
    ``rech[t]``. One short loop per quantity, as ``lstm_forward_step``."""
    N, G3 = rz.shape
    U = G3 // 3
    half = s[0]
    one = half + half
    for n in range(N):
        if mask[t, n]:
            r, x = rz[n], xz[t, n]
            for j in range(2 * U):
                r[j] = fast_tanh((r[j] + rbias[j]) + x[j] * s[j])
            gz, gr, gh = gates[t, 0, n], gates[t, 1, n], gates[t, 2, n]
            for u in range(U):
                gz[u] = r[u] * half + half
                gr[u] = r[U + u] * half + half
            rc = rech[t, n]
            for u in range(U):
                rec = r[2 * U + u] + rbias[2 * U + u]
                rc[u] = rec
                gh[u] = fast_tanh(x[2 * U + u] + gr[u] * rec)
            hp, hn, o = H[t, n], H[t + 1, n], out[t, n]
            for u in range(U):
                z = gz[u]
                h = z * hp[u] + (one - z) * gh[u]
                hn[u] = h
                o[u] = h
        else:
            for u in range(U):
                H[t + 1, n, u] = H[t, n, u]
                out[t, n, u] = out[t - 1, n, u] if t > 0 else 0.0
                for k in range(3):
                    gates[t, k, n, u] = 0.0


@njit
def gru_gates(th, t, half, H, gates, rh):
    """From ``th`` = tanh of the halved z and r pre-activations (N, >= 2U): ``z, r =
    (1 + th) / 2`` into ``gates[t]``; ``rh = r * h`` (for reset_after=False)."""
    N, U = rh.shape
    for n in range(N):
        for u in range(U):
            r = th[n, U + u] * half + half
            gates[t, 0, n, u] = th[n, u] * half + half
            gates[t, 1, n, u] = r
            rh[n, u] = r * H[t, n, u]


@njit
def gru_step_backward(mask, t, H, gates, rech, reset_after, dout, carry, dh, dxz, drec,
                      tiny):
    """Step ``t`` back for tanh/sigmoid: d/dz, d/dh~, dh through z and, for reset_after,
    d/dr too (``rech`` the candidate's recurrent term; the general path's second kernel,
    ``gru_reset_step_backward``, in the same pass)."""
    N, U = dh.shape
    one = tiny / tiny
    for n in range(N):
        if not mask[t, n]:
            for u in range(U):
                carry[n, u] += dout[t, n, u]
                for k in range(3):
                    dxz[t, n, k * U + u] = 0.0
                    drec[t, n, k * U + u] = 0.0
            continue
        gz, gr, gh, hp, dhr, cr = gates[t, 0, n], gates[t, 1, n], gates[t, 2, n], H[t, n], \
            dh[n], carry[n]
        dor, rc = dout[t, n], rech[t, n]
        x0, x1, x2 = dxz[t, n, :U], dxz[t, n, U:2 * U], dxz[t, n, 2 * U:]
        r0, r1, r2 = drec[t, n, :U], drec[t, n, U:2 * U], drec[t, n, 2 * U:]
        for u in range(U):
            d = _ftz(dhr[u], tiny) + (dor[u] + cr[u])
            z, hh = gz[u], gh[u]
            dzp = _ftz(d * (hp[u] - hh) * (z * (one - z)), tiny)
            x0[u] = dzp
            r0[u] = dzp
            dah = _ftz(d * (one - z) * (one - hh * hh), tiny)
            x2[u] = dah
            dhr[u] = _ftz(d * z, tiny)
            cr[u] = 0.0
            if reset_after:
                r = gr[u]
                drp = _ftz(dah * rc[u] * (r * (one - r)), tiny)
                r2[u] = _ftz(dah * r, tiny)
                x1[u] = drp
                r1[u] = drp


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
# The first LSTM/GRU fit waited for these to compile at their first call otherwise.
_cold.wrap(globals(), list(_numpy.FAST), _numpy.FAST)
