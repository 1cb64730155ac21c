"""``RNN`` with cells a user writes (Keras' ``MinimalRNNCell`` docstring example and a
two-state cell, ``tests/core/rnn_user_cells.py``): gradients against central finite
differences in float64 (masks, go_backwards, initial states, stacks, Bidirectional),
training lowers the loss, config and ``.keras`` round trips, stateful calls, clear
errors for what is not a cell; the ``.keras`` file also loads in real Keras 3 (torch
backend, subprocess) with the same class registered there, and gives our predictions."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import core as keras
from core.layers import RNN, Bidirectional, Dense, Input, LSTMCell
from core.models import Model, Sequential, load_model
from core.saving.serialization import deserialize_layer, serialize_layer
from tests.core.rnn_user_cells import MinimalRNNCell, PeepholeCell
from tests.helpers.gradcheck import analytic_gradients, check_layer_gradients

N, T, F = 3, 5, 4
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, T, F))
MASK = np.array([[1, 1, 0, 1, 1], [0, 0, 1, 1, 0], [1, 0, 0, 0, 1]], bool)


class _Call:
    """The layer called with fixed keyword arguments, for the gradient check."""

    def __init__(self, layer, **kwargs):
        self.layer, self.kwargs, self.name = layer, kwargs, layer.name

    def __call__(self, x, training=False):
        if isinstance(x, list):
            x, states = x[0], x[1:]
            return self.layer(x, initial_state=states, training=training, **self.kwargs)
        return self.layer(x, training=training, **self.kwargs)

    @property
    def trainable_weights(self):
        return self.layer.trainable_weights


def _randomized(layer, x=X, **kwargs):
    layer(x, **kwargs)
    layer.set_weights([RNG.normal(size=w.shape) * 0.6 for w in layer.get_weights()])
    return layer


def _check(layer, inputs, **kwargs):
    errors = check_layer_gradients(_Call(layer, **kwargs), inputs, rtol=1e-7)
    _, grads, _ = analytic_gradients(_Call(layer, **kwargs), inputs)
    assert all(np.abs(g).max() > 1e-3 for g in grads.values())  # not a vacuous check
    return errors


@pytest.mark.parametrize("flags", [{}, {"return_sequences": True},
                                   {"return_sequences": True, "return_state": True,
                                    "go_backwards": True},
                                   {"return_sequences": True, "zero_output_for_mask": True}])
@pytest.mark.parametrize("masked", [False, True])
def test_minimal_cell_gradients(flags, masked):
    layer = _randomized(RNN(MinimalRNNCell(3, dtype="float64"), dtype="float64", **flags))
    _check(layer, X, **({"mask": MASK} if masked else {}))


def test_two_state_cell_with_initial_states_in_a_stack():
    cells = [PeepholeCell(3, 2, dtype="float64"), MinimalRNNCell(2, dtype="float64"),
             LSTMCell(2, dtype="float64")]
    layer = RNN(cells, return_sequences=True, return_state=True, dtype="float64")
    states = [RNG.normal(size=(N, s)) for s in (3, 2, 2, 2, 2)]
    _randomized(layer, initial_state=states)
    errors = _check(layer, [X] + states, mask=MASK)
    assert {f"input_{i}" for i in range(6)} <= set(errors)
    out = layer(X)
    assert [np.shape(o) for o in out] == [(N, T, 2), (N, 3), (N, 2), (N, 2), (N, 2), (N, 2)]
    nested = layer(X, initial_state=[states[:2], states[2], states[3:]])  # Keras' form
    for a, b in zip(nested, layer(X, initial_state=states)):
        np.testing.assert_allclose(a, b)


def test_get_initial_state_and_output_size_of_the_cell_are_used():
    layer = RNN(PeepholeCell(3, 2), return_state=True)
    y, h, c = layer(np.zeros((2, 1, F), "float32"))
    assert y.shape == (2, 4) and c.shape == (2, 2)
    cell = layer.cell  # one step from c0 = 0.5 (its get_initial_state), zero input
    z = np.zeros((2, 2), "float32") + cell.b.value
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(c, s * 0.5 + (1 - s) * np.tanh(z), rtol=1e-6)
    assert layer.compute_output_shape((None, 7, F)) == [(None, 4), (None, 3), (None, 2)]


def test_bidirectional_of_a_user_cell():
    layer = _randomized(Bidirectional(RNN(MinimalRNNCell(3, dtype="float64"),
                                          return_sequences=True, dtype="float64"),
                                      dtype="float64"))
    assert layer(X).shape == (N, T, 6)
    _check(layer, X, mask=MASK)


def test_training_lowers_the_loss():
    keras.utils.set_random_seed(1)
    t = np.linspace(0, 8, 400).astype("float32")
    series = np.sin(t) + 0.1 * np.cos(3 * t)
    x = np.stack([series[i:i + 10] for i in range(380)])[..., None]
    y = series[10:390, None]
    model = Sequential([Input((10, 1)), RNN(MinimalRNNCell(8)), Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    hist = model.fit(x, y, epochs=8, batch_size=32, verbose=0).history["loss"]
    assert hist[-1] < 0.3 * hist[0], hist


def test_config_and_keras_file_round_trip(tmp_path):
    inp = Input((T, F))
    out = RNN([MinimalRNNCell(4), PeepholeCell(3, 2)], go_backwards=True)(inp)
    model = Model(inp, Dense(2)(out))
    x = X.astype("float32")
    want = model.predict(x, verbose=0)
    cfg = serialize_layer(model.layers[1])
    cell_cfgs = cfg["config"]["cell"]["config"]["cells"]
    assert [c["registered_name"] for c in cell_cfgs] == ["nwtest>MinimalRNNCell",
                                                         "nwtest>PeepholeCell"]
    again = deserialize_layer(cfg)
    assert [type(c) for c in again.cell.cells] == [MinimalRNNCell, PeepholeCell]
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=1e-6)
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]


def test_stateful_user_cell_carries_states_across_calls():
    """(Also: a recurrent layer takes sequences of any length after its first call.)"""
    layer = RNN(MinimalRNNCell(3), stateful=True)
    x = RNG.normal(size=(2, 4, F)).astype("float32")
    layer(x[:, :2])
    two = layer(x[:, 2:])
    whole = RNN(MinimalRNNCell(3))
    whole(x)
    whole.set_weights(layer.get_weights())
    np.testing.assert_allclose(two, whole(x), rtol=1e-6)
    layer.reset_state()
    np.testing.assert_allclose(layer(x), whole(x), rtol=1e-6)


class _NoState(keras.Layer):
    def call(self, inputs, states):
        return inputs, states


class _NoCall:
    state_size = 3


def test_what_is_not_a_cell_is_refused_by_name():
    with pytest.raises(ValueError, match=r"the cell _NoState 'nostate' needs a `state_size`"):
        RNN(_NoState(name="nostate"))
    with pytest.raises(ValueError, match=r"the cell _NoCall has no `call\(inputs, states\)`"):
        RNN(_NoCall())
    with pytest.raises(ValueError, match=r"'stack'.*the cell Dense 'd' has no `call"):
        RNN([MinimalRNNCell(2), Dense(2, name="d")], name="stack")


def test_a_cell_returning_the_wrong_number_of_states_is_named():
    class Bad(MinimalRNNCell):
        def call(self, inputs, states):
            out, _ = super().call(inputs, states)
            return out, [out, out]

    with pytest.raises(ValueError, match=r"'r'.*Bad returned 2 state\(s\).*declares 1"):
        RNN(Bad(2), name="r")(X.astype("float32"))


def test_real_keras_loads_our_file_with_the_cell_registered_there(tmp_path):
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("real Keras 3 with the torch backend is not installed")
    from core.layers import Embedding
    keras.utils.set_random_seed(2)
    x = X.astype("float32")
    tokens = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 7], [0, 0, 8, 9, 0]], "int32")
    models = {
        "plain": (Sequential([Input((T, F)), RNN(MinimalRNNCell(4), return_sequences=True),
                              RNN([PeepholeCell(3, 2), MinimalRNNCell(2)]), Dense(1)]), x),
        # Keras' mask semantics: the padded steps carry the states
        "masked": (Sequential([Input((T,), dtype="int32"),
                               Embedding(10, F, mask_zero=True),
                               RNN(MinimalRNNCell(4), return_sequences=True,
                                   go_backwards=True),
                               RNN(PeepholeCell(3, 2)), Dense(1)]), tokens),
    }
    for name, (model, data) in models.items():
        model.compile(optimizer="adam", loss="mse")
        model.fit(data, np.ones((N, 1), "float32"), epochs=1, verbose=0)
        model.set_weights([RNG.normal(size=w.shape) * 0.6 for w in model.get_weights()])
        model.save(tmp_path / f"{name}.keras")
        np.savez(tmp_path / f"{name}.npz", x=data)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    run = subprocess.run([sys.executable, str(Path(__file__).with_name(
        "rnn_user_cells_keras_side.py")), str(tmp_path)], capture_output=True, text=True,
        env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "keras 3." in run.stdout, run.stdout
    for name, (model, data) in models.items():
        want = model.predict(data, verbose=0)
        with np.load(tmp_path / f"{name}.keras_out.npz") as k:
            np.testing.assert_allclose(k["y"], want, rtol=1e-5, atol=1e-6)
        # and the file Keras re-saved loads here with the same predictions
        again = load_model(tmp_path / f"{name}.resaved.keras")
        np.testing.assert_allclose(again.predict(data, verbose=0), want, rtol=1e-5,
                                   atol=1e-6)


def test_functional_initial_states_and_an_embedding_mask_reach_a_user_cell():
    from core.layers import Embedding
    ids, h0 = Input((T,), dtype="int32"), Input((3,))
    embed, first = Embedding(10, F, mask_zero=True), RNN(MinimalRNNCell(3),
                                                          return_sequences=True)
    second = RNN(MinimalRNNCell(3))
    model = Model([ids, h0], second(first(embed(ids)), initial_state=[h0]))
    tokens = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 7]], "int32")
    states = RNG.normal(size=(2, 3)).astype("float32")
    got = model.predict([tokens, states], verbose=0)
    # The embedding's mask reaches the first RNN (its padded steps repeat the last
    # output); the second is called with initial states, so, as in Keras, it gets no
    # mask and runs every step.
    padded = np.asarray(embed(tokens[:1]))
    seq = np.asarray(first(padded, mask=tokens[:1] != 0))
    np.testing.assert_allclose(seq[:, 2:], np.repeat(seq[:, 1:2], 3, axis=1), rtol=1e-6)
    ref = second(seq, initial_state=[states[:1]])
    np.testing.assert_allclose(got[:1], ref, rtol=1e-5, atol=1e-6)
    unmasked = second(first(padded), initial_state=[states[:1]])
    assert not np.allclose(got[:1], unmasked, rtol=1e-3)
