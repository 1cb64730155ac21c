"""Run records in ``doc.history`` (saved in the project file), the same shape the
app's training controller writes, so a run trained from the command line shows in
the app's curves as an earlier run.

A record: ``{"name": "Run 3", "started": ISO time, "settings": training settings,
"dataset": name, "resumed_weights": bool, "epochs": [per-epoch logs], "epochs_done",
"seconds", "samples_per_s", "source": "cli"}``.

Every run enters the document through ``doc.add_run`` (``RunHistoryMixin``), which
emits a ``"run"`` event, so the app's panels hear of a run whoever trained it.

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
    return doc.add_run(run)


class RunHistoryMixin:
    """The document's one door for finished runs (``GraphDocument`` mixes it in)."""

    def add_run(self, run: dict, weights: dict | None = None) -> dict:
        """Append ``run`` to ``history`` and, when given, make ``weights`` (layer name ->
        arrays) the project's trained weights; one ``"run"`` event tells observers.

        >>> from core.graph.document import GraphDocument
        >>> doc, seen = GraphDocument(), []
        >>> _ = doc.subscribe(lambda e: seen.append(e.kind))
        >>> doc.add_run({"name": "Run 1", "epochs": []})["name"], len(doc.history), seen
        ('Run 1', 1, ['run'])
        """
        self.history.append(run)
        if weights is not None:
            self.weights = weights
        self._changed("run")
        return run
