"""Restoring a run as a user does it: train, change the network and the learning rate,
train again, pick the first run in the Runs table and press "Restore this run". The
network, the weights and the settings come back as one undo step, the test pad predicts
from the restored weights, Undo returns the second run's state, and all of it survives
saving and reopening the project (strictly read; old files still open)."""

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.graph.project_file import ProjectFileError, load_project
from desktop.editor.commands import AddNodeCommand, ConnectCommand, DisconnectCommand
from tests.desktop.training_helpers import wait_data


def _small_doc():
    from core.graph import GraphDocument

    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [28, 28, 1]})
    b = doc.add_node("Flatten")
    c = doc.add_node("Dense", {"units": 10, "activation": "softmax"})
    doc.connect(a, b)
    doc.connect(b, c)
    doc.set_training(epochs=1, batch_size=256, seed=1, learning_rate=0.001,
                     loss="sparse_categorical_crossentropy")
    return doc


def _train(qtbot, ui):
    with qtbot.waitSignal(ui.controller.runFinished, timeout=240_000):
        qtbot.mouseClick(ui.train_button, Qt.LeftButton)


def _structure(doc):
    return sorted((n.type, n.name) for n in doc.nodes.values()), len(doc.edges)


def _pad_probs(ui, x):
    """What the test pad's model predicts for ``x`` (the pad calls the same function)."""
    assert ui.results.pad._predict is not None
    return np.asarray(ui.results.pad._predict(x))


def _model_probs(network_doc, weights, x):
    from core.session.run_weights import restore_weights

    model = network_doc.build_model()
    assert restore_weights(model, weights)
    return model.predict(x, verbose=0)


def test_restore_a_run_brings_back_network_weights_and_settings(window, qtbot, tmp_path):
    doc = _small_doc()
    window.set_document(doc)
    ui = window.training_ui
    wait_data(qtbot, ui)
    _train(qtbot, ui)
    run1_structure = _structure(doc)
    run1_weights = {k: [a.copy() for a in v] for k, v in doc.weights.items()}
    # The user inserts a hidden Dense layer (the weights no longer fit: Discard) ...
    flat = next(n.id for n in doc.nodes.values() if n.type == "Flatten")
    out = next(n.id for n in doc.nodes.values() if n.name == "dense")
    add = AddNodeCommand(doc, "Dense", {"units": 16, "activation": "relu"}, (0, 300))
    assert window.push_edit(add) is None
    hidden = [i for i in doc.nodes if doc.nodes[i].config.get("units") == 16][0]
    edge = next(e for e in doc.edges if e.src == flat)
    for cmd in (DisconnectCommand(doc, edge), ConnectCommand(doc, flat, hidden),
                ConnectCommand(doc, hidden, out)):
        assert window.push_edit(cmd) is None
    # ... and a higher learning rate, and trains again.
    assert ui.apply_settings({"learning_rate": 0.01}, "")
    _train(qtbot, ui)
    run2_structure, run2_weights = _structure(doc), doc.weights
    assert run2_structure != run1_structure
    table = ui.runs.table
    headers = [table.horizontalHeaderItem(j).text() for j in range(table.columnCount())]
    col = headers.index("Restore")
    assert table.item(0, col).text() == "network + weights"
    assert table.item(1, col).text() == "network + weights"

    table.selectRow(0)
    assert ui.runs.restore_button.isEnabled()
    steps = window.undo_stack.count()
    qtbot.mouseClick(ui.runs.restore_button, Qt.LeftButton)
    assert window.undo_stack.count() == steps + 1
    assert _structure(doc) == run1_structure
    assert doc.training.learning_rate == 0.001 and ui.form.learning_rate.value() == 0.001
    for name, arrays in run1_weights.items():
        for a, b in zip(arrays, doc.weights[name]):
            np.testing.assert_array_equal(a, b)
    # The test pad predicts from the restored weights (run 1's network and weights).
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(_pad_probs(ui, x), _model_probs(doc, run1_weights, x),
                               rtol=1e-5, atol=1e-6)
    assert "Restored Run 1" in ui.state_label.text()

    window.undo_stack.undo()  # back to the second run's network, weights and settings
    assert _structure(doc) == run2_structure and doc.weights is run2_weights
    assert doc.training.learning_rate == 0.01
    np.testing.assert_allclose(_pad_probs(ui, x), _model_probs(doc, run2_weights, x),
                               rtol=1e-5, atol=1e-6)
    window.undo_stack.redo()
    assert _structure(doc) == run1_structure

    # Saved and reopened: both runs can still be restored.
    path = tmp_path / "runs.nwproj"
    from core.graph.project_file import save_project
    save_project(doc, path)
    again, _ = load_project(path)
    assert sorted(again.run_states) == ["Run 1", "Run 2"]
    for name, arrays in run2_weights.items():
        for a, b in zip(arrays, again.run_states["Run 2"]["weights"][name]):
            np.testing.assert_array_equal(a, b)
    ui.shutdown()


def test_old_project_files_open_and_bad_run_states_are_refused(tmp_path):
    from core.graph.project_file import save_project
    from core.graph.run_states import keep_run, network_of, restorable

    doc = _small_doc()
    model = doc.build_model()
    weights = {ly.name: ly.get_weights() for ly in model.layers if ly.weights}
    doc.weights = weights
    doc.history.append({"name": "Run 1", "settings": doc.training.to_dict(), "epochs": []})
    keep_run(doc, "Run 1", network_of(doc), weights)
    path = tmp_path / "p.nwproj"
    save_project(doc, path)
    data = json.loads(path.read_text())
    assert set(data["run_states"]) == {"Run 1"}
    # A file written before runs kept their states: opens, nothing to restore.
    old = dict(data)
    del old["run_states"]
    path.write_text(json.dumps(old))
    again, _ = load_project(path)
    assert restorable(again) == {}
    # Weights of another shape than the run's network: refused, naming run and layer.
    bad = json.loads(json.dumps(data))
    block = bad["run_states"]["Run 1"]["weights"]["layers"]["dense"][0]
    block["shape"] = [10, 784]
    path.write_text(json.dumps(bad))
    with pytest.raises(ProjectFileError, match=r"Run 1.*dense"):
        load_project(path)
    # A state for a run the history does not have, or an unknown key: refused too.
    for mutate in (lambda d: d["run_states"].update({"Run 9": d["run_states"]["Run 1"]}),
                   lambda d: d["run_states"]["Run 1"].update({"code": "x"})):
        bad = json.loads(json.dumps(data))
        mutate(bad)
        path.write_text(json.dumps(bad))
        with pytest.raises(ProjectFileError):
            load_project(path)


def test_only_the_most_recent_runs_keep_their_weights():
    from core.graph.run_states import KEEP_RUNS, keep_run, network_of, restorable
    from core.graph.run_table import run_rows

    doc = _small_doc()
    model = doc.build_model()
    weights = {ly.name: ly.get_weights() for ly in model.layers if ly.weights}
    for k in range(1, KEEP_RUNS + 3):
        doc.history.append({"name": f"Run {k}", "settings": doc.training.to_dict()})
        keep_run(doc, f"Run {k}", network_of(doc), weights)
    kept = restorable(doc)
    assert sorted(kept, key=lambda n: int(n.split()[1])) == \
        [f"Run {k}" for k in range(3, KEEP_RUNS + 3)]
    rows = run_rows(doc.history, kept)
    assert [r["restore"] for r in rows[:2]] == ["", ""] and rows[-1]["restore"] == "weights"
