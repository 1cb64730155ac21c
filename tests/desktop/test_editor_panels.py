"""Inspector, problems (with one-click fixes) and summary, used like a person would."""

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from tests.desktop.conftest import drop_layer


def _type_into(qtbot, widget, text):
    widget.setFocus()
    if isinstance(widget, QSpinBox):
        widget.lineEdit().selectAll()
        target = widget
    else:
        widget.selectAll()
        target = widget
    QTest.keyClicks(target, text)
    QTest.keyClick(target, Qt.Key_Return)


def _select_new(window, layer, at=(300.0, 200.0)):
    assert drop_layer(window, layer, QPointF(*at))
    node_id = window.scene.selected_node_ids()[0]
    assert window.inspector.node_id == node_id
    return node_id


def test_inspector_form_is_generated_from_params(window):
    node_id = _select_new(window, "Conv2D")
    fields = window.inspector.fields
    import core.layers  # noqa: F401
    from core.layers.spec import get_layer_class

    assert set(fields) == {p.name for p in get_layer_class("Conv2D").params}
    assert isinstance(fields["filters"].widget, QSpinBox)
    assert fields["filters"].widget.minimum() <= 1
    assert isinstance(fields["padding"].widget, QComboBox)
    assert [fields["padding"].widget.itemText(i)
            for i in range(fields["padding"].widget.count())] == ["valid", "same"]
    assert isinstance(fields["use_bias"].widget, QCheckBox)
    assert isinstance(fields["kernel_size"].widget, QLineEdit)
    # defaults (and the starter values for required arguments) are shown
    assert fields["strides"].widget.text() == "1, 1"
    assert fields["kernel_size"].widget.text() == "3, 3"
    assert fields["padding"].widget.currentText() == "valid"
    assert window.document.nodes[node_id].config["filters"] == 32


def test_inspector_valid_edit_is_one_undo_command(window, qtbot):
    node_id = _select_new(window, "Dense")
    stack = window.undo_stack
    n = stack.count()
    _type_into(qtbot, window.inspector.fields["units"].widget, "64")
    doc = window.document
    assert doc.nodes[node_id].config["units"] == 64
    assert stack.count() == n + 1
    assert window.scene.node_items[node_id].count_text  # the card was redrawn
    combo = window.inspector.fields["activation"].widget
    combo.setCurrentIndex(combo.findText("relu"))
    combo.activated.emit(combo.currentIndex())
    assert doc.nodes[node_id].config["activation"] == "relu"
    assert stack.count() == n + 2
    stack.undo()
    assert doc.nodes[node_id].config["activation"] in (None, "linear")
    stack.undo()
    assert doc.nodes[node_id].config["units"] == 32
    assert window.inspector.fields["units"].widget.value() == 32  # the form follows undo


def test_inspector_refuses_invalid_values_in_place(window, qtbot):
    node_id = _select_new(window, "Dropout")
    doc = window.document
    stack = window.undo_stack
    n = stack.count()
    field = window.inspector.fields["rate"].widget
    _type_into(qtbot, field, "1.5")
    assert doc.nodes[node_id].config["rate"] == 0.5
    assert stack.count() == n
    message = window.inspector.field_error("rate")
    assert message and "rate" in message and "1.5" in message
    assert "e5534b" in field.styleSheet()  # red border
    _type_into(qtbot, field, "abc")
    assert "not a number" in window.inspector.field_error("rate")
    _type_into(qtbot, field, "0.25")
    assert doc.nodes[node_id].config["rate"] == 0.25
    assert window.inspector.field_error("rate") is None
    assert field.styleSheet() == ""


def test_inspector_tuple_field_and_rename(window, qtbot):
    node_id = _select_new(window, "Conv2D")
    doc = window.document
    ks = window.inspector.fields["kernel_size"].widget
    _type_into(qtbot, ks, "3, x")
    assert "not an integer" in window.inspector.field_error("kernel_size")
    _type_into(qtbot, ks, "5")
    assert doc.nodes[node_id].config["kernel_size"] == [5, 5]
    _type_into(qtbot, window.inspector.name_edit, "features")
    assert doc.nodes[node_id].name == "features"
    assert window.scene.node_items[node_id].title == "features"
    other = drop_layer(window, "Dense", QPointF(300, 400))
    assert other
    other_id = window.scene.selected_node_ids()[0]
    _type_into(qtbot, window.inspector.name_edit, "features")  # taken
    assert doc.nodes[other_id].name != "features"
    assert "already used" in window.inspector.field_error("name")


def _cnn_without_flatten(doc):
    i = doc.add_node("InputLayer", {"shape": [28, 28, 1]}, (0, 0))
    c = doc.add_node("Conv2D", {"filters": 8, "kernel_size": 3}, (0, 120))
    d = doc.add_node("Dense", {"units": 10, "activation": "softmax"}, (0, 240))
    doc.connect(i, c)
    doc.connect(c, d)
    return i, c, d


def test_shape_problem_shows_on_node_and_one_click_fix(window, qtbot):
    doc = window.document
    i, c, d = _cnn_without_flatten(doc)
    window.problems.refresh()
    scene = window.scene
    wire = scene.edge_items[(c, d, 0)]
    assert wire.label.text() == "(None, 26, 26, 8)"
    assert scene.node_items[d].shape_text == "(None, 26, 26, 10)"
    fixes = [b for b in window.problems.fix_buttons if "Flatten" in b.text()]
    assert fixes, [p.message for p in window.problems.problems]
    window.undo_stack.clear()
    qtbot.mouseClick(fixes[0], Qt.LeftButton)
    flat = [n for n in doc.nodes.values() if n.type == "Flatten"]
    assert len(flat) == 1
    assert doc.state(d).output_shape == (None, 10)
    assert scene.node_items[d].shape_text == "(None, 10)"
    assert window.undo_stack.count() == 1
    assert not any("Flatten" in b.text() for b in window.problems.fix_buttons)
    window.undo_stack.undo()
    assert not any(n.type == "Flatten" for n in doc.nodes.values())
    assert scene.node_items[d].shape_text == "(None, 26, 26, 10)"
    window.undo_stack.redo()
    assert doc.state(d).output_shape == (None, 10)


def test_error_node_turns_red_with_tooltip(window):
    doc = window.document
    i = doc.add_node("InputLayer", {"shape": [784]}, (0, 0))
    c = doc.add_node("Conv2D", {"filters": 4, "kernel_size": 3}, (0, 120))
    doc.connect(i, c)
    item = window.scene.node_items[c]
    assert item.error and item.error == doc.state(c).error
    assert item.toolTip() == item.error
    window.problems.refresh()
    assert any(p.node_id == c for p in window.problems.problems)
    # fixing the input shape clears it
    doc.set_config(i, "shape", [28, 28, 1])
    assert item.error is None and item.shape_text == "(None, 26, 26, 4)"


def test_summary_panel_matches_model_summary(window):
    doc = window.document
    i, c, d = _cnn_without_flatten(doc)
    window.summary_dock.show()
    window.summary_dock.raise_()
    window.resize(1600, 1000)
    window.arrange_docks()  # the dock's width decides the table's (as a terminal's does)
    QTest.qWait(50)
    window.summary.refresh()
    lines = []
    doc.build_model().summary(line_length=window.summary.line_length(),
                              print_fn=lambda s, *a, **k: lines.append(s))
    expected = "\n".join(lines)
    text = window.summary.text()
    assert text == expected  # layers are named by the document, so the text is identical
    assert "Total params" in text and "Trainable params" in text
    assert "(None, 26, 26, 8)" in text and "(None, 26, 26, 10)" in text


def test_editing_a_trained_graph_asks_to_discard_weights(window):
    doc = window.document
    i, c, d = _cnn_without_flatten(doc)
    doc.weights = {"dense": []}
    window.auto_answer = False
    window.scene.select_nodes([d])
    window.edit_actions.delete()
    assert d in doc.nodes and doc.weights is not None
    window.auto_answer = True
    window.edit_actions.delete()
    assert d not in doc.nodes and doc.weights is None


def test_shape_field_and_initializer_combo(window, qtbot):
    node_id = _select_new(window, "InputLayer")
    doc = window.document
    shape = window.inspector.fields["shape"].widget
    _type_into(qtbot, shape, "28, 28, 1")
    assert doc.nodes[node_id].config["shape"] == [28, 28, 1]
    assert window.scene.node_items[node_id].shape_text == "(None, 28, 28, 1)"
    _type_into(qtbot, shape, "28, -3")
    assert doc.nodes[node_id].config["shape"] == [28, 28, 1]
    assert window.inspector.field_error("shape")
    dense = _select_new(window, "Dense", (300.0, 400.0))
    combo = window.inspector.fields["kernel_initializer"].widget
    names = [combo.itemText(i) for i in range(combo.count())]
    assert "glorot_uniform" in names and "he_normal" in names
    assert combo.currentText() == "glorot_uniform"  # the Keras default is shown
    combo.setCurrentIndex(combo.findText("he_normal"))
    combo.activated.emit(combo.currentIndex())
    assert doc.nodes[dense].config["kernel_initializer"] == "he_normal"


def test_regularizer_and_constraint_combos_set_keras_objects(window):
    from core.layers.spec import get_layer_class

    doc = window.document
    dense = _select_new(window, "Dense", (300.0, 400.0))
    combo = window.inspector.fields["kernel_regularizer"].widget.combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["None", "l1", "l2", "l1l2"]
    assert combo.currentText() == "None"
    combo.setCurrentIndex(combo.findText("l2"))
    combo.activated.emit(combo.currentIndex())
    config = doc.nodes[dense].config
    assert config["kernel_regularizer"] == "l2"
    layer = get_layer_class("Dense")(**config)
    layer.build((None, 3))
    assert type(layer.kernel.regularizer).__name__ == "L2" and layer.kernel.regularizer.l2 == 0.01
    window.undo_stack.undo()
    assert doc.nodes[dense].config["kernel_regularizer"] is None
    combo = window.inspector.fields["bias_constraint"].widget
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "None", "max_norm", "min_max_norm", "non_neg", "unit_norm"]
    combo.setCurrentIndex(combo.findText("non_neg"))
    combo.activated.emit(combo.currentIndex())
    layer = get_layer_class("Dense")(**doc.nodes[dense].config)
    layer.build((None, 3))
    assert type(layer.bias.constraint).__name__ == "NonNeg"


def test_scene_redraws_only_the_nodes_an_edit_affects(window, monkeypatch):
    from desktop.editor.node_item import NodeItem

    doc = window.document
    i, c, d = _cnn_without_flatten(doc)
    calls = []
    original = NodeItem.update_from
    monkeypatch.setattr(NodeItem, "update_from",
                        lambda self, *a, **k: (calls.append(self.node_id), original(self, *a, **k)))
    doc.set_config(d, "units", 4)  # the last layer: nothing below it
    assert calls == [d]
    calls.clear()
    doc.set_config(c, "filters", 6)  # conv and the Dense after it change, the input does not
    assert sorted(calls) == sorted([c, d])
    calls.clear()
    doc.move_nodes({i: (40.0, 0.0)})
    assert calls == []
    assert window.scene.node_items[i].pos().x() == 40.0
