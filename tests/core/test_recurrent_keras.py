"""Recurrent layers against real Keras 3 (torch backend, in a subprocess; skipped when
Keras is not installed): Keras deserializes *our* config of each layer, takes our
weights and must give our outputs for every flag (return_sequences, return_state,
go_backwards, masks, GRU reset_after both ways, Bidirectional merge modes, stacked
cells); and a ``.keras`` file written by Keras (LSTM + GRU) loads here with Keras'
predictions, and survives our save/load; our ``.keras`` of a recurrent model loads in
Keras with our predictions."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import backend
from core.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    Dense,
    GRUCell,
    Input,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
)
from core.models import Sequential, load_model
from core.saving.serialization import serialize_layer

N, T, F, U = 3, 5, 4, 3
MASK = np.array([[1, 1, 0, 1, 1], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1]], bool)


def _cases():
    rs = {"return_sequences": True}
    out = []
    for cls in (SimpleRNN, LSTM, GRU):
        n = cls.__name__.lower()
        out += [(f"{n}_last", cls(U), False),
                (f"{n}_seq", cls(U, **rs), False),
                (f"{n}_state_back", cls(U, return_state=True, go_backwards=True), False),
                (f"{n}_seq_state_mask", cls(U, return_state=True, **rs), True),
                (f"{n}_back_mask", cls(U, go_backwards=True, **rs), True)]
    out += [("gru_reset_before", GRU(U, reset_after=False, **rs), True),
            ("lstm_relu", LSTM(U, activation="relu", recurrent_activation="tanh"), False)]
    for mode in ("concat", "sum", "mul", "ave", None):
        out.append((f"bidi_{mode}", Bidirectional(LSTM(U, **rs), merge_mode=mode), True))
    out += [("bidi_state", Bidirectional(GRU(U, return_state=True)), False),
            ("bidi_last_mask", Bidirectional(SimpleRNN(U)), True),
            ("stacked", RNN([LSTMCell(U), GRUCell(2)], **rs), True)]
    return out


@pytest.fixture(scope="module")
def keras_run(tmp_path_factory):
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("torch") is None:
        pytest.skip("real Keras 3 with the torch backend is not installed")
    backend.clear_session()
    folder = tmp_path_factory.mktemp("recurrent_keras")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, T, F)).astype("float32")
    ours, specs = {}, []
    for name, layer, masked in _cases():
        kwargs = {"mask": MASK} if masked else {}
        layer(x, **kwargs)
        layer.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5
                           for w in layer.get_weights()])
        out = layer(x, **kwargs)
        ours[name] = out if isinstance(out, list) else [out]
        arrays = {"x": x, **{f"w{i}": w for i, w in enumerate(layer.get_weights())}}
        if masked:
            arrays["mask"] = MASK
        np.savez(folder / f"{name}.npz", **arrays)
        specs.append({"name": name, "layer": serialize_layer(layer)})
    (folder / "cases.json").write_text(json.dumps(specs))
    model = Sequential([Input((T, F)), LSTM(U, return_sequences=True),
                        Bidirectional(GRU(2, return_sequences=True), merge_mode="ave"),
                        RNN([SimpleRNNCell(3), LSTMCell(2)], go_backwards=True), Dense(2)])
    model.save(folder / "ours.keras")
    ours["ours.keras"] = model.predict(x, verbose=0)
    np.savez(folder / "ours.npz", x=x)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    run = subprocess.run([sys.executable, str(Path(__file__).with_name(
        "recurrent_keras_side.py")), str(folder)], capture_output=True, text=True, env=env,
        timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "keras 3." in run.stdout, run.stdout
    return folder, ours


@pytest.mark.parametrize("name", [c[0] for c in _cases()])
def test_outputs_match_keras(keras_run, name):
    folder, ours = keras_run
    with np.load(folder / f"{name}.out.npz") as d:
        theirs = [d[f"o{i}"] for i in range(len(d.files))]
    assert len(theirs) == len(ours[name])
    for a, b in zip(ours[name], theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_keras_written_file_loads_with_same_predictions(keras_run, tmp_path):
    folder, _ = keras_run
    with np.load(folder / "keras_lstm.npz") as d:
        x, y = d["x"], d["y"]
    model = load_model(folder / "keras_lstm.keras")
    assert [type(ly).__name__ for ly in model.layers] == ["LSTM", "GRU", "Dense"]
    np.testing.assert_allclose(model.predict(x, verbose=0), y, rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "again.keras")
    again = load_model(tmp_path / "again.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), y, rtol=1e-5, atol=1e-5)


def test_keras_loads_our_file_with_same_predictions(keras_run):
    folder, ours = keras_run
    with np.load(folder / "ours.keras_out.npz") as d:
        np.testing.assert_allclose(d["y"], ours["ours.keras"], rtol=1e-5, atol=1e-5)
