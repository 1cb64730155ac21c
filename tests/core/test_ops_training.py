"""Ops in models: gradients through code between layers, user layers built from ops,
the call() signature rule and the missing-gradient warning."""

import warnings

import numpy as np
import pytest

from core import backend, ops
from core.autodiff import Tape
from core.layers import Dense
from core.layers.base import Layer
from core.models import Model, Sequential
from core.ops.engine import Tracked
from tests.helpers.gradcheck import check_layer_gradients

rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_names():
    # Layer names count per session: leave the counters as other modules expect them.
    yield
    backend.clear_session()


class Doubler(Layer):
    """No backward: ``call`` multiplies with a Python operator."""

    def call(self, x):
        return x * 2


class TimesTwo(Model):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.d1 = Dense(4, activation="tanh", dtype="float64")
        self.d2 = Dense(2, dtype="float64")

    def call(self, x):
        return self.d2(self.d1(x) * 2.0)


class OpsDense(Layer):
    """A Dense written as a user would: add_weight + ops."""

    def __init__(self, units, activation=None, **kw):
        super().__init__(**kw)
        self.units, self.activation = units, activation

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), name="kernel")
        self.bias = self.add_weight((self.units,), initializer="zeros", name="bias")

    def call(self, x):
        y = ops.add(ops.matmul(x, self.kernel), self.bias)
        return ops.relu(y) if self.activation == "relu" else y


def _data(n=16, d=3, k=2):
    return rng.standard_normal((n, d)), rng.standard_normal((n, k))


def test_sequential_dense_scale_dense_trains_first_dense():
    model = Sequential([Dense(4, input_shape=(3,), dtype="float64"), Doubler(dtype="float64"),
                        Dense(2, dtype="float64")])
    x, y = _data()
    model(x)
    errors = check_layer_gradients(model, x)
    assert errors[model.layers[0].kernel.path] < 1e-6
    model.compile(loss="mse", optimizer="sgd")
    before = model.layers[0].kernel.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every weight gets a gradient: no warning
        model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(before, model.layers[0].kernel.value)


def test_subclassed_model_with_arithmetic_between_layers():
    model = TimesTwo()
    x, y = _data()
    model(x)
    errors = check_layer_gradients(model, x)
    assert set(errors) >= {model.d1.kernel.path, model.d1.bias.path}
    model.compile(loss="mse", optimizer="sgd")
    before = model.d1.kernel.numpy()
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(before, model.d1.kernel.value)


def test_user_dense_matches_builtin_dense_gradients_and_trains():
    x, _ = _data(8, 5)
    mine, ref = OpsDense(3, "relu", dtype="float64"), Dense(3, "relu", dtype="float64")
    mine(x), ref(x)
    mine.set_weights(ref.get_weights())
    g = rng.standard_normal((8, 3))
    for layer in (mine, ref):
        with Tape() as tape:
            out = layer(x, training=True)
        tape.backward(out, g)
    np.testing.assert_allclose(mine.kernel.grad, ref.kernel.grad, rtol=1e-12)
    np.testing.assert_allclose(mine.bias.grad, ref.bias.grad, rtol=1e-12)
    check_layer_gradients(OpsDense(3, "relu", dtype="float64"), x)

    model = Sequential([OpsDense(8, "relu", input_shape=(5,)), OpsDense(2)])
    model.compile(loss="mse", optimizer="adam")
    xs, ys = rng.standard_normal((64, 5)).astype("float32"), rng.standard_normal((64, 2))
    losses = model.fit(xs, ys.astype("float32"), epochs=8, verbose=0).history["loss"]
    assert losses[-1] < losses[0]


def test_incompatible_shapes_name_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"ops\.add.*\(2, 3\) and \(4,\)"):
        ops.add(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"ops\.matmul.*\(2, 3\) and \(2, 3\)"):
        ops.matmul(np.ones((2, 3)), np.ones((2, 3)))


class NumpyOnWeight(Layer):
    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1], 2), name="kernel")

    def call(self, x):
        return np.asarray(x) @ self.w.value  # plain numpy on .value: no gradient


def test_numpy_on_a_weight_warns_once_naming_layer_and_weight():
    model = Sequential([Dense(3, input_shape=(3,)), NumpyOnWeight(name="np_layer")])
    model.compile(loss="mse", optimizer="sgd")
    x, y = _data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x.astype("float32"), y.astype("float32"), epochs=2, batch_size=4, verbose=0)
    msgs = [str(w.message) for w in caught if "Gradients do not exist" in str(w.message)]
    assert len(msgs) == 1
    assert "np_layer/kernel" in msgs[0] and "layer 'np_layer'" in msgs[0]


def test_training_and_mask_are_passed_only_when_call_declares_them():
    seen = {}

    class WithTraining(Layer):
        def call(self, x, training=None):
            seen["training"] = training
            return x

    class Plain(Layer):
        def call(self, x):
            return x

    class Kw(Layer):
        def call(self, x, **kwargs):
            seen["kw"] = sorted(kwargs)
            return x

    x = np.ones((2, 3), "float32")
    WithTraining()(x, training=True)
    assert seen["training"] is True
    Plain()(x, training=True, mask=np.ones((2,), bool))  # neither is declared: no TypeError
    Kw()(x, training=False, mask=None)
    assert seen["kw"] == ["mask", "training"]


def test_an_op_returning_its_input_object_still_records():
    x = rng.standard_normal((3, 2))
    with Tape() as tape:
        tape.watch(x)
        same = ops.cast(x, "float64")  # numpy returns x itself: the op gives a new id
        assert same is not x
        out = ops.multiply(same, x)
    sink = {}

    class Sink:
        _tracked_layers = ()

        def _own_trainable_variables(self):
            return []

        def backward(self, cache, g, need_input_grad=True):
            sink["g"] = g[0]
            return []
    tape.records.insert(0, __import__("core.autodiff").autodiff.Record(Sink(), [], [x], None))
    tape.backward(out, np.ones_like(x))
    np.testing.assert_allclose(sink["g"], 2 * x)


def test_python_operators_and_numpy_functions_between_layers_keep_the_gradient():
    class Mix(Model):
        def __init__(self):
            super().__init__()
            self.d1 = Dense(4, dtype="float64")
            self.d2 = Dense(1, dtype="float64")

        def call(self, x):
            h = self.d1(x)
            h = np.concatenate([h[:, :2] ** 2, np.tanh(h.T).T[:, 2:]], axis=1) - h.mean()
            return self.d2(h.reshape(len(x), 4) / 3.0)

    model = Mix()
    x, _ = _data(5, 3)
    model(x)
    errors = check_layer_gradients(model, x)
    assert errors[model.d1.kernel.path] < 1e-6


def test_outside_a_tape_ops_and_layers_return_plain_arrays():
    x = np.ones((2, 3), "float32")
    assert type(ops.add(x, 1.0)) is np.ndarray
    assert type(Sequential([Dense(2, input_shape=(3,)), Doubler()])(x)) is np.ndarray
    with Tape():
        assert type(Dense(2)(x)) is Tracked
    assert ops.multiply(x, 2.0).dtype == np.float32  # Python numbers are weakly typed


def test_variable_operators_are_ops():
    layer = OpsDense(2)
    layer.build((None, 3))
    x = rng.standard_normal((4, 3)).astype("float32")
    with Tape() as tape:
        out = (layer.kernel * 2.0).sum() + (x @ layer.kernel).sum()
    tape.backward(out, np.float32(1.0))
    np.testing.assert_allclose(layer.kernel.grad, 2.0 + x.sum(0)[:, None] * np.ones((1, 2)),
                               rtol=1e-5)


def test_frozen_user_layer_records_no_gradient_and_does_not_train():
    frozen = OpsDense(4, "relu", input_shape=(3,))
    model = Sequential([frozen, OpsDense(2)])
    frozen.trainable = False
    model.compile(loss="mse", optimizer="sgd")
    x, y = _data()
    model(x.astype("float32"))
    before = frozen.kernel.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x.astype("float32"), y.astype("float32"), epochs=1, verbose=0)
    np.testing.assert_array_equal(before, frozen.kernel.value)
    assert frozen.kernel.grad is None  # no op recorded it
