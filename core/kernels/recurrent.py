"""Time loops of SimpleRNN, LSTM and GRU (forward and backward-through-time).

The layers do the input projection of every step as one GEMM beforehand
(``xz = x @ kernel + bias``, time-major ``(T, N, G*U)``) and the weight
gradients as GEMMs afterwards; these kernels only walk the steps. Arrays are
time-major and in *processed* order (already reversed for ``go_backwards``).

Conventions shared by all kernels:
  * ``rk`` is the recurrent kernel split per gate, ``(G, U, U)`` C-contiguous,
    ``rkt`` its per-gate transposes (BLAS ``np.dot`` wants contiguous operands);
  * ``rmask`` ``(G, N, U)`` is the recurrent dropout mask per gate (ones without
    recurrent dropout): gate ``g`` sees ``h * rmask[g]``, as Keras' cells;
  * ``mask`` ``(T, N)`` uint8: a skipped step carries the states through and
    repeats the previous output (zeros before the first kept step), as Keras'
    ``rnn`` loop;
  * ``H`` / ``C`` ``(T+1, N, U)`` hold the states after each step (``[0]`` the
    initial state); ``out`` ``(T, N, U)`` the outputs;
  * activations by code (``ACT_CODES``); their derivatives are taken from the
    activation's output.

Measured once (units=128, batch=64, 2 cores shared): ``np.dot`` (BLAS) per gate
inside numba beats hand loops by far, so the step matmuls use it.

>>> ACT_CODES["tanh"]
1
"""

from __future__ import annotations

import numpy as np

from core.kernels._jit import njit

ACT_CODES = {"linear": 0, "tanh": 1, "sigmoid": 2, "relu": 3}


@njit(inline="always")
def _act(v, code):
    if code == 1:
        return np.tanh(v)
    if code == 2:
        return 1.0 / (1.0 + np.exp(-v))
    if code == 3:
        return v if v > 0 else 0.0 * v
    return v


@njit(inline="always")
def _dact(y, code):
    """Derivative of the activation at the point whose output is ``y``."""
    if code == 1:
        return 1.0 - y * y
    if code == 2:
        return y * (1.0 - y)
    if code == 3:
        return 1.0 if y > 0 else 0.0
    return 1.0


@njit
def _recurrent_products(hp, rk, rmask, zg, hm):
    """``zg[g] = (hp * rmask[g]) @ rk[g]`` for every gate."""
    G, N, U = rmask.shape
    for g in range(G):
        for n in range(N):
            for u in range(U):
                hm[n, u] = hp[n, u] * rmask[g, n, u]
        np.dot(hm, rk[g], zg[g])


@njit
def _carry_output(out, t, n, U):
    for u in range(U):
        out[t, n, u] = out[t - 1, n, u] if t > 0 else 0.0


# ------------------------------------------------------------------ SimpleRNN
@njit
def simple_rnn_forward(xz, rk, rmask, mask, act, H, out):
    T, N, U = xz.shape
    zg = np.empty((1, N, U), xz.dtype)
    hm = np.empty((N, U), xz.dtype)
    for t in range(T):
        _recurrent_products(H[t], rk, rmask, zg, hm)
        for n in range(N):
            if mask[t, n]:
                for u in range(U):
                    h = _act(xz[t, n, u] + zg[0, n, u], act)
                    H[t + 1, n, u] = h
                    out[t, n, u] = h
            else:
                for u in range(U):
                    H[t + 1, n, u] = H[t, n, u]
                _carry_output(out, t, n, U)


@njit
def simple_rnn_backward(rkt, rmask, mask, act, H, dout, dh, dxz):
    """``dh`` (N, U) enters as d/dh_T and leaves as d/dh_0; writes ``dxz``."""
    T, N, U = dout.shape
    carry = np.zeros((N, U), dout.dtype)
    dz = np.zeros((1, N, U), dout.dtype)
    back = np.empty((N, U), dout.dtype)
    for t in range(T - 1, -1, -1):
        for n in range(N):
            keep = mask[t, n]
            for u in range(U):
                go = dout[t, n, u] + carry[n, u]
                if keep:
                    d = (dh[n, u] + go) * _dact(H[t + 1, n, u], act)
                    carry[n, u] = 0.0
                    dh[n, u] = 0.0
                else:
                    d = 0.0
                    carry[n, u] = go
                dz[0, n, u] = d
                dxz[t, n, u] = d
        np.dot(dz[0], rkt[0], back)
        for n in range(N):
            for u in range(U):
                dh[n, u] += back[n, u] * rmask[0, n, u]


# ----------------------------------------------------------------------- LSTM
@njit
def lstm_forward(xz, rk, rmask, mask, act, ract, H, C, gates, out):
    """``gates`` (T, 4, N, U) keeps i, f, c~, o after their activations."""
    T, N, G4 = xz.shape
    U = G4 // 4
    zg = np.empty((4, N, U), xz.dtype)
    hm = np.empty((N, U), xz.dtype)
    for t in range(T):
        _recurrent_products(H[t], rk, rmask, zg, hm)
        for n in range(N):
            if mask[t, n]:
                for u in range(U):
                    i = _act(xz[t, n, u] + zg[0, n, u], ract)
                    f = _act(xz[t, n, U + u] + zg[1, n, u], ract)
                    g = _act(xz[t, n, 2 * U + u] + zg[2, n, u], act)
                    o = _act(xz[t, n, 3 * U + u] + zg[3, n, u], ract)
                    c = f * C[t, n, u] + i * g
                    h = o * _act(c, act)
                    gates[t, 0, n, u] = i
                    gates[t, 1, n, u] = f
                    gates[t, 2, n, u] = g
                    gates[t, 3, n, u] = o
                    C[t + 1, n, u] = c
                    H[t + 1, n, u] = h
                    out[t, n, u] = h
            else:
                for u in range(U):
                    H[t + 1, n, u] = H[t, n, u]
                    C[t + 1, n, u] = C[t, n, u]
                    for k in range(4):
                        gates[t, k, n, u] = 0.0
                _carry_output(out, t, n, U)


@njit
def lstm_backward(rkt, rmask, mask, act, ract, C, gates, dout, dh, dc, dxz):
    """``dh``/``dc`` enter as d/d(final states) and leave as d/d(initial states)."""
    T, N, U = dout.shape
    carry = np.zeros((N, U), dout.dtype)
    dz = np.zeros((4, N, U), dout.dtype)
    back = np.empty((N, U), dout.dtype)
    for t in range(T - 1, -1, -1):
        for n in range(N):
            keep = mask[t, n]
            for u in range(U):
                go = dout[t, n, u] + carry[n, u]
                if keep:
                    carry[n, u] = 0.0
                    dhc = dh[n, u] + go
                    i = gates[t, 0, n, u]
                    f = gates[t, 1, n, u]
                    g = gates[t, 2, n, u]
                    o = gates[t, 3, n, u]
                    ac = _act(C[t + 1, n, u], act)
                    dct = dc[n, u] + dhc * o * _dact(ac, act)
                    dz[0, n, u] = dct * g * _dact(i, ract)
                    dz[1, n, u] = dct * C[t, n, u] * _dact(f, ract)
                    dz[2, n, u] = dct * i * _dact(g, act)
                    dz[3, n, u] = dhc * ac * _dact(o, ract)
                    dc[n, u] = dct * f
                    dh[n, u] = 0.0
                else:
                    carry[n, u] = go
                    for k in range(4):
                        dz[k, n, u] = 0.0
                for k in range(4):
                    dxz[t, n, k * U + u] = dz[k, n, u]
        for k in range(4):
            np.dot(dz[k], rkt[k], back)
            for n in range(N):
                for u in range(U):
                    dh[n, u] += back[n, u] * rmask[k, n, u]


# ------------------------------------------------------------------------ GRU
@njit
def gru_forward(xz, rk, rbias, rmask, mask, act, ract, reset_after, H, gates, rech, out):
    """``gates`` (T, 3, N, U) keeps z, r, h~; ``rech`` the recurrent term of h~ before
    the reset gate (reset_after) — the products ``(h * rmask) @ rk + rbias``."""
    T, N, G3 = xz.shape
    U = G3 // 3
    zg = np.empty((3, N, U), xz.dtype)
    hm = np.empty((N, U), xz.dtype)
    ph = np.empty((N, U), xz.dtype)
    for t in range(T):
        hp = H[t]
        _recurrent_products(hp, rk, rmask, zg, hm)
        for n in range(N):
            for u in range(U):
                z = _act(xz[t, n, u] + zg[0, n, u] + rbias[0, u], ract)
                r = _act(xz[t, n, U + u] + zg[1, n, u] + rbias[1, u], ract)
                gates[t, 0, n, u] = z
                gates[t, 1, n, u] = r
                ph[n, u] = r * hp[n, u] * rmask[2, n, u]
        if not reset_after:  # h~ sees (r * h) @ rk_h
            np.dot(ph, rk[2], zg[2])
        for n in range(N):
            if mask[t, n]:
                for u in range(U):
                    z = gates[t, 0, n, u]
                    r = gates[t, 1, n, u]
                    if reset_after:
                        rh = zg[2, n, u] + rbias[2, u]
                        rech[t, n, u] = rh
                        hh = _act(xz[t, n, 2 * U + u] + r * rh, act)
                    else:
                        hh = _act(xz[t, n, 2 * U + u] + zg[2, n, u], act)
                    gates[t, 2, n, u] = hh
                    h = z * hp[n, u] + (1.0 - z) * hh
                    H[t + 1, n, u] = h
                    out[t, n, u] = h
            else:
                for u in range(U):
                    H[t + 1, n, u] = hp[n, u]
                    for k in range(3):
                        gates[t, k, n, u] = 0.0
                _carry_output(out, t, n, U)


@njit
def gru_backward(rkt, rmask, mask, act, ract, reset_after, H, gates, rech, dout, dh,
                 dxz, drec):
    """Writes ``dxz`` (d/d input projections) and ``drec`` (d/d the recurrent products
    of each gate: for reset_after=False gate h's product is ``(r*h*rmask) @ rk_h``)."""
    T, N, U = dout.shape
    carry = np.zeros((N, U), dout.dtype)
    dr = np.zeros((3, N, U), dout.dtype)
    back = np.empty((N, U), dout.dtype)
    dph = np.empty((N, U), dout.dtype)
    for t in range(T - 1, -1, -1):
        hp = H[t]
        for n in range(N):
            keep = mask[t, n]
            for u in range(U):
                go = dout[t, n, u] + carry[n, u]
                if keep:
                    carry[n, u] = 0.0
                    d = dh[n, u] + go
                    z = gates[t, 0, n, u]
                    hh = gates[t, 2, n, u]
                    dah = d * (1.0 - z) * _dact(hh, act)
                    dr[0, n, u] = d * (hp[n, u] - hh) * _dact(z, ract)
                    dr[2, n, u] = dah
                    dxz[t, n, u] = dr[0, n, u]
                    dxz[t, n, 2 * U + u] = dah
                    dh[n, u] = d * z
                else:
                    carry[n, u] = go
                    for k in range(3):
                        dr[k, n, u] = 0.0
                        dxz[t, n, k * U + u] = 0.0
        if not reset_after:
            np.dot(dr[2], rkt[2], dph)  # d/d(r * h * rmask_h)
        for n in range(N):
            if not mask[t, n]:
                for u in range(U):
                    drec[t, n, u] = 0.0
                    drec[t, n, U + u] = 0.0
                    drec[t, n, 2 * U + u] = 0.0
                continue
            for u in range(U):
                r = gates[t, 1, n, u]
                if reset_after:
                    drr = dr[2, n, u] * rech[t, n, u] * _dact(r, ract)
                    dr[2, n, u] = dr[2, n, u] * r
                else:
                    drr = dph[n, u] * hp[n, u] * rmask[2, n, u] * _dact(r, ract)
                    dh[n, u] += dph[n, u] * r * rmask[2, n, u]
                dr[1, n, u] = drr
                dxz[t, n, U + u] = drr
                for k in range(3):
                    drec[t, n, k * U + u] = dr[k, n, u]
        gates_back = 3 if reset_after else 2
        for k in range(gates_back):
            np.dot(dr[k], rkt[k], back)
            for n in range(N):
                for u in range(U):
                    dh[n, u] += back[n, u] * rmask[k, n, u]


# ------------------------------------------------------------- numpy twins
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


def _products_ref(hp, rk, rmask):
    return [(hp * rmask[g]) @ rk[g] for g in range(len(rk))]


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
        dh[...] = np.where(keep, 0.0, dh) + (d @ rkt[0]) * rmask[0]


def lstm_forward_ref(xz, rk, rmask, mask, act, ract, H, C, gates, out):
    U = xz.shape[2] // 4
    for t in range(xz.shape[0]):
        keep = mask[t].astype(bool)[:, None]
        zs = _products_ref(H[t], rk, rmask)
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
        dh[...] = np.where(keep, 0.0, dh) + sum((dz[k] @ rkt[k]) * rmask[k] for k in range(4))


def gru_forward_ref(xz, rk, rbias, rmask, mask, act, ract, reset_after, H, gates, rech, out):
    U = xz.shape[2] // 3
    for t in range(xz.shape[0]):
        keep = mask[t].astype(bool)[:, None]
        hp = H[t]
        zs = _products_ref(hp, rk, rmask)
        z = _act_ref(xz[t, :, :U] + zs[0] + rbias[0], ract)
        r = _act_ref(xz[t, :, U:2 * U] + zs[1] + rbias[1], ract)
        if reset_after:
            rh = zs[2] + rbias[2]
            rech[t] = np.where(keep, rh, rech[t])
            hh = _act_ref(xz[t, :, 2 * U:] + r * rh, act)
        else:
            hh = _act_ref(xz[t, :, 2 * U:] + (r * hp * rmask[2]) @ rk[2], act)
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
            new_dh = new_dh + (drh @ rkt[2]) * rmask[2]
        else:
            dph = dah @ rkt[2]
            drp = dph * hp * rmask[2] * _dact_ref(r, ract)
            drh = dah
            new_dh = new_dh + dph * r * rmask[2]
        new_dh = new_dh + (dzp @ rkt[0]) * rmask[0] + (drp @ rkt[1]) * rmask[1]
        for k, (a, b) in enumerate(((dzp, dzp), (drp, drp), (dah, drh))):
            dxz[t, :, k * U:(k + 1) * U] = np.where(keep, a, 0.0)
            drec[t, :, k * U:(k + 1) * U] = np.where(keep, b, 0.0)
        dh[...] = np.where(keep, new_dh, dh)


def warmup() -> None:
    """Compile the float32 signatures used in training."""
    f = np.float32
    T, N, U = 2, 2, 2
    ones = np.ones((4, N, U), f)
    mask = np.ones((T, N), np.uint8)
    rk = np.zeros((4, U, U), f)
    for G in (1, 4, 3):
        xz = np.zeros((T, N, G * U), f)
        H, out = np.zeros((T + 1, N, U), f), np.zeros((T, N, U), f)
        dout, dh, dxz = np.zeros((T, N, U), f), np.zeros((N, U), f), np.zeros_like(xz)
        if G == 1:
            simple_rnn_forward(xz, rk[:1], ones[:1], mask, 1, H, out)
            simple_rnn_backward(rk[:1], ones[:1], mask, 1, H, dout, dh, dxz)
        elif G == 4:
            C, gates = np.zeros_like(H), np.zeros((T, 4, N, U), f)
            lstm_forward(xz, rk, ones, mask, 1, 2, H, C, gates, out)
            lstm_backward(rk, ones, mask, 1, 2, C, gates, dout, dh, np.zeros_like(dh), dxz)
        else:
            gates, rech = np.zeros((T, 3, N, U), f), np.zeros((T, N, U), f)
            rb = np.zeros((3, U), f)
            gru_forward(xz, rk[:3], rb, ones[:3], mask, 1, 2, True, H, gates, rech, out)
            gru_backward(rk[:3], ones[:3], mask, 1, 2, True, H, gates, rech, dout, dh, dxz,
                         np.zeros_like(xz))
