"""Defect 5 and the structure rules, as a user meets them: the Problems panel says what
Train will refuse before it is pressed, and a fix button repairs the canvas."""

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt

from core.graph.templates import TEMPLATES
from tests.desktop.conftest import drop_layer
from tests.desktop.training_helpers import wait_data


def test_two_input_template_trains_from_the_canvas_on_the_sample(window, qtbot):
    """The image feeds Input 'image', its ink bands Input 'ink_bands' (issue #14)."""
    ui = window.training_ui
    doc = TEMPLATES["two_input"]()
    doc.set_training(epochs=2)
    window.set_document(doc)
    wait_data(qtbot, ui)
    assert not window.problems.problems
    with qtbot.waitSignal(ui.controller.runFinished, timeout=180000):
        qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    run = window.document.history[-1]
    assert run["epochs_done"] == 2 and run["test"]["source"] == "Test set"
    assert run["epochs"][-1]["loss"] < run["epochs"][0]["loss"]
    # 1,000 held-out digits: far above the 10% of guessing after two epochs
    assert run["test"]["accuracy"] > 0.8, run["test"]
    assert ui.results.results["kind"] == "image" and ui.results.confusion.isVisible()
    # the pad draws the image; the model's 'ink_bands' Input is computed from it
    pad = ui.results.pad
    with qtbot.waitSignal(pad.predicted, timeout=30000) as got:
        qtbot.mousePress(pad.area, Qt.LeftButton, pos=QPoint(140, 50))
        qtbot.mouseMove(pad.area, QPoint(140, 230))
        qtbot.mouseRelease(pad.area, Qt.LeftButton, pos=QPoint(140, 230))
    probs = np.asarray(got.args[0])
    assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-4, pad.status.text()


def test_dangling_layer_is_flagged_deleted_with_one_click_then_trains(window, qtbot):
    ui = window.training_ui
    for y in (60, 180, 300):
        assert drop_layer(window, ("InputLayer", "Flatten", "Dense")[y // 120], QPointF(300, y))
    assert drop_layer(window, "Dense", QPointF(600, 300))
    doc = window.document
    i, f, out, stray = list(doc.nodes)
    doc.set_config(i, "shape", [28, 28, 1])
    doc.set_config(out, "units", 10)
    doc.set_config(out, "activation", "softmax")
    doc.set_config(stray, "units", 2)
    doc.connect(i, f)
    doc.connect(f, out)
    doc.connect(f, stray)  # dropped and wired, never led on
    doc.set_training(loss="sparse_categorical_crossentropy", epochs=1)
    wait_data(qtbot, ui)
    panel = window.problems
    qtbot.waitUntil(lambda: any("2 outputs" in p.message for p in panel.problems))
    # Train maps the labels onto both outputs: the stray one's 2 units cannot hold 10 classes
    qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    msg = ui.controller.last_message
    assert ui.controller.state == "idle"
    assert f"output '{doc.nodes[stray].name}'" in msg and "outputs 2 values" in msg, msg
    button = next(b for b in panel.fix_buttons if b.text() == f"Delete '{doc.nodes[stray].name}'")
    qtbot.mouseClick(button, Qt.LeftButton)
    assert stray not in doc.nodes
    qtbot.waitUntil(lambda: not panel.problems)
    window.undo_stack.undo()  # one undo step brings the layer back
    assert stray in doc.nodes
    window.undo_stack.redo()
    with qtbot.waitSignal(ui.controller.runFinished, timeout=120000):
        qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    run = doc.history[-1]
    assert run["epochs_done"] == 1 and np.isfinite(run["epochs"][0]["loss"])


def test_problem_rows_are_as_tall_as_their_text(window, qtbot):
    doc = TEMPLATES["mnist_cnn"]()
    window.set_document(doc)
    window.resize(1600, 1000)
    window.arrange_docks()
    qtbot.wait(50)
    last = [n.id for n in doc.nodes.values() if not doc.outputs_of(n.id)][0]
    doc.set_config(last, "activation", "linear")  # the list appears with one wrapped row
    panel = window.problems
    qtbot.waitUntil(lambda: panel.list.count() == 1)
    qtbot.wait(50)
    item = panel.list.item(0)
    row = panel.list.itemWidget(item)
    needed = row.layout().heightForWidth(panel.list.viewport().width())
    assert item.sizeHint().height() == needed < 150
    assert item.sizeHint().width() == panel.list.viewport().width()


def test_warned_node_is_marked_on_the_canvas(window, qtbot):
    doc = TEMPLATES["mnist_cnn"]()
    window.set_document(doc)
    last = [n.id for n in doc.nodes.values() if not doc.outputs_of(n.id)][0]
    item = window.scene.node_items[last]
    assert item.warnings == ()
    doc.set_config(last, "activation", "linear")
    qtbot.waitUntil(lambda: bool(item.warnings))
    assert "linear activation" in item.warnings[0] and "linear activation" in item.toolTip()
    other = [i for n, i in window.scene.node_items.items() if n != last]
    assert not any(i.warnings for i in other)
    doc.set_config(last, "activation", "softmax")
    qtbot.waitUntil(lambda: item.warnings == ())
