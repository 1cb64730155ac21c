"""Defects found by hand (issue 14), replayed as the user did them: paste from the
Edit menu / Ctrl+V, typing in the learning-rate and validation-split fields, and
one undo step per field edit rather than per keystroke."""

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from tests.desktop.conftest import drop_layer


def _form(window):
    return window.training_ui.form


def _type_into(qtbot, widget, text):
    widget.setFocus()
    widget.selectAll() if hasattr(widget, "selectAll") else None
    qtbot.keyClick(widget, Qt.Key_A, Qt.ControlModifier)
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key_Return)


def test_edit_menu_paste_pastes_the_copied_layer(window):
    """Defect 1: QAction.triggered(bool) handed `checked` to paste as its payload."""
    assert drop_layer(window, "Dense", QPointF(300, 200))
    window.edit_actions.copy_action.trigger()
    window.edit_actions.paste_action.trigger()  # what Edit > Paste and Ctrl+V do
    assert len(window.document.nodes) == 2
    window.view.setFocus()
    QTest.keyClick(window.view.viewport(), Qt.Key_V, Qt.ControlModifier)
    assert len(window.document.nodes) == 3


def test_learning_rate_field_reads_scientific_notation_and_refuses_bad_values(window, qtbot):
    """Defect 2: 1e-4 became 14, 1e6 became 16, 1e-7 was dropped, -0.5 became 0.5."""
    form, doc = _form(window), window.document
    _type_into(qtbot, form.learning_rate, "1e-4")
    assert doc.training.learning_rate == 1e-4
    _type_into(qtbot, form.learning_rate, "0.0000001")
    assert doc.training.learning_rate == 1e-7
    _type_into(qtbot, form.learning_rate, "-0.5")
    assert doc.training.learning_rate == 1e-7
    assert "positive" in form.status.text()
    _type_into(qtbot, form.learning_rate, "fast")
    assert doc.training.learning_rate == 1e-7 and "not a number" in form.status.text()
    assert form.learning_rate.text() == "1e-07"  # the field shows the kept value again
    _type_into(qtbot, form.learning_rate, "1e6")
    assert doc.training.learning_rate == 1e6
    assert "very high" in form.status.text()  # accepted, but the user is warned


def test_validation_split_typed_at_normal_speed_keeps_every_digit(window, qtbot):
    """Defect 3: the field reformatted after each keystroke, so 0.15 became 0.10."""
    form = _form(window)
    _type_into(qtbot, form.validation_split, "0.15")
    assert window.document.training.validation_split == 0.15


def test_typing_in_a_spin_box_is_one_undo_step(window, qtbot):
    """Defect 7: every keystroke / arrow click was its own undo step."""
    form, doc = _form(window), window.document
    before = doc.training.epochs
    start = window.undo_stack.count()
    _type_into(qtbot, form.epochs, "125")
    for _ in range(3):
        qtbot.keyClick(form.epochs, Qt.Key_Up)
    assert doc.training.epochs == 128
    assert window.undo_stack.count() == start + 1
    window.undo_stack.undo()
    assert doc.training.epochs == before


def test_train_buttons_stay_put_when_status_text_wraps(window, qtbot):
    """Defect 6: Train / Pause / Stop moved ~16 px when a status text wrapped."""
    ui = window.training_ui
    ui.train_dock.show()
    qtbot.wait(50)
    before = ui.train_button.mapTo(window, ui.train_button.rect().topLeft())
    long = "Learning rate 'fast' is not a number (e.g. 0.001 or 1e-4). " * 4
    ui.form.status.setText(long)
    ui.state_label.setText(long)
    qtbot.wait(50)
    assert ui.train_button.mapTo(window, ui.train_button.rect().topLeft()) == before


def test_disabled_buttons_look_disabled(window, qtbot):
    """Defect 6: with the app's style sheet a disabled button was drawn like an enabled one."""
    from desktop.app import RESOURCES

    ui = window.training_ui
    ui.train_panel.setStyleSheet((RESOURCES / "styles" / "dark.qss").read_text("utf-8"))
    ui.train_dock.show()
    qtbot.wait(50)
    assert ui.train_button.isEnabled() and not ui.stop_button.isEnabled()

    def mean_text_rgb(button):
        img = button.grab().toImage()
        w, h = img.width(), img.height()
        cols = [img.pixelColor(x, y) for x in range(w // 4, 3 * w // 4) for y in range(h // 3,
                2 * h // 3)]
        return max(c.lightness() for c in cols)

    assert mean_text_rgb(ui.stop_button) < mean_text_rgb(ui.train_button) - 40


def test_template_menu_palette_and_epoch_texts_read_well(window):
    """Defect 16: templates listed as "Mnist Cnn", no "no results" for an empty palette
    search, "1 epochs"."""
    from desktop.training.controller import plural

    titles = [a.text() for a in window.template_menu.actions()]
    assert "MNIST CNN" in titles and "ResNet Block" in titles
    assert not any("Mnist" in t for t in titles)
    window.palette.search.setText("zzzz-no-such-layer")
    assert window.palette.visible_names() == []
    assert window.palette.no_results.isVisible()
    window.palette.search.setText("Dense")
    assert not window.palette.no_results.isVisible()
    assert plural(1, "epoch") == "1 epoch" and plural(2, "epoch") == "2 epochs"


def test_metric_named_by_keras_alias_shows_checked(window):
    """The forecaster template asks for "mae": its box must show it (it read unchecked)."""
    from desktop.project import examples_dir

    assert window.project.new_from_template(examples_dir() / "forecaster.nwproj",
                                            confirm=False)
    boxes = _form(window).metric_boxes
    assert "mae" in window.document.training.metrics
    assert boxes["mean_absolute_error"].isChecked()
    assert not boxes["accuracy"].isChecked()
