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

The GRU's time loop is in ``core.kernels.recurrent_gru``, the fused steps of the default
activations in ``core.kernels.recurrent_fast``.

The whole-sequence functions have numpy twins in ``core.kernels.recurrent_ref``
(``*_ref``), computing the same thing step by step with plain numpy.

>>> ACT_CODES["tanh"]
1
"""

from __future__ import annotations

import numpy as np

from core.kernels import _cold
from core.kernels import recurrent_fast as F
from core.kernels import recurrent_numpy as _numpy
from core.kernels._jit import njit
from core.kernels.recurrent_fast import _ftz
from core.kernels.recurrent_fast import flush_below as _flush_below

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


def _products_back(dz, rkt, rmask, back):
    """``back = sum_g (dz_g @ rkt_g) * rmask[g]`` (N, U): one GEMM into ``back`` without
    dropout (no temporary, no separate pass adding it to dh: the step kernel adds it)."""
    if rmask is None:
        np.matmul(dz, rkt, out=back)
        return
    back[...] = 0.0
    _back(dz, rkt, rmask, back)


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


# Activations run as numpy ufuncs on a whole (N, G*U) step (``_activate``), not per
# element inside the numba steps: numba's scalar tanh/exp took 0.9 ms for a
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


# ------------------------------------------------------------------ SimpleRNN
@njit
def simple_rnn_step(ha, mask, t, H, out):
    """Step ``t`` from the activated ``ha`` (N, U) (``_activate``, numpy's SIMD ufuncs:
    a T=200, 64 x 128 tanh forward took 5.8 ms, 32.7 ms with numba's scalar tanh)."""
    N, U = ha.shape
    for n in range(N):
        if mask[t, n]:
            for u in range(U):
                h = ha[n, u]
                H[t + 1, n, u] = h
                out[t, n, u] = h
        else:
            for u in range(U):
                H[t + 1, n, u] = H[t, n, u]
            _carry_output(out, t, n, U)


@njit
def simple_rnn_step_backward(mask, t, act, H, dout, carry, dh, dxz, tiny):
    """Step ``t``: writes ``dxz[t]`` (values below ``_flush_below`` zeroed, ``_ftz``);
    leaves in ``dh`` only the carried part."""
    N, U = dh.shape
    for n in range(N):
        keep = mask[t, n]
        for u in range(U):
            go = dout[t, n, u] + carry[n, u]
            if keep:
                dxz[t, n, u] = _ftz((_ftz(dh[n, u], tiny) + go)
                                    * _dact(H[t + 1, n, u], act), tiny)
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
        rz += xz[t]
        _activate(rz, act)
        simple_rnn_step(rz, mask, t, H, out)


def simple_rnn_backward(rkt, rmask, mask, act, H, dout, dh, dxz):
    """``dh`` (N, U) enters as d/dh_T and leaves as d/dh_0; writes ``dxz``."""
    carry = np.zeros_like(dh)
    tiny = _flush_below(dh)
    for t in range(dout.shape[0] - 1, -1, -1):
        simple_rnn_step_backward(mask, t, act, H, dout, carry, dh, dxz, tiny)
        _back(dxz[t], rkt, rmask, dh)


# ----------------------------------------------------------------------- LSTM
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
def lstm_step_backward(mask, t, act, ract, C, gates, ac, dout, back, carry, dh, dc, dxz,
                       tiny):
    """Step ``t`` back; ``ac`` = act(C[t+1]) (computed by ``_activate``), ``back`` the
    recurrent product of step ``t + 1``'s gradients (``_products_back``), added to
    ``dh`` here; ``dxz`` and ``dc`` leave with values below ``_flush_below`` zeroed
    (``_ftz``)."""
    N, U = dh.shape
    for n in range(N):
        keep = mask[t, n]
        for u in range(U):
            go = dout[t, n, u] + carry[n, u]
            if keep:
                carry[n, u] = 0.0
                dhc = _ftz(dh[n, u] + back[n, u], tiny) + go
                i = gates[t, 0, n, u]
                f = gates[t, 1, n, u]
                g = gates[t, 2, n, u]
                o = gates[t, 3, n, u]
                a = ac[n, u]
                dct = _ftz(dc[n, u] + dhc * o * _dact(a, act), tiny)
                dxz[t, n, u] = _ftz(dct * g * _dact(i, ract), tiny)
                dxz[t, n, U + u] = _ftz(dct * C[t, n, u] * _dact(f, ract), tiny)
                dxz[t, n, 2 * U + u] = _ftz(dct * i * _dact(g, act), tiny)
                dxz[t, n, 3 * U + u] = _ftz(dhc * a * _dact(o, ract), tiny)
                dc[n, u] = _ftz(dct * f, tiny)
                dh[n, u] = 0.0
            else:
                carry[n, u] = go
                dh[n, u] += back[n, u]
                for k in range(4):
                    dxz[t, n, k * U + u] = 0.0


def lstm_forward(xz, rk, rmask, mask, act, ract, H, C, gates, out, bias=None, AC=None):
    """``gates`` (T, 4, N, U) keeps i, f, c~, o after their activations; ``bias``
    (4U,) if given is added at each step (``xz`` then holds ``x @ kernel`` only); ``AC``
    (T, N, U) if given keeps ``act(C[t+1])`` of each step for ``lstm_backward``, which
    then need not compute it again (200 tanh passes a batch less on the text benchmark)."""
    T, N, G4 = xz.shape
    U = G4 // 4
    rz = np.empty((N, G4), xz.dtype)
    ac = np.empty((N, U), xz.dtype)
    if act == 1 and ract == 2:  # tanh / sigmoid: one fused step kernel (recurrent_fast)
        s = F.half_scale(U, 4, (0, 1, 3), xz.dtype)
        rks = rk * s
        bs = np.zeros(G4, xz.dtype) if bias is None else (bias * s).astype(xz.dtype)
        for t in range(T):
            _products(H[t], rks, rmask, rz)
            F.lstm_forward_step(rz, xz, t, s, bs, mask, C, gates,
                                ac if AC is None else AC[t], H, out)
        return
    for t in range(T):
        _products(H[t], rk, rmask, rz)
        if bias is not None:
            rz += bias
        rz += xz[t]
        _activate(rz[:, :2 * U], ract)
        _activate(rz[:, 2 * U:3 * U], act)
        _activate(rz[:, 3 * U:], ract)
        lstm_step(rz, mask, t, C, gates)
        a = ac if AC is None else AC[t]
        a[...] = C[t + 1]
        _activate(a, act)
        lstm_output_step(mask, t, gates, a, H, out)


def lstm_backward(rkt, rmask, mask, act, ract, C, gates, dout, dh, dc, dxz, AC=None):
    """``dh``/``dc`` enter as d/d(final states) and leave as d/d(initial states);
    ``AC`` the forward's ``act(C[t+1])`` if it kept them."""
    carry = np.zeros_like(dh)
    back = np.zeros_like(dh)  # step t+1's recurrent product, added to dh by step t
    ac = np.empty_like(dh)
    tiny = _flush_below(dh)
    fast = act == 1 and ract == 2
    for t in range(dout.shape[0] - 1, -1, -1):
        if AC is not None:
            a = AC[t]
        else:
            a = ac
            a[...] = C[t + 1]
            _activate(a, act)
        if fast:
            F.lstm_step_backward(mask, t, C, gates, a, dout, back, carry, dh, dc, dxz, tiny)
        else:
            lstm_step_backward(mask, t, act, ract, C, gates, a, dout, back, carry, dh, dc,
                               dxz, tiny)
        _products_back(dxz[t], rkt, rmask, back)
    dh += back


def warmup() -> None:
    """Compile the float32 step kernels used in training."""
    f = np.float32
    T, N, U = 2, 2, 2
    mask = np.ones((T, N), np.uint8)
    H, out = np.zeros((T + 1, N, U), f), np.zeros((T, N, U), f)
    dh = np.zeros((N, U), f)
    for G in (1, 4):
        xz = np.zeros((T, N, G * U), f)
        rk = np.zeros((U, G * U), f)
        rkt = np.ascontiguousarray(rk.T)
        dxz = np.zeros_like(xz)
        if G == 1:
            simple_rnn_forward(xz, rk, None, mask, 1, H, out)
            simple_rnn_backward(rkt, None, mask, 1, H, out, dh, dxz)
        else:
            C, gates = np.zeros_like(H), np.zeros((T, 4, N, U), f)
            lstm_forward(xz, rk, None, mask, 1, 2, H, C, gates, out)
            lstm_backward(rkt, None, mask, 1, 2, C, gates, out, dh, dh.copy(), dxz)


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
# The first LSTM/GRU fit waited for these to compile at their first call otherwise.
_cold.wrap(globals(), list(_numpy.RECURRENT), _numpy.RECURRENT)
