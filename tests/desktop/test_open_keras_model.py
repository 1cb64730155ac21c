"""File > Open on real Keras 3 files (``tests/fixtures/keras3/*.keras``, written by
Keras 3.15.1): the canvas shows the model with the layer count and parameter total of
the ``summary()`` Keras printed, one layer is edited, one epoch trains in the window
and the export loads back with the window's predictions.

Fixtures with two inputs or two outputs, which the training panel refuses (it trains
single-input, single-output graphs), and the RNN fixture's (time, features) samples,
taken for greyscale images by the data panel, train one epoch through the same
document's ``build_model`` instead, and the test says so. Call arguments
(``func_attention``'s causal mask, ``func_rnn_state``'s initial state) and shared
layers (``func_shared``: a card per call) open like any other model.
"""

import re
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"
FILES = sorted(FIXTURES.glob("*.keras"))
EPOCH_MS = 240_000


def _summary_numbers(name):
    """(layers, trainable + non-trainable params) of Keras' own summary text; layers
    counts an InputLayer even where Keras leaves its row out (Sequential models)."""
    text = (FIXTURES / f"{name}.summary.txt").read_text(encoding="utf-8")
    rows = text.count("\n├") + 1  # rows are separated by ├───┤ lines
    params = sum(int(m.replace(",", "")) for m in re.findall(
        r"^ (?:Trainable|Non-trainable) params: ([\d,]+)", text, re.M))
    return rows + (0 if "(InputLayer)" in text else 1), params


def _window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NETWEAVER_STATE_DIR", str(tmp_path / "state"))
    from PySide6.QtCore import QSettings

    from desktop.main_window import MainWindow
    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    win.auto_answer, win.auto_save_answer, win.quiet_errors = True, "discard", True
    qtbot.addWidget(win)
    return win


def test_what_cannot_be_shown_is_named_and_the_file_still_exports(qtbot, tmp_path,
                                                                  monkeypatch):
    """A layer with two outputs (attention scores) has no place on the canvas: File >
    Open names it and says where the model still works; the command line exports it."""
    from core.cli import run
    from core.layers import Dense, Input, MultiHeadAttention
    from core.models import Model
    from core.saving import load_model
    x = Input((4, 6), name="tokens")
    y, _scores = MultiHeadAttention(2, 3, name="scored_attention")(
        x, x, return_attention_scores=True)
    path = tmp_path / "scores.keras"
    Model(x, Dense(2, name="head")(y)).save(path)
    win = _window(qtbot, tmp_path, monkeypatch)
    assert not win.project.open(str(path))
    assert "scored_attention" in win.errors[-1] and "several outputs" in win.errors[-1]
    assert "netweaver export" in win.errors[-1] and not win.document.nodes
    out = tmp_path / "again.keras"
    assert run(["export", str(path), "--format", "keras", "--out", str(out)]) == 0
    data = np.random.default_rng(0).normal(size=(3, 4, 6)).astype(np.float32)
    np.testing.assert_allclose(load_model(out).predict(data, verbose=0),
                               load_model(path).predict(data, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_open_edit_train_export(qtbot, tmp_path, monkeypatch, path):
    from core.graph.open_model import inline_nested
    from core.saving import load_model
    from core.session.data_source import DataSpec
    from desktop.editor.commands import RenameNodeCommand

    win = _window(qtbot, tmp_path, monkeypatch)
    assert win.project.open(str(path)), win.errors
    doc = win.document
    assert win.project.path is None  # a new, unsaved project: Save asks where
    keras_model = load_model(str(path))
    rows, params = _summary_numbers(path.stem)
    nested = any(hasattr(ly, "layers") for ly in keras_model.layers)
    extra_calls = sum(len(ly._inbound_nodes) - 1 for ly in keras_model.layers
                      if type(ly).__name__ != "InputLayer" and not hasattr(ly, "layers"))
    if nested:  # one closed group card per nested model, its layers inside it
        assert any("shown as groups" in n for n in win.project.last_notes)
        assert len(doc.nodes) == len(inline_nested(keras_model)[0].layers)
        assert sorted(win.scene.group_items) == sorted(
            ly.name for ly in keras_model.layers if hasattr(ly, "layers"))
    else:  # a shared layer is one summary row and one card per call
        assert len(doc.nodes) == rows + extra_calls
    assert len(win.scene.node_items) == len(doc.nodes)
    # What the canvas shows (cards, group cards) is Keras' summary, row for row, and a
    # card for each further call of a shared layer, drawn dashed and naming its owner.
    cards = [i for i in win.scene.node_items.values() if i.isVisible()]
    assert len(cards) + len(win.scene.group_items) == rows + extra_calls
    assert sum(1 for i in cards if i.shared_with) == extra_calls
    assert sum(doc.state(n).param_count or 0 for n in doc.nodes) == params
    win.summary.refresh()  # the Summary panel prints the engine's summary of the canvas
    keras_text = (FIXTURES / f"{path.stem}.summary.txt").read_text(encoding="utf-8")
    for key in (" Trainable params:", " Non-trainable params:"):
        want_line = next(ln for ln in keras_text.splitlines() if ln.startswith(key))
        assert want_line in win.summary.text().splitlines(), (key, win.summary.text())
    assert not [p for p in doc.problems() if p.severity == "error"]

    # The trained weights came along: the document's model predicts as the file's.
    data = np.load(FIXTURES / f"{path.stem}.npz")
    xs = [data[k] for k in sorted(data.files) if re.fullmatch(r"x_\d+", k)]
    built = doc.build_model()
    got = built.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
    want = keras_model.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
    for g, w in zip(got if isinstance(got, list) else [got],
                    want if isinstance(want, list) else [want]):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)

    # Edit one layer (a rename keeps the weights) through the window's one edit route.
    nid = next(n for n in doc.nodes if doc.nodes[n].type != "InputLayer")
    assert win.push_edit(RenameNodeCommand(doc, nid, "edited_layer")) is None
    assert doc.nodes[nid].name == "edited_layer"

    outputs = [n for n in doc.nodes if not doc.outputs_of(n)]
    # The data panel reads a 2-D sample (time, features) as a greyscale image and adds a
    # channel (core/session/data_source.py, Dataset.suggested_input_shape), so an
    # RNN fed (batch, time, features) cannot train from the panel yet: reported.
    sequence_input = len(xs) == 1 and xs[0].ndim == 3
    # The panel's labels are classes: an image-to-image model (the autoencoder) trains
    # on the file's own targets instead.
    class_output = len(outputs) == 1 and len(doc.state(outputs[0]).output_shape) == 2
    if len(xs) == 1 and class_output and not sequence_input:
        _train_in_window(qtbot, win, doc, xs[0], tmp_path, DataSpec)
    else:
        _train_from_document(doc, xs, data)

    out = win.training_ui.export_model(str(tmp_path / "exported.keras"))
    assert out is not None and Path(out).is_file()
    again = load_model(out)
    from core.graph.groups import leaf_layers
    assert "edited_layer" in [ly.name for ly in leaf_layers(again)]
    # Nested models stay nested models in the exported file. The editor exports every
    # graph as a functional model, whose ``layers`` list its InputLayer (a Sequential's
    # does not), so the comparison leaves InputLayers out.
    def kinds(m):
        return [type(ly).__name__ for ly in m.layers if type(ly).__name__ != "InputLayer"]
    assert kinds(again) == kinds(keras_model)
    model = doc.build_model()
    for g, w in zip(_as_list(again.predict(xs[0] if len(xs) == 1 else xs, verbose=0)),
                    _as_list(model.predict(xs[0] if len(xs) == 1 else xs, verbose=0))):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    win.training_ui.shutdown()


def _as_list(v):
    return v if isinstance(v, list) else [v]


def _train_in_window(qtbot, win, doc, x, tmp_path, DataSpec):
    ui = win.training_ui
    units = int(doc.state(next(n for n in doc.nodes if not doc.outputs_of(n)))
                .output_shape[-1])
    classes = 2 if doc.training.loss in ("binary_crossentropy", "hinge") else max(units, 2)
    rng = np.random.default_rng(0)
    xs = np.concatenate([x] * 8).astype(np.float32)
    ys = rng.integers(0, min(classes, units if units > 1 else 2), len(xs)).astype(np.int64)
    npz = tmp_path / "data.npz"
    np.savez(npz, x=xs, y=ys)
    ui.data_panel.load(DataSpec(kind="file", path=str(npz), validation_split=0.0))
    qtbot.waitUntil(lambda: ui.data_panel.dataset is not None, timeout=30000)
    doc.set_training(epochs=1, batch_size=16, validation_split=0.0)
    ui.form.refresh()
    before = len(doc.history)
    with qtbot.waitSignal(ui.controller.runFinished, timeout=EPOCH_MS):
        assert ui.train(), ui.controller.last_message
    assert len(doc.history) == before + 1 and doc.history[-1]["epochs_done"] == 1


def _train_from_document(doc, xs, data):
    """One epoch of the document's model with the file's own data (the training panel
    trains single-input, single-output graphs only)."""
    from core.graph.build import model_weights
    model = doc.build_model()
    ys = [data[k] for k in sorted(data.files) if re.fullmatch(r"train_y_\d+", k)]
    loss = ["mse"] * len(ys) if len(ys) > 1 else doc.training.loss
    model.compile(optimizer=doc.training.optimizer, loss=loss)
    before = [w.copy() for w in model.get_weights()]
    model.fit(xs[0] if len(xs) == 1 else xs, ys[0] if len(ys) == 1 else ys, epochs=1,
              batch_size=4, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    doc.weights = model_weights(model)


def test_drop_and_bad_model_file(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QMimeData, QPoint, QUrl

    from tests.desktop.conftest import drop_mime
    win = _window(qtbot, tmp_path, monkeypatch)
    win.show()
    qtbot.waitExposed(win)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(FIXTURES / "seq_cnn.keras"))])
    assert drop_mime(win.view.viewport(), mime, QPoint(50, 50))
    assert win.document.meta["name"] == "seq_cnn" and len(win.document.nodes) == 9
    before = win.document
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert not win.project.open(str(bad))
    assert win.document is before  # the open project is untouched
    assert "broken.keras" in win.errors[-1]


def test_command_line_opens_a_legacy_h5_model(qtbot, tmp_path, monkeypatch):
    """``netweaver model.h5``: the app's start-up path opens it like File > Open."""
    from desktop.app import open_initial_project
    win = _window(qtbot, tmp_path, monkeypatch)
    legacy = FIXTURES / "legacy" / "legacy_frozen.h5"
    open_initial_project(win, [str(legacy)])
    doc = win.document
    assert doc.meta["name"] == "frozen" and win.project.path is None
    data = np.load(legacy.with_suffix(".npz"))
    np.testing.assert_allclose(doc.build_model().predict(data["x_0"], verbose=0),
                               data["pred_0"], rtol=1e-5, atol=1e-6)
    frozen = doc.node_by_name("frozen_dense")
    assert frozen is not None and frozen.config.get("trainable") is False  # stays frozen


def test_unsupported_layer_offers_the_first_layers(qtbot, tmp_path, monkeypatch):
    from tests.graph.test_open_model import _edited

    def replace_fourth(cfg):
        layers = [ly for ly in cfg["config"]["layers"] if ly["class_name"] != "InputLayer"]
        layers[3]["class_name"] = "FancyDense"
    path = _edited(tmp_path, "seq_mlp", replace_fourth)
    win = _window(qtbot, tmp_path, monkeypatch)
    before = win.document
    win.auto_answer = False  # "no": nothing opens, the error names the layer
    assert not win.project.open(str(path))
    assert win.document is before and "FancyDense" in win.errors[-1]
    win.auto_answer = True
    assert win.project.open(str(path))
    assert len(win.document.nodes) == 4
    assert any("first 3 layers" in n for n in win.project.last_notes)


def test_unsupported_layer_in_a_functional_model_offers_the_connected_part(qtbot, tmp_path,
                                                                          monkeypatch):
    from tests.graph.test_open_model import _edited

    def rename(cfg):
        for layer in cfg["config"]["layers"]:
            if layer["name"] == "applied_twice":
                layer["class_name"] = "FancyDense"
    path = _edited(tmp_path, "func_shared", rename)
    win = _window(qtbot, tmp_path, monkeypatch)
    win.auto_answer = False  # "no": nothing opens, the error names the layer
    assert not win.project.open(str(path))
    assert "'applied_twice' (FancyDense)" in win.errors[-1] and not win.document.nodes
    win.auto_answer = True
    assert win.project.open(str(path))
    assert sorted(n.name for n in win.document.nodes.values()) == \
        ["left", "right", "shared_encoder", "shared_encoder (call 2)", "subtract"]
    assert any("does not depend on 'applied_twice'" in n for n in win.project.last_notes)
