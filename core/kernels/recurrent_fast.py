"""LSTM and GRU step kernels for the default activations (tanh, sigmoid gates).

``core.kernels.recurrent`` runs these when ``activation='tanh'`` and
``recurrent_activation='sigmoid'`` (Keras' defaults) and its general kernels otherwise.
They do the same arithmetic in fewer passes over each step's arrays:

* the sigmoid gates use ``sigmoid(x) = (1 + tanh(x / 2)) / 2`` as the general path does,
  but the halving is folded into the weights (``rk * half_scale``) and into the one
  pass that adds the input projection, so a step's gate activations are *one* numpy
  SIMD ``tanh`` over the contiguous (N, G*U) block instead of four ufunc passes per
  gate group. Scaling by 1/2 is exact in binary floating point, so the results are the
  general path's bit for bit (tests/core/test_recurrent_kernels.py checks both against
  the numpy twins);
* the backward step takes row views and one fused loop per row, the derivatives
  written out for tanh/sigmoid (the general kernel dispatches on the activation code
  per element); measured on the 2-core box, (64, 128) units: 88 -> 58 us a step.

Every backward value passes ``_ftz``: gradient parts below ``sqrt`` of the smallest
normal float are zeroed (see ``_ftz``), in the general kernels too.

>>> import numpy as np
>>> half_scale(2, 3, (0, 1), np.float32).tolist()
[0.5, 0.5, 0.5, 0.5, 1.0, 1.0]
"""

from __future__ import annotations

import numpy as np

from core.kernels._jit import njit


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


@njit
def lstm_cell(th, mask, t, half, C, gates):
    """From ``th`` = tanh of the (halved) pre-activations (N, 4U): the gates ``i, f, o =
    (1 + th) / 2``, ``g = th``, into ``gates[t]``, and ``C[t+1] = f * C[t] + i * g``."""
    N, G4 = th.shape
    U = G4 // 4
    for n in range(N):
        if mask[t, n]:
            for u in range(U):
                i = th[n, u] * half + half
                f = th[n, U + u] * half + half
                g = th[n, 2 * U + u]
                gates[t, 0, n, u] = i
                gates[t, 1, n, u] = f
                gates[t, 2, n, u] = g
                gates[t, 3, n, u] = th[n, 3 * U + u] * half + half
                C[t + 1, n, u] = f * C[t, n, u] + i * g
        else:
            for u in range(U):
                C[t + 1, n, u] = C[t, n, u]
                for k in range(4):
                    gates[t, k, n, u] = 0.0


@njit
def lstm_step_backward(mask, t, C, gates, ac, dout, carry, dh, dc, dxz, tiny):
    """Step ``t`` back for tanh/sigmoid; ``ac`` = tanh(C[t+1]). As the general kernel."""
    N, U = dh.shape
    one = tiny / tiny
    for n in range(N):
        if not mask[t, n]:
            for u in range(U):
                carry[n, u] += dout[t, n, u]
                for k in range(4):
                    dxz[t, n, k * U + u] = 0.0
            continue
        gi, gf, gg, go_ = gates[t, 0, n], gates[t, 1, n], gates[t, 2, n], gates[t, 3, n]
        a_, dhr, cr, dor, dcr, cp = ac[n], dh[n], carry[n], dout[t, n], dc[n], C[t, n]
        x0, x1 = dxz[t, n, :U], dxz[t, n, U:2 * U]
        x2, x3 = dxz[t, n, 2 * U:3 * U], dxz[t, n, 3 * U:]
        for u in range(U):
            dhc = _ftz(dhr[u], tiny) + (dor[u] + cr[u])
            a, i, f, g, o = a_[u], gi[u], gf[u], gg[u], go_[u]
            dct = _ftz(dcr[u] + dhc * o * (one - a * a), tiny)
            x0[u] = _ftz(dct * g * (i * (one - i)), tiny)
            x1[u] = _ftz(dct * cp[u] * (f * (one - f)), tiny)
            x2[u] = _ftz(dct * i * (one - g * g), tiny)
            x3[u] = _ftz(dhc * a * (o * (one - o)), tiny)
            dcr[u] = _ftz(dct * f, tiny)
            dhr[u] = 0.0
            cr[u] = 0.0


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
