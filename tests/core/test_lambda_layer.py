"""``keras.layers.Lambda`` with Keras 3's semantics: gradients through the ops it calls,
saving as bytecode, and loading only with ``safe_mode=False`` (Keras' message otherwise).
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import core as keras
from core import ops
from core.layers import Lambda
from core.saving import ModelFileError, get_custom_objects, register_keras_serializable
from core.saving.lambda_code import LAMBDA_LAYER_REFUSED
from tests.helpers.gradcheck import check_layer_gradients

rng = np.random.default_rng(3)


def _model(dtype="float32"):
    return keras.Sequential([
        keras.Input((4,), dtype=dtype),
        keras.layers.Dense(5, dtype=dtype),
        Lambda(lambda x: ops.square(x) * 0.5 + ops.sin(x), dtype=dtype),
        keras.layers.Dense(2, dtype=dtype),
    ])


def test_lambda_of_ops_gradients_match_finite_differences():
    model = _model("float64")
    errors = check_layer_gradients(model, rng.normal(size=(6, 4)))
    # Both Dense layers, the first one only reachable through the Lambda's ops.
    assert len([k for k in errors if k.endswith("kernel")]) == 2
    assert max(errors.values()) < 1e-6, errors


def test_lambda_trains_the_layers_before_it():
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    x = rng.random((32, 4)).astype("float32")
    y = rng.random((32, 2)).astype("float32")
    first = model.layers[0].kernel.numpy()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(first, model.layers[0].kernel.numpy())


def test_output_shape_inferred_or_given_and_arguments():
    inp = keras.Input((3, 4))
    out = Lambda(lambda x: ops.reshape(x, (-1, 12)))(inp)
    assert out.shape == (None, 12)
    scaled = Lambda(lambda x, k: x * k, arguments={"k": 3.0}, output_shape=(3, 4))(inp)
    assert scaled.shape == (None, 3, 4)
    x = np.ones((2, 3, 4), "float32")
    assert keras.Model(inp, scaled).predict(x, verbose=0).max() == 3.0
    both = Lambda(lambda xs: xs[0] - xs[1])([inp, inp])
    assert both.shape == (None, 3, 4)


def test_saved_lambda_refused_in_safe_mode_and_loaded_without(tmp_path):
    model = _model()
    x = rng.random((5, 4)).astype("float32")
    path = tmp_path / "lambda.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        cfg = json.loads(zf.read("config.json"))
    layer_cfg = next(c["config"] for c in cfg["config"]["layers"]
                     if c["class_name"] == "Lambda")
    fn = layer_cfg["function"]
    assert fn["class_name"] == "__lambda__" and set(fn["config"]) == {"code", "defaults",
                                                                      "closure"}
    with pytest.raises(ModelFileError) as e:
        keras.saving.load_model(path)
    assert LAMBDA_LAYER_REFUSED in str(e.value) and str(path) in str(e.value)
    back = keras.saving.load_model(path, safe_mode=False)
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    # from_config outside any load is safe by default too (Keras fails closed).
    with pytest.raises(ValueError, match="safe_mode=False"):
        Lambda.from_config(layer_cfg)
    assert Lambda.from_config(layer_cfg, safe_mode=False).function(2.0) == \
        pytest.approx(2.0 + np.sin(2.0))


def test_registered_function_lambda_loads_in_safe_mode(tmp_path):
    before = dict(get_custom_objects())
    try:
        @register_keras_serializable(package="LambdaTest")
        def halve(x):
            return x * 0.5

        inp = keras.Input((3,))
        model = keras.Model(inp, Lambda(halve)(keras.layers.Dense(3)(inp)))
        model.save(tmp_path / "named.keras")
        back = keras.saving.load_model(tmp_path / "named.keras")  # no code in the file
        assert back.layers[-1].function is halve
        x = rng.random((4, 3)).astype("float32")
        np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0))
    finally:
        get_custom_objects().clear()
        get_custom_objects().update(before)


def test_lambda_refuses_non_callables():
    with pytest.raises(ValueError, match="function must be callable"):
        Lambda(3)
