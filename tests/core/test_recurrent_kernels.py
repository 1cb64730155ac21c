"""The recurrent time loops (numba step kernels + per-step BLAS) against their numpy twins,
with masks, recurrent dropout masks and every activation code, float32 and float64; each
also on the numpy versions the step kernels run while numba compiles them
(``core.kernels.recurrent_numpy``, ``_cold`` mode "numpy")."""

import numpy as np
import pytest

from core.kernels import _cold
from core.kernels import recurrent as K
from core.kernels import recurrent_gru as KG
from core.kernels import recurrent_ref as R

T, N, U = 5, 3, 4


@pytest.fixture(params=["compile", "numpy"], autouse=True)
def cold_mode(request):
    """Every test twice: on the numba step kernels, then on their numpy versions."""
    previous = _cold.mode()
    _cold.set_mode(request.param)
    yield request.param
    _cold.set_mode(previous)


def _setup(G, dtype, with_rmask, seed=0):
    rng = np.random.default_rng(seed)
    xz = rng.normal(size=(T, N, G * U)).astype(dtype)
    rk = (rng.normal(size=(U, G * U)) * 0.5).astype(dtype)
    rmask = (rng.random((G, N, U)) > 0.3).astype(dtype) / 0.7 if with_rmask else None
    mask = (rng.random((T, N)) > 0.3).astype(np.uint8)
    mask[0, 0] = 0  # a row that starts masked: its outputs are zeros until a kept step
    h0 = rng.normal(size=(N, U)).astype(dtype)
    dout = rng.normal(size=(T, N, U)).astype(dtype)
    return rng, xz, rk, rmask, mask, h0, dout


def _nans(shape, dtype):
    """An output array: NaN wherever a kernel forgets to write."""
    return np.full(shape, np.nan, dtype)


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_rmask", [False, True])
@pytest.mark.parametrize("act", [0, 1, 2, 3])
def test_simple_rnn_matches_twin(dtype, with_rmask, act):
    _, xz, rk, rmask, mask, h0, dout = _setup(1, dtype, with_rmask)
    res = []
    for fwd, bwd in ((K.simple_rnn_forward, K.simple_rnn_backward),
                     (R.simple_rnn_forward_ref, R.simple_rnn_backward_ref)):
        H, out = np.zeros((T + 1, N, U), dtype), np.zeros((T, N, U), dtype)
        H[0] = h0
        fwd(xz, rk, rmask, mask, act, H, out)
        dh, dxz = dout[-1].copy(), _nans(xz.shape, dtype)
        bwd(np.ascontiguousarray(rk.T), rmask, mask, act, H, dout, dh, dxz)
        res.append((H, out, dh, dxz))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_rmask", [False, True])
@pytest.mark.parametrize("act,ract", [(1, 2), (3, 0)])  # the fused and the general path
@pytest.mark.parametrize("with_bias", [False, True])  # the bias added in the time loop
@pytest.mark.parametrize("keep_ac", [False, True])  # act(c) kept by forward for backward
def test_lstm_matches_twin(dtype, with_rmask, act, ract, with_bias, keep_ac):
    rng, xz, rk, rmask, mask, h0, dout = _setup(4, dtype, with_rmask)
    c0 = rng.normal(size=(N, U)).astype(dtype)
    bias = rng.normal(size=4 * U).astype(dtype) if with_bias else None
    res = []
    for fwd, bwd in ((K.lstm_forward, K.lstm_backward),
                     (R.lstm_forward_ref, R.lstm_backward_ref)):
        H, C = np.zeros((T + 1, N, U), dtype), np.zeros((T + 1, N, U), dtype)
        H[0], C[0] = h0, c0
        gates, out = _nans((T, 4, N, U), dtype), _nans((T, N, U), dtype)
        kw = {"AC": np.full((T, N, U), np.nan, dtype)} if keep_ac and fwd is K.lstm_forward \
            else {}
        fwd(xz, rk, rmask, mask, act, ract, H, C, gates, out, bias=bias, **kw)
        dh, dc, dxz = dout[-1].copy(), dout[0].copy(), _nans(xz.shape, dtype)
        bwd(np.ascontiguousarray(rk.T), rmask, mask, act, ract, C, gates, dout, dh, dc, dxz,
            **kw)
        res.append((H, C, gates, out, dh, dc, dxz))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_rmask", [False, True])
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("act,ract", [(1, 2), (3, 1)])  # the fused and the general path
def test_gru_matches_twin(dtype, with_rmask, reset_after, act, ract):
    rng, xz, rk, rmask, mask, h0, dout = _setup(3, dtype, with_rmask)
    rbias = rng.normal(size=3 * U).astype(dtype) if reset_after else np.zeros(3 * U, dtype)
    res = []
    for fwd, bwd in ((KG.gru_forward, KG.gru_backward),
                     (R.gru_forward_ref, R.gru_backward_ref)):
        H = np.zeros((T + 1, N, U), dtype)
        H[0] = h0
        gates, rech = _nans((T, 3, N, U), dtype), np.zeros((T, N, U), dtype)
        out = _nans((T, N, U), dtype)
        fwd(xz, rk, rbias, rmask, mask, act, ract, reset_after, H, gates, rech, out)
        dh, dxz, drec = dout[-1].copy(), _nans(xz.shape, dtype), _nans(xz.shape, dtype)
        bwd(np.ascontiguousarray(rk.T), rmask, mask, act, ract, reset_after, H, gates, rech,
            dout, dh, dxz, drec)
        res.append((H, gates, rech, out, dh, dxz, drec))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, **_tol(dtype))


def test_masked_first_steps_output_zeros_and_carry_state():
    _, xz, rk, _, mask, h0, _ = _setup(1, np.float64, False)
    mask[:] = 1
    mask[:2, 1] = 0
    H, out = np.zeros((T + 1, N, U)), np.zeros((T, N, U))
    H[0] = h0
    K.simple_rnn_forward(xz, rk, None, mask, 1, H, out)
    assert np.all(out[:2, 1] == 0) and np.all(H[2, 1] == h0[1])
    assert np.all(out[2:, 1] == H[3:, 1])


def _vanishing(G, steps=120, seed=3):
    """Weights and a last-step-only output gradient that vanishes back through time into
    the subnormal floats (float32), as an untrained GRU's does over 200 steps."""
    rng = np.random.default_rng(seed)
    xz = rng.normal(size=(steps, N, G * U)).astype(np.float32)
    rk = (rng.normal(size=(U, G * U)) * 0.2).astype(np.float32)
    dout = np.zeros((steps, N, U), np.float32)
    dout[-1] = 1.0
    return xz, rk, np.ones((steps, N), np.uint8), dout


def _check_flushed(kernel, twin):
    """The kernel equals the twin within the flush threshold and keeps nothing below it,
    where the twin has values there (so the case exercises the flush). rtol 1e-3: float32
    rounding compounds over the 120 steps (1e-4 seen), a wrong formula is off by O(1)."""
    small = np.sqrt(np.finfo(np.float32).tiny)
    assert np.any((twin != 0) & (np.abs(twin) < small))
    assert not np.any((kernel != 0) & (np.abs(kernel) < small))
    np.testing.assert_allclose(kernel, twin, rtol=1e-3, atol=4 * small)


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru", "gru_reset_before"])
def test_backward_flushes_vanishing_gradients_within_tolerance(cell):
    G = {"simple": 1, "lstm": 4}.get(cell, 3)
    xz, rk, mask, dout = _vanishing(G)
    steps = xz.shape[0]
    rkt = np.ascontiguousarray(rk.T)
    res = []
    for mod, sfx in ((KG if cell.startswith("gru") else K, ""), (R, "_ref")):
        H = np.zeros((steps + 1, N, U), np.float32)
        dh, dxz = np.zeros((N, U), np.float32), np.zeros_like(xz)
        if cell == "simple":
            getattr(mod, "simple_rnn_forward" + sfx)(xz, rk, None, mask, 1, H, H[1:])
            getattr(mod, "simple_rnn_backward" + sfx)(rkt, None, mask, 1, H, dout, dh, dxz)
            res.append((dxz,))
        elif cell == "lstm":
            C = np.zeros_like(H)
            gates = np.zeros((steps, 4, N, U), np.float32)
            out = np.zeros((steps, N, U), np.float32)
            getattr(mod, "lstm_forward" + sfx)(xz, rk, None, mask, 1, 2, H, C, gates, out)
            dc = np.zeros_like(dh)
            getattr(mod, "lstm_backward" + sfx)(rkt, None, mask, 1, 2, C, gates, dout, dh,
                                                dc, dxz)
            res.append((dxz,))
        else:
            ra = cell == "gru"
            gates = np.zeros((steps, 3, N, U), np.float32)
            rech, out = np.zeros((steps, N, U), np.float32), np.zeros((steps, N, U), np.float32)
            rbias = np.zeros(3 * U, np.float32)
            getattr(mod, "gru_forward" + sfx)(xz, rk, rbias, None, mask, 1, 2, ra, H, gates,
                                              rech, out)
            drec = np.zeros_like(xz)
            getattr(mod, "gru_backward" + sfx)(rkt, None, mask, 1, 2, ra, H, gates, rech,
                                               dout, dh, dxz, drec)
            res.append((dxz, drec))
    for kernel, twin in zip(*res):
        _check_flushed(kernel, twin)


def test_fused_lstm_step_gates_are_tanh_and_sigmoid_to_float32_precision(cold_mode):
    """With zero recurrent weights and states the gates are the activations of the input
    projection alone: the float32 tanh of the fused kernel (``fast_tanh``, a rational
    approximation) within 4e-7 relative of float64's tanh over [-20, 20], the sigmoid
    gates within 2e-7; NaN stays NaN (a clamp must not turn it into +-1)."""
    n, u = 64, 64  # 4096 values: row n, unit u holds x[n * u + u]
    x = np.linspace(-20.0, 20.0, n * u).astype(np.float32)
    x[7] = np.nan
    xz = np.tile(x.reshape(n, 1, u), (1, 4, 1)).reshape(1, n, 4 * u)  # each gate sees x
    H, C = np.zeros((2, n, u), np.float32), np.zeros((2, n, u), np.float32)
    gates, out = _nans((1, 4, n, u), np.float32), _nans((1, n, u), np.float32)
    K.lstm_forward(xz, np.zeros((u, 4 * u), np.float32), None, np.ones((1, n), np.uint8), 1,
                   2, H, C, gates, out)
    gates, out = gates.reshape(1, 4, 1, n * u), out.reshape(1, 1, n * u)
    x64 = x.astype(np.float64)
    g = gates[0, 2, 0].astype(np.float64)
    assert np.isnan(g[7]) and np.isnan(gates[0, 0, 0, 7]) and np.isnan(out[0, 0, 7])
    ok = ~np.isnan(x64)
    tanh = np.tanh(x64[ok])
    assert np.all(np.abs(g[ok] - tanh) <= 4e-7 * np.abs(tanh) + 1e-45)
    sig = 1.0 / (1.0 + np.exp(-x64[ok]))
    for k in (0, 1, 3):
        assert np.max(np.abs(gates[0, k, 0].astype(np.float64)[ok] - sig)) <= 2e-7
    assert np.all(np.abs(gates[0, :, 0][:, ok]) <= 1.0)
