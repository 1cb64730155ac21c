"""Keras code export: for every template the script runs under real Keras 3 (torch
backend, in a subprocess), builds the same layers with the same parameter counts, and
with our weights file beside it gives our predictions."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import core  # noqa: F401
from core.export.keras_code import export_keras_code, keras_code
from core.graph.build import build_model
from core.graph.templates import ALL_TEMPLATES, VOCAB

# not imported here (keras would pick its default backend); the scripts run in subprocesses
if importlib.util.find_spec("keras") is None or importlib.util.find_spec("torch") is None:
    pytest.skip("real Keras 3 with the torch backend is not installed",
                allow_module_level=True)

_RUNNER = """
import json, runpy, sys
import numpy as np
ns = runpy.run_path(sys.argv[1], run_name="netweaver_test")
model = ns["model"]
data = np.load(sys.argv[2])
xs = [data[k] for k in sorted(data.files)]
pred = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
np.save(sys.argv[3], np.asarray(pred))
rows = [[l.name, type(l).__name__, l.count_params()] for l in model.layers]
print(json.dumps({"rows": rows, "total": model.count_params(),
                  "compiled": model.compiled}))
"""


def _run_under_keras(tmp_path, script, inputs):
    np.savez(tmp_path / "inputs.npz", **{f"x{i}": x for i, x in enumerate(inputs)})
    (tmp_path / "runner.py").write_text(_RUNNER)
    env = dict(os.environ, KERAS_BACKEND="torch")
    done = subprocess.run([sys.executable, str(tmp_path / "runner.py"), str(script),
                           str(tmp_path / "inputs.npz"), str(tmp_path / "pred.npy")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(tmp_path / "pred.npy")


def _inputs(model, rng):
    """Random inputs for each model Input: token ids (with padding zeros) for a model
    whose first layer is an Embedding, normal floats otherwise."""
    first = {type(ly).__name__ for ly in model.layers[:3]}
    if "Embedding" in first:
        x = rng.integers(1, VOCAB, (4, *model.inputs[0].shape[1:])).astype(np.float32)
        x[0, 5:] = 0
        return [x]
    return [rng.normal(0, 1, (4, *t.shape[1:])).astype(np.float32) for t in model.inputs]


@pytest.mark.parametrize("name", sorted(ALL_TEMPLATES))
def test_template_script_builds_the_same_model_in_keras(name, tmp_path):
    model = build_model(ALL_TEMPLATES[name]())
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    for w in model.weights:  # not the initial values: the weights must really load
        w.assign(rng.normal(0, 0.3, w.shape).astype(np.float32))
    script = export_keras_code(model, tmp_path / "model.py", weights=True)
    assert (tmp_path / "model.weights.h5").exists()
    inputs = _inputs(model, rng)
    info, pred = _run_under_keras(tmp_path, script, inputs)
    ours = [[ly.name, type(ly).__name__, ly.count_params()] for ly in model.layers]
    assert info["rows"] == ours
    assert info["total"] == model.count_params()
    assert info["compiled"]
    np.testing.assert_allclose(pred, model.predict(inputs if len(inputs) > 1 else inputs[0],
                                                   verbose=0), atol=1e-5, rtol=1e-5)


def test_script_passes_only_non_default_arguments_and_data_parallel_option():
    from core import layers as L
    from core.models import Sequential
    model = Sequential([L.Input((4,)), L.Dense(3, use_bias=False, name="head")])
    text = keras_code(model, data_parallel=True)
    assert "keras.layers.Dense(units=3, use_bias=False, name='head')" in text
    assert "kernel_initializer" not in text
    assert "DATA_PARALLEL = True" in text and "DataParallel(" in text


def test_calls_keep_their_positional_keyword_and_recorded_arguments(tmp_path):
    """MultiHeadAttention is called ``(query, value)`` with ``use_causal_mask``, an LSTM
    with ``initial_state=[h, c]``: the script makes the same calls, so real Keras builds
    the same model and predicts what we predict."""
    from core import layers as L
    from core.models import Model
    x, h, c = L.Input((5, 4), name="x"), L.Input((3,), name="h"), L.Input((3,), name="c")
    att = L.MultiHeadAttention(num_heads=2, key_dim=2)(x, x, use_causal_mask=True)
    seq = L.LSTM(3)(att, initial_state=[h, c])
    model = Model([x, h, c], L.Dense(2)(seq))
    text = keras_code(model)
    assert "(x, x, use_causal_mask=True)" in text
    assert "initial_state=[h, c]" in text
    rng = np.random.default_rng(1)
    script = export_keras_code(model, tmp_path / "model.py", weights=True)
    inputs = [rng.normal(0, 1, (4, *t.shape[1:])).astype(np.float32) for t in model.inputs]
    info, pred = _run_under_keras(tmp_path, script, inputs)
    assert info["total"] == model.count_params()
    np.testing.assert_allclose(pred, model.predict(inputs, verbose=0), atol=1e-5, rtol=1e-5)
