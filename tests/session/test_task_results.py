"""core.session: data mapped by name, time-series scaling undone in the results, and
the results' figures against formulas written out here."""

import numpy as np
import pytest

from core.session.data_source import Dataset
from core.session.network_data import NetworkDataError, prepare_network
from core.session.ports import Port
from core.session.targets import task_for
from core.session.task_results import (
    class_probabilities,
    compute_results,
    regression_scores,
    run_summary,
)


class _Echo:
    """A 'model' whose prediction is a known function of x (here: x's last step), so
    the results can be checked without training."""

    def predict(self, x, batch_size=None, verbose=0):
        return np.asarray(x)[:, -2, :1] * 0.5  # half the step before the last

    def evaluate(self, x, y, batch_size=None, verbose=0, return_dict=True):
        return {"loss": 0.0}


def _series(n=50, window=4):
    t = np.arange(n + window, dtype=np.float64)
    values = 300 + 0.1 * t + np.sin(t)
    x = np.stack([values[i:i + window] for i in range(n)])[..., None]
    y = values[window:window + n]
    return Dataset("toy", x.astype(np.float32), y.astype(np.float32), task="regression",
                   window=window, horizon=1)


def test_regression_scores_match_their_formulas():
    a, p = np.array([1.0, 2.0, 4.0, 7.0]), np.array([1.5, 2.0, 3.0, 8.0])
    got = regression_scores(a, p)
    assert got["mean_absolute_error"] == pytest.approx(np.mean(np.abs(a - p)))
    assert got["root_mean_squared_error"] == pytest.approx(np.sqrt(np.mean((a - p) ** 2)))
    assert got["r2_score"] == pytest.approx(1 - np.sum((a - p) ** 2) / np.sum((a - a.mean())
                                                                                ** 2))


def test_series_results_are_in_the_data_units_against_the_last_value():
    ds = _series()
    ins, outs = [Port("i", "x", (4, 1))], [Port("o", "y", (1,))]
    p = prepare_network(ds, ins, outs, "mse", 0.2)
    assert p.task == "regression" and p.series is not None
    res = compute_results(_Echo(), p)
    at = int(np.floor(50 * 0.8))
    x, y = ds.x_train[at:, :, 0].astype(np.float64), ds.y_train[at:].astype(np.float64)
    last, scale = x[:, -1], p.series["scale"]
    # the model saw (x - last) / scale; its output * scale + last is in data units again
    expected = last + 0.5 * ((x[:, -2] - last) / scale) * scale
    assert np.abs(expected - last).max() > 0.1  # not the naive forecast itself
    np.testing.assert_allclose(res["predicted"], expected, rtol=1e-6)
    np.testing.assert_allclose(res["actual"], y, rtol=1e-5)
    assert res["baseline"]["mean_absolute_error"] == pytest.approx(np.mean(np.abs(y - last)),
                                                                   rel=1e-5)
    assert res["time_is_index"] and res["time"][0] == at
    kept = run_summary(res)
    assert kept["mae_vs_baseline"] == pytest.approx(res["regression"]["mean_absolute_error"]
                                                    / res["baseline"]["mean_absolute_error"])


def test_several_inputs_take_their_arrays_by_name_and_a_missing_one_is_named():
    x = np.zeros((6, 5), np.float32)
    extra = {"side": (np.ones((6, 2), np.float32), None)}
    ds = Dataset("tab", x, np.arange(6) % 2, extra_inputs=extra)
    ins = [Port("a", "main", (5,)), Port("b", "side", (2,))]
    p = prepare_network(ds, ins, [Port("o", "out", (2,))],
                        "sparse_categorical_crossentropy", 0.0)
    assert sorted(p.x_train) == ["main", "side"] and p.x_train["side"].shape == (6, 2)
    with pytest.raises(NetworkDataError, match=r"no data for Input 'third' \(3,\)"):
        prepare_network(ds, ins + [Port("c", "third", (3,))], [Port("o", "out", (2,))],
                        "sparse_categorical_crossentropy", 0.0)


def test_which_task_a_loss_makes():
    assert task_for("mse", "regression", 1) == "regression"
    assert task_for("mae", "classification", 1) == "regression"
    # MSE on class ids with a 10-unit output: one-hot classification (not 1 number)
    assert task_for("mse", "classification", 10) == "classification"
    assert task_for("binary_crossentropy", "regression", 1) == "classification"


def test_a_sigmoid_gives_two_class_probabilities():
    np.testing.assert_allclose(class_probabilities(np.array([[0.2], [0.9]])),
                               [[0.8, 0.2], [0.1, 0.9]])
    soft = np.array([[0.1, 0.7, 0.2]])
    np.testing.assert_allclose(class_probabilities(soft), soft)
