"""Training controls users expect (issue 14, "What to build" 3): early stopping that keeps
the best epoch's weights and a learning rate that drops on a plateau, set in the form,
saved in the project, applied by Train."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.graph.project_file import load_project, save_project
from tests.desktop.test_editor_panels import _type_into
from tests.desktop.training_helpers import make_host, wait_data


@pytest.fixture
def frozen_host(qtbot):
    """An MLP whose SGD steps (lr 1e-30) are lost in float32 rounding: every epoch's
    validation loss is the same number, so 'not improving' is certain, not timing."""
    from core.graph import GraphDocument

    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [28, 28, 1]})
    b = doc.add_node("Flatten")
    c = doc.add_node("Dense", {"units": 10, "activation": "softmax"})
    doc.connect(a, b)
    doc.connect(b, c)
    doc.set_training(epochs=6, batch_size=500, seed=1, optimizer="sgd", learning_rate=1e-30,
                     loss="sparse_categorical_crossentropy", validation_split=0.2)
    win = make_host(qtbot, doc)
    wait_data(qtbot, win.training_ui)
    yield win
    win.training_ui.shutdown()


def test_early_stopping_set_in_the_form_stops_and_is_saved(qtbot, frozen_host, tmp_path):
    ui, doc = frozen_host.training_ui, frozen_host.document
    form = ui.form
    assert form.early_stopping.text() == "off" and doc.training.early_stopping is None
    _type_into(qtbot, form.early_stopping, "2")
    assert doc.training.early_stopping == 2
    save_project(doc, tmp_path / "p.nwproj")
    loaded, _ = load_project(tmp_path / "p.nwproj")
    assert loaded.training.early_stopping == 2 and loaded.training.reduce_lr is None
    with qtbot.waitSignal(ui.controller.runFinished, timeout=240_000) as done:
        qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    result = done.args[0]
    # epoch 1 is the best; epochs 2 and 3 do not improve -> stop after epoch 3 of 6
    assert result["epochs_done"] == 3 and result["early_stopped"] == (3, 1)
    assert doc.history[-1]["early_stopped"] == [3, 1]
    assert "Early stopping after epoch 3" in ui.controller.last_message
    assert "best epoch (1)" in ui.controller.last_message


def test_learning_rate_drops_tenfold_on_a_plateau(qtbot, frozen_host):
    ui, doc = frozen_host.training_ui, frozen_host.document
    _type_into(qtbot, ui.form.reduce_lr, "1")
    assert doc.training.reduce_lr == 1
    doc.set_training(epochs=3)
    with qtbot.waitSignal(ui.controller.runFinished, timeout=240_000) as done:
        qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    assert done.args[0]["epochs_done"] == 3 and not done.args[0]["early_stopped"]
    lr = float(np.asarray(ui.controller.model.optimizer.learning_rate))
    assert lr == pytest.approx(1e-32, rel=1e-5)  # 1e-30 -> 1e-31 (epoch 2) -> 1e-32 (epoch 3)
    _type_into(qtbot, ui.form.reduce_lr, "0")
    assert doc.training.reduce_lr is None and ui.form.reduce_lr.text() == "off"


def test_long_status_text_does_not_squeeze_the_form(window, qtbot):
    ui = window.training_ui
    window.resize(1600, 1000)
    window.arrange_docks()
    ui.train_dock.show()
    qtbot.wait(50)
    ui.state_label.setText("Train cannot feed this network from the canvas: it has 2 Inputs "
                           "('image', 'features'), while the data panel gives one input array "
                           "and one label array. It builds and exports; train it from code. "
                           * 2)
    qtbot.wait(50)
    for w in (ui.form.loss, ui.form.optimizer, ui.form.epochs, ui.form.reduce_lr):
        assert w.height() >= w.sizeHint().height(), w.objectName()


def test_file_new_puts_the_curve_axes_back(window, qtbot):
    curves = window.training_ui.curves
    curves.begin_run("Run 1", [])
    curves.add_epoch(0, {"loss": 40.0})
    curves.add_epoch(4, {"loss": 20.0})
    window.training_ui.curves_dock.raise_()
    qtbot.wait(50)
    vb = curves.loss_plot.getPlotItem().vb
    vb.updateAutoRange()
    assert vb.viewRange()[1][1] > 20  # the run's range is on screen
    window.project.new(confirm=False)
    qtbot.wait(20)
    (x0, x1), (y0, y1) = curves.loss_plot.getPlotItem().vb.viewRange()
    assert x1 <= 1.5 and y1 <= 1.5  # not the old run's 0-5 epochs and 20-40 loss


def test_balanced_class_weights_reach_fit(qtbot, frozen_host):
    ui, doc = frozen_host.training_ui, frozen_host.document
    ui.form.class_weight.setCurrentText("balanced")
    assert doc.training.class_weight == "balanced"
    doc.set_training(epochs=1, learning_rate=0.01, optimizer="adam")
    with qtbot.waitSignal(ui.controller.runFinished, timeout=240_000):
        qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    weights = ui.controller.worker.fit_kwargs["class_weight"]
    labels = ui.data_panel.dataset.y_train
    counts = np.bincount(labels)
    expected = len(labels) / (len(counts) * counts)  # scikit-learn's "balanced"
    assert sorted(weights) == list(range(10))
    np.testing.assert_allclose([weights[c] for c in range(10)], expected, rtol=1e-12)
    assert np.isfinite(doc.history[-1]["epochs"][0]["loss"])


def test_regularizer_strength_typed_in_the_inspector_reaches_the_layer(window, qtbot):
    from core.layers.spec import get_layer_class
    from tests.desktop.test_editor_panels import _select_new

    doc = window.document
    dense = _select_new(window, "Dense", (300.0, 400.0))
    edit = window.inspector.fields["kernel_regularizer"].widget
    assert not edit.strength.isEnabled()  # no regularizer, no strength
    edit.combo.setCurrentIndex(edit.combo.findText("l2"))
    edit.combo.activated.emit(edit.combo.currentIndex())
    assert doc.nodes[dense].config["kernel_regularizer"] == "l2"  # Keras' default 0.01
    assert edit.strength.isEnabled()
    _type_into(qtbot, edit.strength, "0.001")
    reg = doc.nodes[dense].config["kernel_regularizer"]
    assert reg["class_name"] == "L2" and reg["config"] == {"l2": 0.001}
    layer = get_layer_class("Dense")(**doc.nodes[dense].config)
    layer.build((None, 3))
    kernel = np.asarray(layer.kernel.value, dtype=np.float64)
    penalty = float(np.asarray(layer.kernel.regularizer(layer.kernel.value)))
    assert penalty == pytest.approx(0.001 * np.sum(kernel ** 2), rel=1e-5)
    _type_into(qtbot, edit.strength, "-1")
    assert "must be a number >= 0" in window.inspector.field_error("kernel_regularizer")
    assert doc.nodes[dense].config["kernel_regularizer"]["config"] == {"l2": 0.001}


def test_training_panel_is_never_narrower_than_its_form(window, qtbot):
    ui = window.training_ui
    window.resize(1000, 700)
    window.resizeDocks([ui.train_dock], [50], Qt.Horizontal)  # the user drags it thin
    qtbot.wait(50)
    inner = ui.form_scroll.widget()
    assert ui.form_scroll.viewport().width() >= inner.minimumSizeHint().width()
    assert ui.stop_button.visibleRegion().boundingRect().width() == ui.stop_button.width()
