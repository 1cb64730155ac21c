"""Numpy versions of the recurrent step kernels, run while numba compiles them.

``core.kernels._cold`` calls these in place of a step kernel of
``core.kernels.recurrent``, ``recurrent_fast`` or ``recurrent_gru`` until the child
process has compiled it, so the first LSTM/GRU fit of a fresh install trains at once
instead of waiting for numba. Each has its kernel's arguments and effect (same
outputs written, same flush of tiny backward values, same order of additions); each
step is whole-array numpy over the (N, G*U) step, a few microseconds per array for the
sizes of the templates. ``tests/core/test_recurrent_kernels.py`` runs every time loop
on these (``_cold.set_mode("numpy")``) against the twins of
``core.kernels.recurrent_ref`` as it runs the kernels.

The dicts at the end name each kernel's numpy version per kernel module.

>>> import numpy as np
>>> H, out = np.zeros((2, 1, 2)), np.zeros((1, 1, 2))
>>> simple_rnn_step(np.ones((1, 2)), np.ones((1, 1), np.uint8), 0, H, out)
>>> H[1].tolist(), out[0].tolist()
([[1.0, 1.0]], [[1.0, 1.0]])
"""

from __future__ import annotations

import numpy as np

# The activation derivative is the twins' own (one small formula, written once).
from core.kernels.recurrent_ref import _dact_ref as _dact


def _ftz(v, tiny):
    """``v`` with the values below ``tiny`` in magnitude zeroed (NaN kept), in place."""
    np.copyto(v, 0, where=np.abs(v) < tiny)
    return v


def _keep(mask, t):
    """(N, 1) bool of the kept rows of step ``t``, or None when every row is kept."""
    keep = mask[t].astype(bool)
    return None if keep.all() else keep[:, None]


def _put(dst, keep, value, other):
    """``dst = value`` on the kept rows, ``other`` (array or scalar) on the others."""
    dst[...] = value if keep is None else np.where(keep, value, other)


def _prev_out(out, t):
    return out[t - 1] if t > 0 else 0.0


# ------------------------------------------------------------- core.kernels.recurrent
def simple_rnn_step(ha, mask, t, H, out):
    keep = _keep(mask, t)
    _put(H[t + 1], keep, ha, H[t])
    _put(out[t], keep, ha, _prev_out(out, t))


def simple_rnn_step_backward(mask, t, act, H, dout, carry, dh, dxz, tiny):
    keep = _keep(mask, t)
    go = dout[t] + carry
    d = _ftz((_ftz(dh.copy(), tiny) + go) * _dact(H[t + 1], act), tiny)
    _put(dxz[t], keep, d, 0.0)
    _put(carry, keep, 0.0, go)
    _put(dh, keep, 0.0, dh)


def lstm_step(za, mask, t, C, gates):
    U = za.shape[1] // 4
    keep = _keep(mask, t)
    i, f, g = za[:, :U], za[:, U:2 * U], za[:, 2 * U:3 * U]
    for k in range(4):
        _put(gates[t, k], keep, za[:, k * U:(k + 1) * U], 0.0)
    _put(C[t + 1], keep, f * C[t] + i * g, C[t])


def lstm_output_step(mask, t, gates, ac, H, out):
    keep = _keep(mask, t)
    h = gates[t, 3] * ac
    _put(H[t + 1], keep, h, H[t])
    _put(out[t], keep, h, _prev_out(out, t))


def lstm_step_backward(mask, t, act, ract, C, gates, ac, dout, back, carry, dh, dc, dxz,
                       tiny):
    U = dh.shape[1]
    keep = _keep(mask, t)
    go = dout[t] + carry
    dhc = _ftz(dh + back, tiny) + go
    i, f, g, o = gates[t]
    dct = _ftz(dc + dhc * o * _dact(ac, act), tiny)
    parts = (dct * g * _dact(i, ract), dct * C[t] * _dact(f, ract),
             dct * i * _dact(g, act), dhc * ac * _dact(o, ract))
    for k, p in enumerate(parts):
        _put(dxz[t, :, k * U:(k + 1) * U], keep, _ftz(p, tiny), 0.0)
    _put(dc, keep, _ftz(dct * f, tiny), dc)
    _put(dh, keep, 0.0, dh + back)
    _put(carry, keep, 0.0, go)


# -------------------------------------------------------- core.kernels.recurrent_fast
def add_scaled(rz, xz, t, s, bias, nx):
    rz += bias
    rz[:, :nx] += xz[t, :, :nx] * s[:nx]


def lstm_forward_step(rz, xz, t, s, bias, mask, C, gates, ac, H, out):
    U = rz.shape[1] // 4
    keep = _keep(mask, t)
    add_scaled(rz, xz, t, s, bias, 4 * U)
    np.tanh(rz, out=rz)
    half = s[0]
    i, f, o = (rz[:, k * U:(k + 1) * U] * half + half for k in (0, 1, 3))
    g = rz[:, 2 * U:3 * U]
    for k, v in enumerate((i, f, g, o)):
        _put(gates[t, k], keep, v, 0.0)
    _put(C[t + 1], keep, f * C[t] + i * g, C[t])
    np.tanh(C[t + 1], out=ac)
    h = o * ac
    _put(H[t + 1], keep, h, H[t])
    _put(out[t], keep, h, _prev_out(out, t))


def lstm_step_backward_fast(mask, t, C, gates, ac, dout, back, carry, dh, dc, dxz, tiny):
    lstm_step_backward(mask, t, 1, 2, C, gates, ac, dout, back, carry, dh, dc, dxz, tiny)


def gru_gates(th, t, half, H, gates, rh):
    U = rh.shape[1]
    gates[t, 0] = th[:, :U] * half + half
    gates[t, 1] = th[:, U:2 * U] * half + half
    np.multiply(gates[t, 1], H[t], out=rh)


def gru_forward_step(rz, xz, t, s, rbias, mask, H, gates, rech, out):
    U = rz.shape[1] // 3
    keep = _keep(mask, t)
    add_scaled(rz, xz, t, s, rbias, 2 * U)
    zr = rz[:, :2 * U]
    np.tanh(zr, out=zr)
    half = s[0]
    z, r = rz[:, :U] * half + half, rz[:, U:2 * U] * half + half
    rec = rz[:, 2 * U:]
    hh = np.tanh(xz[t, :, 2 * U:] + r * rec)
    for k, v in enumerate((z, r, hh)):
        _put(gates[t, k], keep, v, 0.0)
    _put(rech[t], keep, rec, rech[t])
    h = z * H[t] + (1.0 - z) * hh
    _put(H[t + 1], keep, h, H[t])
    _put(out[t], keep, h, _prev_out(out, t))


def gru_step_backward_fast(mask, t, H, gates, rech, reset_after, dout, carry, dh, dxz, drec,
                           tiny):
    _gru_back(mask, t, 1, 2, H, gates, dout, carry, dh, dxz, drec, tiny)
    if reset_after:
        U = dh.shape[1]
        keep = _keep(mask, t)
        r = gates[t, 1]
        dah = dxz[t, :, 2 * U:]
        drp = _ftz(dah * rech[t] * _dact(r, 2), tiny)
        _put(drec[t, :, 2 * U:], keep, _ftz(dah * r, tiny), 0.0)
        _put(dxz[t, :, U:2 * U], keep, drp, 0.0)
        _put(drec[t, :, U:2 * U], keep, drp, 0.0)


# --------------------------------------------------------- core.kernels.recurrent_gru
def gru_gates_step(za, t, H, gates, rh):
    U = rh.shape[1]
    gates[t, 0] = za[:, :U]
    gates[t, 1] = za[:, U:2 * U]
    np.multiply(gates[t, 1], H[t], out=rh)


def gru_candidate_input(xz, rz, mask, t, reset_after, gates, rech, pre):
    U = pre.shape[1]
    if reset_after:
        rec = rz[:, 2 * U:]
        _put(rech[t], _keep(mask, t), rec, rech[t])
        np.add(xz[t, :, 2 * U:], gates[t, 1] * rec, out=pre)
    else:
        np.add(xz[t, :, 2 * U:], rz[:, 2 * U:], out=pre)


def gru_candidate_step(mask, t, hh, H, gates, out):
    keep = _keep(mask, t)
    z = gates[t, 0]
    h = z * H[t] + (1.0 - z) * hh
    _put(gates[t, 2], keep, hh, 0.0)
    if keep is not None:
        gates[t, 0][...] = np.where(keep, z, 0.0)
        gates[t, 1][...] = np.where(keep, gates[t, 1], 0.0)
    _put(H[t + 1], keep, h, H[t])
    _put(out[t], keep, h, _prev_out(out, t))


def _gru_back(mask, t, act, ract, H, gates, dout, carry, dh, dxz, drec, tiny):
    """The kept rows' d/dz, d/dh~ and dh through z; a skipped row's zeros and carry."""
    U = dh.shape[1]
    keep = _keep(mask, t)
    go = dout[t] + carry
    d = _ftz(dh.copy(), tiny) + go
    z, hh = gates[t, 0], gates[t, 2]
    dzp = _ftz(d * (H[t] - hh) * _dact(z, ract), tiny)
    _put(dxz[t, :, :U], keep, dzp, 0.0)
    _put(drec[t, :, :U], keep, dzp, 0.0)
    _put(dxz[t, :, 2 * U:], keep, _ftz(d * (1.0 - z) * _dact(hh, act), tiny), 0.0)
    _put(dh, keep, _ftz(d * z, tiny), dh)
    _put(carry, keep, 0.0, go)
    if keep is not None:  # a skipped row's other gradients: zeros, as the kernel's
        skip = ~keep[:, 0]
        dxz[t, skip, U:2 * U] = 0.0
        drec[t, skip, U:] = 0.0


def gru_step_backward(mask, t, act, ract, H, gates, dout, carry, dh, dxz, drec, tiny):
    _gru_back(mask, t, act, ract, H, gates, dout, carry, dh, dxz, drec, tiny)


def gru_reset_step_backward(mask, t, ract, reset_after, H, gates, rech, drh, hmask, dh, dxz,
                            drec, tiny):
    U = dh.shape[1]
    keep = _keep(mask, t)
    rows = slice(None) if keep is None else keep[:, 0]
    r = gates[t, 1][rows]
    dah = dxz[t, rows, 2 * U:]
    if reset_after:
        drp = _ftz(dah * rech[t][rows] * _dact(r, ract), tiny)
        drec[t, rows, 2 * U:] = _ftz(dah * r, tiny)
    else:
        dph = _ftz(np.array(drh[rows]), tiny)
        hm = hmask[rows]
        drp = _ftz(dph * H[t][rows] * hm * _dact(r, ract), tiny)
        drec[t, rows, 2 * U:] = dah
        dh[rows] = _ftz(dh[rows] + dph * r * hm, tiny)
    dxz[t, rows, U:2 * U] = drp
    drec[t, rows, U:2 * U] = drp


# The numpy version of each wrapped kernel, by kernel module.
RECURRENT = {f.__name__: f for f in (simple_rnn_step, simple_rnn_step_backward, lstm_step,
                                     lstm_output_step, lstm_step_backward)}
FAST = {"add_scaled": add_scaled, "lstm_forward_step": lstm_forward_step,
        "lstm_step_backward": lstm_step_backward_fast, "gru_forward_step": gru_forward_step,
        "gru_gates": gru_gates,
        "gru_step_backward": gru_step_backward_fast}
GRU = {f.__name__: f for f in (gru_gates_step, gru_candidate_input, gru_candidate_step,
                               gru_step_backward, gru_reset_step_backward)}
