"""Each one-click fix: what it changes, that it is one operation, that undo restores."""

import pytest

from core.graph import GraphDocument, GraphError
from core.graph.fixes import merge_fixes
from core.graph.project_file import document_from_dict
from tests.graph.helpers import chain


def _apply_and_check_undo(doc, fix):
    before, snap = doc.to_dict(), doc.snapshot()
    events = []
    unsubscribe = doc.subscribe(events.append)
    fix.apply(doc)
    unsubscribe()
    assert [e.kind for e in events] == ["reset"]  # one document operation
    after = doc.to_dict()
    doc.restore_state(snap)
    assert doc.to_dict() == before
    doc.restore_state(doc.snapshot())  # a no-op restore stays equal
    return after


def test_flatten_fix_for_dense_on_an_image():
    doc = GraphDocument()
    i, d = chain(doc, [("InputLayer", {"shape": [28, 28, 1]}),
                       ("Dense", {"units": 10, "activation": "softmax"})])
    # valid Keras (Dense acts on the last axis) so a warning, not an error
    assert doc.state(d).output_shape == (None, 28, 28, 10)
    [p] = doc.problems()
    assert p.severity == "warning" and p.node_id == d
    assert "(None, 28, 28, 1)" in p.message and "Flatten" in p.fixes[0].label
    _apply_and_check_undo(doc, p.fixes[0])
    p.fixes[0].apply(doc)
    [flat] = [n for n in doc.nodes.values() if n.type == "Flatten"]
    assert [e.src for e in doc.inputs_of(flat.id)] == [i]
    assert [e.src for e in doc.inputs_of(d)] == [flat.id]
    assert doc.state(d).output_shape == (None, 10)
    assert doc.problems() == []
    # laid out between, and the Dense moved down to make room
    assert doc.nodes[i].pos[1] < flat.pos[1] < doc.nodes[d].pos[1]


def test_merge_fix_when_a_second_wire_is_refused():
    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [4]}, pos=(0, 0))
    b = doc.add_node("InputLayer", {"shape": [4]}, pos=(200, 0))
    d = doc.add_node("Dense", {"units": 2}, pos=(0, 240))
    doc.connect(a, d)
    assert "Concatenate or Add" in doc.can_connect(b, d)
    fixes = merge_fixes(doc, b, d)
    assert [f.label for f in fixes] == ["Merge both into 'dense' with Concatenate",
                                        "Merge both into 'dense' with Add"]
    _apply_and_check_undo(doc, fixes[0])
    fixes[0].apply(doc)
    [cat] = [n for n in doc.nodes.values() if n.type == "Concatenate"]
    assert [e.src for e in doc.inputs_of(cat.id)] == [a, b]
    assert doc.state(cat.id).output_shape == (None, 8)
    assert doc.state(d).param_count == 8 * 2 + 2
    doc2 = GraphDocument()
    a = doc2.add_node("InputLayer", {"shape": [4]})
    b = doc2.add_node("InputLayer", {"shape": [4]})
    d = doc2.add_node("Dense", {"units": 2})
    doc2.connect(a, d)
    merge_fixes(doc2, b, d)[1].apply(doc2)
    [add] = [n for n in doc2.nodes.values() if n.type == "Add"]
    assert doc2.state(add.id).output_shape == (None, 4)


def test_add_is_not_offered_for_unequal_shapes():
    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [4]})
    b = doc.add_node("InputLayer", {"shape": [6]})
    d = doc.add_node("Dense", {"units": 2})
    doc.connect(a, d)
    assert [f.label.rsplit(" ", 1)[1] for f in merge_fixes(doc, b, d)] == ["Concatenate"]


def test_merge_fix_for_a_loaded_file_with_two_wires():
    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [4]})
    b = doc.add_node("InputLayer", {"shape": [3]})
    d = doc.add_node("Dense", {"units": 2})
    doc.connect(a, d)
    data = doc.to_dict()
    data["edges"].append({"src": b, "dst": d, "dst_port": 1})
    loaded = document_from_dict(data)
    [p] = loaded.problems()
    assert p.node_id == d
    _apply_and_check_undo(loaded, p.fixes[0])
    p.fixes[0].apply(loaded)
    # left: a warning only, that a linear output does not suit a crossentropy loss (two
    # Inputs train from the canvas now: core.session feeds each by name)
    left = loaded.problems()
    assert [q.severity for q in left] == ["warning"]
    assert "linear activation" in left[0].message
    assert loaded.state(d).param_count == 7 * 2 + 2


def test_input_shape_from_data_fix():
    doc = GraphDocument()
    i, f, d = chain(doc, [("InputLayer", {"shape": [784]}), ("Flatten", None),
                          ("Dense", {"units": 10, "activation": "softmax"})])
    assert doc.problems() == []
    doc.set_data_info((28, 28, 1), 10)
    [p] = doc.problems()
    assert p.node_id == i and "(784,)" in p.message and "(28, 28, 1)" in p.message
    _apply_and_check_undo(doc, p.fixes[0])
    p.fixes[0].apply(doc)
    assert doc.nodes[i].config["shape"] == [28, 28, 1]
    assert doc.state(d).param_count == 7850
    assert doc.problems() == []


def test_fix_input_shape_from_data_method():
    doc = GraphDocument()
    with pytest.raises(GraphError, match="exactly one InputLayer"):
        doc.fix_input_shape_from_data((4,))
    i = doc.add_node("InputLayer", {"shape": [2]})
    assert doc.fix_input_shape_from_data((5, 3)) == [2]  # old value, for undo
    assert doc.state(i).output_shape == (None, 5, 3)


def test_output_units_fix():
    doc = GraphDocument()
    i, d = chain(doc, [("InputLayer", {"shape": [16]}),
                       ("Dense", {"units": 5, "activation": "softmax"})])
    doc.set_data_info((16,), 10)
    [p] = doc.problems()
    assert p.message == "The output layer 'dense' has 5 units but the data set has 10 classes."
    _apply_and_check_undo(doc, p.fixes[0])
    p.fixes[0].apply(doc)
    assert doc.nodes[d].config["units"] == 10 and doc.problems() == []
    # not a classifier loss: the unit count is the user's business
    doc.set_config(d, "units", 3)
    doc.set_training(loss="mean_squared_error")
    assert doc.problems() == []


def test_no_input_layer_problem():
    doc = GraphDocument()
    doc.add_node("Dense", {"units": 3})
    assert doc.problems()[0].message.startswith("The network has no InputLayer")
