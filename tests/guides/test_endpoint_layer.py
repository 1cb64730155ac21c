"""The endpoint-layer pattern of Keras' training guide: a custom layer called with two
positional tensors, ``LogisticEndpoint()(targets, logits)``, whose ``call`` adds its
loss with ``add_loss`` (a built-in ``Loss`` object or loss function, so the loss must
record on the tape too).

References: the gradient is float64 central finite differences of the same loss
written in numpy; the saved node config and the loaded model are real Keras 3.15.1's
(a subprocess with Keras, skipped when none is available).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import core as keras
from core import ops

REGISTRATION = '''
@keras.saving.register_keras_serializable(package="guides_test")
class Endpoint(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        self.add_loss(self.loss_fn(targets, logits, sample_weights))
        return keras.ops.sigmoid(logits)
'''
exec(REGISTRATION)  # the same class source runs in real Keras below
Endpoint = globals()["Endpoint"]


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((3,), name="inputs")
    targets = keras.Input((2,), name="targets")
    logits = keras.layers.Dense(2, name="dense")(inputs)
    out = Endpoint(name="endpoint")(targets, logits)
    return keras.Model([inputs, targets], out)


def _data():
    rng = np.random.default_rng(1)
    return {"inputs": rng.normal(size=(6, 3)).astype("float32"),
            "targets": rng.uniform(size=(6, 2)).astype("float32")}


def _bce_logits(w, b, x, t):
    z = x @ w + b
    return np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))


def test_two_positional_tensors_make_one_node_with_both_inputs():
    model = _model()
    node = model.get_layer("endpoint")._inbound_nodes[0]
    assert [t._keras_history[0].name for t in node.input_tensors] == ["targets", "dense"]
    assert model.outputs[0].shape == (None, 2)
    np.testing.assert_allclose(
        model.predict(_data(), verbose=0),
        1 / (1 + np.exp(-(_data()["inputs"] @ model.get_layer("dense").kernel.value
                          + model.get_layer("dense").bias.value))), rtol=1e-5)


def test_added_loss_trains_with_the_finite_difference_gradient():
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
    data = _data()
    dense = model.get_layer("dense")
    w, b = (np.float64(v.value) for v in (dense.kernel, dense.bias))
    x, t = np.float64(data["inputs"]), np.float64(data["targets"])
    eps, grad = 1e-6, np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        d = np.zeros_like(w)
        d[idx] = eps
        grad[idx] = (_bce_logits(w + d, b, x, t) - _bce_logits(w - d, b, x, t)) / (2 * eps)
    loss = model.train_on_batch(data)
    np.testing.assert_allclose(float(np.ravel(loss)[0]), _bce_logits(w, b, x, t), rtol=1e-5)
    np.testing.assert_allclose(dense.kernel.value, w - grad, rtol=1e-4, atol=1e-6)


def test_loss_function_form_records_on_the_tape_too():
    class FnEndpoint(keras.layers.Layer):
        def call(self, targets, logits):
            self.add_loss(ops.mean(keras.losses.binary_crossentropy(
                targets, logits, from_logits=True)))
            return logits

    inputs, targets = keras.Input((3,)), keras.Input((2,))
    model = keras.Model([inputs, targets], FnEndpoint()(targets, keras.layers.Dense(2)(inputs)))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5))
    data = _data()
    before = model.get_weights()
    model.train_on_batch([data["inputs"], data["targets"]])
    assert not np.allclose(model.get_weights()[0], before[0])


def test_a_non_tensor_positional_argument_is_refused_with_the_layer_name():
    inputs = keras.Input((3,))
    with pytest.raises(ValueError, match="Layer 'odd'.*argument"):
        Endpoint(name="odd")(inputs, 3.0)


def _keras_python():
    python = os.environ.get("NETWEAVER_KERAS_PYTHON")
    if not python and importlib.util.find_spec("keras") is not None:
        python = sys.executable
    return python


def test_saved_model_keeps_both_inputs_here_and_in_real_keras(tmp_path):
    model = _model()
    data = _data()
    want = model.predict(data, verbose=0)
    path = tmp_path / "endpoint.keras"
    model.save(str(path))
    again = keras.saving.load_model(str(path))
    assert len(again.inputs) == 2
    np.testing.assert_allclose(again.predict(data, verbose=0), want, rtol=1e-6)
    ours = [c["inbound_nodes"] for c in model.get_config()["layers"]
            if c["name"] == "endpoint"][0]
    np.savez(tmp_path / "x.npz", inputs=data["inputs"], targets=data["targets"])
    python = _keras_python()
    if not python:
        pytest.skip("no Python with Keras (set NETWEAVER_KERAS_PYTHON)")
    script = textwrap.dedent("""
        import json, os, sys
        os.environ["KERAS_BACKEND"] = "torch"
        import keras, numpy as np
        """) + REGISTRATION + textwrap.dedent(f"""
        folder = {str(tmp_path)!r}
        m = keras.saving.load_model(os.path.join(folder, "endpoint.keras"))
        d = np.load(os.path.join(folder, "x.npz"))
        np.save(os.path.join(folder, "pred.npy"),
                m.predict({{"inputs": d["inputs"], "targets": d["targets"]}}, verbose=0))
        keras.utils.set_random_seed(0)
        i = keras.Input((3,), name="inputs"); t = keras.Input((2,), name="targets")
        lg = keras.layers.Dense(2, name="dense")(i)
        fresh = keras.Model([i, t], Endpoint(name="endpoint")(t, lg))
        nodes = [c["inbound_nodes"] for c in fresh.get_config()["layers"]
                 if c["name"] == "endpoint"]
        json.dump(nodes[0], open(os.path.join(folder, "keras_nodes.json"), "w"))
        print(len(m.inputs))
        """)
    run = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=600,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[-1] == "2"
    np.testing.assert_allclose(np.load(tmp_path / "pred.npy"), want, rtol=1e-5, atol=1e-6)
    keras_nodes = json.loads((tmp_path / "keras_nodes.json").read_text())
    assert json.loads(json.dumps(ours)) == keras_nodes
