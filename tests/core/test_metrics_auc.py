"""TruePositives/FalsePositives/TrueNegatives/FalseNegatives and AUC against real Keras 3,
and a user ``Metric`` subclass (written as keras.io writes it) in compile/fit/evaluate.

Keras runs in a subprocess (``KERAS_BACKEND=torch``) on the same arrays; skipped when
Keras is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import core as keras
from core import metrics, ops

rng = np.random.default_rng(7)
N = 64
Y_TRUE = (rng.random(N) > 0.45).astype("float32")
# Predictions on and around the bucket boundaries as well as random ones.
Y_PRED = np.concatenate([rng.random(N - 8), [0.0, 1.0, 0.5, 1 / 199, 198 / 199, 100 / 199,
                                             0.2, 0.8]]).astype("float32")
SW = rng.random(N).astype("float32")
ML_TRUE = (rng.random((N, 3)) > 0.5).astype("float32")
ML_PRED = rng.random((N, 3)).astype("float32")
LOGITS = rng.normal(size=N).astype("float32") * 3

# name -> (constructor kwargs, which data, with sample weights)
CASES = {
    "tp": ("TruePositives", {}, "bin", False),
    "fp_w": ("FalsePositives", {}, "bin", True),
    "tn_list": ("TrueNegatives", {"thresholds": [0.2, 0.5, 0.8]}, "bin", False),
    "fn_even": ("FalseNegatives", {"thresholds": [0.0, 0.5, 1.0]}, "bin", True),
    "tp_even5": ("TruePositives", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "bin", False),
    "roc": ("AUC", {}, "bin", False),
    "roc_w": ("AUC", {}, "bin", True),
    "pr": ("AUC", {"curve": "PR"}, "bin", False),
    "pr_w": ("AUC", {"curve": "PR"}, "bin", True),
    "roc_min": ("AUC", {"summation_method": "minoring"}, "bin", False),
    "pr_maj": ("AUC", {"curve": "PR", "summation_method": "majoring"}, "bin", False),
    "prgain": ("AUC", {"curve": "PRGAIN"}, "bin", False),
    "roc_50": ("AUC", {"num_thresholds": 50}, "bin", False),
    "roc_thr": ("AUC", {"thresholds": [0.1, 0.3, 0.45, 0.9]}, "bin", False),
    "ml": ("AUC", {"multi_label": True}, "ml", False),
    "ml_lw": ("AUC", {"multi_label": True, "label_weights": [0.2, 0.3, 0.5]}, "ml", False),
    "flat_ml": ("AUC", {}, "ml", True),
    "logits": ("AUC", {"from_logits": True}, "logits", False),
}

_KERAS_SIDE = r"""
import json, sys, numpy as np, keras
d = np.load(sys.argv[1])
cases = json.loads(sys.argv[2])
out = {}
for key, (cls, kw, data, weighted) in cases.items():
    m = getattr(keras.metrics, cls)(**kw)
    t, p = {"bin": (d["t"], d["p"]), "ml": (d["mt"], d["mp"]),
            "logits": (d["t"], d["lg"])}[data]
    sw = d["sw"] if weighted else None
    # two batches: the state accumulates
    m.update_state(t[:40], p[:40], sample_weight=None if sw is None else sw[:40])
    m.update_state(t[40:], p[40:], sample_weight=None if sw is None else sw[40:])
    out[key] = np.asarray(m.result()).tolist()
    out[key + "_config"] = {k: (np.asarray(v).tolist() if hasattr(v, "shape") else v)
                            for k, v in m.get_config().items() if k != "name"}
print("JSON" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def keras_results(tmp_path_factory):
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    path = tmp_path_factory.mktemp("auc") / "data.npz"
    np.savez(path, t=Y_TRUE, p=Y_PRED, sw=SW, mt=ML_TRUE, mp=ML_PRED, lg=LOGITS)
    env = dict(os.environ, KERAS_BACKEND="torch")
    proc = subprocess.run([sys.executable, "-c", _KERAS_SIDE, str(path), json.dumps(CASES)],
                          capture_output=True, text=True, env=env, timeout=300, cwd="/tmp")
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")), None)
    if line is None:
        pytest.skip(f"real Keras failed: {proc.stderr[-400:]}")
    return json.loads(line[4:])


def _ours(cls, kw, data, weighted):
    m = getattr(metrics, cls)(**kw)
    t, p = {"bin": (Y_TRUE, Y_PRED), "ml": (ML_TRUE, ML_PRED), "logits": (Y_TRUE, LOGITS)}[data]
    sw = SW if weighted else None
    m.update_state(t[:40], p[:40], sample_weight=None if sw is None else sw[:40])
    m.update_state(t[40:], p[40:], sample_weight=None if sw is None else sw[40:])
    return m


@pytest.mark.parametrize("key", sorted(CASES))
def test_matches_real_keras(keras_results, key):
    m = _ours(*CASES[key])
    np.testing.assert_allclose(np.asarray(m.result(), np.float64), keras_results[key],
                               rtol=2e-6, atol=1e-6)
    ours = {k: v for k, v in m.get_config().items() if k != "name"}
    theirs = keras_results[key + "_config"]
    assert set(ours) == set(theirs)
    for k, v in theirs.items():
        if isinstance(v, list):
            np.testing.assert_allclose(ours[k], v, rtol=1e-6)
        else:
            assert ours[k] == v, k
    # and back from that config
    again = type(m).from_config(m.get_config())
    assert again.get_config() == m.get_config()


def test_auc_reset_and_errors():
    m = metrics.AUC()
    m.update_state([0, 1], [0.2, 0.9])
    assert m.result() == pytest.approx(1.0)
    m.reset_state()
    assert m.result() == 0.0 and float(m.true_positives.value.sum()) == 0.0
    with pytest.raises(ValueError, match="Invalid AUC curve"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="incompatible shapes"):
        metrics.TruePositives().update_state([0, 1, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match=r"threshold values must be in \[0, 1\]"):
        metrics.FalsePositives(thresholds=1.5)


# ------------------------------------------------------------------ custom metric in fit
class CategoricalTruePositives(keras.metrics.Metric):
    """keras.io, *Training & evaluation with the built-in methods*, verbatim."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(
            shape=(), name="ctp", initializer="zeros"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        self.true_positives.assign(0.0)


def test_user_metric_in_compile_fit_evaluate():
    keras.utils.set_random_seed(1)
    x = rng.random((96, 6)).astype("float32")
    y = rng.integers(0, 4, (96, 1))
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(4, activation="softmax")])
    metric = CategoricalTruePositives()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=[metric])
    hist = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    assert "categorical_true_positives" in hist.history
    # The logged value is the count over the last epoch's batches (reset each epoch):
    # an integer between 0 and 96.
    last = hist.history["categorical_true_positives"][-1]
    assert 0 <= last <= 96 and last == int(last)
    result = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    expected = float(np.sum(np.argmax(pred, axis=1) == y[:, 0]))
    assert result["categorical_true_positives"] == pytest.approx(expected)


def test_auc_and_counts_in_fit_log_what_the_metric_computes():
    keras.utils.set_random_seed(2)
    x = rng.random((80, 5)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) > 2.5).astype("float32")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=[metrics.AUC(name="auc"), metrics.TruePositives(name="tp"),
                           metrics.AUC(curve="PR", name="pr_auc")])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    result = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    for name, m in (("auc", metrics.AUC()), ("tp", metrics.TruePositives()),
                    ("pr_auc", metrics.AUC(curve="PR"))):
        m.update_state(y, pred)
        assert result[name] == pytest.approx(float(m.result()), rel=1e-5), name
