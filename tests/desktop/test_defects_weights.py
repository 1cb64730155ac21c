"""Defects found by hand (issue 14) around trained weights: Undo after "discard the
weights?" gives them back (4); an activation or regularizer change keeps weights whose
shapes did not change (13); the training form and data panel take the same checked
route as the canvas (17)."""

import numpy as np


def _trained(window):
    """The MNIST MLP template with weights as if trained (setup, not under test)."""
    from desktop.project import templates

    path = next(p for p in templates() if p.stem == "mnist_mlp")
    assert window.project.new_from_template(path, confirm=False)
    doc = window.document
    model = doc.build_model()
    rng = np.random.default_rng(0)
    doc.weights = {ly.name: [rng.normal(size=w.shape).astype("float32")
                             for w in ly.get_weights()] for ly in model.layers if ly.weights}
    window.undo_stack.clear()
    return doc


def _dense_ids(doc):
    return [i for i, n in doc.nodes.items() if n.type == "Dense"]


def _asked(window, monkeypatch, answer=True):
    asked = []

    def ask(title, text):
        asked.append(title)
        return answer
    monkeypatch.setattr(window, "ask_yes_no", ask)
    return asked


def test_undo_after_discarding_weights_brings_them_back(window, monkeypatch, tmp_path):
    doc = _trained(window)
    before = {k: [a.copy() for a in v] for k, v in doc.weights.items()}
    asked = _asked(window, monkeypatch)
    first = _dense_ids(doc)[0]
    window.scene.select_nodes([first])
    window.edit_actions.delete_action.trigger()
    assert asked and first not in doc.nodes and doc.weights is None
    window.undo_stack.undo()
    assert first in doc.nodes
    assert doc.weights is not None and set(doc.weights) == set(before)
    for k in before:
        for a, b in zip(doc.weights[k], before[k]):
            np.testing.assert_array_equal(a, b)
    assert window.project.save_as(str(tmp_path / "back.nwproj"))
    from core.graph.project_file import load_project

    _doc, weights = load_project(tmp_path / "back.nwproj")
    assert weights is not None or _doc.weights is not None  # not "weights": null
    window.undo_stack.redo()
    assert doc.weights is None


def test_activation_change_keeps_weights_without_asking(window, monkeypatch):
    doc = _trained(window)
    asked = _asked(window, monkeypatch)
    from desktop.editor.commands import SetConfigCommand

    first = _dense_ids(doc)[0]
    old = doc.nodes[first].config.get("activation")
    assert window.push_edit(SetConfigCommand(doc, first, "activation", "tanh", old)) is None
    assert doc.nodes[first].config["activation"] == "tanh"
    assert not asked and doc.weights is not None
    assert window.push_edit(SetConfigCommand(doc, first, "units", 7,
                                                      doc.nodes[first].config["units"])) is None
    assert asked and doc.weights is None  # the shapes changed: asked, then dropped


def test_training_form_and_data_panel_take_the_checked_route(window, monkeypatch):
    """They pushed straight onto the undo stack, skipping the weights check."""
    doc = _trained(window)
    ui = window.training_ui
    assert ui.form.push == window.push_edit and ui.data_panel.push == window.push_edit
    asked = _asked(window, monkeypatch)
    ui.form.epochs.setValue(doc.training.epochs + 1)
    assert doc.training.epochs == window.undo_stack.command(0).changes["epochs"]
    assert not asked and doc.weights is not None  # settings keep the weights
