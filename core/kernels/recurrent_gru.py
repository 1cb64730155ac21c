"""GRU time loop (forward and backward-through-time), gates z, r, h.

Same conventions as ``core.kernels.recurrent`` (time-major arrays in processed order,
``rmask`` per gate, ``mask`` (T, N) uint8, activations by code, one BLAS GEMM per step
for the recurrent product, numba for the gate arithmetic and masks); with tanh/sigmoid
the fused steps of ``core.kernels.recurrent_fast``. Numpy twins: ``gru_forward_ref`` /
``gru_backward_ref`` in ``core.kernels.recurrent_ref``.

>>> import numpy as np
>>> T, N, U = 1, 1, 1
>>> H, out = np.zeros((T + 1, N, U), np.float32), np.zeros((T, N, U), np.float32)
>>> gates, rech = np.zeros((T, 3, N, U), np.float32), np.zeros((T, N, U), np.float32)
>>> gru_forward(np.zeros((T, N, 3), np.float32), np.zeros((U, 3), np.float32),
...             np.zeros(3, np.float32), None, np.ones((T, N), np.uint8), 1, 2, True, H,
...             gates, rech, out)
>>> float(gates[0, 0, 0, 0])  # z = sigmoid(0)
0.5
"""

from __future__ import annotations

import numpy as np

from core.kernels import _cold
from core.kernels import recurrent_fast as F
from core.kernels import recurrent_numpy as _numpy
from core.kernels._jit import njit
from core.kernels.recurrent import _activate, _back, _carry_output, _dact, _products
from core.kernels.recurrent_fast import _ftz
from core.kernels.recurrent_fast import flush_below as _flush_below


# As the LSTM: activations by ``_activate`` (numpy ufuncs), arithmetic and masks here.
@njit
def gru_gates_step(za, t, H, gates, rh):
    """Store the activated z and r of step ``t`` (``za`` (N, >= 2U)); ``rh = r * h``
    (the reset state, for reset_after=False). Masked rows are zeroed later."""
    N, U = rh.shape
    for n in range(N):
        for u in range(U):
            r = za[n, U + u]
            gates[t, 0, n, u] = za[n, u]
            gates[t, 1, n, u] = r
            rh[n, u] = r * H[t, n, u]


@njit
def gru_candidate_input(xz, rz, mask, t, reset_after, gates, rech, pre):
    """``pre`` (N, U) = the input of h~'s activation; ``rech[t]`` (kept rows) for
    reset_after."""
    N, U = pre.shape
    for n in range(N):
        for u in range(U):
            if reset_after:
                rec = rz[n, 2 * U + u]  # the recurrent bias is already in rz
                if mask[t, n]:
                    rech[t, n, u] = rec
                pre[n, u] = xz[t, n, 2 * U + u] + gates[t, 1, n, u] * rec
            else:
                pre[n, u] = xz[t, n, 2 * U + u] + rz[n, 2 * U + u]


@njit
def gru_candidate_step(mask, t, hh, H, gates, out):
    """``h = z * h_prev + (1 - z) * h~`` from the activated ``hh`` (N, U)."""
    N, U = hh.shape
    for n in range(N):
        if mask[t, n]:
            for u in range(U):
                z = gates[t, 0, n, u]
                c = hh[n, u]
                gates[t, 2, n, u] = c
                h = z * H[t, n, u] + (1.0 - z) * c
                H[t + 1, n, u] = h
                out[t, n, u] = h
        else:
            for u in range(U):
                H[t + 1, n, u] = H[t, n, u]
                for k in range(3):
                    gates[t, k, n, u] = 0.0
            _carry_output(out, t, n, U)


@njit
def gru_step_backward(mask, t, act, ract, H, gates, dout, carry, dh, dxz, drec, tiny):
    """First half of step ``t``: d/dz, d/dh~ and the part of dh through z (values
    below ``_flush_below`` zeroed, ``_ftz``)."""
    N, U = dh.shape
    for n in range(N):
        keep = mask[t, n]
        for u in range(U):
            go = dout[t, n, u] + carry[n, u]
            if keep:
                carry[n, u] = 0.0
                d = _ftz(dh[n, u], tiny) + go
                z = gates[t, 0, n, u]
                hh = gates[t, 2, n, u]
                dzp = _ftz(d * (H[t, n, u] - hh) * _dact(z, ract), tiny)
                dxz[t, n, u] = dzp
                drec[t, n, u] = dzp
                dxz[t, n, 2 * U + u] = _ftz(d * (1.0 - z) * _dact(hh, act), tiny)
                dh[n, u] = _ftz(d * z, tiny)
            else:
                carry[n, u] = go
                for k in range(3):
                    dxz[t, n, k * U + u] = 0.0
                    drec[t, n, k * U + u] = 0.0


@njit
def gru_reset_step_backward(mask, t, ract, reset_after, H, gates, rech, drh, hmask, dh,
                            dxz, drec, tiny):
    """Second half: d/dr. ``drh`` is d/d(r * h * hmask) for reset_after=False."""
    N, U = dh.shape
    for n in range(N):
        if not mask[t, n]:
            continue
        for u in range(U):
            r = gates[t, 1, n, u]
            dah = dxz[t, n, 2 * U + u]
            if reset_after:
                drp = _ftz(dah * rech[t, n, u] * _dact(r, ract), tiny)
                drec[t, n, 2 * U + u] = _ftz(dah * r, tiny)
            else:
                dph = _ftz(drh[n, u], tiny)
                drp = _ftz(dph * H[t, n, u] * hmask[n, u] * _dact(r, ract), tiny)
                drec[t, n, 2 * U + u] = dah
                dh[n, u] = _ftz(dh[n, u] + dph * r * hmask[n, u], tiny)
            dxz[t, n, U + u] = drp
            drec[t, n, U + u] = drp


def gru_forward(xz, rk, rbias, rmask, mask, act, ract, reset_after, H, gates, rech, out):
    """``gates`` (T, 3, N, U) keeps z, r, h~; ``rech`` (reset_after) the recurrent term
    of h~ before the reset gate, ``(h * rmask_h) @ rk_h + rbias_h``. ``rbias`` (3*U,)."""
    T, N, G3 = xz.shape
    U = G3 // 3
    rz = np.empty((N, G3), xz.dtype)
    rh = np.empty((N, U), xz.dtype)
    hh = np.empty((N, U), xz.dtype)
    fast = act == 1 and ract == 2  # tanh / sigmoid: the fused steps (recurrent_fast)
    if fast:
        s = F.half_scale(U, 3, (0, 1), xz.dtype)
        rks, rbs = rk * s, rbias * s
    for t in range(T):
        if fast and reset_after:  # one fused step kernel (recurrent_fast)
            _products(H[t], rks, rmask, rz)
            F.gru_forward_step(rz, xz, t, s, rbs, mask, H, gates, rech, out)
            continue
        if fast:
            _products(H[t], rks, rmask, rz)
            F.add_scaled(rz, xz, t, s, rbs, 2 * U)
            zr = rz[:, :2 * U]
            np.tanh(zr, out=zr)
            F.gru_gates(rz, t, s[0], H, gates, rh)
        else:
            _products(H[t], rk, rmask, rz)
            rz += rbias
            zr = rz[:, :2 * U]
            zr += xz[t, :, :2 * U]
            _activate(zr, ract)
            gru_gates_step(rz, t, H, gates, rh)
        if not reset_after:  # h~ sees (r * h * rmask_h) @ rk_h
            if rmask is not None:
                rh *= rmask[2]
            rz[:, 2 * U:] = rh @ rk[:, 2 * U:]
        gru_candidate_input(xz, rz, mask, t, reset_after, gates, rech, hh)
        _activate(hh, act)
        gru_candidate_step(mask, t, hh, H, gates, out)


def gru_backward(rkt, rmask, mask, act, ract, reset_after, H, gates, rech, dout, dh,
                 dxz, drec):
    """Writes ``dxz`` (d/d input projections) and ``drec`` (d/d each gate's recurrent
    product; for reset_after=False gate h's product is ``(r*h*rmask_h) @ rk_h``)."""
    T, N, U = dout.shape
    carry = np.zeros_like(dh)
    ones = np.ones((N, U), dout.dtype)
    hmask = ones if rmask is None else rmask[2]
    drh = ones
    tiny = _flush_below(dh)
    fast = act == 1 and ract == 2
    for t in range(T - 1, -1, -1):
        if fast:
            F.gru_step_backward(mask, t, H, gates, rech, reset_after, dout, carry, dh, dxz,
                                drec, tiny)
        else:
            gru_step_backward(mask, t, act, ract, H, gates, dout, carry, dh, dxz, drec, tiny)
        if not reset_after:
            drh = dxz[t, :, 2 * U:] @ rkt[2 * U:]
        if not (fast and reset_after):  # the fused step did d/dr already
            gru_reset_step_backward(mask, t, ract, reset_after, H, gates, rech, drh, hmask,
                                    dh, dxz, drec, tiny)
        _back(drec[t], rkt, rmask, dh, gates=3 if reset_after else 2)


def warmup() -> None:
    """Compile the float32 GRU kernels used in training (both reset_after forms)."""
    f = np.float32
    T, N, U = 2, 2, 2
    mask = np.ones((T, N), np.uint8)
    H, out = np.zeros((T + 1, N, U), f), np.zeros((T, N, U), f)
    dh = np.zeros((N, U), f)
    xz, rk = np.zeros((T, N, 3 * U), f), np.zeros((U, 3 * U), f)
    rkt = np.ascontiguousarray(rk.T)
    gates, rech = np.zeros((T, 3, N, U), f), np.zeros((T, N, U), f)
    for ra in (True, False):
        gru_forward(xz, rk, np.zeros(3 * U, f), None, mask, 1, 2, ra, H, gates, rech, out)
        gru_backward(rkt, None, mask, 1, 2, ra, H, gates, rech, out, dh, np.zeros_like(xz),
                     np.zeros_like(xz))


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
# The first GRU fit waited for these to compile at their first call otherwise.
_cold.wrap(globals(), list(_numpy.GRU), _numpy.GRU)
