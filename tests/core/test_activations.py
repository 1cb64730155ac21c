"""Activations: forward against independent formulas, gradients against central
finite differences (float64), numba kernels against their numpy twins (float32)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import activations
from core.kernels import activations as K

SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805


def _sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def _sp(v):
    return math.log1p(math.exp(v)) if v < 30 else v


# Written out element by element from Keras' documented formulas.
FORMULAS = {
    "linear": lambda v: v,
    "relu": lambda v: max(v, 0.0),
    "leaky_relu": lambda v: v if v >= 0 else 0.2 * v,
    "relu6": lambda v: min(max(v, 0.0), 6.0),
    "elu": lambda v: v if v > 0 else math.exp(v) - 1.0,
    "selu": lambda v: SELU_S * (v if v > 0 else SELU_A * (math.exp(v) - 1.0)),
    "gelu": lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))),
    "sigmoid": _sig,
    "tanh": math.tanh,
    "exponential": math.exp,
    "hard_sigmoid": lambda v: 0.0 if v <= -3 else 1.0 if v >= 3 else v / 6.0 + 0.5,
    "hard_silu": lambda v: 0.0 if v < -3 else v if v > 3 else v * (v + 3) / 6.0,
    "softplus": _sp,
    "softsign": lambda v: v / (abs(v) + 1.0),
    "silu": lambda v: v * _sig(v),
    "mish": lambda v: v * math.tanh(_sp(v)),
    # Keras 3.6+ additions
    "celu": lambda v: max(v, 0.0) + min(0.0, math.exp(v) - 1.0),
    "hard_tanh": lambda v: min(max(v, -1.0), 1.0),
    "hard_shrink": lambda v: v if abs(v) > 0.5 else 0.0,
    "soft_shrink": lambda v: v - 0.5 if v > 0.5 else v + 0.5 if v < -0.5 else 0.0,
    "tanh_shrink": lambda v: v - math.tanh(v),
    "log_sigmoid": lambda v: math.log(_sig(v)),
    "squareplus": lambda v: (v + math.sqrt(v * v + 4)) / 2,
    "sparse_plus": lambda v: 0.0 if v <= -1 else (v + 1) ** 2 / 4 if v < 1 else v,
    "sparse_sigmoid": lambda v: 0.0 if v <= -1 else 1.0 if v >= 1 else (v + 1) / 2,
}
ELEMENTWISE = sorted(FORMULAS)


def _inputs(shape=(4, 7), seed=0, scale=4.0):
    x = np.random.default_rng(seed).uniform(-scale, scale, shape)
    # Keep clear of kinks (0, +-0.5, +-1, +-3, 6) so finite differences see a smooth function.
    for kink in (0.0, 3.0, -3.0, 6.0, 0.5, -0.5, 1.0, -1.0):
        near = np.abs(x - kink) < 1e-3
        x[near] += 2e-3
    return x


def _numeric_grad(f, x, w, h=1e-6):
    """d/dx of sum(w * f(x)) by central differences."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = float((w * f(x.copy())).sum())
        flat[i] = old - h
        fm = float((w * f(x.copy())).sum())
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return g


def _rel_err(a, b):
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-12))


def _check_grad(act, x):
    w = np.random.default_rng(1).normal(size=x.shape)
    y, cache = act.forward(x.copy())
    analytic = act.backward(cache, w)
    numeric = _numeric_grad(lambda v: act.forward(v)[0], x.copy(), w)
    assert _rel_err(analytic, numeric) < 1e-6, (act.name, _rel_err(analytic, numeric))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_forward_matches_formula(name):
    x = _inputs()
    y = activations.get(name)(x)
    want = np.vectorize(FORMULAS[name])(x)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax", "log_softmax"])
def test_gradient_matches_finite_differences(name):
    _check_grad(activations.get(name), _inputs())


@pytest.mark.parametrize("act", [
    activations.ReLU(negative_slope=0.1, max_value=2.5, threshold=0.5),
    activations.ReLU(max_value=6.0),
    activations.ReLU(negative_slope=0.3),
    activations.ReLU(threshold=-1.0),
    activations.LeakyReLU(0.0), activations.LeakyReLU(0.05),
    activations.ELU(0.5), activations.ELU(-0.5),
    activations.GELU(approximate=True),
    activations.Softmax(axis=1), activations.Softmax(axis=[1, 2]),
    activations.LogSoftmax(axis=0),
    activations.CELU(alpha=0.5), activations.HardShrink(0.3), activations.SoftShrink(1.5),
    activations.Squareplus(b=0.5),
], ids=repr)
def test_configured_gradients(act):
    _check_grad(act, _inputs((3, 4, 5), seed=2))


def test_relu_with_options_matches_keras_examples():
    # Examples from keras.activations.relu's docstring.
    x = np.array([-10, -5, 0.0, 5, 10])
    assert activations.relu(x).tolist() == [0, 0, 0, 5, 10]
    assert activations.relu(x, negative_slope=0.5).tolist() == [-5, -2.5, 0, 5, 10]
    assert activations.relu(x, max_value=5.0).tolist() == [0, 0, 0, 5, 5]
    assert activations.relu(x, threshold=5.0).tolist() == [0, 0, 0, 0, 10]


def test_parameterised_keras_functions():
    x = _inputs()
    np.testing.assert_allclose(activations.celu(x, alpha=2.0),
                               np.maximum(x, 0) + np.minimum(0, 2 * np.expm1(x / 2)))
    np.testing.assert_allclose(activations.soft_shrink(x, threshold=1.2),
                               np.sign(x) * np.maximum(np.abs(x) - 1.2, 0))
    np.testing.assert_allclose(activations.hard_shrink(x, threshold=1.2),
                               np.where(np.abs(x) > 1.2, x, 0))
    np.testing.assert_allclose(activations.squareplus(x, b=1), (x + np.sqrt(x * x + 1)) / 2)
    assert set(activations.known_names()) >= {"celu", "hard_tanh", "log_sigmoid", "squareplus"}


def test_gelu_approximate_formula():
    x = _inputs()
    c = math.sqrt(2 / math.pi)
    want = 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(activations.gelu(x, approximate=True), want, rtol=1e-12)


@pytest.mark.parametrize("cols", [7, 300])  # kernel path and wide-row numpy path
def test_softmax_paths_agree_with_formula(cols):
    x = np.random.default_rng(6).normal(size=(40, cols)).astype(np.float32) * 4
    e = np.exp(x.astype(np.float64))
    want = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(activations.softmax(x), want, rtol=1e-5, atol=1e-7)
    y, _ = activations.get("softmax").forward(x, inplace=True)
    assert y is x
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-7)


def test_softmax_is_stable_and_normalised():
    x = np.array([[1000.0, 1000.0, -1000.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    y = activations.softmax(x)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-6)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(y[1], e / e.sum(), rtol=1e-6)
    z = np.random.default_rng(0).normal(size=(3, 4, 5))
    y0 = activations.softmax(z, axis=0)
    np.testing.assert_allclose(y0, np.exp(z) / np.exp(z).sum(axis=0), rtol=1e-12)


def test_large_inputs_do_not_overflow():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for name in ("sigmoid", "softplus", "silu", "mish", "log_sigmoid", "celu"):
            assert np.isfinite(activations.get(name)(x)).all(), name


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax", "log_softmax"])
def test_float32_in_float32_out(name):
    x = _inputs().astype(np.float32)
    act = activations.get(name)
    y, cache = act.forward(x)
    assert y.dtype == np.float32
    assert act.backward(cache, np.ones_like(y)).dtype == np.float32


def test_linear_is_identity_without_copy():
    x = np.ones((2, 3), np.float32)
    act = activations.get(None)
    y, cache = act.forward(x)
    assert y is x and act.backward(cache, x) is x and act.name == "linear"


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "softmax", "sigmoid", "tanh"])
@pytest.mark.parametrize("size", [10, 50_000])  # numpy path and numba path
def test_inplace_forward(name, size):
    x = np.random.default_rng(0).normal(size=(size // 10, 10)).astype(np.float32)
    ref = activations.get(name)(x.copy())
    kept = x.copy()
    y, _ = activations.get(name).forward(x)
    np.testing.assert_array_equal(x, kept)  # not in place unless asked
    y2, cache = activations.get(name).forward(x, inplace=True)
    assert y2 is x
    np.testing.assert_allclose(y2, ref, rtol=1e-6)
    np.testing.assert_allclose(y, ref, rtol=1e-6)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "softmax", "gelu"])
def test_large_arrays_use_kernels_and_match_small_path(name):
    x = np.random.default_rng(3).normal(size=(600, 20)).astype(np.float32)
    dy = np.random.default_rng(4).normal(size=x.shape).astype(np.float32)
    act = activations.get(name)
    y, cache = act.forward(x)
    dx = act.backward(cache, dy)
    ys, dxs = [], []
    for i in range(0, 600, 10):  # slices of 200 values take the numpy path
        yi, ci = act.forward(x[i:i + 10].copy())
        ys.append(yi)
        dxs.append(act.backward(ci, dy[i:i + 10].copy()))
    np.testing.assert_allclose(y, np.concatenate(ys), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, np.concatenate(dxs), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ kernels vs twins
def _pair(n=40_000, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_kernels_match_twins(dtype):
    x, dy = _pair(dtype=dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for fwd, ref, extra in ((K.relu_forward, K.relu_forward_ref, ()),
                            (K.leaky_relu_forward, K.leaky_relu_forward_ref, (0.2,)),
                            (K.gelu_forward, K.gelu_forward_ref, ())):
        a, b = np.empty_like(x), np.empty_like(x)
        fwd(x, *extra, a)
        ref(x, *extra, b)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=fwd.__name__)
    for bwd, ref, src, extra in (
            (K.relu_backward, K.relu_backward_ref, np.maximum(x, 0), ()),
            (K.leaky_relu_backward, K.leaky_relu_backward_ref, x, (0.2,)),
            (K.gelu_backward, K.gelu_backward_ref, x, ())):
        a, b = np.empty_like(x), np.empty_like(x)
        bwd(src, dy, *extra, a)
        ref(src, dy, *extra, b)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=bwd.__name__)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_relu_kernel_matches_twin_and_dense(dtype):
    """Dense(relu) adds its bias and applies ReLU in one kernel pass; same numbers as
    the twin and as the two steps done separately."""
    rng = np.random.default_rng(4)
    z = rng.normal(size=(37, 19)).astype(dtype)
    bias = rng.normal(size=19).astype(dtype)
    a, b = z.copy(), z.copy()
    assert K.bias_relu_forward(a, bias) is True is K.bias_relu_forward_ref(b, bias)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.maximum(z + bias, 0))
    for bad in (np.nan, np.inf, -np.inf):  # seen before the ReLU, which maps -inf to 0
        a, b = z.copy(), z.copy()
        a[11, 7] = b[11, 7] = bad
        assert K.bias_relu_forward(a, bias) is False is K.bias_relu_forward_ref(b, bias)
        np.testing.assert_array_equal(a, b)  # NaN stays NaN, as np.maximum and Keras
    from core.layers import Dense
    layer = Dense(19, activation="relu", bias_initializer="random_normal", dtype=dtype)
    x = rng.normal(size=(37, 5)).astype(dtype)
    layer.build((None, 5))
    want = np.maximum(x @ layer.kernel.value + layer.bias.value, 0)
    np.testing.assert_allclose(layer(x), want, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_relu_keeps_nan_as_keras_does():
    """Keras' relu is max(x, 0) on every backend, which propagates NaN; so does ours,
    in the elementwise kernel, Dense's fused bias+ReLU and Conv2D's fused ReLU."""
    from core.layers import Conv2D, Dense
    x = np.array([np.nan, -1.0, 0.0, 2.0, np.inf, -np.inf] * 50, "float32")
    out = np.empty_like(x)
    K.relu_forward(x, out)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    assert np.isnan(activations.relu(x)[0])
    dense = Dense(2, activation="relu", kernel_initializer="ones")
    assert np.isnan(dense(np.array([[np.nan, 1.0]], "float32"))).all()
    conv = Conv2D(1, 1, activation="relu", kernel_initializer="ones")
    img = np.ones((1, 3, 3, 1), "float32")
    img[0, 1, 1, 0] = np.nan
    y = np.asarray(conv(img))
    assert np.isnan(y[0, 1, 1, 0]) and (y[np.isfinite(y)] == 1).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_kernels_match_twins(dtype):
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(300, 17)) * 5).astype(dtype)
    dy = rng.normal(size=x.shape).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    a, b = np.empty_like(x), np.empty_like(x)
    K.softmax_forward(x, a)
    K.softmax_forward_ref(x, b)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    ga, gb = np.empty_like(x), np.empty_like(x)
    K.softmax_backward(a, dy, ga)
    K.softmax_backward_ref(a, dy, gb)
    np.testing.assert_allclose(ga, gb, rtol=tol, atol=tol)
    inplace = x.copy()
    K.softmax_forward(inplace, inplace)  # out may alias x
    np.testing.assert_allclose(inplace, b, rtol=tol, atol=tol)
    bias = rng.normal(size=17).astype(dtype)
    a, b = x.copy(), x.copy()
    K.bias_softmax_forward(a, bias)
    K.bias_softmax_forward_ref(b, bias)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    K.softmax_forward_ref(x + bias, b)  # the same as the two steps apart
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("units", [3, 128, 129])
def test_dense_softmax_output_matches_keras_formula(dtype, units):
    """Dense(softmax) fuses its bias into the softmax kernel up to 128 classes; wider
    rows take numpy's path. Both give softmax(x @ kernel + bias)."""
    from core.layers import Dense
    rng = np.random.default_rng(units)
    layer = Dense(units, activation="softmax", bias_initializer="random_normal", dtype=dtype)
    x = rng.normal(size=(41, 6)).astype(dtype)
    layer.build((None, 6))
    z = (x @ layer.kernel.value + layer.bias.value).astype(np.float64)
    want = np.exp(z - z.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(layer(x), want, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_kernel_warmup_runs():
    K.warmup()


# --------------------------------------------------------------- get/serialize
def test_get_and_serialize():
    assert activations.get("relu") is activations.get(activations.relu)
    assert activations.get("swish").name == "silu"
    assert activations.get("hard_swish").name == "hard_silu"
    assert activations.serialize(activations.get("leaky_relu")) == "leaky_relu"
    assert activations.serialize(None) == "linear"
    assert activations.get({"module": "keras.activations", "class_name": "function",
                            "config": "tanh", "registered_name": "function"}).name == "tanh"
    for name in activations.known_names():
        assert activations.get(activations.serialize(name)).name == activations.get(name).name


def test_unknown_activation_lists_known_names():
    with pytest.raises(ValueError, match="relux") as e:
        activations.get("relux")
    assert "relu" in str(e.value) and "softmax" in str(e.value)
    # A user callable is an activation of its own now (gradient from its ops); a
    # non-callable is still refused.
    assert type(activations.get(lambda v: v)).__name__ == "FunctionActivation"
    with pytest.raises(ValueError, match="Could not interpret"):
        activations.get(3)


@pytest.mark.parametrize("name", sorted(set(activations.known_names()) - {"linear"}))
@pytest.mark.parametrize("size", [12, 3000])  # numpy path and kernel path
def test_backward_into_lent_buffer(name, size):
    x = np.random.default_rng(7).normal(size=(size // 6, 6)).astype(np.float32)
    dy = np.random.default_rng(8).normal(size=x.shape).astype(np.float32)
    act = activations.get(name)
    y, cache = act.forward(x.copy())
    want = act.backward(cache, dy)
    buf = np.full_like(x, np.nan)
    got = act.backward(cache, dy, out=buf)
    assert got is buf
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    if name in ("relu", "softmax", "gelu", "leaky_relu"):
        with pytest.raises(ValueError, match="out buffer"):
            act.backward(cache, dy, out=np.empty((1, 1), np.float32))


@pytest.mark.parametrize("name", sorted(activations.known_names()))
@pytest.mark.parametrize("inplace", [False, True])
def test_non_contiguous_inputs(name, inplace):
    base = np.random.default_rng(9).normal(size=(30, 6, 20)).astype(np.float32)
    x = base.T  # Fortran-ordered 3D view: reshaping it to 2D must copy
    act = activations.get(name)
    want_y, want_cache = act.forward(np.ascontiguousarray(x))
    dy = np.random.default_rng(10).normal(size=x.shape).astype(np.float32)
    want_dx = act.backward(want_cache, dy)
    y, cache = act.forward(x, inplace=inplace)
    np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(act.backward(cache, dy.T.copy().T), want_dx, rtol=1e-5,
                               atol=1e-6)


def test_available_lists_canonical_names_that_resolve():
    names = activations.available()
    assert "relu" in names and "swish" not in names and names == sorted(names)
    for n in names:
        assert activations.get(n).name == n

