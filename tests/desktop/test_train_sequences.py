"""The sequence templates train in the app on the shipped samples (issues #10, #14).

Train is clicked, the controller and worker do the rest; the figures are checked against
numbers computed here from the data set itself (majority class, the naive last-value
forecast), and the results panel is checked for the view that fits the task.
"""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.graph import templates as T
from core.session.shipped_samples import series_dataset, text_dataset

TRAIN_TIMEOUT = 600_000  # the 2 shared cores: never a timing, only a ceiling


def _train(window, qtbot, doc, ds):
    ui = window.training_ui
    with qtbot.waitSignal(ui.data_panel.loadFinished, timeout=60000):
        window.set_document(doc)  # the template names its shipped sample: the panel loads it
    got = ui.data_panel.dataset
    assert got is not None and got.name == ds.name, window.training_ui.data_panel.info.text()
    np.testing.assert_array_equal(got.x_train, ds.x_train)  # what the figures below assume
    assert not [p for p in window.problems.problems if p.severity == "error"]
    with qtbot.waitSignal(ui.controller.runFinished, timeout=TRAIN_TIMEOUT) as done:
        qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    assert done.args[0]["results"] is not None, ui.controller.last_message
    return ui, done.args[0]["results"]


def test_text_classifier_beats_the_majority_class_and_lists_its_mistakes(window, qtbot):
    ds = text_dataset()
    ui, res = _train(window, qtbot, T.text_classifier(), ds)
    y = np.asarray(ds.y_test)
    majority = np.bincount(y).max() / len(y)
    probs = ui.controller.model.predict(ds.x_test.astype(np.float32), verbose=0).reshape(-1)
    accuracy = float(np.mean((probs > 0.5) == y))
    assert res["kind"] == "text" and res["source"] == "Test set" and res["count"] == len(y)
    assert res["majority_accuracy"] == pytest.approx(majority)
    assert res["accuracy"] == pytest.approx(accuracy)
    assert accuracy - majority >= 0.15, (accuracy, majority)  # the acceptance figure
    run = window.document.history[-1]["test"]
    assert run["accuracy"] == pytest.approx(accuracy) and "majority class" in \
        ui.results.summary.text()
    # the misclassified texts, with predicted / true label, in test-set order
    wrong = np.flatnonzero((probs > 0.5) != y)
    table = ui.results.texts
    assert table.isVisible() and table.rowCount() == min(len(wrong), 48)
    first = int(wrong[0])
    assert table.item(0, 0).text() == ds.texts_test[first]
    predicted, true = table.item(0, 1).text().split("\n/ ")
    assert true == ds.class_names[y[first]]
    assert predicted.startswith(ds.class_names[1 - y[first]])
    # typing a sentence shows its class probabilities, predicted off the GUI thread
    pad = ui.results.sentence
    assert ui.results.tabs.isTabVisible(ui.results.sentence_tab)
    assert not ui.results.tabs.isTabVisible(ui.results.pad_tab)
    ui.results.tabs.setCurrentIndex(ui.results.sentence_tab)
    sentence = ds.texts_test[first]
    with qtbot.waitSignal(pad.predicted, timeout=30000) as got:
        pad.edit.setText(sentence)  # one textChanged: one prediction
    p = float(probs[first])
    np.testing.assert_allclose(got.args[0], [1 - p, p], rtol=1e-5, atol=1e-6)
    assert pad.bars[1].value() == round(p * 1000)


def test_forecaster_beats_the_naive_last_value_forecast(window, qtbot):
    ds = series_dataset()
    ui, res = _train(window, qtbot, T.forecaster(), ds)
    # Keras' validation split: the last 20% of the windows, i.e. the latest weeks
    n = len(ds.x_train)
    at = int(np.floor(n * (1 - T.forecaster().training.validation_split)))
    x, y = ds.x_train[at:, :, 0].astype(np.float64), ds.y_train[at:].astype(np.float64)
    naive_mae = np.mean(np.abs(y - x[:, -1]))
    assert res["task"] == "regression" and res["source"] == "Validation split"
    assert res["count"] == n - at
    assert res["baseline"]["mean_absolute_error"] == pytest.approx(naive_mae)
    np.testing.assert_allclose(res["actual"], y, rtol=1e-5)
    mae = np.mean(np.abs(np.asarray(res["predicted"]) - y))
    assert res["regression"]["mean_absolute_error"] == pytest.approx(mae)
    assert mae <= 0.8 * naive_mae, (mae, naive_mae)  # the acceptance figure
    assert window.document.history[-1]["test"]["mae_vs_baseline"] == pytest.approx(
        mae / naive_mae)
    view = ui.results.forecast
    assert view.isVisible() and not ui.results.confusion.isVisible()
    for key in ("actual", "predicted", "naive", "model_error", "naive_error"):
        assert len(view.curves[key].getData()[1]) == n - at, key
    assert "naive last-value MAE" in ui.results.summary.text()


def test_a_reopened_project_shows_its_last_run_figures(window, qtbot, tmp_path):
    from core.graph.project_file import load_project, save_project

    doc = T.forecaster()
    doc.history.append({"name": "Run 1", "epochs": [], "test": {
        "source": "Validation split", "count": 445, "task": "regression", "loss": 0.1,
        "regression": {"mean_absolute_error": 0.5, "root_mean_squared_error": 0.7,
                       "r2_score": 0.97},
        "baseline": {"mean_absolute_error": 2.0, "root_mean_squared_error": 2.3,
                     "r2_score": 0.78}, "mae_vs_baseline": 0.25}})
    save_project(doc, tmp_path / "f.nwproj")
    again, _ = load_project(tmp_path / "f.nwproj")
    window.set_document(again)
    text = window.training_ui.results.summary.text()
    assert "445 samples" in text and "MAE 0.5" in text and "75% lower" in text


def test_small_transformer_trains_in_the_app_on_the_sentences(window, qtbot):
    ds = text_dataset()
    ui, res = _train(window, qtbot, T.small_transformer(), ds)
    y = np.asarray(ds.y_test)
    majority = np.bincount(y).max() / len(y)
    assert res["kind"] == "text" and res["count"] == len(y)
    # two epochs and no position embedding (template doc): it learns, less than the LSTM
    assert res["accuracy"] > majority + 0.10, (res["accuracy"], majority)
    assert ui.results.texts.rowCount() > 0
