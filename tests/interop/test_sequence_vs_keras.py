"""The sequence layers against real Keras 3 (torch backend), in process.

For each layer: build the same layer in Keras, give it our weights, and compare
outputs (float32, 1e-5), weight names and order, and config keys. Then a model with
these layers saved by us is loaded by Keras and predicts the same, masks included.
Skipped when Keras is not importable.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from core import backend  # noqa: E402
from core.layers import Dense, Input, get_layer_class  # noqa: E402
from core.models import Sequential  # noqa: E402

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch",
                                reason="compares with Keras on the torch backend")

# (class name, kwargs, input shape, input kind)
CASES = [
    ("Embedding", {"input_dim": 7, "output_dim": 3}, (2, 5), "ids"),
    ("Conv1D", {"filters": 3, "kernel_size": 3, "activation": "relu"}, (2, 9, 4), "x"),
    ("Conv1D", {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"}, (2, 9, 3),
     "x"),
    ("Conv1D", {"filters": 2, "kernel_size": 3, "padding": "same"}, (2, 8, 3), "x"),
    ("Conv1D", {"filters": 2, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
     (2, 8, 3), "x"),
    ("MaxPooling1D", {}, (2, 7, 3), "x"),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 2), "x"),
    ("AveragePooling1D", {"pool_size": 2}, (2, 7, 3), "x"),
    # 'same' with an even split only: for an odd split Keras' torch backend pads by
    # replicating the edge step and averages it in, where TF (and we, as our
    # AveragePooling2D) average the valid steps only.
    ("AveragePooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 7, 2), "x"),
    ("GlobalMaxPooling1D", {"keepdims": True}, (2, 5, 3), "x"),
    ("GlobalAveragePooling1D", {}, (2, 5, 3), "x"),
    ("LayerNormalization", {}, (2, 4, 5), "x"),
    ("LayerNormalization", {"axis": [1, 2], "epsilon": 0.1}, (2, 3, 4), "x"),
    ("LayerNormalization", {"rms_scaling": True}, (2, 3, 4), "x"),
    ("LayerNormalization", {"center": False, "scale": False}, (2, 3, 4), "x"),
    ("Masking", {"mask_value": 0.5}, (2, 4, 3), "masked"),
    ("RepeatVector", {"n": 3}, (2, 4), "x"),
    ("Permute", {"dims": (2, 1)}, (2, 3, 4), "x"),
]


@pytest.fixture(autouse=True)
def _fresh():
    backend.clear_session()


def _input(shape, kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "ids":
        return rng.integers(0, 7, shape)
    x = rng.normal(size=shape).astype("float32")
    if kind == "masked":
        x[:, 1] = 0.5
    return x


def _keras_out(layer, x):
    out = layer(keras.ops.convert_to_tensor(x))
    return keras.ops.convert_to_numpy(out)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_layer_matches_keras(case):
    name, kwargs, shape, kind = case
    x = _input(shape, kind)
    ours = get_layer_class(name)(**kwargs)
    y = ours(x)
    rng = np.random.default_rng(5)
    for w in ours.weights:  # non-trivial weights (ones/zeros would hide layout bugs)
        w.assign(rng.normal(size=w.shape).astype("float32"))
    y = ours(x)
    theirs = getattr(keras.layers, name)(**kwargs)
    theirs.build(shape)
    assert [w.name for w in theirs.weights] == [w.name for w in ours.weights]
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(y, _keras_out(theirs, x), rtol=1e-5, atol=1e-5)
    assert set(ours.get_config()) == set(theirs.get_config()), (
        set(ours.get_config()) ^ set(theirs.get_config()))


def test_timedistributed_matches_keras_and_nests_the_config():
    x = _input((2, 3, 4, 4, 1), "x")
    ours = get_layer_class("TimeDistributed")(
        get_layer_class("Conv2D")(2, 2, activation="tanh", name="c"))
    y = ours(x)
    theirs = keras.layers.TimeDistributed(keras.layers.Conv2D(2, 2, activation="tanh",
                                                              name="c"))
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(y, _keras_out(theirs, x), rtol=1e-5, atol=1e-5)
    ck, co = theirs.get_config(), ours.get_config()
    assert set(ck) == set(co)
    assert set(ck["layer"]["config"]) == set(co["layer"]["config"])


def test_keras_loads_our_sequence_model_and_predicts_the_same(tmp_path):
    from core.layers.sequence import (
        Conv1D,
        Embedding,
        GlobalAveragePooling1D,
        LayerNormalization,
        MaxPooling1D,
        TimeDistributed,
    )

    model = Sequential([
        Input((8,)), Embedding(9, 4, mask_zero=True), Conv1D(3, 2, padding="causal"),
        MaxPooling1D(1), LayerNormalization(), TimeDistributed(Dense(2)),
        GlobalAveragePooling1D(),
    ])
    rng = np.random.default_rng(2)
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    ids = np.array([[1, 2, 3, 0, 0, 0, 0, 0], [4, 5, 6, 7, 8, 1, 2, 3]])
    model.save(tmp_path / "seq.keras")
    theirs = keras.saving.load_model(tmp_path / "seq.keras")
    np.testing.assert_allclose(model.predict(ids, verbose=0),
                               keras.ops.convert_to_numpy(theirs(ids)), rtol=1e-5, atol=1e-6)


def test_masked_global_average_matches_keras():
    ids = np.array([[3, 1, 0, 0], [2, 2, 2, 0], [1, 0, 0, 0]])
    emb = get_layer_class("Embedding")(5, 3, mask_zero=True)
    model = Sequential([Input((4,)), emb, Dense(2), get_layer_class("GlobalAveragePooling1D")()])
    k = keras.Sequential([keras.Input((4,)), keras.layers.Embedding(5, 3, mask_zero=True),
                          keras.layers.Dense(2), keras.layers.GlobalAveragePooling1D()])
    k.set_weights(model.get_weights())
    np.testing.assert_allclose(model(ids), keras.ops.convert_to_numpy(k(ids)), rtol=1e-5,
                               atol=1e-6)


def _masked_functional_keras():
    L = keras.layers
    series, ids = keras.Input((5, 3)), keras.Input((4,))
    a = L.GlobalAveragePooling1D()(L.Dense(2)(L.Masking()(series)))
    e = L.Embedding(5, 2, mask_zero=True)(ids)
    b = L.GlobalAveragePooling1D()(L.TimeDistributed(L.Dense(2))(e))
    return keras.Model([series, ids], [a, b])


def _masked_inputs():
    x = np.random.default_rng(4).normal(size=(3, 5, 3)).astype("float32")
    x[:, 3:] = 0.0
    x[1, 1] = 0.0
    return [x, np.array([[1, 2, 0, 0], [3, 0, 0, 0], [4, 4, 4, 1]])]


def test_keras_functional_file_with_mask_nodes_loads_and_predicts_the_same(tmp_path):
    """Keras writes NotEqual/Any op nodes feeding ``mask=`` kwargs; we remake the masks."""
    from core.models import load_model

    theirs = _masked_functional_keras()
    theirs.save(tmp_path / "k.keras")
    xs = _masked_inputs()
    want = [keras.ops.convert_to_numpy(t) for t in theirs(xs)]
    ours = load_model(tmp_path / "k.keras")
    got = ours.predict(xs, verbose=0)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    # and back: Keras loads our re-saved file (no op nodes; it recomputes the masks)
    ours.save(tmp_path / "ours.keras")
    again = keras.saving.load_model(tmp_path / "ours.keras")
    for g, w in zip(again(xs), want):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(g), w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("merge", ["Add", "Multiply", "Maximum", "Concatenate"])
def test_masks_through_merge_layers_match_keras(merge):
    """Keras' merge masks: OR when every input has one; Concatenate widens and joins."""
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0], [4, 4, 4, 1]])
    L = keras.layers
    ki = keras.Input((4,))
    k1, k2 = L.Embedding(5, 3, mask_zero=True), L.Embedding(5, 3, mask_zero=True)
    second = k2(ki) if merge != "Concatenate" else L.Dense(3)(keras.layers.Reshape((4, 1))(ki))
    kout = L.GlobalAveragePooling1D()(getattr(L, merge)()([k1(ki), second]))
    theirs = keras.Model(ki, kout)
    from core.layers import Reshape

    oi = Input((4,))
    o1 = get_layer_class("Embedding")(5, 3, mask_zero=True)
    o2 = get_layer_class("Embedding")(5, 3, mask_zero=True)
    osecond = o2(oi) if merge != "Concatenate" else Dense(3)(Reshape((4, 1))(oi))
    oout = get_layer_class("GlobalAveragePooling1D")()(get_layer_class(merge)()([o1(oi),
                                                                                osecond]))
    from core.models import Model

    ours = Model(oi, oout)
    rng = np.random.default_rng(9)
    for w in ours.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(ids), keras.ops.convert_to_numpy(theirs(ids)),
                               rtol=1e-5, atol=1e-6)


def test_a_keras_op_node_used_as_data_is_refused(tmp_path):
    from core.models import load_model
    from core.saving import ModelFileError

    x = keras.Input((4,))
    flags = keras.ops.cast(keras.ops.not_equal(x, 0), "float32")
    keras.Model(x, keras.layers.Dense(2)(flags)).save(tmp_path / "ops.keras")
    with pytest.raises((ValueError, ModelFileError), match="uses the output of the Keras op"):
        load_model(tmp_path / "ops.keras")
