"""``netweaver train`` runs the app's session code: several Inputs fed by name, float
targets trained as a regression, results that fit the task kept in the run."""

import shutil

import numpy as np

from core.cli import run
from core.graph.document import GraphDocument
from core.graph.project_file import load_project, save_project
from core.graph.templates import EXAMPLES_DIR


def test_two_input_template_trains_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "two.nwproj"
    shutil.copy(EXAMPLES_DIR / "two_input.nwproj", path)
    assert run(["train", str(path), "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    doc = load_project(path)[0]
    test = doc.history[-1]["test"]
    assert doc.training.epochs == 5 and doc.history[-1]["epochs_done"] == 1  # one run only
    assert test["source"] == "Test set" and test["count"] == 1000
    # one epoch on 4,000 digits: far above the majority class (about 11%)
    assert test["accuracy"] > 0.6 and test["majority_accuracy"] < 0.2, test
    assert "majority class" in out


def test_float_targets_train_as_a_regression(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3)).astype(np.float32)
    y = (x @ np.array([1.5, -2.0, 0.5], np.float32) + 0.25).astype(np.float32)
    np.savez(tmp_path / "lin.npz", x_train=x[:500], y_train=y[:500], x_test=x[500:],
             y_test=y[500:])
    doc = GraphDocument()
    doc.training = doc.training.replaced(loss="mse", optimizer="adam", learning_rate=0.05,
                                         metrics=["mae"], epochs=40, batch_size=32,
                                         validation_split=0.0, seed=1, dataset="")
    a = doc.add_node("InputLayer", {"shape": [3]})
    b = doc.add_node("Dense", {"units": 1})
    doc.connect(a, b)
    save_project(doc, tmp_path / "lin.nwproj")
    assert run(["train", str(tmp_path / "lin.nwproj"), "--data",
                str(tmp_path / "lin.npz")]) == 0
    test = load_project(tmp_path / "lin.nwproj")[0].history[-1]["test"]
    mean_mae = float(np.mean(np.abs(y[500:] - y[:500].mean())))  # predicting the mean
    assert test["task"] == "regression" and test["count"] == 100
    assert test["regression"]["mean_absolute_error"] < 0.1 * mean_mae, (test, mean_mae)
