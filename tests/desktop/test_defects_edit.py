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
