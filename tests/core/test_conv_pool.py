"""Fused Conv2D + ReLU + MaxPooling2D: kernels against their numpy twins, the fused
model step against the same layers run one by one, finite differences in float64,
and the cases that must not fuse."""

from __future__ import annotations

import numpy as np
import pytest

from core.autodiff import Tape
from core.kernels import conv_pool as CP
from core.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from core.layers.fusion import ConvPool, execution_plan, functional_plan
from core.models import Model, Sequential
from tests.helpers.gradcheck import check_layer_gradients

# (N, H, W, C, F, k, stride, dilation, (pad_top, pad_left), pool)
CASES = [
    (3, 9, 8, 1, 5, 3, 1, 1, (0, 0), 2),    # 3x3x1 fast path, odd conv output (7x6)
    (4, 28, 28, 1, 32, 3, 1, 1, (0, 0), 2),  # the seed CNN's block
    (2, 11, 10, 3, 4, 3, 2, 1, (1, 1), 2),  # padded: generic path
    (2, 10, 10, 2, 3, 2, 1, 2, (0, 0), 3),  # 2x2 kernel, dilation 2, 3x3 pool
    (2, 12, 12, 3, 6, 3, 1, 1, (0, 0), 2),  # RGB: 2x2 blocked backward, generic forward
]


def _case(case, dtype, seed=0):
    n, h, w, c, f, k, s, d, pads, ph = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    kernel = rng.standard_normal((k, k, c, f)).astype(dtype)
    bias = rng.standard_normal(f).astype(dtype)
    oh = (h + 2 * pads[0] - (k - 1) * d - 1) // s + 1
    ow = (w + 2 * pads[1] - (k - 1) * d - 1) // s + 1
    return x, kernel, bias, (n, oh // ph, ow // ph, f)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_match_numpy_twins(case, relu, dtype):
    x, kernel, bias, shape = _case(case, dtype)
    _, _, _, _, _, _, s, d, (pt, pl), ph = case
    out, want = np.full(shape, np.nan, dtype), np.empty(shape, dtype)
    win, want_win = np.full(shape, 7, np.uint8), np.empty(shape, np.uint8)
    CP.conv2d_relu_maxpool(x, kernel, bias, s, s, d, d, pt, pl, relu, ph, ph, out, win)
    CP.conv2d_relu_maxpool_ref(x, kernel, bias, s, s, d, d, pt, pl, relu, ph, ph, want, want_win)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)
    np.testing.assert_array_equal(win, want_win)
    assert relu == bool((win == CP.DEAD).any())
    dpool = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    gk, gb = np.full_like(kernel, np.nan), np.full_like(bias, np.nan)
    rk, rb = np.empty_like(kernel), np.empty_like(bias)
    CP.conv2d_relu_maxpool_backward_filter(x, dpool, win, s, s, d, d, pt, pl, ph, ph, gk, gb, 2)
    CP.conv2d_relu_maxpool_backward_filter_ref(x, dpool, win, s, s, d, d, pt, pl, ph, ph, rk, rb)
    scale = np.abs(rk).max()
    np.testing.assert_allclose(gk / scale, rk / scale, atol=tol)
    np.testing.assert_allclose(gb, rb, rtol=tol, atol=tol * np.abs(rb).max())
    dy = np.full((shape[0], shape[1] * ph + 1, shape[2] * ph + 1, shape[3]), 5.0, dtype)
    want_dy = np.empty_like(dy)
    CP.unpool_gradient(dpool, win, ph, ph, dy)
    CP.unpool_gradient_ref(dpool, win, ph, ph, want_dy)
    np.testing.assert_array_equal(dy, want_dy)


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("pool", [2, 3])
def test_relu_maxpool_matches_numpy_twin(relu, pool):
    """The pooling kernel of the GEMM path, on a conv output with rows/columns that no
    window covers (7 x 8 with 2x2 or 3x3 windows)."""
    z = np.random.default_rng(2).standard_normal((3, 7, 8, 5)).astype(np.float32)
    z[0, 0, 0, 0] = z[0, 0, 1, 0]  # a tie: the first position must win
    shape = (3, 7 // pool, 8 // pool, 5)
    out, win = np.full(shape, np.nan, np.float32), np.full(shape, 7, np.uint8)
    want, want_win = np.empty(shape, np.float32), np.empty(shape, np.uint8)
    CP.relu_maxpool(z, relu, pool, pool, out, win)
    CP.relu_maxpool_ref(z, relu, pool, pool, want, want_win)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(win, want_win)


def test_ties_and_dead_windows_route_like_relu_then_max_pool():
    """Equal maxima: the first in window order wins; all-negative windows give 0 and no
    gradient; a NaN pre-activation is dead under ReLU, as relu(NaN) = 0 is."""
    x = np.zeros((1, 4, 4, 1), np.float32)
    x[0, 0, 1] = np.nan
    kernel = np.zeros((1, 1, 1, 2), np.float32)
    kernel[..., 0] = 1.0
    kernel[..., 1] = -1.0
    bias = np.array([1.0, -1.0], np.float32)  # filter 0: all 1 (tie); filter 1: all -1
    out, win = np.empty((1, 2, 2, 2), np.float32), np.empty((1, 2, 2, 2), np.uint8)
    CP.conv2d_relu_maxpool(x, kernel, bias, 1, 1, 1, 1, 0, 0, True, 2, 2, out, win)
    assert out[0, :, :, 1].tolist() == [[0, 0], [0, 0]]
    assert (win[0, :, :, 1] == CP.DEAD).all()
    assert win[0, 1, 1, 0] == 0 and out[0, 1, 1, 0] == 1.0  # tie: first position
    assert win[0, 0, 0, 0] == 0  # NaN at position 1 never wins


def _cnn(dtype="float32", activation="relu", padding="valid", strides=1, channels=1,
         kernel=3, use_bias=True):
    return Sequential([
        Conv2D(4, kernel, strides=strides, padding=padding, activation=activation, dtype=dtype,
               use_bias=use_bias, input_shape=(9, 9, channels)),
        MaxPooling2D(2, dtype=dtype), Flatten(dtype=dtype), Dense(3, dtype=dtype)])


def _layer_by_layer(model, x, dy):
    """Forward and gradients with every layer called on its own (no fusion)."""
    with Tape() as tape:
        tape.watch(x)
        h = x
        for layer in model.layers:
            h = layer(h, training=True)
    sink = tape.backward(h, dy)
    assert sink
    return h, [v.grad.copy() for v in model.trainable_weights]


# channels=4: 3x3x4 = 36 taps, past DIRECT_MAX_K, so the GEMM path (im2col + GEMM, then
# the pooling kernel); kernel=1 the pointwise GEMM (the input is the column matrix).
GEMM_CASES = [{"channels": 4}, {"channels": 4, "activation": None},
              {"channels": 4, "strides": 2, "padding": "same"},
              {"channels": 4, "use_bias": False}, {"channels": 4, "kernel": 1}]


@pytest.mark.parametrize("kw", [{}, {"activation": None}, {"padding": "same"},
                                {"strides": 2, "padding": "same"}, {"channels": 3},
                                *GEMM_CASES])
def test_fused_model_equals_separate_layers(kw):
    model = _cnn(**kw)
    assert isinstance(execution_plan(model.layers)[0], ConvPool)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 9, 9, kw.get("channels", 1))).astype(np.float32)
    dy = rng.standard_normal((5, 3)).astype(np.float32)
    want, want_grads = _layer_by_layer(model, x, dy)
    with Tape() as tape:
        got = model(x, training=True)
    assert isinstance(tape.records[0].layer, ConvPool)
    tape.backward(got, dy)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for g, w in zip([v.grad for v in model.trainable_weights], want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", None])
@pytest.mark.parametrize("channels", [1, 4])  # direct kernels; im2col + GEMM
def test_fused_gradients_match_finite_differences(activation, channels):
    """float64 through the fused step, input gradient included (the tape watches x)."""
    model = _cnn("float64", activation=activation, channels=channels)
    assert isinstance(execution_plan(model.layers)[0], ConvPool)
    x = np.random.default_rng(3).standard_normal((2, 9, 9, channels))
    errors = check_layer_gradients(model, x)
    assert "input_0" in errors and any("conv2d" in k for k in errors)


def test_predict_batches_do_not_share_the_pooled_buffer():
    """A model ending in Conv, Pool, Flatten returns a view of the pooled output: each
    predict batch must keep its own values."""
    model = Sequential([Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1)),
                        MaxPooling2D(), Flatten()])
    x = np.random.default_rng(0).standard_normal((8, 6, 6, 1)).astype(np.float32)
    got = model.predict(x, batch_size=2, verbose=0)
    want = np.concatenate([model.predict(x[i:i + 2], verbose=0) for i in range(0, 8, 2)])
    np.testing.assert_array_equal(got, want)
    assert len({got[i].tobytes() for i in range(0, 8, 2)}) == 4


def test_what_does_not_fuse():
    conv, pool = Conv2D(2, 3, activation="relu"), MaxPooling2D()
    last = Sequential([Input((6, 6, 1)), conv, pool])  # the pool is the model output
    assert [type(s) for s in execution_plan(last.layers, keep=last.layers[-1:])] == \
        [Conv2D, MaxPooling2D]
    for conv_kw, pool_kw in [({"activation": "tanh"}, {}), ({}, {"strides": 1}),
                             ({}, {"padding": "same"})]:
        c = Conv2D(**{"filters": 2, "kernel_size": 3, "activation": "relu", **conv_kw})
        m = Sequential([Input((8, 8, 2)), c, MaxPooling2D(**pool_kw), Flatten()])
        assert not any(isinstance(s, ConvPool) for s in execution_plan(m.layers)), conv_kw
    inp = Input((6, 6, 1))
    h = Conv2D(2, 3, activation="relu")(inp)
    branch = Flatten()(h)  # the conv output has a second consumer
    pooled = Flatten()(MaxPooling2D()(h))
    m = Model(inp, [branch, pooled])
    assert not any(isinstance(e[0], ConvPool)
                   for e in functional_plan(m._plan, {id(t) for t in m.outputs}))
    inp = Input((6, 6, 1))
    out = Dense(2)(Flatten()(MaxPooling2D()(Conv2D(2, 3, activation="relu")(inp))))
    m = Model(inp, out)
    plan = functional_plan(m._plan, {id(t) for t in m.outputs})
    assert isinstance(plan[0][0], ConvPool) and len(plan) == len(m._plan) - 1
