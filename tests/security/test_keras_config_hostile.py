"""``.keras`` configs that name foreign modules, have the wrong JSON types, carry
NaN numbers or '/' in layer names: one clear ModelFileError, before any class is built."""

from __future__ import annotations

import json

import pytest

from core import backend
from core.saving import ModelFileError, load_model, save_model
from tests.security.helpers import members, small_model, write_zip


@pytest.fixture(autouse=True)
def _fresh():
    backend.clear_session()


@pytest.fixture
def parts(tmp_path):
    path = tmp_path / "good.keras"
    model = small_model()
    model.compile(optimizer="adam", loss="mse")
    save_model(model, path)
    return members(path)


def _with_config(tmp_path, parts, edit, raw=False):
    config = json.loads(parts["config.json"])
    text = edit(config)
    out = dict(parts)
    out["config.json"] = (text if raw else json.dumps(config)).encode()
    return write_zip(tmp_path / "bad.keras", out)


def _dense(config):
    return next(c for c in config["config"]["layers"] if c["class_name"] == "Dense")


@pytest.mark.parametrize("module,cls", [("os", "system"), ("builtins", "eval"),
                                        ("subprocess", "Popen")])
def test_dtype_policy_naming_an_arbitrary_module_is_refused(tmp_path, parts, module, cls):
    def edit(c):
        _dense(c)["config"]["dtype"] = {"module": module, "class_name": cls,
                                        "config": {"name": "float32"}, "registered_name": None}
    with pytest.raises(ModelFileError, match=f"module '{module}'"):
        load_model(_with_config(tmp_path, parts, edit))


@pytest.mark.parametrize("policy", [["float32"], 5, {"module": "keras",
                                                     "class_name": "DTypePolicy",
                                                     "config": ["float32"]}])
def test_dtype_policy_of_the_wrong_json_type_is_a_clear_error(tmp_path, parts, policy):
    def edit(c):
        _dense(c)["config"]["dtype"] = policy
    with pytest.raises(ModelFileError, match="dtype"):
        load_model(_with_config(tmp_path, parts, edit))


def test_layer_config_that_is_a_list_is_a_clear_error(tmp_path, parts):
    def edit(c):
        _dense(c)["config"] = [1, 2]
    with pytest.raises(ModelFileError, match="JSON object"):
        load_model(_with_config(tmp_path, parts, edit))


def test_nan_initializer_argument_is_refused(tmp_path, parts):
    def edit(c):
        _dense(c)["config"]["kernel_initializer"] = {
            "module": "keras.initializers", "class_name": "RandomNormal",
            "config": {"mean": 0.0, "stddev": "__NAN__", "seed": None}}
        return json.dumps(c).replace('"__NAN__"', "NaN")
    with pytest.raises(ModelFileError, match="NaN"):
        load_model(_with_config(tmp_path, parts, edit, raw=True))


def test_nan_loss_weight_is_refused(tmp_path, parts):
    def edit(c):
        c["compile_config"]["loss_weights"] = "__NAN__"
        return json.dumps(c).replace('"__NAN__"', "[Infinity]")
    with pytest.raises(ModelFileError, match="Infinity"):
        load_model(_with_config(tmp_path, parts, edit, raw=True))


def test_layer_name_with_a_slash_is_refused(tmp_path, parts):
    def edit(c):
        _dense(c)["config"]["name"] = "../evil"
    with pytest.raises(ModelFileError, match="contains '/'"):
        load_model(_with_config(tmp_path, parts, edit))
