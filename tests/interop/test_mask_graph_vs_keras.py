"""Masks in saved functional models, against real Keras 3 (torch backend), in process.

The same model-building code runs once with ``core`` and once with ``keras``. The
config we write must be the one Keras writes for its own model (mask op nodes,
``mask``/``training`` kwargs, layer order), with only the ops' generated names
differing, and Keras, loading our file, must predict what we predict (padding left
out). Skipped when Keras is not importable.
"""

from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import core  # noqa: E402
from core import backend  # noqa: E402
from core.models.mask_graph import (  # noqa: E402
    builtin_classes,
)

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch",
                                reason="compares with Keras on the torch backend")


def transformer(k):
    L = k.layers
    ids = k.Input((6,), name="ids")
    e = L.Embedding(9, 4, mask_zero=True, name="emb")(ids)
    att = L.MultiHeadAttention(num_heads=2, key_dim=2, name="mha")(e, e)
    x = L.LayerNormalization(name="ln")(L.Add(name="add")([e, att]))
    return k.Model(ids, L.Dense(2, name="out")(L.GlobalAveragePooling1D(name="gap")(x)))


def recurrent(k):
    L = k.layers
    ids, ser = k.Input((6,), dtype="int32", name="ids"), k.Input((6, 3), name="ser")
    e = L.Embedding(9, 4, mask_zero=True, name="emb")(ids)
    a = L.LSTM(4, return_sequences=True, name="lstm")(e)
    b = L.GRU(4, return_sequences=True, name="gru")(L.Masking(name="masking")(ser))
    d = L.Add(name="add")([a, L.Dense(4, name="dense")(b)])
    f = L.TimeDistributed(L.Dense(2, name="inner"), name="td")(d)
    g = L.Bidirectional(L.SimpleRNN(3, name="rnn"), name="bi")(
        L.Concatenate(name="cat")([a, b]))
    h = L.GlobalAveragePooling1D(name="gap")(L.Dropout(0.1, name="drop")(f))
    # (Softmax is left out: Keras' own Softmax refuses a (batch, time) mask there)
    s = L.BatchNormalization(name="bn")(L.LayerNormalization(name="ln")(e))
    u = L.LSTM(2, name="lstm_plain")(L.Conv1D(2, 3, name="conv")(e))
    v = L.GlobalAveragePooling1D(name="gap_plain")(ser)
    return k.Model([ids, ser], [g, h, L.Flatten(name="flat")(s), u, v])


def mixed_concat(k):
    L = k.layers
    ids, ser = k.Input((5,), name="ids"), k.Input((5, 2), name="ser")
    e = L.Embedding(7, 3, mask_zero=True, name="emb")(ids)
    c = L.Concatenate(name="cat")([e, L.Dense(3, name="dense")(ser)])
    return k.Model([ids, ser], L.LSTM(2, name="lstm")(c))


BUILDERS = {f.__name__: f for f in (transformer, recurrent, mixed_concat)}


def _canonical(config: dict) -> dict:
    """Rename the op nodes op0, op1, ... in order of appearance: Keras names them from
    a session-wide counter."""
    names = {}
    for layer in config["layers"]:
        if layer.get("module", "").startswith("keras.src.ops."):
            names[layer["name"]] = f"op{len(names)}"
    text = json.dumps(config)
    for old, new in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f'"{old}"', f'"{new}"')
    return json.loads(text)


def _inputs(model, rng):
    xs = []
    for t in model.inputs:
        if len(t.shape) == 2:
            ids = rng.integers(1, 7, size=(3,) + tuple(t.shape[1:]))
            ids[0, 3:] = 0
            ids[2, 1:] = 0
            xs.append(ids.astype("int32"))
        else:
            x = rng.normal(size=(3,) + tuple(t.shape[1:])).astype("float32")
            x[1, 2:] = 0.0
            xs.append(x)
    return xs


def _keras_class(name):
    if name == "Functional":
        from keras.src.models.functional import Functional
        return Functional
    return getattr(keras.layers, name, None) or getattr(keras, name)


def test_the_call_facts_of_every_class_are_keras_call_signatures():
    """``call_takes_mask`` and ``call_training_default`` of every built-in class (the
    facts saving records in a node) against Keras' own ``call`` signature."""
    classes = builtin_classes()
    assert {"Sequential", "Functional", "Dropout", "LSTM"} <= set(classes)
    for name, ours in sorted(classes.items()):
        params = inspect.signature(_keras_class(name).call).parameters
        assert ours.call_takes_mask == ("mask" in params), name
        training = params["training"].default if "training" in params else None
        assert ours.call_training_default == training, name


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_our_config_is_the_one_keras_writes(name):
    backend.clear_session()
    model = BUILDERS[name](core)
    ours = _canonical(model.get_config())
    keras.utils.clear_session()
    native = BUILDERS[name](keras)
    theirs = _canonical(json.loads(json.dumps(native.get_config())))
    # the ops change depths, so the layers' (and weights') order follows them
    assert [ly.name for ly in model.layers] == [ly.name for ly in native.layers]
    assert [w.shape for w in model.weights] == [tuple(w.shape) for w in native.weights]
    assert [ly["name"] for ly in ours["layers"]] == [ly["name"] for ly in theirs["layers"]]
    for a, b in zip(ours["layers"], theirs["layers"]):
        assert a["inbound_nodes"] == b["inbound_nodes"], a["name"]
        if a.get("module", "").startswith("keras.src.ops."):
            assert a == b


@pytest.mark.parametrize("save_as", ["keras", "h5"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_keras_loads_our_masked_model_and_predicts_the_same(tmp_path, name, save_as):
    backend.clear_session()
    model = BUILDERS[name](core)
    rng = np.random.default_rng(3)
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype("float32") * 0.5)
    xs = _inputs(model, rng)
    ours = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    model.save(tmp_path / f"m.{save_as}")
    theirs = keras.saving.load_model(tmp_path / f"m.{save_as}", compile=False)
    got = theirs(xs if len(xs) > 1 else xs[0])
    ours = ours if isinstance(ours, list) else [ours]
    got = got if isinstance(got, (list, tuple)) else [got]
    for a, b in zip(ours, got):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-5)
    again = _canonical(json.loads(json.dumps(theirs.get_config())))
    assert again["layers"] == _canonical(model.get_config())["layers"]


def _rows(text: str, ops: dict) -> list:
    """The summary's cells row by row (wrapped lines joined), op names canonical."""
    rows, block = [], []
    for line in text.splitlines():
        if line.startswith(("├", "└")):
            rows.append(block)
            block = []
        elif line.startswith("│"):
            block.append([c.strip() for c in line.strip("│").split("│")])
    cells = [[" ".join(p for p in col if p) for col in zip(*b)] for b in rows if b]
    text = json.dumps(cells)
    for old, new in sorted(ops.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(old, new)
    return json.loads(text)


def _op_names(config) -> dict:
    names = [ly["name"] for ly in config["layers"]
             if ly.get("module", "").startswith("keras.src.ops.")]
    return {n: f"op{i}" for i, n in enumerate(names)}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_summary_lists_the_mask_ops_as_keras_does(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich: let line_length decide the width
    backend.clear_session()
    model = BUILDERS[name](core)
    ours = []
    model.summary(line_length=108, print_fn=ours.append)
    keras.utils.clear_session()
    native = BUILDERS[name](keras)
    theirs = []
    native.summary(line_length=108, print_fn=lambda s, **kw: theirs.append(s))
    assert (_rows(ours[0], _op_names(model.get_config()))
            == _rows(theirs[0], _op_names(native.get_config())))


def decoder(k):
    """An RNN given initial states: Keras passes it no mask (its call has two tensor
    arguments), so every step runs; the output still carries the mask."""
    ids, h, c = k.Input((5,), name="ids"), k.Input((3,), name="h"), k.Input((3,), name="c")
    e = k.layers.Embedding(9, 4, mask_zero=True, name="emb")(ids)
    y = k.layers.LSTM(3, return_sequences=True, name="lstm")(e, initial_state=[h, c])
    b = k.layers.Bidirectional(k.layers.GRU(3, return_sequences=True, name="gru"),
                               name="bi")(e, initial_state=[h, c])
    return k.Model([ids, h, c], [k.layers.GlobalAveragePooling1D(name="gap")(y),
                                 k.layers.GlobalAveragePooling1D(name="gap_bi")(b)])


def test_rnn_with_initial_states_runs_every_step_as_keras():
    backend.clear_session()
    ours = decoder(core)
    keras.utils.clear_session()
    native = decoder(keras)
    ours.set_weights([keras.ops.convert_to_numpy(w) for w in native.weights])
    rng = np.random.default_rng(0)
    xs = [np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 7]]),
          rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=(2, 3)).astype("float32")]
    for a, b in zip(ours.predict(xs, verbose=0), native(xs)):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6)
