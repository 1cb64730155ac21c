"""Image-output networks from the canvas, as a user meets them: a convolutional
autoencoder drawn on the canvas is told before Train that class labels cannot fit its
image output, picks "Target: the input itself (reconstruction)" in the data panel and
trains; the results show reconstructions and the reconstruction error. The real-Keras
autoencoder fixture, whose output is not its input's shape, is told in plain words what
would fit instead, and Train refuses with those words (it used to fail inside fit)."""

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from tests.desktop.training_helpers import wait_data

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"


def _autoencoder():
    from core.graph import GraphDocument

    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [28, 28, 1]})
    b = doc.add_node("Conv2D", {"filters": 8, "kernel_size": [3, 3], "strides": [2, 2],
                                "padding": "same", "activation": "relu"})
    c = doc.add_node("Conv2DTranspose", {"filters": 1, "kernel_size": [3, 3],
                                         "strides": [2, 2], "padding": "same",
                                         "activation": "sigmoid"})
    doc.connect(a, b)
    doc.connect(b, c)
    doc.set_training(loss="mse", metrics=[], epochs=2, batch_size=64, learning_rate=0.01,
                     seed=3, validation_split=0.1)
    return doc


def _mse(model, x):
    pred = model.predict(x, verbose=0)
    return float(np.mean((np.asarray(pred, np.float64) - x) ** 2))


def test_a_conv_autoencoder_trains_on_its_input_from_the_data_panel(window, qtbot):
    doc = _autoencoder()
    window.set_document(doc)
    ui = window.training_ui
    wait_data(qtbot, ui)
    # Before Train: Problems says the labels do not fit the image output, and Train refuses.
    problem = next(p for p in doc.problems() if "do not fit that output" in p.message)
    assert "28 × 28 × 1 values per sample" in problem.message
    assert [f.label for f in problem.fixes] == ["Target: the input itself (reconstruction)"]
    qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    assert ui.controller.state == "idle" and "do not fit that output" in ui.state_label.text()
    # The data panel offers the input itself as the target: one undo step.
    choice = ui.data_panel.target_choice
    assert choice.isVisibleTo(ui.data_panel)
    assert choice.combo.itemText(1) == "Target: the input itself (reconstruction)"
    assert choice.combo.model().item(1).isEnabled()
    steps = window.undo_stack.count()
    choice.combo.setCurrentIndex(1)
    assert doc.training.target == "input" and window.undo_stack.count() == steps + 1
    assert not [p for p in doc.problems() if "do not fit" in p.message]
    untrained = doc.build_model()
    with qtbot.waitSignal(ui.controller.runFinished, timeout=300_000) as done:
        qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    result = done.args[0]
    res = result["results"]
    assert res["task"] == "reconstruction"
    # The figure is the model's own error on the test images (computed here again).
    from core.session.run_weights import restore_weights
    model = doc.build_model()
    assert restore_weights(model, doc.weights)
    ds = ui.data_panel.dataset
    x = (np.asarray(ds.x_test, np.float32) / 255.0).reshape(-1, 28, 28, 1)
    err = _mse(model, x)
    np.testing.assert_allclose(res["reconstruction"]["mean_squared_error"], err, rtol=1e-4)
    assert err < _mse(untrained, x)  # it learned: better than its starting weights
    mean_image = float(np.mean((x - np.asarray(ds.x_train, np.float64).reshape(
        -1, 28, 28, 1).mean(axis=0) / 255.0) ** 2))
    np.testing.assert_allclose(res["mean_image"]["mean_squared_error"], mean_image, rtol=1e-4)
    # Results: reconstructions beside their inputs, no confusion matrix.
    panel = ui.results
    assert "reconstruction error" in panel.summary.text()
    assert panel.confusion.isHidden()
    outs = panel.gallery.findChildren(type(panel.summary), "reconstructionOutput")
    assert len(outs) == 8 and outs[0].pixmap() is not None and not outs[0].pixmap().isNull()
    assert panel.pad._predict is None  # the digit pad's class bars mean nothing here
    # The run keeps its summary and its setting (the Runs table compares it).
    assert doc.history[-1]["settings"]["target"] == "input"
    assert doc.history[-1]["test"]["reconstruction"]["mean_squared_error"] == \
        res["reconstruction"]["mean_squared_error"]
    ui.shutdown()


def test_the_keras_autoencoder_fixture_is_told_what_would_fit(window, qtbot):
    assert window.project.open(str(FIXTURES / "func_autoencoder.keras"))
    doc = window.document
    ui = window.training_ui
    # The digits are held back (28x28 images, an 8x8 Input): the user clicks "Fit
    # network to data", which sets the Input to 28x28.
    qtbot.waitUntil(lambda: ui.data_panel.candidate is not None, timeout=20000)
    assert "does not fit the network" in ui.data_panel.message.text()
    qtbot.mouseClick(ui.data_panel.fit_button, Qt.LeftButton)
    wait_data(qtbot, ui)
    inp = next(n for n in doc.nodes.values() if n.type == "InputLayer")
    assert tuple(doc.state(inp.id).output_shape[1:]) == (28, 28, 1)
    problem = next(p for p in doc.problems() if "do not fit that output" in p.message)
    assert "one class number per sample" in problem.message
    assert "Flatten and Dense(10, softmax)" in problem.message
    assert "the output needs the input's shape (28, 28, 1)" in problem.message
    assert not problem.fixes
    choice = ui.data_panel.target_choice
    assert choice.isVisibleTo(ui.data_panel) and not choice.combo.model().item(1).isEnabled()
    qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    assert ui.controller.state == "idle"
    assert "do not fit that output" in ui.state_label.text()
    ui.shutdown()
