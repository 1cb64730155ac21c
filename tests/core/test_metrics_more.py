"""Sum, Mean and MeanAbsolutePercentageError against real Keras 3 (torch backend).

Reference values come from keras in the test when it imports; otherwise from the
numbers below, produced with Keras 3.15.1 (KERAS_BACKEND=torch)."""

import os

import numpy as np
import pytest

from core import metrics

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras
except Exception:  # keras absent: fall back to the recorded values
    keras = None

Y_TRUE = np.array([[1.0, 2.0], [0.5, -3.0], [0.0, 4.0]], np.float32)
Y_PRED = np.array([[1.5, 1.0], [0.5, -2.0], [0.2, 5.0]], np.float32)
SW = np.array([1.0, 0.5, 2.0], np.float32)
VALUES = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)


def _run(metric, *args, sample_weight=None):
    metric.update_state(*args, sample_weight=sample_weight)
    return float(metric.result())


CASES = [
    ("Sum", (VALUES,), None), ("Sum", (VALUES,), SW),
    ("Mean", (VALUES,), None), ("Mean", (VALUES,), SW),
    ("MeanAbsolutePercentageError", (Y_TRUE, Y_PRED), None),
    ("MeanAbsolutePercentageError", (Y_TRUE, Y_PRED), SW),
]
# Keras 3.15.1, torch backend, same inputs (recorded for runs without keras).
RECORDED = [21.0, 28.5, 3.5, 4.0714287757873535, 33333360.0, 57142884.0]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_against_keras(i):
    name, args, sw = CASES[i]
    ours = _run(getattr(metrics, name)(), *args, sample_weight=sw)
    if keras is not None:
        ref = _run(getattr(keras.metrics, name)(), *args, sample_weight=sw)
    else:
        ref = RECORDED[i]
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_mape_string_and_reset():
    m = metrics.get("mape")
    assert m.name == "mape"
    m.update_state(np.array([[2.0]]), np.array([[1.0]]))
    assert m.result() == pytest.approx(50.0)
    m.reset_state()
    assert m.result() == 0.0
    s = metrics.Sum()
    s.update_state([1.0, 2.0])
    s.reset_state()
    assert s.result() == 0.0
