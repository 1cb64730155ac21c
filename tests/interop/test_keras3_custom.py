"""``.keras`` files with custom objects written by real Keras 3.15.1 load and train here.

``tests/fixtures/keras3/custom/`` comes from ``make_custom_fixtures.py``; its custom
classes and functions are in ``custom_objects_src.py``, written once against a
Keras-like module, and are registered here from the very same source with
``define(core)``. For each file, against Keras' own numbers: predictions, the test
loss, and after one ``train_on_batch`` the returned loss and every weight.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import core
from core import backend
from core.saving import ModelFileError, get_custom_objects, load_model
from core.saving.lambda_code import LAMBDA_LAYER_REFUSED

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"
CUSTOM = FIXTURES / "custom"


@pytest.fixture
def registered():
    before = dict(get_custom_objects())
    sys.path.insert(0, str(FIXTURES))
    try:
        from custom_objects_src import define
    finally:
        sys.path.remove(str(FIXTURES))
    backend.clear_session()
    yield define(core)
    get_custom_objects().clear()
    get_custom_objects().update(before)


def _data(name):
    with np.load(CUSTOM / f"{name}.npz", allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


def _check_against_keras(model, d):
    np.testing.assert_allclose(model.predict(d["x"], verbose=0), d["pred"], rtol=1e-5,
                               atol=1e-6)
    assert float(model.test_on_batch(d["x"], d["y"])) == pytest.approx(
        float(d["test_loss"]), rel=1e-5)
    loss = model.train_on_batch(d["train_x"], d["train_y"])
    assert float(np.ravel(loss)[0]) == pytest.approx(float(d["train_loss"]), rel=1e-5)
    weights = [d[k] for k in sorted((k for k in d if k.startswith("weight_")),
                                    key=lambda k: int(k.split("_")[1]))]
    assert len(weights) == len(model.weights)
    for ours, theirs in zip(model.weights, weights):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-6,
                                   err_msg=ours.path)


def test_custom_layer_and_loss_function(registered):
    scaled_dense, scaled_mse, _ = registered
    model = load_model(CUSTOM / "custom_layer.keras")
    layer = model.layers[1]
    assert type(layer) is scaled_dense and layer.units == 5 and layer.scale == 1.5
    assert [v.name for v in layer.weights] == ["kernel", "bias"]
    assert model.loss is scaled_mse or getattr(model.loss, "fn", None) is scaled_mse
    _check_against_keras(model, _data("custom_layer"))


def test_custom_layer_file_needs_the_class(tmp_path):
    backend.clear_session()
    with pytest.raises(ModelFileError, match=r"ScaledDense.*register_keras_serializable"):
        load_model(CUSTOM / "custom_layer.keras")


def test_lambda_layer_and_loss_subclass(registered):
    _, _, offset_mse = registered
    with pytest.raises(ModelFileError) as e:
        load_model(CUSTOM / "lambda_layer.keras")
    assert LAMBDA_LAYER_REFUSED in str(e.value)
    model = load_model(CUSTOM / "lambda_layer.keras", safe_mode=False)
    assert isinstance(model.loss, offset_mse) and model.loss.offset == 0.25
    _check_against_keras(model, _data("lambda_layer"))


def test_saved_here_keeps_keras_form(registered, tmp_path):
    model = load_model(CUSTOM / "custom_layer.keras")
    model.save(tmp_path / "again.keras")
    with zipfile.ZipFile(CUSTOM / "custom_layer.keras") as zf:
        theirs = json.loads(zf.read("config.json"))
    with zipfile.ZipFile(tmp_path / "again.keras") as zf:
        ours = json.loads(zf.read("config.json"))
    t_layer, o_layer = theirs["config"]["layers"][2], ours["config"]["layers"][2]
    for key in ("class_name", "registered_name", "build_config"):
        assert o_layer[key] == t_layer[key], key
    assert {k: v for k, v in o_layer["config"].items() if k != "dtype"} == \
        {k: v for k, v in t_layer["config"].items() if k != "dtype"}
    assert ours["compile_config"]["loss"] == theirs["compile_config"]["loss"]
    back = load_model(tmp_path / "again.keras")
    x = _data("custom_layer")["x"]
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0))
