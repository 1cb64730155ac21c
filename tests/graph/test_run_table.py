"""The run table's rows (issue 14, "Runs compared"): differing settings, final and best
metrics with the right direction per metric, duration, test accuracy."""

from core.graph.run_table import differing_settings, run_rows


def _run(name, lr, epochs, logs, **extra):
    return {"name": name, "settings": {"learning_rate": lr, "epochs": epochs, "seed": 1,
                                       "dataset": "sample"},
            "epochs": logs, "epochs_done": len(logs), **extra}


def test_rows_name_what_changed_and_pick_best_by_direction():
    hist = [_run("Run 1", 0.001, 3, [{"loss": 1.0, "val_loss": 1.1, "accuracy": 0.5,
                                      "val_accuracy": 0.45},
                                     {"loss": 0.6, "val_loss": 0.7, "accuracy": 0.8,
                                      "val_accuracy": 0.78},
                                     {"loss": 0.4, "val_loss": 0.9, "accuracy": 0.9,
                                      "val_accuracy": 0.70}],
                 seconds=12.5, test={"accuracy": 0.71}),
            _run("Run 2", 0.01, 3, [{"loss": 2.0, "accuracy": 0.2}], seconds=4.0)]
    assert differing_settings(hist) == ["learning_rate"]  # epochs/seed equal, dataset ignored
    r1, r2 = run_rows(hist)
    assert r1["changed"] == "learning_rate=0.001" and r2["changed"] == "learning_rate=0.01"
    assert r1["final"]["val_loss"] == 0.9 and r1["best"]["val_loss"] == 0.7  # lower is better
    assert r1["final"]["val_accuracy"] == 0.70 and r1["best"]["val_accuracy"] == 0.78
    assert r1["test_accuracy"] == 0.71 and r2["test_accuracy"] is None
    assert r1["seconds"] == 12.5 and r2["epochs"] == 1
    assert "val_loss" not in r2["final"]


def test_non_finite_values_and_odd_entries_are_skipped():
    hist = [_run("Run 1", 0.1, 2, [{"loss": 0.5}, {"loss": float("nan")}]), "not a run"]
    (row,) = run_rows(hist)
    assert row["final"]["loss"] == 0.5 and row["changed"] == ""
