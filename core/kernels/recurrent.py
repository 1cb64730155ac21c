"""Time loops of SimpleRNN, LSTM and GRU (forward and backward-through-time).

The layers do the input projection of every step as one GEMM beforehand
(``xz = x @ kernel + bias``, time-major ``(T, N, G*U)``) and the weight
gradients as GEMMs afterwards; the functions here walk the steps. Each step's
recurrent product ``h @ recurrent_kernel`` is one BLAS GEMM issued from Python
(numba's ``np.dot`` needs SciPy, which the engine does not ship; measured once on
the shared 2-core box for units=128, batch=64, the (64, 128) @ (128, 512) step product
took a median 85-135 us in OpenBLAS vs 390 us as a vectorised numba loop), and the
gate arithmetic of the step is one numba kernel (``*_step*``, ``nogil=True,
cache=True``). Arrays are time-major and in *processed* order (already
reversed for ``go_backwards``).

Conventions:
  * ``rk`` the recurrent kernel (U, G*U), ``rkt`` its transpose, contiguous;
  * ``rmask`` ``None`` or ``(G, N, U)``: recurrent dropout per gate (gate ``g``
    sees ``h * rmask[g]``, Keras' implementation 1);
  * ``mask`` ``(T, N)`` uint8: a skipped step carries the states through and
    repeats the previous output (zeros before the first kept step), as Keras'
    ``rnn`` loop;
  * ``H`` / ``C`` ``(T+1, N, U)`` hold the states after each step (``[0]`` the
    initial state); ``out`` ``(T, N, U)`` the outputs;
  * activations by code (``ACT_CODES``); derivatives from the activation's output.

The whole-sequence functions have numpy twins in ``core.kernels.recurrent_ref``
(``*_ref``), computing the same thing step by step with plain numpy.

>>> ACT_CODES["tanh"]
1
"""

from __future__ import annotations

import numpy as np

from core.kernels import _cold
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


def _products(hp, rk, rmask, rz):
    """``rz = [(hp * rmask[g]) @ rk_g for g]`` (N, G*U): one GEMM without dropout."""
    if rmask is None:
        np.matmul(hp, rk, out=rz)
        return
    U = hp.shape[1]
    for g in range(rmask.shape[0]):
        rz[:, g * U:(g + 1) * U] = (hp * rmask[g]) @ rk[:, g * U:(g + 1) * U]


def _back(dz, rkt, rmask, dh, gates=None):
    """``dh += sum_g (dz_g @ rkt_g) * rmask[g]`` over the first ``gates`` gates."""
    U = dh.shape[1]
    G = dz.shape[1] // U if gates is None else gates
    if rmask is None:
        dh += dz[:, :G * U] @ rkt[:G * U]
        return
    for g in range(G):
        dh += (dz[:, g * U:(g + 1) * U] @ rkt[g * U:(g + 1) * U]) * rmask[g]


@njit
def _carry_output(out, t, n, U):
    for u in range(U):
        out[t, n, u] = out[t - 1, n, u] if t > 0 else 0.0


# ------------------------------------------------------------------ SimpleRNN
@njit
def simple_rnn_step(xz, rz, mask, t, act, H, out):
    N, U = rz.shape
    for n in range(N):
        if mask[t, n]:
            for u in range(U):
                h = _act(xz[t, n, u] + rz[n, u], act)
                H[t + 1, n, u] = h
                out[t, n, u] = h
        else:
            for u in range(U):
                H[t + 1, n, u] = H[t, n, u]
            _carry_output(out, t, n, U)


@njit
def simple_rnn_step_backward(mask, t, act, H, dout, carry, dh, dxz):
    """Step ``t``: writes ``dxz[t]``; leaves in ``dh`` only the carried part."""
    N, U = dh.shape
    for n in range(N):
        keep = mask[t, n]
        for u in range(U):
            go = dout[t, n, u] + carry[n, u]
            if keep:
                dxz[t, n, u] = (dh[n, u] + go) * _dact(H[t + 1, n, u], act)
                carry[n, u] = 0.0
                dh[n, u] = 0.0
            else:
                dxz[t, n, u] = 0.0
                carry[n, u] = go


def simple_rnn_forward(xz, rk, rmask, mask, act, H, out):
    T, N, U = xz.shape
    rz = np.empty((N, U), xz.dtype)
    for t in range(T):
        _products(H[t], rk, rmask, rz)
        simple_rnn_step(xz, rz, mask, t, act, H, out)


def simple_rnn_backward(rkt, rmask, mask, act, H, dout, dh, dxz):
    """``dh`` (N, U) enters as d/dh_T and leaves as d/dh_0; writes ``dxz``."""
    carry = np.zeros_like(dh)
    for t in range(dout.shape[0] - 1, -1, -1):
        simple_rnn_step_backward(mask, t, act, H, dout, carry, dh, dxz)
        _back(dxz[t], rkt, rmask, dh)


# ----------------------------------------------------------------------- LSTM
# The gate activations run as numpy ufuncs on the whole (N, 4U) step (``_activate``),
# not per element inside the numba step: numba's scalar tanh/exp took 0.9 ms for a
# 64 x 512 float32 tanh where numpy's SIMD ufunc takes 79 us, and they were most of the
# LSTM's epoch (text benchmark: lstm_step 1.8 ms of a ~2.5 ms step). The numba kernels
# keep the cell arithmetic and the masks.
def _activate(a, code):
    """``a = act(a)`` in place (``a`` may be a strided view)."""
    if code == 1:
        np.tanh(a, out=a)
    elif code == 2:  # sigmoid(x) = (1 + tanh(x / 2)) / 2: SIMD, and no exp overflow
        a *= 0.5
        np.tanh(a, out=a)
        a *= 0.5
        a += 0.5
    elif code == 3:
        np.maximum(a, 0, out=a)


@njit
def lstm_step(za, mask, t, C, gates):
    """Step ``t`` from the activated gates ``za`` (N, 4U): ``C[t+1]`` and ``gates[t]``."""
    N, G4 = za.shape
    U = G4 // 4
    for n in range(N):
        if mask[t, n]:
            for u in range(U):
                i = za[n, u]
                f = za[n, U + u]
                g = za[n, 2 * U + u]
                gates[t, 0, n, u] = i
                gates[t, 1, n, u] = f
                gates[t, 2, n, u] = g
                gates[t, 3, n, u] = za[n, 3 * U + u]
                C[t + 1, n, u] = f * C[t, n, u] + i * g
        else:
            for u in range(U):
                C[t + 1, n, u] = C[t, n, u]
                for k in range(4):
                    gates[t, k, n, u] = 0.0


@njit
def lstm_output_step(mask, t, gates, ac, H, out):
    """``h = o * act(c)`` (``ac`` = act(C[t+1])) into ``H[t+1]`` and ``out[t]``."""
    N, U = ac.shape
    for n in range(N):
        if mask[t, n]:
            for u in range(U):
                h = gates[t, 3, n, u] * ac[n, u]
                H[t + 1, n, u] = h
                out[t, n, u] = h
        else:
            for u in range(U):
                H[t + 1, n, u] = H[t, n, u]
            _carry_output(out, t, n, U)


@njit
def lstm_step_backward(mask, t, act, ract, C, gates, ac, dout, carry, dh, dc, dxz):
    """Step ``t`` back; ``ac`` = act(C[t+1]) (computed by ``_activate``)."""
    N, U = dh.shape
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
                a = ac[n, u]
                dct = dc[n, u] + dhc * o * _dact(a, act)
                dxz[t, n, u] = dct * g * _dact(i, ract)
                dxz[t, n, U + u] = dct * C[t, n, u] * _dact(f, ract)
                dxz[t, n, 2 * U + u] = dct * i * _dact(g, act)
                dxz[t, n, 3 * U + u] = dhc * a * _dact(o, ract)
                dc[n, u] = dct * f
                dh[n, u] = 0.0
            else:
                carry[n, u] = go
                for k in range(4):
                    dxz[t, n, k * U + u] = 0.0


def lstm_forward(xz, rk, rmask, mask, act, ract, H, C, gates, out):
    """``gates`` (T, 4, N, U) keeps i, f, c~, o after their activations."""
    T, N, G4 = xz.shape
    U = G4 // 4
    rz = np.empty((N, G4), xz.dtype)
    ac = np.empty((N, U), xz.dtype)
    for t in range(T):
        _products(H[t], rk, rmask, rz)
        rz += xz[t]
        _activate(rz[:, :2 * U], ract)
        _activate(rz[:, 2 * U:3 * U], act)
        _activate(rz[:, 3 * U:], ract)
        lstm_step(rz, mask, t, C, gates)
        ac[...] = C[t + 1]
        _activate(ac, act)
        lstm_output_step(mask, t, gates, ac, H, out)


def lstm_backward(rkt, rmask, mask, act, ract, C, gates, dout, dh, dc, dxz):
    """``dh``/``dc`` enter as d/d(final states) and leave as d/d(initial states)."""
    carry = np.zeros_like(dh)
    ac = np.empty_like(dh)
    for t in range(dout.shape[0] - 1, -1, -1):
        ac[...] = C[t + 1]
        _activate(ac, act)
        lstm_step_backward(mask, t, act, ract, C, gates, ac, dout, carry, dh, dc, dxz)
        _back(dxz[t], rkt, rmask, dh)


# ------------------------------------------------------------------------ GRU
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
def gru_step_backward(mask, t, act, ract, H, gates, dout, carry, dh, dxz, drec):
    """First half of step ``t``: d/dz, d/dh~ and the part of dh through z."""
    N, U = dh.shape
    for n in range(N):
        keep = mask[t, n]
        for u in range(U):
            go = dout[t, n, u] + carry[n, u]
            if keep:
                carry[n, u] = 0.0
                d = dh[n, u] + go
                z = gates[t, 0, n, u]
                hh = gates[t, 2, n, u]
                dzp = d * (H[t, n, u] - hh) * _dact(z, ract)
                dxz[t, n, u] = dzp
                drec[t, n, u] = dzp
                dxz[t, n, 2 * U + u] = d * (1.0 - z) * _dact(hh, act)
                dh[n, u] = d * z
            else:
                carry[n, u] = go
                for k in range(3):
                    dxz[t, n, k * U + u] = 0.0
                    drec[t, n, k * U + u] = 0.0


@njit
def gru_reset_step_backward(mask, t, ract, reset_after, H, gates, rech, drh, hmask, dh,
                            dxz, drec):
    """Second half: d/dr. ``drh`` is d/d(r * h * hmask) for reset_after=False."""
    N, U = dh.shape
    for n in range(N):
        if not mask[t, n]:
            continue
        for u in range(U):
            r = gates[t, 1, n, u]
            dah = dxz[t, n, 2 * U + u]
            if reset_after:
                drp = dah * rech[t, n, u] * _dact(r, ract)
                drec[t, n, 2 * U + u] = dah * r
            else:
                drp = drh[n, u] * H[t, n, u] * hmask[n, u] * _dact(r, ract)
                drec[t, n, 2 * U + u] = dah
                dh[n, u] += drh[n, u] * r * hmask[n, u]
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
    for t in range(T):
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
    for t in range(T - 1, -1, -1):
        gru_step_backward(mask, t, act, ract, H, gates, dout, carry, dh, dxz, drec)
        if not reset_after:
            drh = dxz[t, :, 2 * U:] @ rkt[2 * U:]
        gru_reset_step_backward(mask, t, ract, reset_after, H, gates, rech, drh, hmask, dh,
                                dxz, drec)
        _back(drec[t], rkt, rmask, dh, gates=3 if reset_after else 2)


def warmup() -> None:
    """Compile the float32 step kernels used in training."""
    f = np.float32
    T, N, U = 2, 2, 2
    mask = np.ones((T, N), np.uint8)
    H, out = np.zeros((T + 1, N, U), f), np.zeros((T, N, U), f)
    dh = np.zeros((N, U), f)
    for G in (1, 4, 3):
        xz = np.zeros((T, N, G * U), f)
        rk = np.zeros((U, G * U), f)
        rkt = np.ascontiguousarray(rk.T)
        dxz = np.zeros_like(xz)
        if G == 1:
            simple_rnn_forward(xz, rk, None, mask, 1, H, out)
            simple_rnn_backward(rkt, None, mask, 1, H, out, dh, dxz)
        elif G == 4:
            C, gates = np.zeros_like(H), np.zeros((T, 4, N, U), f)
            lstm_forward(xz, rk, None, mask, 1, 2, H, C, gates, out)
            lstm_backward(rkt, None, mask, 1, 2, C, gates, out, dh, dh.copy(), dxz)
        else:
            gates, rech = np.zeros((T, 3, N, U), f), np.zeros((T, N, U), f)
            for ra in (True, False):
                gru_forward(xz, rk, np.zeros(3 * U, f), None, mask, 1, 2, ra, H, gates,
                            rech, out)
                gru_backward(rkt, None, mask, 1, 2, ra, H, gates, rech, out, dh, dxz,
                             np.zeros_like(xz))


# Not compiled yet (a fresh install): the LSTM step kernels run their numpy twins
# meanwhile (core.kernels._cold); the text classifier and forecaster templates compiled
# them at their first call otherwise. SimpleRNN's and GRU's steps have no step twins yet.
from core.kernels import recurrent_ref as _ref  # noqa: E402

_cold.wrap(globals(), ["lstm_step", "lstm_output_step", "lstm_step_backward"],
           {n: getattr(_ref, n + "_ref") for n in ("lstm_step", "lstm_output_step",
                                                   "lstm_step_backward")})
