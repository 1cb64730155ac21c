"""Files in the form earlier Keras 3 releases wrote them (written out here by hand,
independently of our writer: no initializer ``input_axes``, no Dense
``quantization_config``, a single output as a list of one) load with the right weights,
predictions and optimizer state. Files from real Keras 3.15.1 are checked in
``tests/interop/test_keras3_files.py``."""

import io
import json
import zipfile

import h5py
import numpy as np
import pytest

from core import backend
from core.saving import load_model

F32 = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
       "registered_name": None}


def _init(name):
    return {"module": "keras.initializers", "class_name": name,
            "config": {"seed": None} if name == "GlorotUniform" else {}, "registered_name": None}


def _dense(name, units, activation, input_dim, extra=None):
    cfg = {"module": "keras.layers", "class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": F32, "units": units,
        "activation": activation, "use_bias": True,
        "kernel_initializer": _init("GlorotUniform"), "bias_initializer": _init("Zeros"),
        "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None}, "registered_name": None,
        "build_config": {"input_shape": [None, input_dim]}}
    cfg.update(extra or {})
    return cfg


def _tensor(layer, shape):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None, shape], "dtype": "float32",
                       "keras_history": [layer, 0, 0]}}


def _write(path, config, arrays, empty_groups=()):
    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        f.create_group("vars")
        for key, value in arrays.items():
            f[key] = value
        for group in empty_groups:  # layers without weights still get a vars group
            f.require_group(group)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.6.0",
                                                 "date_saved": "2026-01-02@03:04:05"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", bio.getvalue())


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(autouse=True)
def _fresh():
    backend.clear_session()


def test_keras_sequential_file_with_adam_state(tmp_path):
    rng = np.random.default_rng(3)
    w1, b1 = rng.normal(size=(6, 5)).astype("f4"), rng.normal(size=5).astype("f4")
    w2, b2 = rng.normal(size=(5, 3)).astype("f4"), rng.normal(size=3).astype("f4")
    config = {
        "module": "keras", "class_name": "Sequential", "config": {
            "name": "sequential", "trainable": True, "dtype": F32, "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "config": {
                    "batch_shape": [None, 6], "dtype": "float32", "sparse": False,
                    "name": "input_layer"}, "registered_name": None},
                _dense("dense", 5, "relu", 6), _dense("dense_1", 3, "softmax", 5)],
            "build_input_shape": [None, 6]},
        "registered_name": None, "build_config": {"input_shape": [None, 6]},
        "compile_config": {
            "optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {
                "name": "adam", "learning_rate": 0.0010000000474974513, "weight_decay": None,
                "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                "loss_scale_factor": None, "gradient_accumulation_steps": None,
                "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False},
                "registered_name": None},
            "loss": "sparse_categorical_crossentropy", "loss_weights": None,
            "metrics": ["accuracy"], "weighted_metrics": None, "run_eagerly": False,
            "steps_per_execution": 1, "jit_compile": False}}
    params = [w1, b1, w2, b2]
    # Keras' Adam order: iteration, learning_rate, then momentum/velocity per variable.
    slots = [rng.random(p.shape).astype("f4") for p in params for _ in range(2)]
    arrays = {"layers/dense/vars/0": w1, "layers/dense/vars/1": b1,
              "layers/dense_1/vars/0": w2, "layers/dense_1/vars/1": b2,
              "optimizer/vars/0": np.array(17, "i8"),
              "optimizer/vars/1": np.array(0.001, "f4")}
    arrays.update({f"optimizer/vars/{i + 2}": s for i, s in enumerate(slots)})
    path = tmp_path / "from_keras.keras"
    _write(path, config, arrays)

    model = load_model(path)
    x = rng.random((4, 6), dtype=np.float32)
    expected = _softmax(np.maximum(x @ w1 + b1, 0) @ w2 + b2)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert model.optimizer.iterations == 17
    assert type(model.optimizer).__name__ == "Adam"
    for var, want in zip(model.optimizer.variables[2:], slots):
        np.testing.assert_array_equal(var.value, want)


def test_keras_functional_file_with_add(tmp_path):
    rng = np.random.default_rng(4)
    wa, ba = rng.normal(size=(4, 3)).astype("f4"), rng.normal(size=3).astype("f4")
    wb, bb = rng.normal(size=(4, 3)).astype("f4"), rng.normal(size=3).astype("f4")
    node_in = {"args": [_tensor("input_layer", 4)], "kwargs": {}}
    layers = [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {
            "batch_shape": [None, 4], "dtype": "float32", "sparse": False, "ragged": False,
            "name": "input_layer", "optional": False}, "registered_name": None,
         "name": "input_layer", "inbound_nodes": []},
        _dense("left", 3, "linear", 4, {"name": "left", "inbound_nodes": [node_in]}),
        _dense("right", 3, "tanh", 4, {"name": "right", "inbound_nodes": [node_in]}),
        {"module": "keras.layers", "class_name": "Add", "config": {
            "name": "add", "trainable": True, "dtype": F32}, "registered_name": None,
         "build_config": {"input_shape": [[None, 3], [None, 3]]}, "name": "add",
         "inbound_nodes": [{"args": [[_tensor("left", 3), _tensor("right", 3)]],
                            "kwargs": {}}]},
    ]
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "config": {"name": "functional", "trainable": True, "layers": layers,
                         "input_layers": [["input_layer", 0, 0]],
                         "output_layers": [["add", 0, 0]]},
              "registered_name": "Functional", "build_config": {"input_shape": None}}
    # h5 groups by class name and counter in model.layers order: left is dense, right dense_1.
    arrays = {"layers/dense/vars/0": wa, "layers/dense/vars/1": ba,
              "layers/dense_1/vars/0": wb, "layers/dense_1/vars/1": bb}
    path = tmp_path / "functional.keras"
    _write(path, config, arrays, ["layers/input_layer/vars", "layers/add/vars"])
    model = load_model(path)
    assert [ly.name for ly in model.layers] == ["input_layer", "left", "right", "add"]
    x = rng.random((5, 4), dtype=np.float32)
    expected = (x @ wa + ba) + np.tanh(x @ wb + bb)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
