"""Run records in ``doc.history`` (saved in the project file), the same shape the
app's training controller writes, so a run trained from the command line shows in
the app's curves as an earlier run.

A record: ``{"name": "Run 3", "started": ISO time, "settings": training settings,
"dataset": name, "resumed_weights": bool, "epochs": [per-epoch logs], "epochs_done",
"seconds", "samples_per_s", "source": "cli"}``.

>>> run = start_run(doc, "sample", resumed=True)              # doctest: +SKIP
>>> finish_run(doc, run, history.history, seconds=3.2, samples=6000)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from datetime import datetime, timezone


def start_run(doc, dataset: str, resumed: bool, source: str = "cli") -> dict:
    """A new record named after the runs already in ``doc.history`` (not yet added)."""
    return {"name": f"Run {len(doc.history) + 1}",
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "settings": doc.training.to_dict(), "dataset": str(dataset),
            "resumed_weights": bool(resumed), "epochs": [], "source": source}


def _plain(v):
    v = float(v)
    return v if math.isfinite(v) else None  # the project file refuses NaN/inf


def finish_run(doc, run: dict, history: dict, seconds: float, samples: int) -> dict:
    """Fill ``run`` from Keras' ``History.history`` (key -> list per epoch), append it
    to ``doc.history`` and return it."""
    n = max((len(v) for v in history.values()), default=0)
    run["epochs"] = [{k: _plain(v[e]) for k, v in history.items() if e < len(v)}
                     for e in range(n)]
    run["epochs_done"] = n
    run["seconds"] = round(float(seconds), 2)
    run["samples_per_s"] = round(samples / seconds, 1) if seconds > 0 else 0.0
    doc.history.append(run)
    return run
