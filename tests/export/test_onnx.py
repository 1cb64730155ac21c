"""ONNX export: every template and a model of every registered layer type give the
engine's predictions in onnxruntime (within 1e-5); bad exports leave nothing on disk."""

import os

import numpy as np
import pytest

import core  # noqa: F401  (before numpy-heavy imports, see README)
from core import layers as L
from core.graph.build import build_model
from core.graph.templates import ALL_TEMPLATES, SEQUENCE_TEMPLATES, VOCAB
from core.layers.spec import get_layer_class, nested_layers, registered_layers
from core.models import Model, Sequential
from tests.helpers.onnx_check import check_same, randomize

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from core.export.onnx import (  # noqa: E402
    EMITTERS,
    OPSET,
    UnsupportedLayer,
    emitter_for_class,
    export_onnx,
)
from tests.export.test_onnx_sequence import SEQUENCE_MODELS  # noqa: E402


def _template_inputs(model, batch=6, seed=2):
    """Token ids with padding (0) at the end, inside and at the start of rows, for the
    templates that start with an Embedding; None (normal floats) for the others."""
    if type(model.layers[1]).__name__ != "Embedding":
        return None
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, (batch, model.inputs[0].shape[1])).astype(np.float32)
    x[0, 9:] = 0
    x[1, 3:7] = 0
    x[2, :5] = 0
    return [x]


@pytest.mark.parametrize("name", sorted(ALL_TEMPLATES))
def test_every_template_matches_in_onnxruntime(name, tmp_path):
    model = build_model(ALL_TEMPLATES[name]())
    randomize(model, scale=0.5 if name not in SEQUENCE_TEMPLATES else 0.3)
    check_same(model, tmp_path / f"{name}.onnx", xs=_template_inputs(model))


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
    "Conv2DTranspose": lambda: _seq(IMG, L.Conv2DTranspose(3, 3, strides=2, padding="same"),
                                    L.Conv2DTranspose(2, 4, strides=3, output_padding=(2, 1),
                                                      padding="same", activation="relu"),
                                    L.Conv2DTranspose(2, 3, strides=2, output_padding=1),
                                    L.Conv2DTranspose(2, 3, dilation_rate=2, use_bias=False)),
    "UpSampling2D": lambda: _seq(IMG, L.UpSampling2D((2, 3)),
                                 L.UpSampling2D((3, 2), interpolation="bilinear")),
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
    "EinsumDense": lambda: _seq((6, 2), L.EinsumDense("ab...,bc->ac...", (5,), bias_axes="c"),
                                L.EinsumDense("abc,cd->abd", (5, 3), bias_axes="d",
                                              activation="tanh"),
                                L.EinsumDense("...b,bc->...c", 4),
                                L.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de")),
    "MultiHeadAttention": lambda: _attention(),
}


# Registered layers that cannot be exported yet, with the reason and a model holding
# one: each is refused by name with UnsupportedLayer (layer, class, opset), no file left.
NO_ONNX: dict = {}


def test_every_registered_layer_has_an_emitter_or_a_reason():
    palette = {n: c for n, c in registered_layers().items() if n != "InputLayer"}
    missing = {n for n, c in palette.items() if emitter_for_class(c) is None} - set(NO_ONNX)
    assert not missing, f"no ONNX emitter and no reason given for {sorted(missing)}"
    assert not set(NO_ONNX) & {n for n, c in palette.items() if emitter_for_class(c)}
    # the loaders' other layers (cells run inside their RNN, not as graph nodes)
    cells = {"SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells"}
    # Lambda runs an arbitrary Python function; TextVectorization maps strings before
    # the model (it cannot sit in a numeric model here): neither has an ONNX form.
    no_graph_form = {"Lambda", "TextVectorization"}
    assert set(nested_layers()) - cells - no_graph_form <= set(EMITTERS)


@pytest.mark.parametrize("layer_type", sorted(NO_ONNX))
def test_layers_without_an_emitter_are_refused_by_name(layer_type, tmp_path):
    model = NO_ONNX[layer_type][1]()
    with pytest.raises(UnsupportedLayer, match=f"{layer_type}.*opset {OPSET}"):
        export_onnx(model, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


def _attention():
    """Self-attention, cross-attention with its own key, value_dim, output_shape, the
    gate and a causal mask, and one returning its scores."""
    x, kv = L.Input((6, 4)), L.Input((5, 3))
    a = L.MultiHeadAttention(2, 2)(x, x)
    b = L.MultiHeadAttention(2, 3, value_dim=2, output_shape=(4,), use_gate=True)(
        a, kv, key=L.Dense(2)(kv))
    c, scores = L.MultiHeadAttention(3, 2, use_bias=False)(
        b, b, use_causal_mask=True, return_attention_scores=True)
    return Model([x, kv], [c, scores])


def _case_models() -> dict:
    """For a registered layer with no hand-written model above: one model per case of
    the shared layer test (tests/core/test_layers_all.py), ``Input -> layer``, so a new
    layer's one test case is also its ONNX check."""
    from tests.core.test_layers_all import CASES

    written = set(LAYER_MODELS) | set(SEQUENCE_MODELS) | set(NO_ONNX)
    out = {}
    for name, kwargs, in_shape, _, opts in CASES:
        if name in written or isinstance(in_shape, list) or "input_range" in opts:
            continue
        key = f"{name}-{len([k for k in out if k.startswith(name + '-')])}"
        out[key] = (lambda n=name, kw=kwargs, s=in_shape:
                    _seq(s[1:], get_layer_class(n)(**kw)))
    return out


CASE_MODELS = _case_models()


def test_every_registered_layer_type_has_a_model_here():
    from_cases = {k.rsplit("-", 1)[0] for k in CASE_MODELS}
    missing = (set(registered_layers()) - set(LAYER_MODELS) - set(SEQUENCE_MODELS)
               - set(NO_ONNX) - from_cases - {"InputLayer"})
    assert not missing, f"add an ONNX test model for {sorted(missing)}"


@pytest.mark.parametrize("key", sorted(CASE_MODELS))
def test_every_layer_case_matches_in_onnxruntime(key, tmp_path):
    model = CASE_MODELS[key]()
    randomize(model, seed=len(key))
    check_same(model, tmp_path / "m.onnx")


@pytest.mark.parametrize("layer_type", sorted(LAYER_MODELS))
def test_every_layer_type_matches_in_onnxruntime(layer_type, tmp_path):
    model = LAYER_MODELS[layer_type]()
    randomize(model, seed=len(layer_type))
    check_same(model, tmp_path / "m.onnx")


ACTS = ["linear", "relu", "relu6", "leaky_relu", "softmax", "log_softmax", "elu", "selu",
        "gelu", "sigmoid", "tanh", "exponential", "hard_sigmoid", "hard_silu", "softplus",
        "softsign", "silu", "mish", "celu", "hard_tanh", "hard_shrink", "soft_shrink",
        "tanh_shrink", "log_sigmoid", "squareplus", "sparse_plus", "sparse_sigmoid"]


def test_the_activation_list_is_complete():
    from core import activations
    assert set(activations.available()) <= set(ACTS) | {"swish", "hard_swish"}


@pytest.mark.parametrize("act", ACTS)
def test_every_string_activation_matches(act, tmp_path):
    check_same(_seq((8,), L.Dense(8, activation=act)), tmp_path / f"{act}.onnx", batch=64)


def test_log_softmax_activation_layer_matches(tmp_path):
    check_same(_seq((8,), L.Dense(8), L.Activation("log_softmax")), tmp_path / "ls.onnx")


def test_nested_model_is_inlined(tmp_path):
    inner = Sequential([L.Input((6,)), L.Dense(4, activation="relu")])
    x = L.Input((6,))
    model = Model(x, L.Dense(2)(inner(x)))
    randomize(model)
    check_same(model, tmp_path / "nested.onnx")


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


def test_custom_activation_of_a_projection_is_refused_by_name(tmp_path):
    model = _seq((6, 2), L.EinsumDense("abc,cd->abd", (6, 3), activation=lambda t: t * 2,
                                       name="proj"))
    with pytest.raises(UnsupportedLayer, match=f"'proj' \\(EinsumDense\\).*custom "
                                               f"activation.*opset {OPSET}"):
        export_onnx(model, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []
