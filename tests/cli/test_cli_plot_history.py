"""CLI ``plot`` (SVG/PNG of a project or a Keras file), ``train`` writing its run into
the project's history in the app's record shape, and Keras model files as PROJECT."""

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import core  # noqa: F401
from core.cli import EXIT_PROJECT, run
from core.graph.templates import EXAMPLES_DIR

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"


@pytest.fixture()
def project(tmp_path):
    path = tmp_path / "mlp.nwproj"
    shutil.copy(EXAMPLES_DIR / "mnist_mlp.nwproj", path)
    return path


def test_plot_project_svg_and_png(project, tmp_path, capsys):
    from core.graph.project_file import load_project
    doc, _ = load_project(project)
    assert run(["plot", str(project), "--out", str(tmp_path / "m.svg"), "--show-shapes",
                "--show-layer-names"]) == 0
    root = ET.parse(tmp_path / "m.svg").getroot()
    boxes = root.findall(".//{http://www.w3.org/2000/svg}g[@class='layer']")
    assert len(boxes) == len(doc.nodes)
    assert run(["plot", str(project), "--out", str(tmp_path / "m.png"), "--rankdir", "LR",
                "--dpi", "120"]) == 0
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(["plot", str(project), "--out", str(tmp_path / "m.gif")]) == 1
    assert "'gif'" in capsys.readouterr().err


def test_train_writes_the_run_into_the_history(project, capsys):
    from core.graph.project_file import load_project
    before, _ = load_project(project)
    n = len(before.history)
    assert run(["train", str(project), "--epochs", "1", "--batch-size", "128"]) == 0
    out = capsys.readouterr().out
    doc, _ = load_project(project)
    assert len(doc.history) == n + 1
    rec = doc.history[-1]
    assert f"Run {n + 1} saved" in out and rec["name"] == f"Run {n + 1}"
    assert rec["epochs_done"] == 1 and len(rec["epochs"]) == 1
    assert {"loss", "accuracy"} <= set(rec["epochs"][0]) and rec["source"] == "cli"
    assert rec["settings"]["loss"] == doc.training.loss and rec["seconds"] > 0
    # The app's curves read exactly these keys (desktop/panels/curves.py set_history).
    assert isinstance(rec["epochs"][0]["loss"], float)


def test_keras_files_as_project(tmp_path, capsys):
    model = FIXTURES / "seq_cnn.keras"
    assert run(["summary", str(model)]) == 0
    assert "Total params" in capsys.readouterr().out
    assert run(["plot", str(model), "--out", str(tmp_path / "k.svg")]) == 0
    legacy = FIXTURES / "legacy" / "legacy_mlp.h5"
    assert run(["export", str(legacy), "--format", "keras", "--out",
                str(tmp_path / "from_h5.keras")]) == 0
    assert run(["train", str(model)]) == EXIT_PROJECT  # no project to keep the run in
    assert ".nwproj" in capsys.readouterr().err
