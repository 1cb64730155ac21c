"""Defect 14 (issue 14), curves across runs: the legend dropped runs and covered points,
the loss axis kept an old run's range, continued training restarted the epoch count at 1."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.panels.curves import CurvesPanel
from tests.desktop.training_helpers import make_host, template_doc, wait_data


def _history(n):
    return [{"name": f"Run {k + 1}", "epochs": [{"loss": 2.0 - 0.1 * e, "val_loss": 2.1,
                                                 "accuracy": 0.1 * e} for e in range(3)]}
            for k in range(n)]


def _legend_names(plot):
    return [label.text for _, label in plot.getPlotItem().legend.items]


def test_legend_names_every_run_beside_the_plot_not_over_it(qtbot):
    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 500)
    panel.show()
    panel.set_history(_history(6))
    panel.begin_run("Run 7", ["accuracy"])
    panel.add_epoch(0, {"loss": 1.0, "val_loss": 1.1, "accuracy": 0.5, "val_accuracy": 0.4})
    qtbot.wait(100)  # let the plot lay out its new legend rows
    names = _legend_names(panel.loss_plot)
    assert [f"Run {k}" for k in range(1, 7)] == [n for n in names if n.startswith("Run")]
    assert "train loss" in names and "validation loss" in names
    assert "Run 1: accuracy" in _legend_names(panel.metric_plot)
    for plot in (panel.loss_plot, panel.metric_plot):
        item = plot.getPlotItem()
        legend = item.legend.sceneBoundingRect()
        assert legend.left() >= item.vb.sceneBoundingRect().right() - 1  # beside the data


def test_new_run_rescales_the_loss_axis(qtbot):
    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.begin_run("Run 1", [])
    panel.add_epoch(0, {"loss": 50.0})
    panel.loss_plot.setYRange(0, 60)  # as a user zooming the plot, or an old run's range
    panel.begin_run("Run 2", [])
    panel.add_epoch(0, {"loss": 0.5})
    panel.add_epoch(1, {"loss": 0.4})
    vb = panel.loss_plot.getPlotItem().vb
    assert vb.autoRangeEnabled()[1]
    vb.updateAutoRange()
    low, high = vb.viewRange()[1]
    assert high < 1.0  # fits 0.4-0.5, not the old 0-60


@pytest.fixture
def mlp_host(qtbot):
    from core.graph import GraphDocument

    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [28, 28, 1]})
    b = doc.add_node("Flatten")
    c = doc.add_node("Dense", {"units": 10, "activation": "softmax"})
    doc.connect(a, b)
    doc.connect(b, c)
    doc.set_training(epochs=1, batch_size=256, seed=1, loss="sparse_categorical_crossentropy")
    win = make_host(qtbot, doc)
    wait_data(qtbot, win.training_ui)
    yield win
    win.training_ui.shutdown()


def test_continued_training_counts_on_from_the_last_epoch(qtbot, mlp_host):
    ui, doc = mlp_host.training_ui, mlp_host.document
    ui.continue_box.setChecked(True)
    for _ in range(2):
        with qtbot.waitSignal(ui.controller.runFinished, timeout=240_000):
            qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    first, second = doc.history
    assert first["first_epoch"] == 1 and second["resumed_weights"]
    assert second["first_epoch"] == 2  # epoch 2 of the weights, not epoch 1 again
    assert ui.curves.series["loss"].x == [2.0]
    assert ui.controller.epoch_offset == 1
    ui.curves.set_history(doc.history)
    overlay_x = [item.getData()[0] for _, item in ui.curves._overlay_items]
    assert any(np.array_equal(x, [2]) for x in overlay_x)  # run 2 drawn at epoch 2


def test_curves_panel_says_the_learning_rate_is_too_high_after_a_nan(qtbot):
    # softmax + crossentropy only saturates at 1e6 (Keras clips probabilities); the CNN
    # template with a linear output and MSE overflows within a few batches
    doc = template_doc()
    last = [n.id for n in doc.nodes.values() if not doc.outputs_of(n.id)][0]
    doc.set_config(last, "activation", "linear")
    doc.set_training(learning_rate=1e6, epochs=2, loss="mean_squared_error", metrics=[],
                     batch_size=32, seed=0)
    win = make_host(qtbot, doc)
    ui = win.training_ui
    wait_data(qtbot, ui)
    with qtbot.waitSignal(ui.controller.runFinished, timeout=240_000):
        qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    assert doc.history[-1].get("nan_at")
    label = ui.curves.diagnosis
    assert not label.isHidden() and "NaN" in label.text() and "1e+06" in label.text()
    assert "too high" in label.text() and "Try 100000" in label.text()
    assert doc.history[-1]["diagnoses"] == [d.message for d in ui.curves.diagnoses]
    (button,) = ui.curves.fix_buttons  # the remedy, one click away
    assert button.text() == "Set the learning rate to 100000"
    before = win.undo_stack.count()
    qtbot.mouseClick(button, Qt.LeftButton)
    assert doc.training.learning_rate == 1e5 and win.undo_stack.count() == before + 1
    assert ui.form.learning_rate.value() == 1e5
    ui.curves.begin_run("Run 2", [])  # a new run starts without the old words
    assert label.isHidden() and ui.curves.fix_buttons == []
    ui.shutdown()
