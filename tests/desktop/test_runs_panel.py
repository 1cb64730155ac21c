"""The Runs panel as a user meets it: two runs with different learning rates are listed
with what changed, unticking a run takes it off the curves, and a run's settings come
back with one click (one undo step)."""

from PySide6.QtCore import Qt

from tests.desktop.training_helpers import make_host, wait_data


def test_two_runs_compared_overlay_ticks_and_settings_restored(qtbot):
    from core.graph import GraphDocument

    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [28, 28, 1]})
    b = doc.add_node("Flatten")
    c = doc.add_node("Dense", {"units": 10, "activation": "softmax"})
    doc.connect(a, b)
    doc.connect(b, c)
    doc.set_training(epochs=1, batch_size=256, seed=1, loss="sparse_categorical_crossentropy")
    win = make_host(qtbot, doc)
    ui = win.training_ui
    wait_data(qtbot, ui)
    runs = ui.runs
    assert runs.table.rowCount() == 0 and not runs.empty.isHidden()
    for lr in (0.001, 0.01):
        doc.set_training(learning_rate=lr)
        ui.form.refresh()
        with qtbot.waitSignal(ui.controller.runFinished, timeout=240_000):
            qtbot.mouseClick(ui.train_button, Qt.LeftButton)
    table = runs.table
    assert table.rowCount() == 2
    headers = [table.horizontalHeaderItem(j).text() for j in range(table.columnCount())]
    assert "loss final (best)" in headers and "Test accuracy" in headers
    assert table.item(0, 2).text() == "learning_rate=0.001"
    assert table.item(1, 2).text() == "learning_rate=0.01"
    assert table.item(1, 1).text() == "Run 2" and table.item(0, 3).text() == "1"  # epochs
    data_col = headers.index("Data")  # the data set each run trained on, by name
    assert table.item(0, data_col).text() == doc.history[0]["dataset"] != ""
    acc_col = headers.index("Test accuracy")
    assert table.item(0, acc_col).text().endswith("%")

    ui.curves.set_history(doc.history)  # both runs as overlays
    assert any("Run 1" in str(item.opts.get("name")) for _, item in ui.curves._overlay_items)
    table.item(0, 0).setCheckState(Qt.Unchecked)  # the user unticks Run 1
    assert runs.hidden == {"Run 1"}
    names = [str(item.opts.get("name")) for _, item in ui.curves._overlay_items]
    assert not any("Run 1" in n for n in names) and any("Run 2" in n for n in names)

    table.selectRow(0)
    assert runs.use_button.isEnabled()
    before = win.undo_stack.count()
    qtbot.mouseClick(runs.use_button, Qt.LeftButton)
    assert doc.training.learning_rate == 0.001
    assert ui.form.learning_rate.value() == 0.001
    assert win.undo_stack.count() == before + 1
    win.undo_stack.undo()
    assert doc.training.learning_rate == 0.01
    ui.shutdown()


def test_changed_settings_column_shows_its_whole_text(qtbot):
    from desktop.panels.runs_panel import RunsPanel

    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.resize(420, 300)
    panel.show()
    runs = [{"name": f"Run {k}", "settings": {"learning_rate": lr, "batch_size": bs},
             "epochs": [{"loss": 0.5, "accuracy": 0.9, "val_loss": 0.6, "val_accuracy": 0.8}],
             "epochs_done": 1, "seconds": 1.0} for k, (lr, bs) in
            enumerate(((0.001, 32), (0.01, 64)), start=1)]
    panel.set_history(runs)
    qtbot.wait(20)
    item = panel.table.item(0, 2)
    assert item.text() == "learning_rate=0.001, batch_size=32"
    needed = panel.table.fontMetrics().horizontalAdvance(item.text())
    assert panel.table.columnWidth(2) >= needed
