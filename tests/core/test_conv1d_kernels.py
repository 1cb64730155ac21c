"""1-D conv and max-pool kernels (``core.kernels.conv1d``) against their numpy twins,
and the layers built on them (Conv1D, MaxPooling1D) against float64 central
differences and PyTorch (float32, 1e-4), including the buffers they reuse between
steps and a layer called twice in one step."""

from __future__ import annotations

import numpy as np
import pytest

from core import backend
from core.kernels import conv1d as K
from core.layers import Dense, Input
from core.layers.conv1d import Conv1D, padding_1d
from core.layers.pooling1d import GlobalAveragePooling1D, MaxPooling1D
from core.models import Model
from tests.helpers.gradcheck import analytic_gradients, check_layer_gradients

# (N, L, C, k, stride, dilation, padding)
CONV_CASES = [
    (2, 11, 3, 3, 1, 1, "valid"),
    (3, 10, 4, 4, 2, 1, "same"),
    (2, 9, 2, 3, 1, 2, "causal"),
    (2, 8, 5, 2, 1, 3, "same"),
    (1, 13, 3, 5, 3, 1, "valid"),
    (2, 7, 1, 7, 1, 1, "same"),
    (2, 6, 3, 1, 1, 1, "valid"),
]


@pytest.fixture(autouse=True)
def _fresh():
    backend.clear_session()


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_and_col2im_match_their_twins_and_are_adjoint(case, dtype):
    n, steps, c, k, s, d, padding = case
    left, _, out = padding_1d(padding, steps, k, s, d)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, steps, c)).astype(dtype)
    cols = np.full((n * out, k * c + 2), 7.0, dtype)  # columns past K*C stay untouched
    want = np.empty((n * out, k * c), dtype)
    K.im2col_1d(x, k, s, d, left, cols)
    K.im2col_1d_ref(x, k, s, d, left, want)
    np.testing.assert_array_equal(cols[:, :k * c], want)
    assert (cols[:, k * c:] == 7.0).all()
    dcols = rng.standard_normal((n * out, k * c)).astype(dtype)
    dx = np.full(x.shape, 9.0, dtype)  # overwritten, not accumulated into
    ref = np.empty(x.shape, dtype)
    K.col2im_1d(dcols, k, s, d, left, dx)
    K.col2im_1d_ref(dcols, k, s, d, left, ref)
    np.testing.assert_allclose(dx, ref, **_tol(dtype))
    # <im2col(x), D> == <x, col2im(D)>: col2im is the transpose of im2col
    x64, d64 = x.astype(np.float64), dcols.astype(np.float64)
    lhs = float(np.sum(K.im2col_1d_ref(x64, k, s, d, left, np.empty(d64.shape)) * d64))
    rhs = float(np.sum(x64 * K.col2im_1d_ref(d64, k, s, d, left, np.empty(x64.shape))))
    assert lhs == pytest.approx(rhs, rel=1e-12)


# (N, L, C, pool, stride, padding)
POOL_CASES = [
    (2, 9, 3, 2, 2, "valid"),
    (2, 9, 3, 3, 2, "same"),      # overlapping windows, padded border
    (3, 10, 2, 3, 1, "same"),
    (1, 7, 4, 2, 3, "valid"),     # gaps between windows
    (2, 5, 1, 5, 1, "valid"),
]


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool1d_matches_its_twin_forward_and_backward(case, dtype):
    n, steps, c, p, s, padding = case
    left, _, out = padding_1d(padding, steps, p, s)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, steps, c)).astype(dtype)
    x[0, 1:3, 0] = 0.5  # a tie: the first step wins
    y1, y2 = np.empty((n, out, c), dtype), np.empty((n, out, c), dtype)
    a1, a2 = np.empty(y1.shape, np.int32), np.empty(y1.shape, np.int32)
    K.max_pool1d(x, p, s, left, y1, a1)
    K.max_pool1d_ref(x, p, s, left, y2, a2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(a1, a2)
    dy = rng.standard_normal(y1.shape).astype(dtype)
    d1, d2 = np.full(x.shape, 9.0, dtype), np.empty(x.shape, dtype)
    K.max_pool1d_backward(dy, a1, p, s, left, d1)
    K.max_pool1d_backward_ref(dy, a2, p, s, left, d2)
    np.testing.assert_allclose(d1, d2, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_bias_backward_matches_its_twin(dtype):
    rng = np.random.default_rng(6)
    y = np.maximum(rng.standard_normal((37, 5)), 0).astype(dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dz1, dz2 = np.full(y.shape, 9.0, dtype), np.empty(y.shape, dtype)
    db1, db2 = np.empty(5, dtype), np.empty(5, dtype)
    K.relu_bias_backward(y, dy, dz1, db1)
    K.relu_bias_backward_ref(y, dy, dz2, db2)
    np.testing.assert_array_equal(dz1, dz2)
    np.testing.assert_allclose(db1, db2, **_tol(dtype))  # summation order may differ


# ---------------------------------------------------- layers: finite differences
@pytest.mark.parametrize("kw", [
    {"kernel_size": 3, "activation": "relu"},
    {"kernel_size": 4, "strides": 2, "padding": "same", "activation": "relu"},
    {"kernel_size": 3, "padding": "causal", "dilation_rate": 2, "activation": "tanh"},
    {"kernel_size": 1},
    {"kernel_size": 2, "padding": "same", "dilation_rate": 3, "use_bias": False},
])
def test_conv1d_gradients_match_central_differences(kw):
    x = np.random.default_rng(2).normal(size=(2, 9, 3))
    layer = Conv1D(4, dtype="float64", bias_initializer="glorot_uniform", **kw)
    errors = check_layer_gradients(layer, x)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("kw", [{}, {"pool_size": 3, "strides": 2, "padding": "same"},
                                {"pool_size": 3, "strides": 1}])
def test_max_pooling1d_gradients_match_central_differences(kw):
    x = np.random.default_rng(3).normal(size=(2, 8, 3))  # distinct values: no ties
    errors = check_layer_gradients(MaxPooling1D(dtype="float64", **kw), x)
    assert max(errors.values()) < 1e-6, errors


# ------------------------------------------------------------ layers vs PyTorch
def _torch_conv(torch, layer, c):
    k, s, d = layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
    conv = torch.nn.Conv1d(c, layer.filters, k, stride=s, dilation=d, bias=layer.use_bias)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(layer.kernel.value.transpose(2, 1, 0)))
        if layer.use_bias:
            conv.bias.copy_(torch.tensor(layer.bias.value))
    return conv


@pytest.mark.parametrize("kw", [
    {"kernel_size": 5, "activation": "relu"},
    {"kernel_size": 4, "strides": 2, "padding": "same", "activation": "relu"},
    {"kernel_size": 3, "padding": "causal", "dilation_rate": 2, "activation": "relu"},
    {"kernel_size": 1, "activation": "relu"},
])
def test_conv_relu_pool_model_matches_torch_in_float32_over_two_steps(kw):
    """Conv1D(relu) -> MaxPooling1D -> Conv1D(relu) -> GlobalAveragePooling1D -> Dense,
    two tape steps in a row (the second runs on the reused buffers of the first):
    outputs, input and weight gradients equal torch's to 1e-4."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    steps, c = 24, 3
    inp = Input((steps, c))
    conv1 = Conv1D(6, bias_initializer="glorot_uniform", **kw)
    pool = MaxPooling1D(2)
    conv2 = Conv1D(5, 3, activation="relu", bias_initializer="glorot_uniform")
    dense = Dense(1)
    model = Model(inp, dense(GlobalAveragePooling1D()(conv2(pool(conv1(inp))))))
    t1, t2 = _torch_conv(torch, conv1, c), _torch_conv(torch, conv2, 6)
    lin = torch.nn.Linear(5, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(dense.kernel.value.T))
        lin.bias.copy_(torch.tensor(dense.bias.value))
    left1, right1, _ = padding_1d(conv1.padding, steps, conv1.kernel_size[0],
                                  conv1.strides[0], conv1.dilation_rate[0])
    for step in range(2):
        x = rng.normal(size=(4, steps, c)).astype("float32")
        xt = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)
        h = torch.relu(t1(torch.nn.functional.pad(xt, (left1, right1))))
        h = torch.relu(t2(torch.nn.functional.max_pool1d(h, 2)))
        want = lin(h.mean(2))
        np.testing.assert_allclose(model(x), want.detach().numpy(), rtol=1e-4, atol=1e-5)
        (dx,), grads, (r,) = analytic_gradients(model, x, seed=step)
        want.backward(torch.tensor(r, dtype=torch.float32))
        np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 1), rtol=1e-4,
                                   atol=1e-5)
        for layer, tconv in ((conv1, t1), (conv2, t2)):
            np.testing.assert_allclose(grads[layer.kernel.path],
                                       tconv.weight.grad.numpy().transpose(2, 1, 0),
                                       rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(grads[layer.bias.path], tconv.bias.grad.numpy(),
                                       rtol=1e-4, atol=1e-5)
        for p in (*t1.parameters(), *t2.parameters(), *lin.parameters()):
            p.grad = None


def test_a_conv1d_called_twice_in_one_step_keeps_both_caches():
    """Shared layer on same-shaped inputs: the second call must not overwrite the first
    call's columns (per-call buffer slots). Checked against finite differences."""
    conv = Conv1D(3, 2, padding="same", activation="relu", dtype="float64",
                  bias_initializer="ones")
    pool = MaxPooling1D(2, strides=1, padding="same", dtype="float64")
    inp = Input((8, 3), dtype="float64")
    model = Model(inp, pool(conv(pool(conv(inp)))))
    x = np.random.default_rng(5).normal(size=(2, 8, 3))
    errors = check_layer_gradients(model, x)
    assert max(errors.values()) < 1e-6, errors
