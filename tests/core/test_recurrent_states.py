"""Recurrent states and masks as Keras 3 has them: the mask of ``Embedding(mask_zero)``
reaches the RNN by itself, ``initial_state=`` works in functional models (encoder-
decoder) and saves in Keras' form, and ``stateful=True`` carries states across calls.
Engine facts are checked on their own; the rest against real Keras 3 (torch backend,
in a subprocess; skipped when Keras is not installed): Keras loads our files and
predicts and trains one SGD step as we do, runs our stateful layer as we do, and its
own encoder-decoder file loads here with its predictions."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import backend
from core.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input
from core.models import Model, Sequential, load_model
from core.optimizers import SGD
from core.saving.serialization import serialize_layer


def masked_model():
    return Sequential([Input((6,), dtype="int32"), Embedding(8, 3, mask_zero=True),
                       LSTM(4, return_sequences=True), GRU(3), Dense(2)])


def seq2seq_model():
    enc_in, dec_in = Input((None,), name="enc"), Input((None,), name="dec")
    _, h, c = LSTM(4, return_state=True, name="encoder")(Embedding(7, 3)(enc_in))
    dec = LSTM(4, name="decoder")(Embedding(9, 3)(dec_in), initial_state=[h, c])
    return Model([enc_in, dec_in], Dense(2)(dec))


def test_the_embedding_mask_reaches_the_lstm():
    model = Sequential([Input((None,), dtype="int32"), Embedding(10, 4, mask_zero=True),
                        LSTM(3)])
    padded, short = np.array([[1, 2, 3, 0, 0]]), np.array([[1, 2, 3]])
    np.testing.assert_allclose(model.predict(padded, verbose=0),
                               model.predict(short, verbose=0), rtol=1e-5, atol=1e-6)


def test_the_embedding_mask_reaches_both_directions_of_bidirectional():
    model = Sequential([Input((None,), dtype="int32"), Embedding(10, 4, mask_zero=True),
                        Bidirectional(GRU(3))])
    padded, short = np.array([[5, 2, 7, 0, 0]]), np.array([[5, 2, 7]])
    np.testing.assert_allclose(model.predict(padded, verbose=0),
                               model.predict(short, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_return_sequences_rnn_passes_the_mask_on():
    ids = np.array([[4, 2, 0, 0], [1, 0, 0, 0]])
    model = masked_model()
    full = model.predict(np.pad(ids, ((0, 0), (0, 2))), verbose=0)
    again = model.predict(np.pad(ids[:, :2], ((0, 0), (0, 4))), verbose=0)
    np.testing.assert_allclose(full, again, rtol=1e-5, atol=1e-6)


def test_stateful_calls_continue_one_long_sequence_and_reset():
    rng = np.random.default_rng(1)
    parts = [rng.normal(size=(2, 3, 5)).astype("float32") for _ in range(3)]
    layer = LSTM(4, stateful=True)
    outs = [layer(p) for p in parts]
    whole, long = LSTM(4), np.concatenate(parts, axis=1)
    whole(long)
    whole.set_weights(layer.get_weights())
    np.testing.assert_allclose(outs[-1], whole(long), rtol=1e-5)
    assert len(layer.states) == 2 and layer.states[0].shape == (2, 4)
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    layer.reset_states()
    np.testing.assert_allclose(layer(parts[0]), outs[0], rtol=1e-5, atol=1e-6)


def test_stateful_needs_a_fixed_batch_size():
    layer = LSTM(4, stateful=True)
    layer(np.zeros((2, 3, 5), "float32"))
    with pytest.raises(ValueError, match="Expected batch size: 2, received: 3"):
        layer(np.zeros((3, 3, 5), "float32"))
    with pytest.raises(ValueError, match="batch size must be static"):
        Sequential([Input((3, 5)), LSTM(4, stateful=True)])
    model = Sequential([Input((3, 5), batch_size=2), LSTM(4, stateful=True)])
    assert model.predict(np.zeros((2, 3, 5), "float32"), verbose=0).shape == (2, 4)


def test_symbolic_initial_state_of_the_wrong_size_names_the_layer_and_shapes():
    x, h = Input((None, 3)), Input((5,))
    with pytest.raises(ValueError, match=r"'dec' expects 2 initial state\(s\) of shapes "
                                         r"\[\(None, 4\), \(None, 4\)\], but received "
                                         r"\[\(None, 5\)\]"):
        LSTM(4, name="dec")(x, initial_state=[h])


def test_seq2seq_file_keeps_initial_state_as_keras_writes_it(tmp_path):
    model = seq2seq_model()
    model.save(tmp_path / "s.keras")
    import zipfile
    config = json.loads(zipfile.ZipFile(tmp_path / "s.keras").read("config.json"))
    decoder = next(ly for ly in config["config"]["layers"] if ly["name"] == "decoder")
    node = decoder["inbound_nodes"][0]
    assert len(node["args"]) == 1 and node["args"][0]["class_name"] == "__keras_tensor__"
    assert [t["config"]["keras_history"] for t in node["kwargs"]["initial_state"]] == \
        [["encoder", 0, 1], ["encoder", 0, 2]]
    rng = np.random.default_rng(2)
    xs = [rng.integers(0, 7, (3, 5)), rng.integers(0, 9, (3, 4))]
    np.testing.assert_allclose(load_model(tmp_path / "s.keras").predict(xs, verbose=0),
                               model.predict(xs, verbose=0), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ real Keras
@pytest.fixture(scope="module")
def keras_run(tmp_path_factory):
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("real Keras 3 with the torch backend is not installed")
    backend.clear_session()
    folder = tmp_path_factory.mktemp("recurrent_states")
    rng = np.random.default_rng(3)
    ours = {}
    ids = rng.integers(1, 8, (4, 6))
    ids[0, 3:], ids[1, 1:], ids[2, 5:] = 0, 0, 0
    cases = {"masked": (masked_model(), [ids]),
             "seq2seq": (seq2seq_model(), [rng.integers(0, 7, (3, 5)),
                                           rng.integers(0, 9, (3, 4))])}
    for name, (model, xs) in cases.items():
        model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5
                           for w in model.get_weights()])
        y = rng.normal(size=(len(xs[0]), 2)).astype("float32")
        model.save(folder / f"{name}.keras")
        np.savez(folder / f"{name}.npz", y=y, **{f"x{i}": x for i, x in enumerate(xs)})
        pred = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        model.compile(optimizer=SGD(0.1), loss="mse")
        model.train_on_batch(xs if len(xs) > 1 else xs[0], y)
        ours[name] = (pred, model.get_weights())
    (folder / "models.json").write_text(json.dumps(list(cases)))
    layer = LSTM(4, stateful=True)
    parts = [rng.normal(size=(2, 3, 5)).astype("float32") for _ in range(3)]
    layer(parts[0])
    layer.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5
                       for w in layer.get_weights()])
    layer.reset_state()
    got = {}
    for i, p in enumerate(parts):
        got[f"o{i}"] = layer(p)
        got[f"h{i}"], got[f"c{i}"] = layer.states
    layer.reset_state()
    got["after_reset"] = layer(parts[0])
    ours["stateful"] = got
    (folder / "stateful.json").write_text(json.dumps(serialize_layer(layer)))
    np.savez(folder / "stateful.npz", **{f"p{i}": p for i, p in enumerate(parts)},
             **{f"w{i}": w for i, w in enumerate(layer.get_weights())})
    run = subprocess.run([sys.executable, str(Path(__file__).with_name(
        "recurrent_states_keras_side.py")), str(folder)], capture_output=True, text=True,
        env={**os.environ, "KERAS_BACKEND": "torch"}, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "keras 3." in run.stdout, run.stdout
    return folder, ours


@pytest.mark.parametrize("name", ["masked", "seq2seq"])
def test_keras_predicts_and_trains_our_file_as_we_do(keras_run, name):
    folder, ours = keras_run
    pred, weights = ours[name]
    with np.load(folder / f"{name}.out.npz") as d:
        np.testing.assert_allclose(d["pred"], pred, rtol=1e-5, atol=1e-6)
        theirs = [d[f"w{i}"] for i in range(len(weights))]
    for a, b in zip(weights, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_keras_runs_our_stateful_layer_as_we_do(keras_run):
    folder, ours = keras_run
    with np.load(folder / "stateful.out.npz") as d:
        for key, value in ours["stateful"].items():
            np.testing.assert_allclose(d[key], value, rtol=1e-5, atol=1e-6, err_msg=key)


def test_keras_encoder_decoder_file_loads_with_its_predictions(keras_run, tmp_path):
    folder, _ = keras_run
    with np.load(folder / "keras_seq2seq.npz") as d:
        xs, y = [d["x0"], d["x1"]], d["y"]
    model = load_model(folder / "keras_seq2seq.keras")
    np.testing.assert_allclose(model.predict(xs, verbose=0), y, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "again.keras")
    np.testing.assert_allclose(load_model(tmp_path / "again.keras").predict(xs, verbose=0),
                               y, rtol=1e-5, atol=1e-6)
