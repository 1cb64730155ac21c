"""Defect 11 (issue 14), as typed: ``28,,28`` in the input-shape field applied
``(None, 28, 28)`` under a red border, and the border stayed on valid values."""

from tests.desktop.test_editor_panels import _select_new, _type_into


def test_shape_field_refuses_an_empty_entry_and_clears_the_border_when_fixed(window, qtbot):
    node_id = _select_new(window, "InputLayer")
    doc = window.document
    shape = window.inspector.fields["shape"].widget
    _type_into(qtbot, shape, "28, 28, 1")
    assert doc.nodes[node_id].config["shape"] == [28, 28, 1]
    _type_into(qtbot, shape, "28,,28")
    assert doc.nodes[node_id].config["shape"] == [28, 28, 1]  # not applied
    assert "empty entry" in window.inspector.field_error("shape")
    assert shape.styleSheet()
    _type_into(qtbot, shape, "28, 28")
    assert doc.nodes[node_id].config["shape"] == [28, 28]
    assert window.inspector.field_error("shape") is None and not shape.styleSheet()
    _type_into(qtbot, shape, "784,")  # Python's one-tuple stays accepted
    assert doc.nodes[node_id].config["shape"] == [784]


def test_negative_units_are_refused_with_the_range_not_turned_positive(window, qtbot):
    node_id = _select_new(window, "Dense")
    doc = window.document
    units = window.inspector.fields["units"].widget
    _type_into(qtbot, units, "12")
    assert doc.nodes[node_id].config["units"] == 12
    _type_into(qtbot, units, "-5")
    assert doc.nodes[node_id].config["units"] == 12  # not 5, not -5
    assert "-5 is out of range" in window.inspector.field_error("units")
    _type_into(qtbot, units, "7")
    assert doc.nodes[node_id].config["units"] == 7
    assert window.inspector.field_error("units") is None
