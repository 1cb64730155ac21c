"""Runs compared: one row per run of ``document.history`` (no Qt; the Runs panel shows it).

A row holds the run's name, the settings in which the runs differ (so the table says what
changed between them, not every setting), epochs done, duration, the final and best value
of each logged metric and the test-set accuracy when there was one.

>>> hist = [{"name": "Run 1", "settings": {"learning_rate": 0.001, "epochs": 2},
...          "epochs": [{"loss": 0.9}, {"loss": 0.5}], "epochs_done": 2, "seconds": 3.0},
...         {"name": "Run 2", "settings": {"learning_rate": 0.01, "epochs": 2},
...          "epochs": [{"loss": 0.7}, {"loss": 0.8}], "epochs_done": 2, "seconds": 2.5}]
>>> differing_settings(hist)
['learning_rate']
>>> [(r["name"], r["changed"], r["final"]["loss"], r["best"]["loss"]) for r in run_rows(hist)]
[('Run 1', 'learning_rate=0.001', 0.5, 0.5), ('Run 2', 'learning_rate=0.01', 0.8, 0.7)]
"""

from __future__ import annotations

import math

# Settings that never explain a difference in results (where the data comes from is
# shown by name in its own column).
IGNORED = ("dataset",)
LOWER_IS_BETTER = ("loss", "mean_squared_error", "mean_absolute_error", "mse", "mae")


def _runs(history) -> list[dict]:
    return [r for r in (history or []) if isinstance(r, dict)]


def differing_settings(history) -> list[str]:
    """Setting names whose value is not the same in every run (in first-seen order)."""
    runs = _runs(history)
    keys: list[str] = []
    for r in runs:
        for k in (r.get("settings") or {}):
            if k not in keys and k not in IGNORED:
                keys.append(k)
    return [k for k in keys
            if len({repr((r.get("settings") or {}).get(k)) for r in runs}) > 1]


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return str(value)


def _better(key: str):
    base = key.removeprefix("val_")
    return min if base in LOWER_IS_BETTER or base.endswith("loss") else max


def run_rows(history, restorable=None) -> list[dict]:
    """One dict per run: ``name``, ``changed`` (text), ``epochs``, ``seconds``,
    ``final`` / ``best`` (metric -> value), ``test_accuracy`` (or None), ``dataset``,
    ``restore`` (``"weights"``, ``"weights+last"`` or ``""`` from
    ``core.graph.run_states.restorable``: what restoring the run brings back)."""
    restorable = restorable or {}
    runs = _runs(history)
    keys = differing_settings(runs)
    rows = []
    for r in runs:
        settings = r.get("settings") or {}
        epochs = [e for e in r.get("epochs") or [] if isinstance(e, dict)]
        metrics = [k for k in (epochs[-1] if epochs else {}) if k not in ("learning_rate",
                                                                           "lr")]
        final, best = {}, {}
        for k in metrics:
            vals = [float(e[k]) for e in epochs if isinstance(e.get(k), (int, float))
                    and math.isfinite(float(e[k]))]
            if vals:
                final[k] = vals[-1]
                best[k] = _better(k)(vals)
        test = r.get("test") or {}
        rows.append({
            "name": str(r.get("name", "")),
            "changed": ", ".join(f"{k}={_fmt(settings.get(k))}" for k in keys),
            "epochs": int(r.get("epochs_done", len(epochs))),
            "first_epoch": int(r.get("first_epoch", 1)),
            "seconds": r.get("seconds"),
            "final": final,
            "best": best,
            "test_accuracy": test.get("accuracy"),
            "dataset": str(r.get("dataset", "")),
            "settings": dict(settings),
            "restore": restorable.get(str(r.get("name", "")), ""),
        })
    return rows
