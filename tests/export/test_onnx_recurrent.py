"""ONNX export of SimpleRNN, LSTM, GRU, RNN(cells) and Bidirectional, with and without
masks, and of the committed real-Keras fixtures: onnxruntime gives the engine's (and
Keras') predictions within 1e-5. Unmasked layers use ONNX's RNN/LSTM/GRU ops; a masked
layer (masked steps anywhere, even a fully masked row) runs as a Scan."""

from pathlib import Path

import numpy as np
import pytest

import core  # noqa: F401  (before numpy-heavy imports, see README)
from core import layers as L
from core.models import Model, Sequential, load_model
from tests.export.test_onnx_sequence import ids, masked_steps
from tests.helpers.onnx_check import check_same, randomize

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"
SEQ = (7, 3)
NATIVE = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}


def _ops(path) -> set:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def _build(masked, *layers, shape=SEQ):
    head = [L.Masking()] if masked else []
    return Sequential([L.Input(shape), *head, *layers])


OPTIONS = {
    "default": {},
    "sequences": {"return_sequences": True},
    "backwards": {"go_backwards": True},
    "backwards_sequences": {"go_backwards": True, "return_sequences": True},
    "relu_no_bias": {"activation": "relu", "use_bias": False},
    "linear": {"activation": "linear"},
}
GATED = {  # LSTM and GRU only
    "hard_gates": {"recurrent_activation": "tanh", "activation": "sigmoid"},
    "linear_gates": {"recurrent_activation": "linear", "activation": "linear"},
}


def _cases():
    for kind in ("SimpleRNN", "LSTM", "GRU"):
        opts = dict(OPTIONS, **(GATED if kind != "SimpleRNN" else {}))
        if kind == "GRU":
            opts["reset_before"] = {"reset_after": False, "return_sequences": True}
            opts["reset_before_no_bias"] = {"reset_after": False, "use_bias": False}
        for name, kw in opts.items():
            for masked in (False, True):
                tag = "mask" if masked else "plain"
                yield pytest.param(kind, kw, masked, id=f"{kind}-{name}-{tag}")


@pytest.mark.parametrize("kind,kw,masked", list(_cases()))
def test_recurrent_layer_options_match(kind, kw, masked, tmp_path):
    cls = getattr(L, kind)
    model = _build(masked, cls(4, **kw), L.Dense(2))
    # small weights where nothing squashes the states, so 7 steps stay finite
    linear = "linear" in (kw.get("recurrent_activation"), kw.get("activation"))
    randomize(model, seed=len(kind), scale=0.2 if linear else 0.5)
    path = tmp_path / "m.onnx"
    check_same(model, path, xs=masked_steps())
    ops = _ops(path)
    assert ("Scan" in ops) == masked
    assert (NATIVE[kind] in ops) != masked


@pytest.mark.parametrize("masked", [False, True])
def test_stacked_cells_and_stacked_layers(masked, tmp_path):
    cells = [L.SimpleRNNCell(4), L.GRUCell(3), L.LSTMCell(3)]
    model = _build(masked, L.LSTM(5, return_sequences=True), L.RNN(cells, return_sequences=True),
                   L.GRU(3, go_backwards=True, return_sequences=True), L.SimpleRNN(2))
    randomize(model)
    check_same(model, tmp_path / "m.onnx", xs=masked_steps())


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("masked", [False, True])
def test_bidirectional_merge_modes(mode, masked, tmp_path):
    x = L.Input(SEQ)
    h = L.Masking()(x) if masked else x
    seq = L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=mode)(h)
    last = L.Bidirectional(L.GRU(2), merge_mode=mode)(seq if mode is not None else h)
    outs = (seq if isinstance(seq, list) else [seq]) + (last if isinstance(last, list)
                                                        else [last])
    model = Model(x, outs)
    randomize(model)
    check_same(model, tmp_path / "m.onnx", xs=masked_steps())


@pytest.mark.parametrize("masked", [False, True])
def test_return_state_and_initial_states_as_inputs(masked, tmp_path):
    x, h0, c0 = L.Input(SEQ), L.Input((3,)), L.Input((3,))
    seq = L.Masking()(x) if masked else x
    y, h, c = L.LSTM(3, return_sequences=True, return_state=True)(seq, initial_state=[h0, c0])
    y2, g = L.GRU(3, return_state=True, go_backwards=True)(y, initial_state=[h])
    b, *states = L.Bidirectional(L.SimpleRNN(2, return_state=True))(seq)
    model = Model([x, h0, c0], [y2, g, h, c, b, *states])
    randomize(model)
    rng = np.random.default_rng(5)
    xs = masked_steps() + [rng.normal(size=(6, 3)).astype(np.float32) for _ in range(2)]
    check_same(model, tmp_path / "m.onnx", xs=xs)


def test_embedding_mask_zero_feeds_a_masked_rnn_through_dense_and_dropout(tmp_path):
    model = Sequential([L.Input((5,)), L.Embedding(7, 4, mask_zero=True), L.Dense(4),
                        L.Dropout(0.3), L.GRU(3, return_sequences=True),
                        L.TimeDistributed(L.Dense(2)), L.LSTM(2)])
    randomize(model)
    check_same(model, tmp_path / "m.onnx", xs=ids())


def test_zero_output_for_mask(tmp_path):
    model = _build(True, L.SimpleRNN(3, return_sequences=True, zero_output_for_mask=True),
                   L.LSTM(2, zero_output_for_mask=True))
    randomize(model)
    check_same(model, tmp_path / "m.onnx", xs=masked_steps())


def test_mask_reaches_a_recurrent_layer_inside_a_nested_model(tmp_path):
    inner = Sequential([L.Input(SEQ), L.LSTM(3, return_sequences=True), L.SimpleRNN(2)])
    x = L.Input(SEQ)
    model = Model(x, inner(L.Masking()(x)))
    randomize(model)
    check_same(model, tmp_path / "m.onnx", xs=masked_steps())


@pytest.mark.parametrize("name", ["seq_sequence", "seq_rnn"])
def test_committed_keras_fixtures_match_engine_and_keras(name, tmp_path):
    model = load_model(FIXTURES / f"{name}.keras")
    with np.load(FIXTURES / f"{name}.npz") as d:
        x, keras_pred = d["x_0"], d["pred_0"]
    sess = check_same(model, tmp_path / "m.onnx", xs=[x])
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(out, keras_pred, atol=1e-5, rtol=1e-5)
    randomize(model)
    check_same(model, tmp_path / "m.onnx", xs=[x])


@pytest.mark.parametrize("masked", [False, True])
def test_sequences_of_unknown_length(masked, tmp_path):
    model = _build(masked, L.LSTM(4, return_sequences=True),
                   L.Bidirectional(L.GRU(3, return_sequences=True)), L.SimpleRNN(2),
                   shape=(None, 3))
    randomize(model)
    for steps in (2, 7):
        xs = masked_steps(steps=steps) if steps == 7 else [np.ones((3, 2, 3), np.float32)]
        check_same(model, tmp_path / "m.onnx", xs=xs)


def test_time_distributed_of_a_recurrent_layer(tmp_path):
    model = Sequential([L.Input((3, 5, 2)), L.TimeDistributed(L.GRU(3)), L.LSTM(2)])
    randomize(model)
    check_same(model, tmp_path / "m.onnx")
