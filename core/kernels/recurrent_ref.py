"""Plain-numpy twins of ``core.kernels.recurrent``: the test oracle of its time loops.

Same arguments and conventions as the numba versions (see that module); each step is
written with whole-array numpy, so the twins share no code with what they check.

>>> import numpy as np
>>> T, N, U = 2, 1, 1
>>> H, out = np.zeros((T + 1, N, U)), np.zeros((T, N, U))
>>> simple_rnn_forward_ref(np.ones((T, N, U)), np.zeros((U, U)), None,
...                        np.ones((T, N), np.uint8), 0, H, out)
>>> out[:, 0, 0].tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import numpy as np


def _act_ref(v, code):
    if code == 1:
        return np.tanh(v)
    if code == 2:
        return 1.0 / (1.0 + np.exp(-v))
    if code == 3:
        return np.maximum(v, 0.0)
    return v


def _dact_ref(y, code):
    if code == 1:
        return 1.0 - y * y
    if code == 2:
        return y * (1.0 - y)
    if code == 3:
        return (y > 0).astype(y.dtype)
    return np.ones_like(y)


def _gate(a, g, U):
    return a[..., g * U:(g + 1) * U]


def _products_ref(hp, rk, rmask):
    U = hp.shape[1]
    return [(hp if rmask is None else hp * rmask[g]) @ _gate(rk, g, U)
            for g in range(rk.shape[1] // U)]


def _rm(rmask, g):
    return 1.0 if rmask is None else rmask[g]


def _step_out_ref(out, t, keep, h):
    prev = out[t - 1] if t > 0 else np.zeros_like(h)
    out[t] = np.where(keep, h, prev)


def simple_rnn_forward_ref(xz, rk, rmask, mask, act, H, out):
    for t in range(xz.shape[0]):
        keep = mask[t].astype(bool)[:, None]
        h = _act_ref(xz[t] + _products_ref(H[t], rk, rmask)[0], act)
        H[t + 1] = np.where(keep, h, H[t])
        _step_out_ref(out, t, keep, h)


def simple_rnn_backward_ref(rkt, rmask, mask, act, H, dout, dh, dxz):
    carry = np.zeros_like(dh)
    for t in range(dout.shape[0] - 1, -1, -1):
        keep = mask[t].astype(bool)[:, None]
        go = dout[t] + carry
        d = np.where(keep, (dh + go) * _dact_ref(H[t + 1], act), 0.0)
        carry = np.where(keep, 0.0, go)
        dxz[t] = d
        dh[...] = np.where(keep, 0.0, dh) + (d @ rkt) * _rm(rmask, 0)


def lstm_forward_ref(xz, rk, rmask, mask, act, ract, H, C, gates, out, bias=None):
    U = xz.shape[2] // 4
    for t in range(xz.shape[0]):
        keep = mask[t].astype(bool)[:, None]
        zs = _products_ref(H[t], rk, rmask)
        if bias is not None:  # (h @ rk + bias) + x, the kernels' order of additions
            zs = [z + _gate(bias, k, U) for k, z in enumerate(zs)]
        i, f, o = (_act_ref(xz[t, :, k * U:(k + 1) * U] + zs[k], ract) for k in (0, 1, 3))
        g = _act_ref(xz[t, :, 2 * U:3 * U] + zs[2], act)
        c = f * C[t] + i * g
        h = o * _act_ref(c, act)
        for k, v in enumerate((i, f, g, o)):
            gates[t, k] = np.where(keep, v, 0.0)
        C[t + 1] = np.where(keep, c, C[t])
        H[t + 1] = np.where(keep, h, H[t])
        _step_out_ref(out, t, keep, h)


def lstm_backward_ref(rkt, rmask, mask, act, ract, C, gates, dout, dh, dc, dxz):
    U = dout.shape[2]
    carry = np.zeros_like(dh)
    for t in range(dout.shape[0] - 1, -1, -1):
        keep = mask[t].astype(bool)[:, None]
        go = dout[t] + carry
        carry = np.where(keep, 0.0, go)
        dhc = dh + go
        i, f, g, o = gates[t]
        ac = _act_ref(C[t + 1], act)
        dct = dc + dhc * o * _dact_ref(ac, act)
        dz = [dct * g * _dact_ref(i, ract), dct * C[t] * _dact_ref(f, ract),
              dct * i * _dact_ref(g, act), dhc * ac * _dact_ref(o, ract)]
        dz = [np.where(keep, d, 0.0) for d in dz]
        for k in range(4):
            dxz[t, :, k * U:(k + 1) * U] = dz[k]
        dc[...] = np.where(keep, dct * f, dc)
        back = sum((dz[k] @ _gate(rkt.T, k, U).T) * _rm(rmask, k) for k in range(4))
        dh[...] = np.where(keep, 0.0, dh) + back


def gru_forward_ref(xz, rk, rbias, rmask, mask, act, ract, reset_after, H, gates, rech, out):
    U = xz.shape[2] // 3
    for t in range(xz.shape[0]):
        keep = mask[t].astype(bool)[:, None]
        hp = H[t]
        zs = _products_ref(hp, rk, rmask)
        z = _act_ref(xz[t, :, :U] + zs[0] + rbias[:U], ract)
        r = _act_ref(xz[t, :, U:2 * U] + zs[1] + rbias[U:2 * U], ract)
        if reset_after:
            rh = zs[2] + rbias[2 * U:]
            rech[t] = np.where(keep, rh, rech[t])
            hh = _act_ref(xz[t, :, 2 * U:] + r * rh, act)
        else:
            hh = _act_ref(xz[t, :, 2 * U:] + (r * hp * _rm(rmask, 2)) @ _gate(rk, 2, U), act)
        for k, v in enumerate((z, r, hh)):
            gates[t, k] = np.where(keep, v, 0.0)
        h = z * hp + (1.0 - z) * hh
        H[t + 1] = np.where(keep, h, hp)
        _step_out_ref(out, t, keep, h)


def gru_backward_ref(rkt, rmask, mask, act, ract, reset_after, H, gates, rech, dout, dh,
                     dxz, drec):
    U = dout.shape[2]
    carry = np.zeros_like(dh)
    for t in range(dout.shape[0] - 1, -1, -1):
        keep = mask[t].astype(bool)[:, None]
        hp = H[t]
        go = dout[t] + carry
        carry = np.where(keep, 0.0, go)
        d = dh + go
        z, r, hh = gates[t]
        dah = d * (1.0 - z) * _dact_ref(hh, act)
        dzp = d * (hp - hh) * _dact_ref(z, ract)
        new_dh = d * z
        if reset_after:
            drp = dah * rech[t] * _dact_ref(r, ract)
            drh = dah * r
            new_dh = new_dh + (drh @ _gate(rkt.T, 2, U).T) * _rm(rmask, 2)
        else:
            dph = dah @ _gate(rkt.T, 2, U).T
            drp = dph * hp * _rm(rmask, 2) * _dact_ref(r, ract)
            drh = dah
            new_dh = new_dh + dph * r * _rm(rmask, 2)
        new_dh = (new_dh + (dzp @ _gate(rkt.T, 0, U).T) * _rm(rmask, 0)
                  + (drp @ _gate(rkt.T, 1, U).T) * _rm(rmask, 1))
        for k, (a, b) in enumerate(((dzp, dzp), (drp, drp), (dah, drh))):
            dxz[t, :, k * U:(k + 1) * U] = np.where(keep, a, 0.0)
            drec[t, :, k * U:(k + 1) * U] = np.where(keep, b, 0.0)
        dh[...] = np.where(keep, new_dh, dh)
