"""Defects found by hand (issue 14) around projects: names after Save As, export
folder, File > New leaving the previous run on screen."""

import json
import zipfile


def _template(window, stem="mnist_mlp"):
    from desktop.project import templates

    path = next(p for p in templates() if p.stem == stem)
    assert window.project.new_from_template(path, confirm=False)


def test_exported_model_is_named_after_the_saved_project_beside_it(window, tmp_path):
    """Defect 15: "Untitled" after Save As; the dialog opened in the working folder."""
    _template(window)
    window.document.set_meta(name="Untitled")
    assert window.project.save_as(str(tmp_path / "digits.nwproj"))
    ui = window.training_ui
    assert ui.default_export_path() == str(tmp_path / "digits.keras")
    out = ui.export_model(ui.default_export_path())
    with zipfile.ZipFile(out) as z:
        config = json.loads(z.read("config.json"))
    assert config["config"]["name"] == "digits"


def test_file_new_leaves_nothing_of_the_previous_run_on_screen(window, qtbot):
    """Defect 8: File > New kept curves, progress, ETA, status texts and the pad's ink."""
    from PySide6.QtCore import QPointF

    _template(window, "mnist_cnn")
    ui = window.training_ui
    # What a run leaves behind, as the user saw it.
    ui.curves.begin_run("run 1", ["accuracy"])
    ui.curves.add_epoch(0, {"loss": 0.9, "accuracy": 0.7, "val_loss": 1.0})
    ui.curves.set_counters("Epoch 1/5 · batch 10/10 · 900 samples/s · ETA 00:12")
    ui.progress.setRange(0, 10)
    ui.progress.setValue(7)
    ui._status("Training run 1: 5 epochs, batch 64")
    ui.form.status.setText("Learning rate 5 is very high")
    area = ui.results.pad.area
    area._line(QPointF(100, 60), QPointF(100, 220))  # ink on the pad (setup, not under test)
    assert ui.results.pad.area.ink().sum() > 0

    window.project.new(confirm=False)
    assert ui.curves.point_count("loss") == 0
    assert "ETA" not in ui.curves.counters.text()
    assert ui.progress.value() <= 0
    assert ui.state_label.text() == "" and ui.form.status.text() == ""
    assert ui.results.pad.area.ink().sum() == 0
    assert ui.results.results is None


def test_opening_a_keras_file_says_what_it_is_without_asking_to_save(window, tmp_path,
                                                                     monkeypatch):
    """Defect 10: asked to save first, then showed a raw 'utf-8' codec error."""
    from PySide6.QtCore import QPointF

    from tests.desktop.conftest import drop_layer

    assert drop_layer(window, "Dense", QPointF(300, 200))  # unsaved work
    asked = []
    monkeypatch.setattr(window, "ask_save_discard_cancel", lambda text: asked.append(text)
                        or "cancel")
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(range(256)))
    assert not window.project.open(str(path))
    assert not asked
    err = window.project.last_error
    assert "model.keras" in err and "Keras" in err and "utf-8" not in err
    assert len(window.document.nodes) == 1
