"""The QObject that runs ``model.fit`` on a QThread, then evaluates on the test set.

The worker never touches widgets: progress travels through ``job.events`` (drained
by a GUI timer), the end through one queued signal carrying copies of the weights
and the test results. ``fit`` may run more than once when epochs were added while
paused; each later call passes ``initial_epoch`` so the optimizer state carries on.

>>> worker = TrainingWorker(job, prepared, fit_kwargs)    # doctest: +SKIP
>>> worker.moveToThread(thread); thread.started.connect(worker.run)   # doctest: +SKIP
"""

from __future__ import annotations

import time
import traceback

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

# The results themselves are Qt-free (the command line computes the same ones).
from core.session.task_results import (  # noqa: F401 - re-exported for the tests
    MAX_GALLERY,
    compute_results,
    confusion_matrix,
    predicted_classes,
)
from desktop.training.job import ControlCallback, TrainingJob


class TrainingWorker(QObject):
    """Runs in the training thread. ``finished(dict)`` or ``failed(message, details)``."""

    finished = Signal(object)
    failed = Signal(str, str)

    def __init__(self, job: TrainingJob, make_data, fit_kwargs: dict):
        super().__init__()
        self.job = job
        self.make_data = make_data  # () -> Prepared; scaling 60k images is not GUI work
        self.prepared = None
        self.fit_kwargs = dict(fit_kwargs)
        # the settings' Keras callbacks (EarlyStopping, ReduceLROnPlateau) after ours
        self.extra_callbacks = list(self.fit_kwargs.pop("callbacks", ()))
        self.callback = ControlCallback(job)

    def _early_stop(self):
        """``(stopped epoch, best epoch)``, 1-based, when EarlyStopping ended the run."""
        for cb in self.extra_callbacks:
            if getattr(cb, "stopped_epoch", 0) > 0 and hasattr(cb, "best_epoch"):
                return (cb.stopped_epoch + 1, cb.best_epoch + 1)
        return None

    @Slot()
    def run(self) -> None:
        job, model = self.job, self.job.model
        try:
            # No kernels.warmup() wait: fit compiles the kernels this model calls
            # (numba compiles lazily) while the app's child process fills the cache.
            p = self.prepared = self.make_data()
            t0 = time.perf_counter()
            while (not job.stop_requested and job.nan_at is None
                   and job.epochs_done < job.target_epochs):
                start = job.epochs_done
                model.fit(p.x_train, p.y_train, epochs=job.target_epochs, initial_epoch=start,
                          callbacks=[self.callback, *self.extra_callbacks], verbose=0,
                          **self.fit_kwargs)
                if job.epochs_done == start or self._early_stop() is not None:
                    break  # no progress, or EarlyStopping ended it (another fit would restart it)
            train_seconds = time.perf_counter() - t0 - self.callback.paused_seconds
            result = {"weights": [np.array(w.value, copy=True) for w in model.weights],
                      "epochs_done": job.epochs_done, "nan_at": job.nan_at, "good_at": job.good_at,
                      "stopped": job.stop_requested, "train_seconds": train_seconds,
                      "results": None, "early_stopped": self._early_stop()}
            if job.nan_at is None and not job.skip_results:
                result["results"] = compute_results(model, p)
            self.finished.emit(result)
        except Exception as exc:  # shown to the user in a dialog; the app stays usable
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
