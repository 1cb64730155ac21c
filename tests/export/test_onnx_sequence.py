"""ONNX export of the sequence layers: a model of each (with its options) gives the
engine's predictions in onnxruntime within 1e-5 (random weights); Embedding's ids and
masks; layers that cannot be exported are refused by name and opset, leaving no file."""

import os

import numpy as np
import pytest

import core  # noqa: F401  (before numpy-heavy imports, see README)
from core import layers as L
from core.models import Model, Sequential
from tests.helpers.onnx_check import check_same, randomize

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from core.export.onnx import OPSET, UnsupportedLayer, export_onnx  # noqa: E402


def _seq(shape, *layers, **input_kw):
    return Sequential([L.Input(shape, **input_kw), *layers])


def ids(batch=6, steps=5, vocab=7, seed=3, dtype=np.float32, pad=True):
    """Token ids with trailing and inner zeros (padding) when ``pad``."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1 if pad else 0, vocab, (batch, steps))
    if pad:
        x[0, 3:] = 0
        x[1, 1] = 0
        x[2, :2] = 0
    return [x.astype(dtype)]


def masked_steps(batch=6, steps=7, features=3, seed=4):
    """Float sequences whose masked steps (all features 0) sit anywhere: leading,
    inside, trailing; one row fully masked."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (batch, steps, features)).astype(np.float32)
    x[0, 4:] = 0
    x[1, 2] = 0
    x[1, 5] = 0
    x[2, :3] = 0
    x[3] = 0
    x[4, -1] = 0
    return [x]


SEQ = (7, 3)
SEQUENCE_MODELS = {
    "Embedding": lambda: (_seq((5,), L.Embedding(7, 3), L.Dense(2)), ids()),
    "Conv1D": lambda: (_seq(SEQ, L.Conv1D(4, 3, padding="same", activation="relu"),
                            L.Conv1D(3, 2, padding="causal", dilation_rate=2),
                            L.Conv1D(2, 3, padding="same", dilation_rate=2),
                            L.Conv1D(2, 2, strides=2, use_bias=False)), None),
    "MaxPooling1D": lambda: (_seq(SEQ, L.MaxPooling1D(), L.MaxPooling1D(2, strides=1),
                                  L.MaxPooling1D(2, padding="same")), None),
    "AveragePooling1D": lambda: (_seq(SEQ, L.AveragePooling1D(3, strides=2, padding="same"),
                                      L.AveragePooling1D(2, strides=1)), None),
    "GlobalMaxPooling1D": lambda: (_seq(SEQ, L.GlobalMaxPooling1D(keepdims=True),
                                        L.GlobalMaxPooling1D()), None),
    "GlobalAveragePooling1D": lambda: (_seq(SEQ, L.GlobalAveragePooling1D(keepdims=True),
                                            L.GlobalAveragePooling1D()), None),
    "LayerNormalization": lambda: (_seq(SEQ, L.LayerNormalization(),
                                        L.LayerNormalization(axis=1, epsilon=0.1),
                                        L.LayerNormalization(axis=[1, 2], center=False),
                                        L.LayerNormalization(scale=False),
                                        L.LayerNormalization(center=False, scale=False)),
                                   None),
    "Masking": lambda: (_seq(SEQ, L.Masking(), L.GlobalAveragePooling1D()), masked_steps()),
    "RepeatVector": lambda: (_seq((4,), L.RepeatVector(3), L.Dense(2)), None),
    "Permute": lambda: (_seq((3, 4, 2), L.Permute((3, 1, 2)), L.Dense(2)), None),
    "TimeDistributed": lambda: (_seq(SEQ, L.TimeDistributed(L.Dense(4, activation="tanh")),
                                     L.TimeDistributed(L.Dropout(0.5))), None),
    "SimpleRNN": lambda: (_seq(SEQ, L.SimpleRNN(4, return_sequences=True),
                               L.SimpleRNN(3, activation="relu")), None),
    "LSTM": lambda: (_seq(SEQ, L.LSTM(4, return_sequences=True), L.LSTM(3)), None),
    "GRU": lambda: (_seq(SEQ, L.GRU(4, return_sequences=True), L.GRU(3)), None),
}


@pytest.mark.parametrize("layer_type", sorted(SEQUENCE_MODELS))
def test_every_sequence_layer_type_matches_in_onnxruntime(layer_type, tmp_path):
    model, xs = SEQUENCE_MODELS[layer_type]()
    randomize(model, seed=len(layer_type))
    check_same(model, tmp_path / "m.onnx", xs=xs)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_1d_conv_and_pools_on_sequences_of_unknown_length(padding, tmp_path):
    model = _seq((None, 3), L.Conv1D(4, 3, padding=padding, strides=2),
                 L.Conv1D(2, 3, padding="causal"), L.Conv1D(3, 2, padding=padding),
                 L.AveragePooling1D(2, strides=1, padding=padding),
                 L.MaxPooling1D(2, padding=padding),
                 L.AveragePooling1D(3, strides=2, padding=padding), L.GlobalAveragePooling1D())
    randomize(model)
    rng = np.random.default_rng(0)
    for steps in (17, 18, 24, 29):  # odd and even: the extra "same" step goes after
        x = rng.normal(size=(3, steps, 3)).astype(np.float32)
        check_same(model, tmp_path / "m.onnx", xs=[x])


def test_layer_normalization_rms_scaling_and_non_trailing_axes(tmp_path):
    model = _seq((4, 3, 5), L.LayerNormalization(rms_scaling=True),
                 L.LayerNormalization(axis=[1, 3], epsilon=0.05),
                 L.LayerNormalization(axis=2, center=False))
    randomize(model)
    check_same(model, tmp_path / "m.onnx")


def test_embedding_int_ids_mask_zero_and_fractional_float_ids(tmp_path):
    x = L.Input((5,), dtype="int32")
    model = Model(x, L.GlobalAveragePooling1D()(L.Embedding(7, 3, mask_zero=True)(x)))
    randomize(model)
    sess = check_same(model, tmp_path / "int.onnx", xs=ids(dtype=np.int32))
    assert sess.get_inputs()[0].type == "tensor(int32)"
    floats = _seq((5,), L.Embedding(7, 3, mask_zero=True), L.GlobalAveragePooling1D())
    randomize(floats)
    frac = np.array([[2.7, 0.5, 6.9, 0.0, 1.2], [3.0, 0.0, 0.0, 4.4, 0.3]], np.float32)
    check_same(floats, tmp_path / "float.onnx", xs=[frac])  # truncated ids, mask ids != 0


@pytest.mark.parametrize("bad", [7.0, -1.0])
def test_embedding_out_of_range_ids_fail_in_both(bad, tmp_path):
    model = _seq((3,), L.Embedding(7, 2))
    export_onnx(model, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = np.array([[1.0, bad, 2.0]], np.float32)
    with pytest.raises(ValueError, match="out of range"):
        model.predict(x, verbose=0)
    with pytest.raises(Exception, match="out of"):  # never a row read from the end
        sess.run(None, {sess.get_inputs()[0].name: x})


def test_time_distributed_of_conv2d_and_of_a_nested_model(tmp_path):
    inner = Sequential([L.Input((5,)), L.Dense(4, activation="relu"), L.Dense(2)])
    model = _seq((3, 6, 5, 2), L.TimeDistributed(L.Conv2D(3, 3, padding="same")),
                 L.TimeDistributed(L.MaxPooling2D(2)), L.TimeDistributed(L.Flatten()),
                 L.TimeDistributed(L.Dense(5)), L.TimeDistributed(inner))
    randomize(model)
    check_same(model, tmp_path / "m.onnx")


def test_masks_pass_through_dense_and_merge_as_the_engine(tmp_path):
    """Masking -> Dense keeps the mask; Add ORs two masks; Concatenate on the features
    ORs them too; a masked GlobalAveragePooling1D then averages the kept steps."""
    x = L.Input(SEQ)
    a = L.Dense(4)(L.Masking()(x))
    b = L.Dense(4)(L.Masking(mask_value=1.0)(x))
    pooled = [L.GlobalAveragePooling1D()(L.Add()([a, b])),
              L.GlobalAveragePooling1D()(L.Concatenate()([a, b])),
              L.GlobalAveragePooling1D()(L.Concatenate()([a, L.Dense(4)(x)]))]
    model = Model(x, pooled)
    randomize(model)
    xs = masked_steps()
    xs[0][5, 1:3] = 1.0
    check_same(model, tmp_path / "m.onnx", xs=xs)


def test_stateful_rnn_is_refused_by_name_and_leaves_no_file(tmp_path):
    model = Sequential([L.Input((4, 2), batch_size=3), L.LSTM(2, stateful=True, name="mem")])
    with pytest.raises(UnsupportedLayer, match=rf"'mem' \(LSTM\): stateful.*opset {OPSET}"):
        export_onnx(model, tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []
