"""Semantics of the core, merge and activation layers beyond the generic checks:
Keras defaults and config keys, Dropout statistics, shape errors, Keras 2 kwargs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from core import random as nw_random
from core.autodiff import Tape
from core.layers import (
    ELU,
    Activation,
    Add,
    Average,
    Concatenate,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    LeakyReLU,
    Maximum,
    Minimum,
    Multiply,
    ReLU,
    Reshape,
    Softmax,
    Subtract,
)
from core.layers.node import KerasTensor
from tests.helpers.gradcheck import relative_error

BASE = {"name", "trainable", "dtype"}


@pytest.mark.parametrize("layer, keys", [
    (Dropout(0.3), {"rate", "seed", "noise_shape"}),
    (Flatten(), {"data_format"}),
    (Reshape((2, 3)), {"target_shape"}),
    (Activation("relu"), {"activation"}),
    (Concatenate(), {"axis"}),
    (Add(), set()),
    (ReLU(), {"max_value", "negative_slope", "threshold"}),
    (LeakyReLU(), {"negative_slope"}),
    (Softmax(), {"axis"}),
    (ELU(), {"alpha"}),
], ids=lambda v: type(v).__name__ if not isinstance(v, set) else "")
def test_config_keys_match_keras(layer, keys):
    assert set(layer.get_config()) == BASE | keys


def test_keras_defaults():
    assert LeakyReLU().negative_slope == 0.3  # layer default (the function's is 0.2)
    r = ReLU()
    assert (r.max_value, r.negative_slope, r.threshold) == (None, 0.0, 0.0)
    assert Softmax().axis == -1 and Concatenate().axis == -1 and ELU().alpha == 1.0
    assert Flatten().data_format == "channels_last"
    d = Dropout(0.5)
    assert d.noise_shape is None and d.seed is None
    assert Activation("relu").get_config()["activation"] == "relu"


def test_activation_layer_examples_from_keras_docs():
    x = np.array([[-10, -5, 0.0, 5, 10]], np.float32)
    out = ReLU(max_value=10, negative_slope=0.5, threshold=0)(x)
    np.testing.assert_allclose(out, [[-5, -2.5, 0, 5, 10]])
    np.testing.assert_allclose(LeakyReLU(negative_slope=0.5)(x), [[-5, -2.5, 0, 5, 10]])
    np.testing.assert_allclose(ELU(alpha=2.0)(np.array([[-1.0, 1.0]])),
                               [[2 * (np.exp(-1) - 1), 1.0]])
    s = Softmax(axis=1)(np.zeros((2, 4, 3), np.float32))
    np.testing.assert_allclose(s, np.full((2, 4, 3), 0.25))


def test_leaky_relu_accepts_keras2_alpha():
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        layer = LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1 and "alpha" not in layer.get_config()


@pytest.mark.parametrize("make, match", [
    (lambda: Dropout(1.0), r"'dropout.*'.*rate=1\.0"),
    (lambda: Dropout(-0.1), r"rate=-0\.1"),
    (lambda: Dropout(0.5, noise_shape=(None, 0)), r"noise_shape=\(None, 0\)"),
    (lambda: ReLU(max_value=-1.0), r"max_value=-1\.0"),
    (lambda: ReLU(negative_slope=-0.1), r"negative_slope=-0\.1"),
    (lambda: LeakyReLU(negative_slope=-1), r"negative_slope=-1"),
    (lambda: Reshape((2, -1, -1)), r"target_shape=\(2, -1, -1\)"),
    (lambda: Reshape("ab"), r"target_shape='ab'"),
    (lambda: Concatenate(axis=1.5), r"axis=1\.5"),
    (lambda: Activation("relux"), r"relux.*known activations"),
    (lambda: Flatten(data_format="nchw"), r"data_format='nchw'"),
    (lambda: InputLayer(), r"shape"),
    (lambda: InputLayer(shape=(0, 3)), r"shape=\(0, 3\)"),
    (lambda: InputLayer(shape=(3,), batch_shape=(None, 3)), r"shape=\(3,\).*batch_shape"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_arguments_raise_value_error_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_shape_errors_name_layer_and_all_shapes():
    with pytest.raises(ValueError, match=r"'cat'.*\(None, 3, 4\), \(None, 5, 2\)"):
        Concatenate(name="cat")([Input((3, 4)), Input((5, 2))])
    with pytest.raises(ValueError, match=r"'plus'.*\(None, 3\), \(None, 4\)"):
        Add(name="plus")([Input((3,)), Input((4,))])
    with pytest.raises(ValueError, match=r"'minus'.*exactly 2 inputs"):
        Subtract(name="minus")([Input((3,)), Input((3,)), Input((3,))])
    with pytest.raises(ValueError, match=r"'rs'.*\(None, 12\).*target_shape=\(5,\)"):
        Reshape((5,), name="rs")(Input((12,)))
    with pytest.raises(ValueError, match=r"'rs2'.*\(None, 7\).*target_shape=\(-1, 2\)"):
        Reshape((-1, 2), name="rs2")(np.ones((2, 7), np.float32))
    with pytest.raises(ValueError, match=r"'same'.*same rank"):
        Add(name="same")([Input((3,)), Input((1, 3))])


def test_merge_values():
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=(2, 3)) for _ in range(3))
    np.testing.assert_allclose(Add()([a, b, c]), a + b + c)
    np.testing.assert_allclose(Subtract()([a, b]), a - b)
    np.testing.assert_allclose(Multiply()([a, b, c]), a * b * c)
    np.testing.assert_allclose(Average()([a, b, c]), (a + b + c) / 3)
    np.testing.assert_allclose(Maximum()([a, b, c]), np.maximum(np.maximum(a, b), c))
    np.testing.assert_allclose(Minimum()([a, b]), np.minimum(a, b))
    np.testing.assert_allclose(Concatenate(axis=1)([a, b]), np.concatenate([a, b], 1))
    np.testing.assert_allclose(Add()([a, b[:, :1]]), a + b[:, :1])  # broadcast


def test_input_and_input_layer():
    x = Input(shape=(28, 28, 1), name="img")
    assert isinstance(x, KerasTensor) and x.shape == (None, 28, 28, 1)
    layer = x._keras_history[0]
    assert isinstance(layer, InputLayer) and layer.name == "img"
    assert layer.batch_shape == (None, 28, 28, 1) and layer.output is x
    assert Input(shape=(3,), batch_size=16).shape == (16, 3)
    assert InputLayer(input_shape=(5,)).batch_shape == (None, 5)  # Keras 2 kwargs
    assert InputLayer(batch_input_shape=(4, 5)).batch_shape == (4, 5)
    assert InputLayer.num_inputs == 0 and InputLayer.group == "Input"
    # the Keras 3 config of a saved model loads, DTypePolicy dict included
    cfg = {"batch_shape": [None, 8], "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                               "config": {"name": "float32"}},
           "sparse": False, "ragged": False, "name": "in8"}
    assert InputLayer.from_config(cfg).batch_shape == (None, 8)


def test_dropout_statistics_and_inference_identity():
    nw_random.set_seed(0)
    x = np.ones((400, 500), np.float32)
    layer = Dropout(0.3)
    assert layer(x, training=False) is x
    y = layer(x, training=True)
    dropped = float((y == 0).mean())
    assert abs(dropped - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)  # inverted dropout
    assert abs(float(y.mean()) - 1.0) < 0.01
    assert y.dtype == np.float32


def test_dropout_noise_shape_broadcasts_mask():
    nw_random.set_seed(1)
    y = Dropout(0.5, noise_shape=(None, 1, 4))(np.ones((3, 5, 4), np.float32), training=True)
    assert (y == y[:, :1, :]).all()  # same mask along axis 1
    assert 0 < (y == 0).mean() < 1


def test_dropout_is_reproducible():
    x = np.ones((8, 8), np.float32)
    nw_random.set_seed(3)
    a = Dropout(0.5)(x, training=True)
    nw_random.set_seed(3)
    b = Dropout(0.5)(x, training=True)
    np.testing.assert_array_equal(a, b)
    s1, s2 = Dropout(0.5, seed=9), Dropout(0.5, seed=9)
    first = s1(x, training=True)
    np.testing.assert_array_equal(first, s2(x, training=True))
    assert not np.array_equal(first, s1(x, training=True))  # the seeded stream advances


def test_dropout_training_gradient_with_fixed_mask():
    layer = Dropout(0.4, seed=5, dtype="float64")
    x = np.random.default_rng(0).normal(size=(6, 7))
    dy = np.random.default_rng(1).normal(size=x.shape)
    y, mask = layer.forward(x, training=True)
    dx = layer.backward(mask, dy)
    h = 1e-6
    num = ((x + h) * mask - (x - h) * mask) * dy / (2 * h)  # the mask held fixed
    assert relative_error(num, dx) < 1e-6
    np.testing.assert_allclose(y, x * mask)


def test_flatten_and_reshape_views_and_order():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert np.shares_memory(Flatten()(x), x)  # no copy on the common path
    np.testing.assert_array_equal(Flatten()(x), x.reshape(2, 12))
    cf = Flatten(data_format="channels_first")(x)
    np.testing.assert_array_equal(cf, np.moveaxis(x, 1, -1).reshape(2, 12))
    np.testing.assert_array_equal(Reshape((4, -1))(x), x.reshape(2, 4, 3))
    assert Reshape((-1,)).compute_output_shape((None, None, 4)) == (None, None)


def test_dense_inplace_activation_matches_reference_and_gradients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 100)).astype(np.float32)  # 64x80 = 5120 outputs: kernel path
    layer = Dense(80, activation="relu")
    y = layer(x)
    want = np.maximum(x @ layer.kernel.value + layer.bias.value, 0)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    with Tape() as tape:
        y = layer(x, training=True)
    dy = rng.normal(size=y.shape).astype(np.float32)
    tape.backward(y, dy)
    dz = dy * (want > 0)
    np.testing.assert_allclose(layer.kernel.grad, x.T @ dz, rtol=1e-4, atol=1e-4)


def test_functional_graph_with_merge_layers_trains_through_tape():
    a, b = Input((4,)), Input((4,))
    h = Dense(3, activation="tanh")
    out = Concatenate()([Add()([h(a), h(b)]), Multiply()([a, b])])
    assert out.shape == (None, 7)
    xa, xb = np.ones((2, 4), np.float32), np.full((2, 4), 2.0, np.float32)
    with Tape() as tape:
        y = Concatenate()([Add()([h(xa), h(xb)]), Multiply()([xa, xb])])
    tape.backward(y, np.ones_like(y))
    assert h.kernel.grad is not None and np.abs(h.kernel.grad).sum() > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_kernels_match_twins(dtype):
    from core.kernels import dropout as DK

    x = np.random.default_rng(0).normal(size=50_000).astype(dtype)
    seed = np.uint64(0xDEADBEEF12345678)
    y, m, y_ref, m_ref = (np.empty_like(x) for _ in range(4))
    DK.dropout_forward(x, 0.3, seed, y, m)
    DK.dropout_forward_ref(x, 0.3, seed, y_ref, m_ref)
    np.testing.assert_array_equal(m, m_ref)  # identical draws, not just similar
    np.testing.assert_allclose(y, y_ref, rtol=1e-6)
    assert abs(float((m == 0).mean()) - 0.3) < 0.01
    m2 = np.empty_like(x)
    DK.dropout_mask(0.3, seed, m2)
    np.testing.assert_array_equal(m2, m)
    DK.dropout_mask(0.3, seed + np.uint64(1), m2)
    assert not np.array_equal(m2, m)
    DK.warmup()


def test_layer_serialize_helpers_and_specs():
    from core import layers

    d = layers.serialize(ReLU(max_value=2.0, name="r"))
    # keras.layers.serialize's form: the dtype as its DTypePolicy (Keras 3.15.1).
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
              "registered_name": None}
    assert d == {"module": "keras.layers", "class_name": "ReLU", "registered_name": None,
                 "config": {"name": "r", "trainable": True, "dtype": policy,
                            "max_value": 2.0, "negative_slope": 0.0, "threshold": 0.0}}
    back = layers.deserialize(d)
    assert isinstance(back, ReLU) and back.get_config() == {**d["config"], "dtype": "float32"}
    with pytest.raises(ValueError, match="Unknown layer type 'Relu'.*'ReLU'"):
        layers.deserialize({"class_name": "Relu", "config": {}})
    specs = layers.get_layer_specs()
    assert list(specs)[0] == "Input" and specs["Input"] == [InputLayer]
    assert {"Add", "Concatenate"} <= {c.__name__ for c in specs["Merge"]}
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.AvgPool2D is layers.AveragePooling2D


@pytest.mark.parametrize("cls, kwargs", [
    ("Dense", {"units": 2, "lora_rank": 4}),
    ("Dense", {"units": 2, "quantization_config": {"mode": "int8"}}),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "lora_alpha": 1.0}),
])
def test_unsupported_keras_arguments_are_refused_by_name(cls, kwargs):
    import core.layers as L
    bad = [k for k in kwargs if k not in ("units", "filters", "kernel_size")][0]
    with pytest.raises(ValueError, match=f"{bad} is not supported yet"):
        getattr(L, cls)(**kwargs)


def test_direct_build_marks_the_layer_built_as_keras_does():
    """``layer.build(shape)`` then ``layer(x)`` keeps the weights build made (Keras'
    build wrapper sets ``built``); before, the call silently re-created them."""
    from core.layers import Conv2D, Dense

    for layer, shape, x in ((Dense(3), (None, 4), np.ones((2, 4), "float32")),
                            (Conv2D(2, 3), (None, 5, 5, 1), np.ones((1, 5, 5, 1), "float32"))):
        layer.build(shape)
        assert layer.built
        kernel = layer.kernel
        before = kernel.value.copy()
        layer(x)
        assert layer.kernel is kernel
        np.testing.assert_array_equal(layer.kernel.value, before)
