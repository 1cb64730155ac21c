"""The canvas side of nested models, masked wires and shared layers: group cards
open and close, an edit inside a group is one undoable command, a wire carrying a
Keras mask is marked, and each further call of a shared layer is a dashed card naming
the card that owns the weights."""

from pathlib import Path

from desktop.editor.commands import SetConfigCommand
from desktop.editor.group_items import representative

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"


def test_group_cards_open_and_close(window):
    from core.graph.groups import members
    assert window.project.open(str(FIXTURES / "nested_objects.keras"))
    scene, doc = window.scene, window.document
    assert sorted(scene.group_items) == ["inner_func", "inner_seq"]
    inner = members(doc, "inner_func")[0]
    assert not scene.node_items[inner].isVisible()
    assert representative(scene, inner) is scene.group_items["inner_func"]
    assert scene.group_items["inner_func"].count_text == "24 params"  # 5*4 + 4
    scene.set_group_open("inner_func", True)
    assert "inner_func" not in scene.group_items and "inner_func" in scene.group_frames
    assert scene.node_items[inner].isVisible()
    assert representative(scene, inner) is scene.node_items[inner]
    # An edit inside the open group: one command, undone in one step.
    assert window.push_edit(SetConfigCommand(doc, inner, "units", 6, 4)) is None
    assert doc.nodes[inner].config["units"] == 6
    scene.set_group_open("inner_func", False)
    assert scene.group_items["inner_func"].count_text == "36 params"  # 5*6 + 6
    window.undo_stack.undo()
    assert doc.nodes[inner].config["units"] == 4
    assert scene.group_items["inner_func"].count_text == "24 params"
    assert not scene.node_items[inner].isVisible()


def test_a_masked_wire_is_marked(window):
    doc = window.document
    i = doc.add_node("InputLayer", {"shape": [5]})
    e = doc.add_node("Embedding", {"input_dim": 10, "output_dim": 4, "mask_zero": True})
    lstm = doc.add_node("LSTM", {"units": 3})
    d = doc.add_node("Dense", {"units": 2})
    doc.connect(i, e)
    doc.connect(e, lstm)
    doc.connect(lstm, d)
    wires = window.scene.edge_items
    assert wires[(e, lstm, 0)].mask_text == \
        "Carries the mask made by 'embedding'; 'lstm' uses it."
    assert "mask" in wires[(e, lstm, 0)].label.text()
    assert wires[(i, e, 0)].mask_text is None and wires[(lstm, d, 0)].mask_text is None
    doc.set_config(e, "mask_zero", False)  # the mark goes with the mask
    assert wires[(e, lstm, 0)].mask_text is None


def test_shared_layer_calls_are_linked_cards(window):
    assert window.project.open(str(FIXTURES / "func_shared.keras"))
    doc, scene = window.document, window.scene
    owner = doc.node_by_name("shared_encoder").id
    second = doc.node_by_name("shared_encoder (call 2)").id
    card = scene.node_items[second]
    assert card.shared_with == "shared_encoder"
    assert card.count_text == "shares weights of shared_encoder"
    assert scene.node_items[owner].count_text == "35 params · shared, 2 calls"
    window.inspector.show_node(second)
    assert "Shared layer: the same weights as shared_encoder" in window.inspector.info.text()
    # The inspector edits the layer, so every call changes, in one undo step.
    assert window.push_edit(SetConfigCommand(doc, second, "activation", "relu", "tanh")) \
        is None
    assert doc.nodes[owner].config["activation"] == "relu"
    window.undo_stack.undo()
    assert doc.nodes[owner].config["activation"] == doc.nodes[second].config["activation"] \
        == "tanh"
    # Removing the second call: the owner's card no longer counts two calls.
    snap = doc.remove_nodes([second])
    assert scene.node_items[owner].count_text == "35 params"
    doc.restore(snap)
    assert scene.node_items[owner].count_text == "35 params · shared, 2 calls"
    assert scene.node_items[second].count_text == "shares weights of shared_encoder"


def test_call_arguments_show_in_the_inspector(window):
    assert window.project.open(str(FIXTURES / "func_attention.keras"))
    node = window.document.node_by_name("self_attention")
    window.inspector.show_node(node.id)
    assert "use_causal_mask=True" in window.inspector.info.text()
    assert "use_causal_mask=True" in window.scene.node_items[node.id].toolTip()


def test_a_recorded_call_argument_is_switched_in_the_inspector(window):
    """Turning the causal mask off is one undoable edit and changes what the model
    computes; undo brings the file's predictions back."""
    import numpy as np
    assert window.project.open(str(FIXTURES / "func_attention.keras"))
    doc = window.document
    node = doc.node_by_name("self_attention")
    data = np.load(FIXTURES / "func_attention.npz")
    xs = [data["x_0"], data["x_1"]]
    window.inspector.show_node(node.id)
    box = window.inspector.call_boxes["use_causal_mask"]
    assert box.isChecked()
    box.setChecked(False)
    assert doc.nodes[node.id].call["kwargs"] == {"use_causal_mask": False}
    assert not np.allclose(doc.build_model().predict(xs, verbose=0), data["pred_0"],
                           atol=1e-4)
    window.undo_stack.undo()
    assert doc.nodes[node.id].call["kwargs"] == {"use_causal_mask": True}
    assert window.inspector.call_boxes["use_causal_mask"].isChecked()
    np.testing.assert_allclose(doc.build_model().predict(xs, verbose=0), data["pred_0"],
                               rtol=1e-5, atol=1e-6)
