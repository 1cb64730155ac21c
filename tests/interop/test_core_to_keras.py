"""Files Netweaver writes load in real Keras 3 and behave there exactly as here.

Models covering every layer we support are built, trained a few steps and saved with
``core``; then a Python that has Keras (``$NETWEAVER_KERAS_PYTHON`` if set, else this
interpreter when the ``interop`` extra put Keras beside us, as ``.ci/run`` does) runs
``keras_side.py`` on them in its own process with ``KERAS_BACKEND=torch``. We check
that Keras loads them without a warning, predicts and evaluates as we do, takes the
same training step from our saved optimizer state (weights and optimizer variables
value for value), prints our summary text, serializes the model back to our
``config.json`` and saves the same ``model.weights.h5`` layout (and the same
``.weights.h5`` file as our ``save_weights``).

Without such an interpreter every test here is skipped, saying why; the
other direction, Keras' files read by us, runs everywhere (``test_keras3_files.py``).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core import backend
from core.layers import Dropout, registered_layers
from core.models import Sequential
from core.utils import set_random_seed
from tests.helpers.h5_items import h5_items
from tests.interop.core_models import MODELS, SEED

HERE = Path(__file__).resolve().parent
KERAS_PYTHON = os.environ.get("NETWEAVER_KERAS_PYTHON") or (
    sys.executable if importlib.util.find_spec("keras") else "keras-python-not-found")


def _f32(arrays):
    return [np.asarray(a, "float32") if np.asarray(a).dtype.kind == "f" else np.asarray(a)
            for a in arrays]


def _one_or_list(arrays):
    return arrays[0] if len(arrays) == 1 else arrays


def _first(value):
    return value[0] if isinstance(value, (list, tuple)) else value


def _make(folder: Path, name: str) -> dict:
    """Build, pre-train and save one model; our own numbers for the same checks."""
    backend.clear_session()
    set_random_seed(SEED)
    model, data = MODELS[name]()
    rng = np.random.default_rng([SEED, len(name)])
    batches = [[_f32(part) for part in data(rng)] for _ in range(5)]
    for x, y in batches[:3]:
        model.train_on_batch(_one_or_list(x), _one_or_list(y))
    (x, y), (tx, ty) = batches[3], batches[4]
    model.save(folder / f"{name}.keras")
    model.save_weights(folder / f"{name}.weights.h5")
    line_length = 88 if isinstance(model, Sequential) else 108
    lines = []
    model.summary(line_length=line_length, print_fn=lines.append)
    dropped = [ly for ly in model.layers if isinstance(ly, Dropout)]
    arrays = {"summary_line_length": np.array(line_length),
              "dropout_layers": np.array([ly.name for ly in dropped], dtype="U")}
    for prefix, group in (("x_", x), ("y_", y), ("train_x_", tx), ("train_y_", ty)):
        arrays.update({f"{prefix}{i}": a for i, a in enumerate(group)})
    np.savez(folder / f"{name}.in.npz", **arrays)

    ours = {"summary": lines[0]}
    preds = model.predict(_one_or_list(x), verbose=0)
    ours["pred"] = preds if isinstance(preds, list) else [preds]
    model.reset_metrics()  # Keras' on_batch calls start from fresh metrics
    ours["test_loss"] = _first(model.test_on_batch(_one_or_list(x), _one_or_list(y)))
    for layer in dropped:
        layer.rate = 0.0  # the training masks would come from two different RNGs
    model.reset_metrics()
    ours["train_loss"] = _first(model.train_on_batch(_one_or_list(tx), _one_or_list(ty)))
    ours["weights"] = [(v.path, v.value.copy()) for v in model.weights]
    ours["opt"] = [(v.path, v.value.copy()) for v in model.optimizer.variables]
    ours["layers"] = {type(ly).__name__ for ly in model.layers}
    return ours


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    python = KERAS_PYTHON if os.path.isfile(KERAS_PYTHON) else shutil.which(KERAS_PYTHON)
    if not python:
        pytest.skip(f"no Python with Keras at {KERAS_PYTHON} (set NETWEAVER_KERAS_PYTHON "
                    "to one, or install the interop extra: pip install '.[interop]')")
    folder = tmp_path_factory.mktemp("core_to_keras")
    ours = {name: _make(folder, name) for name in MODELS}
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    run = subprocess.run([python, str(HERE / "keras_side.py"), str(folder), *MODELS],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "keras 3." in run.stdout and "on torch" in run.stdout, run.stdout
    return folder, ours


def _keras(folder, name):
    with np.load(folder / f"{name}.keras_out.npz", allow_pickle=False) as d:
        out = {k: d[k] for k in d.files}
    seq = lambda p: [out[k] for k in sorted((k for k in out if k.startswith(p)),  # noqa: E731
                                            key=lambda k: int(k[len(p):]))]
    return out, seq


def test_models_cover_every_layer(results):
    _, ours = results
    used = set().union(*(r["layers"] for r in ours.values()))
    assert used - set(registered_layers()) == {"Sequential", "Functional"}  # nested models


@pytest.mark.parametrize("name", list(MODELS))
def test_keras_loads_our_file_without_a_warning(results, name):
    folder, _ = results
    assert json.loads((folder / f"{name}.keras_warnings.json").read_text()) == []


@pytest.mark.parametrize("name", list(MODELS))
def test_keras_predicts_and_evaluates_as_we_do(results, name):
    folder, ours = results
    out, seq = _keras(folder, name)
    preds = seq("pred_")
    assert len(preds) == len(ours[name]["pred"])
    for k, o in zip(preds, ours[name]["pred"]):
        np.testing.assert_allclose(k, o, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["test_loss"], ours[name]["test_loss"], rtol=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
def test_keras_takes_our_training_step(results, name):
    folder, ours = results
    out, seq = _keras(folder, name)
    np.testing.assert_allclose(out["train_loss"], ours[name]["train_loss"], rtol=1e-5)
    for kind, prefix in (("weights", "weight_"), ("opt", "opt_")):
        got = seq(prefix)
        assert len(got) == len(ours[name][kind]), kind
        for k, (path, o) in zip(got, ours[name][kind]):
            assert k.shape == o.shape and k.dtype == o.dtype, path
            np.testing.assert_allclose(k, o, rtol=1e-5, atol=1e-6, err_msg=path)


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _without_shared_ids(obj):
    if isinstance(obj, dict):
        return {k: _without_shared_ids(v) for k, v in obj.items() if k != "shared_object_id"}
    if isinstance(obj, list):
        return [_without_shared_ids(v) for v in obj]
    return obj


@pytest.mark.parametrize("name", list(MODELS))
def test_keras_serializes_our_model_back_to_our_config(results, name):
    """Keras' own serialization of the model it loaded from our file is our config.json,
    key for key and in order; the torch backend's optimizer module and Huber's
    ``delta``, which Keras 3.15.1 reads but does not write back, are the documented
    differences (see test_keras3_files.py)."""
    folder, _ = results
    written = json.loads(_members(folder / f"{name}.keras")["config.json"])
    keras_cfg = _without_shared_ids(json.loads((folder / f"{name}.keras_config.json")
                                               .read_text()))
    opt = keras_cfg["compile_config"]["optimizer"]
    assert opt["module"].startswith("keras.src.backend.torch.optimizers.")
    opt["module"], opt["registered_name"] = "keras.optimizers", None
    loss = written["compile_config"]["loss"]
    if isinstance(loss, dict) and loss["class_name"] == "Huber":
        assert loss["config"].pop("delta") == 0.5  # we write it; Keras drops it
    assert keras_cfg == written
    assert json.dumps(keras_cfg) == json.dumps(written)


@pytest.mark.parametrize("name", list(MODELS))
def test_keras_prints_our_summary(results, name):
    folder, ours = results
    assert (folder / f"{name}.keras_summary.txt").read_text(encoding="utf-8") == \
        ours[name]["summary"]


@pytest.mark.parametrize("name", list(MODELS))
def test_keras_resaves_our_weights_file_unchanged(results, name):
    folder, _ = results
    ours = _members(folder / f"{name}.keras")
    again = _members(folder / f"{name}.resaved.keras")
    assert list(again) == list(ours)
    assert h5_items(again["model.weights.h5"]) == h5_items(ours["model.weights.h5"])
    assert json.loads(again["metadata.json"]).keys() == json.loads(ours["metadata.json"]).keys()
    assert json.loads(again["metadata.json"])["keras_version"] == \
        json.loads(ours["metadata.json"])["keras_version"]


def test_skips_cleanly_without_keras(tmp_path):
    """The skip path itself: a missing interpreter must skip, never fail or pass."""
    code = ("import os, sys; sys.path.insert(0, os.getcwd()); import pytest; "
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', "
            f"'{Path(__file__).as_posix()}::test_models_cover_every_layer']))")
    env = {**os.environ, "NETWEAVER_KERAS_PYTHON": str(tmp_path / "no-python-here")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=HERE.parents[1], timeout=300)
    assert run.returncode == 0 and "1 skipped" in run.stdout, run.stdout + run.stderr


@pytest.mark.parametrize("name", list(MODELS))
def test_weights_only_files_are_the_same_as_keras_writes(results, name):
    folder, _ = results
    ours = (folder / f"{name}.weights.h5").read_bytes()
    theirs = (folder / f"{name}.resaved.weights.h5").read_bytes()
    assert h5_items(theirs) == h5_items(ours)
