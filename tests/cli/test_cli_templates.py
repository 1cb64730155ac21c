"""``netweaver train`` with no ``--data`` trains every shipped template on the sample the
app's data panel picks for it (VADER sentences, Mauna Loa CO2, the embedded digits); the
run lands in the project's history with finite metrics, and evaluate / predict / export
work on it. Missing data is one line on stderr and exit code 4, the project left as it was."""

import math
import re
import shutil

import numpy as np
import pytest

from core.cli import EXIT_DATA, run
from core.graph.project_file import load_project, save_project
from core.graph.templates import EXAMPLES_DIR, HORIZON, WINDOW

SEQUENCE = ("text_classifier", "small_transformer", "forecaster")
IMAGES = ("mnist_cnn", "resnet_block")
ELSEWHERE = ("mnist_mlp", "two_input")  # trained headless in test_cli.py, test_cli_session.py
N_SENTENCES, N_TRAIN_SENTENCES = 3000, 2400  # resources/data: 3,000 VADER sentences


def test_every_shipped_template_is_trained_headless_by_a_test():
    assert sorted(SEQUENCE + IMAGES + ELSEWHERE) == sorted(
        p.stem for p in EXAMPLES_DIR.glob("*.nwproj"))


@pytest.fixture(scope="module", params=SEQUENCE + IMAGES)
def trained(request, tmp_path_factory):
    """A copy of the template trained one epoch from the command line (once per module)."""
    path = tmp_path_factory.mktemp(request.param) / f"{request.param}.nwproj"
    shutil.copy(EXAMPLES_DIR / f"{request.param}.nwproj", path)
    before = load_project(path)[0]
    assert run(["train", str(path), "--epochs", "1"]) == 0
    return request.param, path, before


def _numbers(text: str) -> dict:
    return {k: float(v) for k, v in re.findall(r"(\w+)=([-\d.eE+naif]+)", text)}


def test_train_without_data_adds_one_finite_run(trained):
    name, path, before = trained
    doc, weights = load_project(path)
    assert len(doc.history) == len(before.history) + 1 and weights
    run_ = doc.history[-1]
    assert run_["epochs_done"] == 1 and len(run_["epochs"]) == 1 and run_["source"] == "cli"
    assert doc.training.epochs == before.training.epochs  # --epochs was for this run only
    logs = run_["epochs"][0]
    assert {"loss", "val_loss"} <= set(logs)
    assert all(v is not None and math.isfinite(v) for v in logs.values()), logs
    test = run_["test"]
    assert all(math.isfinite(v) for v in (test["loss"], test["count"]))
    if name == "forecaster":
        windows = 2284 - WINDOW - HORIZON + 1  # the shipped series' windows
        assert run_["dataset"] == "Mauna Loa CO2 (weekly)" and test["task"] == "regression"
        assert test["source"] == "Validation split"
        assert test["count"] == windows - math.floor(windows * 0.8)
        assert math.isfinite(test["regression"]["mean_absolute_error"])
    elif name in IMAGES:
        assert run_["dataset"] == "Embedded sample" and test["source"] == "Test set"
        assert test["count"] == 1000 and test["accuracy"] > 2 * test["majority_accuracy"]
    else:
        assert run_["dataset"] == "VADER sentences" and test["source"] == "Test set"
        assert test["count"] == N_SENTENCES - N_TRAIN_SENTENCES
        assert 0.0 <= test["accuracy"] <= 1.0


def test_evaluate_scores_the_data_the_results_used(trained, capsys):
    _, path, _ = trained
    capsys.readouterr()
    assert run(["evaluate", str(path)]) == 0
    scores = _numbers(capsys.readouterr().out)
    kept = load_project(path)[0].history[-1]["test"]
    # the run's results were computed on the same held-out rows with the same weights;
    # evaluate prints 4 decimals (as Keras' progress line), so half a unit in the last
    # place is the rounding, not a difference
    assert scores["loss"] == pytest.approx(kept["loss"], rel=0, abs=0.5e-4 + 1e-7)


def test_predict_writes_one_row_per_held_out_sample(trained, tmp_path):
    name, path, _ = trained
    out = tmp_path / "p.csv"
    assert run(["predict", str(path), "--out", str(out)]) == 0
    pred = np.loadtxt(out, delimiter=",", ndmin=2)
    test = load_project(path)[0].history[-1]["test"]
    assert len(pred) == test["count"] and np.all(np.isfinite(pred))
    if name == "forecaster":  # in ppm again: its MAE against the series is the run's MAE
        from core.datasets.sequence_data import load_series_sample

        targets = load_series_sample()[WINDOW + HORIZON - 1:]
        actual = targets[len(targets) - len(pred):]
        mae = float(np.mean(np.abs(pred[:, 0] - actual)))
        assert mae == pytest.approx(test["regression"]["mean_absolute_error"], rel=1e-4)
        assert 300 < pred.min() and pred.max() < 450  # ppm, not scaled changes
    elif name in IMAGES:  # softmax over the ten digits
        assert pred.shape[1] == 10
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-5)
    else:
        assert pred.shape[1] == 1 and np.all((pred >= 0) & (pred <= 1))  # P(positive)


def test_export_keras_and_onnx_match_the_project(trained, tmp_path):
    from core.cli.data import held_out
    from core.graph.build import apply_weights, build_model
    from core.saving import load_model

    _, path, _ = trained
    doc, weights = load_project(path)
    model = build_model(doc)
    apply_weights(model, weights)
    x = held_out(doc, None)[0][:16]
    ref = np.asarray(model.predict(x, verbose=0))
    assert run(["export", str(path), "--format", "keras", "--out", str(tmp_path / "m.keras")]) == 0
    np.testing.assert_allclose(load_model(str(tmp_path / "m.keras")).predict(x, verbose=0), ref,
                               rtol=1e-5, atol=1e-6)
    assert run(["export", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    first = sess.get_inputs()[0]
    feed = {first.name: np.asarray(x, np.int64 if first.type == "tensor(int64)" else np.float32)}
    np.testing.assert_allclose(sess.run(None, feed)[0], ref, atol=1e-5)


def test_missing_data_is_one_line_and_exit_4(tmp_path, capsys):
    path = tmp_path / "mine.nwproj"
    doc = load_project(EXAMPLES_DIR / "forecaster.nwproj")[0]
    doc.training = doc.training.replaced(dataset=str(tmp_path / "gone.npz"))
    save_project(doc, path)
    before = path.read_bytes()
    for cmd in (["train", str(path), "--epochs", "1"], ["evaluate", str(path)],
                ["train", str(path), "--data", str(tmp_path / "none.npz")]):
        capsys.readouterr()
        assert run(cmd) == EXIT_DATA, cmd
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert "no data" in err and ("gone.npz" in err or "none.npz" in err), err
    assert path.read_bytes() == before  # nothing trained, nothing written


def test_a_nan_run_keeps_the_last_good_weights_and_exits_1(tmp_path, capsys):
    from core.cli import EXIT_FAILED

    path = tmp_path / "nan.nwproj"
    doc = load_project(EXAMPLES_DIR / "forecaster.nwproj")[0]
    doc.training = doc.training.replaced(optimizer="sgd", learning_rate=1e12)
    save_project(doc, path)
    capsys.readouterr()
    assert run(["train", str(path), "--epochs", "2"]) == EXIT_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NaN/inf" in err[0] and "were kept" in err[0], err
    doc, weights = load_project(path)
    rec = doc.history[-1]  # the app's NaN guard ran: where it stopped, what it advises
    assert rec["nan_at"][0] == 1 and rec["epochs_done"] == 0
    assert any("learning rate" in d for d in rec["diagnoses"]), rec["diagnoses"]
    assert all(np.all(np.isfinite(a)) for arrays in weights.values() for a in arrays)


def test_a_second_run_continues_the_weights_and_counts_epochs_on(tmp_path):
    path = tmp_path / "f.nwproj"
    shutil.copy(EXAMPLES_DIR / "forecaster.nwproj", path)
    assert run(["train", str(path), "--epochs", "2"]) == 0
    first_weights = load_project(path)[1]
    assert run(["train", str(path), "--epochs", "1"]) == 0
    doc, weights = load_project(path)
    one, two = doc.history
    assert (one["first_epoch"], one["resumed_weights"]) == (1, False)
    assert (two["first_epoch"], two["resumed_weights"]) == (3, True)  # as the app counts
    # it started from the first run's weights: its first epoch's loss is the first run's
    # last epoch's neighbourhood, not a fresh network's (the fresh first epoch is worse)
    assert two["epochs"][0]["loss"] < one["epochs"][0]["loss"]
    assert any(not np.array_equal(a, b) for k in weights
               for a, b in zip(weights[k], first_weights[k]))
