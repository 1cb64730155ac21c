"""The recurrent time loops (numba step kernels + per-step BLAS) against their numpy twins,
with masks, recurrent dropout masks and every activation code, float32 and float64."""

import numpy as np
import pytest

from core.kernels import recurrent as K
from core.kernels import recurrent_ref as R

T, N, U = 5, 3, 4


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
        dh, dxz = dout[-1].copy(), np.zeros_like(xz)
        bwd(np.ascontiguousarray(rk.T), rmask, mask, act, H, dout, dh, dxz)
        res.append((H, out, dh, dxz))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_rmask", [False, True])
@pytest.mark.parametrize("act,ract", [(1, 2), (3, 0)])
def test_lstm_matches_twin(dtype, with_rmask, act, ract):
    rng, xz, rk, rmask, mask, h0, dout = _setup(4, dtype, with_rmask)
    c0 = rng.normal(size=(N, U)).astype(dtype)
    res = []
    for fwd, bwd in ((K.lstm_forward, K.lstm_backward),
                     (R.lstm_forward_ref, R.lstm_backward_ref)):
        H, C = np.zeros((T + 1, N, U), dtype), np.zeros((T + 1, N, U), dtype)
        H[0], C[0] = h0, c0
        gates, out = np.zeros((T, 4, N, U), dtype), np.zeros((T, N, U), dtype)
        fwd(xz, rk, rmask, mask, act, ract, H, C, gates, out)
        dh, dc, dxz = dout[-1].copy(), dout[0].copy(), np.zeros_like(xz)
        bwd(np.ascontiguousarray(rk.T), rmask, mask, act, ract, C, gates, dout, dh, dc, dxz)
        res.append((H, C, gates, out, dh, dc, dxz))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_rmask", [False, True])
@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_twin(dtype, with_rmask, reset_after):
    rng, xz, rk, rmask, mask, h0, dout = _setup(3, dtype, with_rmask)
    rbias = rng.normal(size=3 * U).astype(dtype) if reset_after else np.zeros(3 * U, dtype)
    res = []
    for fwd, bwd in ((K.gru_forward, K.gru_backward), (R.gru_forward_ref, R.gru_backward_ref)):
        H = np.zeros((T + 1, N, U), dtype)
        H[0] = h0
        gates, rech = np.zeros((T, 3, N, U), dtype), np.zeros((T, N, U), dtype)
        out = np.zeros((T, N, U), dtype)
        fwd(xz, rk, rbias, rmask, mask, 1, 2, reset_after, H, gates, rech, out)
        dh, dxz, drec = dout[-1].copy(), np.zeros_like(xz), np.zeros_like(xz)
        bwd(np.ascontiguousarray(rk.T), rmask, mask, 1, 2, reset_after, H, gates, rech, dout,
            dh, dxz, drec)
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
