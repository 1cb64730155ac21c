"""Nested models as groups (``core.graph.groups``) and masked wires
(``core.graph.validate.wire_mask``), on the real Keras fixture ``nested_objects`` (a
Sequential and a functional model nested in a functional one)."""

from pathlib import Path

import numpy as np

from core.graph import GraphDocument
from core.graph.groups import boundary, live_groups, members
from core.graph.open_model import open_model_file
from core.graph.project_file import load_project, save_project
from core.graph.validate import wire_mask
from core.saving import load_model
from core.saving.serialization import serialize_layer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"
NESTED = FIXTURES / "nested_objects.keras"


def _x():
    return np.load(FIXTURES / "nested_objects.npz")["x_0"]


def _names(doc, ids):
    return [doc.nodes[n].name for n in ids]


def test_nested_models_open_as_groups_with_their_layers_inside():
    doc, notes = open_model_file(NESTED)
    assert any("inner_seq, inner_func" in n for n in notes)
    assert {g: i["class_name"] for g, i in doc.groups.items()} == \
        {"inner_seq": "Sequential", "inner_func": "Functional"}
    assert live_groups(doc) == ["inner_func", "inner_seq"]
    assert len(members(doc, "inner_seq")) == 1 and len(members(doc, "inner_func")) == 1
    sources, outputs = boundary(doc, "inner_func")
    assert _names(doc, sources) == _names(doc, members(doc, "inner_seq"))
    assert outputs == members(doc, "inner_func")


def test_export_of_a_grouped_document_is_the_original_model():
    doc, _ = open_model_file(NESTED)
    original = load_model(NESTED)
    built = doc.build_model()
    assert [type(ly).__name__ for ly in built.layers if type(ly).__name__ != "InputLayer"] \
        == [type(ly).__name__ for ly in original.layers
            if type(ly).__name__ != "InputLayer"]
    for name in ("inner_seq", "inner_func"):  # each nested model, config for config
        assert serialize_layer(built.get_layer(name))["config"] == \
            serialize_layer(original.get_layer(name))["config"], name
    np.testing.assert_allclose(built.predict(_x(), verbose=0),
                               original.predict(_x(), verbose=0), rtol=1e-6)
    assert built.count_params() == original.count_params()


def test_an_edit_inside_a_group_reaches_the_nested_model():
    doc, _ = open_model_file(NESTED)
    inner = members(doc, "inner_func")[0]
    old = doc.set_config(inner, "units", 6)
    assert old == 4 and doc.nodes[inner].group == "inner_func"
    built = doc.build_model()
    nested = built.get_layer("inner_func")
    assert [ly.units for ly in nested.layers if hasattr(ly, "units")] == [6]
    assert built.output_shape == (None, 3)  # the outer Dense took the new width
    doc.set_config(inner, "units", old)
    np.testing.assert_allclose(doc.build_model().predict(_x(), verbose=0),
                               load_model(NESTED).predict(_x(), verbose=0), rtol=1e-6)


def test_a_project_with_groups_saves_and_loads(tmp_path):
    doc, _ = open_model_file(NESTED)
    path = tmp_path / "nested.nwproj"
    save_project(doc, path, weights=doc.weights)
    again, weights = load_project(path)
    assert again.groups == doc.groups
    assert [(n.name, n.group) for n in again.nodes.values()] == \
        [(n.name, n.group) for n in doc.nodes.values()]
    again.weights = weights
    built = again.build_model()
    assert hasattr(built.get_layer("inner_seq"), "layers")
    np.testing.assert_allclose(built.predict(_x(), verbose=0),
                               load_model(NESTED).predict(_x(), verbose=0), rtol=1e-6)


def _masked_doc(mask_zero=True, between=None):
    doc = GraphDocument()
    i = doc.add_node("InputLayer", {"shape": [5]})
    e = doc.add_node("Embedding", {"input_dim": 10, "output_dim": 4, "mask_zero": mask_zero})
    doc.connect(i, e)
    last = e
    if between:
        b = doc.add_node(between, {"rate": 0.1} if between == "Dropout" else {})
        doc.connect(e, b)
        last = b
    lstm = doc.add_node("LSTM", {"units": 3})
    doc.connect(last, lstm)
    d = doc.add_node("Dense", {"units": 2})
    doc.connect(lstm, d)
    return doc, i, e, last, lstm, d


def test_wire_mask_from_embedding_mask_zero_to_lstm():
    doc, i, e, _, lstm, d = _masked_doc()
    assert wire_mask(doc, i, e) is None  # the mask starts at the Embedding
    assert wire_mask(doc, e, lstm) == "Carries the mask made by 'embedding'; 'lstm' uses it."
    assert wire_mask(doc, lstm, d) is None  # return_sequences=False: the mask ends here
    doc.set_config(lstm, "return_sequences", True)
    assert wire_mask(doc, lstm, d) == "Carries the mask made by 'embedding'; 'dense' " \
                                      "passes it on."


def test_wire_mask_through_a_layer_that_keeps_it_and_without_mask_zero():
    doc, _, e, drop, lstm, _ = _masked_doc(between="Dropout")
    assert wire_mask(doc, e, drop) == "Carries the mask made by 'embedding'; 'dropout' " \
                                      "passes it on."
    assert wire_mask(doc, drop, lstm) == "Carries the mask made by 'embedding'; 'lstm' " \
                                         "uses it."
    plain, _, e2, _, lstm2, _ = _masked_doc(mask_zero=False)
    assert wire_mask(plain, e2, lstm2) is None
