"""ONNX export: every template and a model of every registered layer type give the
engine's predictions in onnxruntime (within 1e-5); bad exports leave nothing on disk."""

import os

import numpy as np
import pytest

import core  # noqa: F401  (before numpy-heavy imports, see README)
from core import layers as L
from core.graph.build import build_model
from core.graph.templates import TEMPLATES
from core.layers.spec import registered_layers
from core.models import Model, Sequential

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from core.export.onnx import OPSET, UnsupportedLayer, export_onnx  # noqa: E402


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.normal(0.0, 0.5, w.shape)
        if "variance" in w.name:
            value = rng.uniform(0.5, 2.0, w.shape)
        w.assign(value.astype(np.float32))


def _check_same(model, path, batch=5, seed=1):
    export_onnx(model, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert onnx.load(str(path)).opset_import[0].version == OPSET
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds = {i.name: rng.normal(0, 1, (batch, *i.shape[1:])).astype(np.float32)
             for i in sess.get_inputs()}
    xs = [feeds[i.name] for i in sess.get_inputs()]
    ref = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    refs = ref if isinstance(ref, list) else [ref]
    outs = sess.run(None, feeds)
    assert len(outs) == len(refs)
    for out, r in zip(outs, refs):
        np.testing.assert_allclose(out, r, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_matches_in_onnxruntime(name, tmp_path):
    model = build_model(TEMPLATES[name]())
    _randomize(model)
    _check_same(model, tmp_path / f"{name}.onnx")


def _seq(shape, *layers):
    return Sequential([L.Input(shape), *layers])


def _merge(cls, **kw):
    a, b = L.Input((6,)), L.Input((6,))
    return Model([a, b], cls(**kw)([L.Dense(6)(a), L.Dense(6)(b)]))


IMG = (9, 8, 3)
LAYER_MODELS = {
    "Dense": lambda: _seq((7,), L.Dense(5, activation="tanh"), L.Dense(3, use_bias=False)),
    "Conv2D": lambda: _seq(IMG, L.Conv2D(4, 3, padding="same", activation="relu"),
                           L.Conv2D(2, (2, 3), strides=(2, 1)),
                           L.Conv2D(3, 3, dilation_rate=2, padding="same")),
    "MaxPooling2D": lambda: _seq(IMG, L.MaxPooling2D(2), L.MaxPooling2D(2, padding="same")),
    "AveragePooling2D": lambda: _seq(IMG, L.AveragePooling2D((3, 2), strides=2,
                                                             padding="same")),
    "GlobalAveragePooling2D": lambda: _seq(IMG, L.GlobalAveragePooling2D()),
    "GlobalMaxPooling2D": lambda: _seq(IMG, L.GlobalMaxPooling2D(keepdims=True)),
    "BatchNormalization": lambda: _seq(IMG, L.BatchNormalization(),
                                       L.BatchNormalization(axis=1)),
    "Activation": lambda: _seq((6,), L.Activation("gelu"), L.Activation("mish"),
                               L.Activation("hard_sigmoid"), L.Activation("silu")),
    "ReLU": lambda: _seq((6,), L.ReLU(max_value=0.8, negative_slope=0.1, threshold=0.2)),
    "LeakyReLU": lambda: _seq((6,), L.LeakyReLU(0.25)),
    "ELU": lambda: _seq((6,), L.ELU(0.7)),
    "Softmax": lambda: _seq((4, 5), L.Softmax(axis=1)),
    "Dropout": lambda: _seq((6,), L.Dropout(0.5), L.Dense(2)),
    "Flatten": lambda: _seq(IMG, L.Flatten(), L.Dense(3)),
    "Reshape": lambda: _seq((12,), L.Reshape((3, -1)), L.Dense(2)),
    "Add": lambda: _merge(L.Add), "Subtract": lambda: _merge(L.Subtract),
    "Multiply": lambda: _merge(L.Multiply), "Average": lambda: _merge(L.Average),
    "Maximum": lambda: _merge(L.Maximum), "Minimum": lambda: _merge(L.Minimum),
    "Concatenate": lambda: _merge(L.Concatenate),
}


# Sequence layers (merged after the exporter) have no emitter yet: each must be refused
# with the error that names the layer, its class and the opset, never exported wrongly.
NO_EMITTER_YET = {
    "Embedding": lambda: _seq((5,), L.Embedding(7, 3)),
    "Conv1D": lambda: _seq((6, 2), L.Conv1D(2, 3)),
    "MaxPooling1D": lambda: _seq((6, 2), L.MaxPooling1D()),
    "AveragePooling1D": lambda: _seq((6, 2), L.AveragePooling1D()),
    "GlobalMaxPooling1D": lambda: _seq((6, 2), L.GlobalMaxPooling1D()),
    "GlobalAveragePooling1D": lambda: _seq((6, 2), L.GlobalAveragePooling1D()),
    "LayerNormalization": lambda: _seq((6, 2), L.LayerNormalization()),
    "Masking": lambda: _seq((6, 2), L.Masking()),
    "RepeatVector": lambda: _seq((4,), L.RepeatVector(3)),
    "Permute": lambda: _seq((6, 2), L.Permute((2, 1))),
    "TimeDistributed": lambda: _seq((6, 2), L.TimeDistributed(L.Dense(3))),
    "SimpleRNN": lambda: _seq((6, 2), L.SimpleRNN(3)),
    "LSTM": lambda: _seq((6, 2), L.LSTM(3)),
    "GRU": lambda: _seq((6, 2), L.GRU(3)),
    "EinsumDense": lambda: _seq((6, 2), L.EinsumDense("abc,cd->abd", (6, 3), bias_axes="d")),
    "MultiHeadAttention": lambda: _attention(),
}


def _attention():
    x = L.Input((6, 4))
    return Model(x, L.MultiHeadAttention(2, 2)(x, x))


def test_every_registered_layer_type_has_a_model_here():
    missing = (set(registered_layers()) - set(LAYER_MODELS) - set(NO_EMITTER_YET)
               - {"InputLayer"})
    assert not missing, f"add an ONNX test model for {sorted(missing)}"


@pytest.mark.parametrize("layer_type", sorted(NO_EMITTER_YET))
def test_layers_without_an_emitter_are_refused_by_name(layer_type, tmp_path):
    model = NO_EMITTER_YET[layer_type]()
    path = tmp_path / "m.onnx"
    with pytest.raises(UnsupportedLayer, match=rf"\({layer_type}\).*opset {OPSET}"):
        export_onnx(model, path)
    assert not path.exists() and not os.listdir(tmp_path)


@pytest.mark.parametrize("layer_type", sorted(LAYER_MODELS))
def test_every_layer_type_matches_in_onnxruntime(layer_type, tmp_path):
    model = LAYER_MODELS[layer_type]()
    _randomize(model, seed=len(layer_type))
    _check_same(model, tmp_path / "m.onnx")


ACTS = ["linear", "relu", "relu6", "leaky_relu", "softmax", "log_softmax", "elu", "selu",
        "gelu", "sigmoid", "tanh", "exponential", "hard_sigmoid", "hard_silu", "softplus",
        "softsign", "silu", "mish", "celu", "hard_tanh", "hard_shrink", "soft_shrink",
        "tanh_shrink", "log_sigmoid", "squareplus", "sparse_plus", "sparse_sigmoid"]


def test_the_activation_list_is_complete():
    from core import activations
    assert set(activations.available()) <= set(ACTS) | {"swish", "hard_swish"}


@pytest.mark.parametrize("act", ACTS)
def test_every_string_activation_matches(act, tmp_path):
    _check_same(_seq((8,), L.Dense(8, activation=act)), tmp_path / f"{act}.onnx", batch=64)


def test_log_softmax_activation_layer_matches(tmp_path):
    _check_same(_seq((8,), L.Dense(8), L.Activation("log_softmax")), tmp_path / "ls.onnx")


def test_nested_model_is_inlined(tmp_path):
    inner = Sequential([L.Input((6,)), L.Dense(4, activation="relu")])
    x = L.Input((6,))
    model = Model(x, L.Dense(2)(inner(x)))
    _randomize(model)
    _check_same(model, tmp_path / "nested.onnx")


def test_model_export_entry_point_and_unknown_format(tmp_path):
    model = _seq((3,), L.Dense(2))
    model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert (tmp_path / "m.onnx").stat().st_size > 0
    with pytest.raises(ValueError, match="tf_saved_model"):
        model.export(str(tmp_path / "m"))


def test_unrepresentable_layer_names_layer_and_opset_and_leaves_no_file(tmp_path):
    model = _seq((4, 5), L.Softmax(axis=(1, 2), name="two_axes"))
    target = tmp_path / "bad.onnx"
    with pytest.raises(UnsupportedLayer, match=f"two_axes.*opset {OPSET}"):
        export_onnx(model, target)
    assert os.listdir(tmp_path) == []
