"""The headless CLI: train a template one epoch, export every format, read them back;
a missing or corrupt project is one line on stderr and exit code 3."""

import shutil

import numpy as np
import pytest

import core  # noqa: F401
from core.cli import EXIT_PROJECT, run
from core.graph.templates import EXAMPLES_DIR


@pytest.fixture()
def project(tmp_path):
    path = tmp_path / "mlp.nwproj"
    shutil.copy(EXAMPLES_DIR / "mnist_mlp.nwproj", path)
    return path


def test_train_one_epoch_then_export_every_format_and_read_back(project, tmp_path, capsys):
    assert run(["train", str(project), "--epochs", "1", "--batch-size", "64",
                "--out", str(tmp_path / "out")]) == 0
    assert "final: " in capsys.readouterr().out
    from core.graph.project_file import load_project
    from core.saving import load_model
    _, weights = load_project(project)
    assert weights  # the trained weights went back into the project
    trained = load_model(str(tmp_path / "out" / "model.keras"))
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    ref = trained.predict(x, verbose=0)
    outs = {"keras": "m.keras", "onnx": "m.onnx", "py": "m.py", "h5-weights": "m.weights.h5"}
    for fmt, name in outs.items():
        assert run(["export", str(project), "--format", fmt, "--out",
                    str(tmp_path / name)]) == 0, fmt
    np.testing.assert_allclose(load_model(str(tmp_path / "m.keras")).predict(x, verbose=0),
                               ref, atol=1e-6)
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    np.testing.assert_allclose(sess.run(None, {sess.get_inputs()[0].name: x})[0], ref,
                               atol=1e-5)
    trained.load_weights(str(tmp_path / "m.weights.h5"))
    np.testing.assert_allclose(trained.predict(x, verbose=0), ref, atol=1e-6)
    compile((tmp_path / "m.py").read_text(), "m.py", "exec")
    assert (tmp_path / "model.weights.h5").exists()


def test_evaluate_and_predict(project, tmp_path, capsys):
    assert run(["evaluate", str(project)]) == 0
    assert "accuracy=" in capsys.readouterr().out
    assert run(["predict", str(project), "--out", str(tmp_path / "p.csv")]) == 0
    pred = np.loadtxt(tmp_path / "p.csv", delimiter=",")
    assert pred.shape[1] == 10


def test_missing_and_corrupt_project_exit_3_one_line(tmp_path, capsys):
    assert run(["summary", str(tmp_path / "none.nwproj")]) == EXIT_PROJECT
    bad = tmp_path / "bad.nwproj"
    bad.write_text("{not json")
    assert run(["summary", str(bad)]) == EXIT_PROJECT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 2 and "Traceback" not in err
