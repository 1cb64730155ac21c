"""Run records in ``doc.history`` (saved in the project file), made the same way by the
app's training controller and the command line, so a run trained from the command line
shows in the app's curves as an earlier run.

A record: ``{"name": "Run 3", "started": ISO time, "settings": training settings,
"dataset": name, "resumed_weights": bool, "source": "app" | "cli", "epochs": [per-epoch
logs]}`` from ``start_run``, then ``epochs_done``, ``seconds``, ``samples_per_s``,
``test``, ``nan_at``, ``early_stopped`` (``core.session.training_run.complete_run``) and
``diagnoses``. Every run enters the document through ``doc.add_run``
(``RunHistoryMixin``), which emits a ``"run"`` event, so the app's panels hear of a run
whoever trained it.

>>> run = start_run(doc, "sample", resumed=True)              # doctest: +SKIP
>>> doc.add_run(complete_run(run, result, samples_per_s=900.0))   # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime, timezone


def start_run(doc, dataset: str, resumed: bool, source: str = "cli") -> dict:
    """A new record named after the runs already in ``doc.history`` (not yet added);
    a run that continues the project's weights counts its epochs on (``first_epoch``)."""
    first = trained_epochs(doc.history) + 1 if resumed else 1
    return {"name": f"Run {len(doc.history) + 1}",
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "settings": doc.training.to_dict(), "dataset": str(dataset),
            "resumed_weights": bool(resumed), "first_epoch": first, "epochs": [],
            "source": source}


def trained_epochs(history) -> int:
    """Epochs behind the project's weights: the last run's own epochs plus, when it
    continued from earlier weights, the epochs it started from (``first_epoch - 1``).

    >>> trained_epochs([{"epochs_done": 3, "first_epoch": 1}, {"epochs_done": 2, "first_epoch": 4}])
    5
    """
    if not history:
        return 0
    last = history[-1]
    done = last.get("epochs_done", len(last.get("epochs", ())))
    return int(last.get("first_epoch", 1)) - 1 + int(done)


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
