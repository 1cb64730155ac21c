"""Model kinds (Sequential, functional, subclassed): graph, building, gradients, errors."""

import numpy as np
import pytest

from core.autodiff import Tape
from core.layers import Concatenate, Dense, Dropout, Flatten, Input, InputLayer
from core.models import Functional, Model, Sequential
from tests.helpers.gradcheck import check_layer_gradients

F64 = "float64"


def _rng(seed=0):
    return np.random.default_rng(seed)


class TwoDense(Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = Dense(5, activation="tanh", dtype=F64)
        self.out = Dense(3, activation="softmax", dtype=F64)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))


def _three_kinds():
    seq = Sequential([Dense(5, activation="tanh", dtype=F64, input_shape=(4,)),
                      Dense(3, activation="softmax", dtype=F64)])
    inp = Input((4,), dtype=F64)
    h = Dense(5, activation="tanh", dtype=F64)(inp)
    fun = Model(inp, Dense(3, activation="softmax", dtype=F64)(h))
    sub = TwoDense()
    sub.build((None, 4))
    weights = seq.get_weights()
    fun.set_weights(weights)
    sub.set_weights(weights)
    return seq, fun, sub


def _tape_grads(model, x, dy):
    with Tape() as tape:
        y = model(x, training=True)
    tape.backward(y, dy)
    return y, [v.grad.copy() for v in model.trainable_weights]


def test_three_model_kinds_give_identical_outputs_and_gradients():
    seq, fun, sub = _three_kinds()
    assert isinstance(fun, Functional)
    x = _rng().normal(size=(6, 4))
    dy = _rng(1).normal(size=(6, 3))
    y0, g0 = _tape_grads(seq, x, dy)
    for model in (fun, sub):
        y, g = _tape_grads(model, x, dy)
        np.testing.assert_array_equal(y, y0)
        assert len(g) == len(g0) == 4
        for a, b in zip(g, g0):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_model_gradients_match_finite_differences(kind):
    model = _three_kinds()[kind]
    errors = check_layer_gradients(model, _rng(2).normal(size=(3, 4)))
    assert len([k for k in errors if "kernel" in k]) == 2


def _multi_io_model():
    a = Input((4,), dtype=F64, name="in_a")
    b = Input((3,), dtype=F64, name="in_b")
    shared = Dense(4, activation="tanh", dtype=F64, name="shared")
    pa = shared(a)
    pb = shared(Dense(4, dtype=F64, name="proj_b")(b))  # the shared layer is used twice
    merged = Concatenate(dtype=F64)([pa, pb])
    out1 = Dense(2, activation="sigmoid", dtype=F64, name="head1")(merged)
    out2 = Dense(3, dtype=F64, name="head2")(pb)
    return Model([a, b], [out1, out2])


def test_multi_input_multi_output_shared_layer_forward_and_gradients():
    model = _multi_io_model()
    assert [ly.name for ly in model.layers if isinstance(ly, InputLayer)] == ["in_b", "in_a"] \
        or {ly.name for ly in model.layers if isinstance(ly, InputLayer)} == {"in_a", "in_b"}
    xa, xb = _rng(3).normal(size=(5, 4)), _rng(4).normal(size=(5, 3))
    y1, y2 = model([xa, xb])
    # Forward equals composing the layers by hand.
    shared, proj = model.get_layer("shared"), model.get_layer("proj_b")
    h1, h2 = model.get_layer("head1"), model.get_layer("head2")
    pa = np.tanh(xa @ shared.kernel.value + shared.bias.value)
    pb = np.tanh((xb @ proj.kernel.value + proj.bias.value) @ shared.kernel.value
                 + shared.bias.value)
    z = np.concatenate([pa, pb], axis=1) @ h1.kernel.value + h1.bias.value
    np.testing.assert_allclose(y1, 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(y2, pb @ h2.kernel.value + h2.bias.value, rtol=1e-12)
    errors = check_layer_gradients(model, [xa, xb])
    assert "shared/kernel" in errors and "input_1" in errors
    # 4 Dense layers x (kernel, bias), the shared one counted once.
    assert len(model.trainable_weights) == 8


def test_disconnected_graph_names_the_missing_input():
    a, b = Input((4,), name="in_a"), Input((3,), name="in_b")
    out = Concatenate()([Dense(2)(a), Dense(2)(b)])
    with pytest.raises(ValueError, match=r"Graph disconnected.*in_b"):
        Model(a, out)


def test_unused_input_is_refused_with_its_name():
    a, b = Input((4,), name="used"), Input((3,), name="unused_input")
    with pytest.raises(ValueError, match=r"not connected to any output.*unused_input"):
        Model([a, b], Dense(2)(a))


def test_sequential_input_forms_and_deferred_build():
    m1 = Sequential()
    m1.add(Dense(64, activation="relu", input_dim=100))
    m1.add(Dense(10, activation="softmax"))
    assert m1.built and m1.count_params() == 64 * 101 + 10 * 65
    m2 = Sequential([Input((100,)), Dense(64), Dense(10)])
    assert m2.built and [ly.name for ly in m2.layers][-1] == m2.layers[-1].name
    assert len(m2.layers) == 2  # the InputLayer is not listed, as in Keras 3
    m3 = Sequential([Flatten(), Dense(3)])
    assert not m3.built
    y = m3(np.ones((2, 4, 5), "float32"))
    assert y.shape == (2, 3) and m3.built and m3.layers[1].kernel.shape == (20, 3)
    assert m3.output_shape == (None, 3)


def test_sequential_pop_and_layers():
    model = Sequential([Dense(4, input_shape=(3,)), Dropout(0.5), Dense(2)])
    assert [type(ly).__name__ for ly in model.layers] == ["Dense", "Dropout", "Dense"]
    popped = model.pop()
    assert isinstance(popped, Dense) and len(model.layers) == 2
    assert model.compute_output_shape((None, 3)) == (None, 4)
    assert model(np.ones((1, 3), "float32")).shape == (1, 4)
    with pytest.raises(ValueError, match="unique names"):
        model.add(model.layers[0])


def test_wrong_input_shape_names_layer_and_both_shapes():
    model = Sequential([Dense(4, input_shape=(3,), name="first")])
    with pytest.raises(ValueError, match=r"expected shape \(None, 3\).*\(2, 5\)"):
        model(np.ones((2, 5), "float32"))


def test_get_layer_weights_roundtrip_and_count_params():
    model = _multi_io_model()
    assert model.get_layer(index=-1) is model.layers[-1]
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="only a layer name or a layer index"):
        model.get_layer("shared", 0)
    weights = [w * 0 + i for i, w in enumerate(model.get_weights())]
    model.set_weights(weights)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert model.count_params() == sum(w.size for w in weights)
    with pytest.raises(ValueError, match="expects 8 weight arrays"):
        model.set_weights(weights[:-1])


def test_model_call_accepts_numpy_and_lists():
    model = Sequential([Dense(2, input_shape=(3,))])
    out = model([[1, 2, 3]])
    assert out.shape == (1, 2)


def test_subclassed_model_tracks_layers_and_weights_in_order():
    model = TwoDense()
    model(np.ones((2, 4)))
    assert [ly.name for ly in model.layers] == [model.hidden.name, model.out.name]
    assert [w.path for w in model.weights] == [
        f"{model.hidden.name}/kernel", f"{model.hidden.name}/bias",
        f"{model.out.name}/kernel", f"{model.out.name}/bias"]


def test_nested_sequential_in_functional_and_subclassed_fit():
    inner = Sequential([Dense(4, activation="tanh", input_shape=(3,), dtype=F64),
                        Dense(2, dtype=F64)])
    a = Input((3,), dtype=F64)
    outer = Model(a, Dense(1, dtype=F64)(inner(a)))
    assert [type(ly).__name__ for ly in outer.layers] == ["InputLayer", "Sequential", "Dense"]
    assert outer.count_params() == 16 + 10 + 3
    check_layer_gradients(outer, _rng(5).normal(size=(4, 3)))

    from core.optimizers import Adam
    model = TwoDense()
    model.compile(optimizer=Adam(learning_rate=0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x = _rng(6).normal(size=(90, 4))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    hist = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.7 * hist.history["loss"][0]


class _SpyDense(Dense):
    """Dense that remembers the need_input_grad it was asked for."""

    asked = None

    def backward(self, cache, grad_output, need_input_grad=True):
        self.asked = need_input_grad
        return super().backward(cache, grad_output, need_input_grad)


def test_no_input_gradient_below_the_first_trainable_layer():
    """Flatten(input) -> Dense: the Dense must not compute dx (nothing upstream trains);
    behind a frozen Dense the next one must not either; behind a trainable one it must."""
    x = _rng().standard_normal((6, 2, 2))
    first, second = _SpyDense(3, dtype=F64), _SpyDense(2, dtype=F64)
    model = Sequential([Flatten(input_shape=(2, 2)), first, second])
    _tape_grads(model, x, np.ones((6, 2)))
    assert first.asked is False and second.asked is True
    first.trainable = False
    with Tape() as tape:
        y = model(x, training=True)
    tape.backward(y, np.ones((6, 2)))
    assert second.asked is False
    assert second.kernel.grad_step == tape.step and first.kernel.grad_step != tape.step
    for watched in (False, True):  # watch() asks for the input gradient explicitly
        with Tape() as tape:
            xs = x.reshape(6, 4)
            if watched:
                tape.watch(xs)
            y = first(xs, training=True)
        assert tape.needs_grad(y) is watched


def test_functional_input_and_output_are_the_constructor_structures():
    """Keras 3: ``model.input``/``model.output`` give what the model was built from (a
    lone tensor, a list, a dict), as the guides read them (``model.output`` raised)."""
    from core.layers import Dense, Input
    from core.models import Model

    a, b = Input((3,), name="a"), Input((2,), name="b")
    h = Dense(4)(a)
    single = Model(a, h)
    assert single.input is a and single.output is h
    pair = Model({"a": a, "b": b}, [h, Dense(1)(b)])
    assert pair.input == {"a": a, "b": b}
    assert isinstance(pair.output, list) and pair.output[0] is h
