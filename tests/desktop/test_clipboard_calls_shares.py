"""Copy and paste as a user does it (Select All / a click selection, Ctrl+C, Ctrl+V) on
networks opened from real Keras files: call arguments and shared-layer links survive;
a part of a shared layer pastes as a layer of its own, and the status bar says so; a
bad clipboard payload changes nothing."""

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from core.graph.calls import owner, share_set
from desktop.editor import clipboard

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"


def _copy_paste(window, ids):
    """Select ``ids``, Copy, Paste; the pasted ids in the order of ``ids`` (a copy sits
    40 px right and below its original)."""
    doc = window.document
    window.scene.select_nodes(ids)
    window.edit_actions.copy_action.trigger()
    before = set(doc.nodes)
    window.edit_actions.paste_action.trigger()
    at = {doc.nodes[i].pos: i for i in doc.nodes if i not in before}
    return [at[(doc.nodes[i].pos[0] + 40, doc.nodes[i].pos[1] + 40)] for i in ids
            if (doc.nodes[i].pos[0] + 40, doc.nodes[i].pos[1] + 40) in at]


def test_pasting_a_whole_network_keeps_shared_links_and_call_arguments(window):
    assert window.project.open(str(FIXTURES / "func_shared.keras"))
    doc = window.document
    old = list(doc.nodes)
    old_sets = {tuple(sorted(share_set(doc, i))) for i in old if len(share_set(doc, i)) > 1}
    assert old_sets  # the fixture has a shared layer
    steps = window.undo_stack.count()
    new = _copy_paste(window, old)
    assert len(new) == len(old) and window.undo_stack.count() == steps + 1
    copy_of = dict(zip(old, new))
    new_sets = {tuple(sorted(share_set(doc, i))) for i in new if len(share_set(doc, i)) > 1}
    assert new_sets == {tuple(sorted(copy_of[i] for i in s)) for s in old_sets}
    for s in new_sets:  # linked to each other, never to the original layer
        assert owner(doc, s[0]) in new
    assert not [p for p in doc.problems() if p.severity == "error"]
    # The pasted half builds as its own model: one shared layer, weights counted once.
    model = doc.build_model()
    assert len(model.inputs) == 4 and len(model.outputs) == 2
    half = sum(doc.state(i).param_count or 0 for i in old)
    assert sum(doc.state(i).param_count or 0 for i in new) == half
    assert model.count_params() == 2 * half
    window.undo_stack.undo()
    assert list(doc.nodes) == old


def test_call_arguments_survive_copy_and_paste(window):
    assert window.project.open(str(FIXTURES / "func_attention.keras"))
    doc = window.document
    att = doc.node_by_name("self_attention")
    assert att.call.get("kwargs") == {"use_causal_mask": True}
    old = list(doc.nodes)
    file_weights = doc.weights  # the paste changes the network: Discard is answered
    new = _copy_paste(window, old)
    pasted = doc.nodes[dict(zip(old, new))[att.id]]
    assert pasted.call == att.call
    # The copy computes what the original computes, the causal mask included (without
    # it the predictions differ: test_groups_and_shares_canvas): give the pasted layers
    # the file's weights and both halves must give the file's predictions.
    data = np.load(FIXTURES / "func_attention.npz")
    model = doc.build_model()
    assert len(model.inputs) == 4 and len(model.outputs) == 2
    layers = {ly.name: ly for ly in model.layers}
    for o, n in zip(old, new):
        saved = file_weights.get(doc.nodes[o].name)
        if saved:
            layers[doc.nodes[o].name].set_weights(saved)
            layers[doc.nodes[n].name].set_weights(saved)
    # Each Input gets the file's data for the Input it is (a copy of).
    source = {doc.nodes[n].name: doc.nodes[o].name for o, n in zip(old, new)}
    file_inputs = [doc.nodes[i].name for i in old if doc.nodes[i].type == "InputLayer"]
    xs = [data[f"x_{file_inputs.index(source.get(t.name, t.name))}"] for t in model.inputs]
    first, second = model.predict(xs, verbose=0)
    np.testing.assert_allclose(first, data["pred_0"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second, data["pred_0"], rtol=1e-5, atol=1e-6)


def test_pasting_one_call_of_a_shared_layer_gives_its_own_layer_and_says_so(window):
    assert window.project.open(str(FIXTURES / "func_shared.keras"))
    doc = window.document
    second = doc.node_by_name("shared_encoder (call 2)").id
    new = _copy_paste(window, [second])
    assert len(new) == 1
    pasted = doc.nodes[new[0]]
    assert share_set(doc, new[0]) == [new[0]] and not pasted.shares
    assert pasted.config == doc.nodes[second].config
    text = window.statusBar().currentMessage()
    assert "1 of the 2 calls of a shared Dense" in text and "not linked" in text


def test_a_bad_clipboard_payload_changes_nothing(window):
    assert window.project.open(str(FIXTURES / "func_shared.keras"))
    doc = window.document
    before = (list(doc.nodes), list(doc.edges))
    steps = window.undo_stack.count()
    second = doc.node_by_name("shared_encoder (call 2)").id
    good = clipboard.copy_payload(doc, [second])
    bad_payloads = [
        {**good, "nodes": [{**good["nodes"][0], "call": {"kwargs": [1, 2]}}]},
        {**good, "nodes": [{**good["nodes"][0], "call": {"eval": "x"}}]},
        {**good, "nodes": [{**good["nodes"][0], "share_calls": "two"}]},
        {**good, "nodes": [{**good["nodes"][0], "type": "NoSuchLayer"}]},
    ]
    for payload in bad_payloads:
        mime = QMimeData()
        mime.setData(clipboard.NODES_MIME, clipboard.encode(payload))
        QGuiApplication.clipboard().setMimeData(mime)
        window.edit_actions.paste_action.trigger()
        assert (list(doc.nodes), list(doc.edges)) == before
        assert window.undo_stack.count() == steps
        assert window.statusBar().currentMessage().startswith("Cannot paste")
