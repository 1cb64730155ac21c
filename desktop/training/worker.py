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

from desktop.training.job import ControlCallback, TrainingJob

MAX_GALLERY = 48


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class; counts (int64)."""
    labels = np.asarray(labels, np.int64).reshape(-1)
    predicted = np.asarray(predicted, np.int64).reshape(-1)
    flat = labels * num_classes + predicted
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes,
                                                                          num_classes)


def predicted_classes(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs)
    if probs.ndim == 2 and probs.shape[1] > 1:
        return np.argmax(probs, axis=1)
    return (probs.reshape(-1) > 0.5).astype(np.int64)


def compute_results(model, x_test, y_test, labels, num_classes: int, source: str,
                    batch_size: int = 256) -> dict:
    """Test loss/metrics, confusion matrix and the first misclassified examples."""
    scores = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0, return_dict=True)
    probs = np.asarray(model.predict(x_test, batch_size=batch_size, verbose=0))
    pred = predicted_classes(probs)
    n_cls = max(int(num_classes), int(pred.max()) + 1, int(labels.max()) + 1)
    cm = confusion_matrix(labels, pred, n_cls)
    wrong = np.flatnonzero(pred != labels)[:MAX_GALLERY]
    return {
        "source": source,
        "scores": {k: float(v) for k, v in dict(scores).items()},
        "count": int(len(labels)),
        "accuracy": float(np.mean(pred == labels)),
        "confusion": cm,
        "wrong_images": np.array(x_test[wrong], copy=True),
        "wrong_true": labels[wrong].copy(),
        "wrong_pred": pred[wrong].copy(),
        "wrong_conf": probs[wrong].max(axis=1) if probs.ndim == 2 else probs[wrong].ravel(),
    }


def results_data(prepared):
    """Test set when there is one, else the validation tail ``fit`` held out (Keras takes
    the last ``validation_split`` of the samples, before shuffling)."""
    if prepared.x_test is not None:
        return (prepared.x_test, prepared.y_test, prepared.labels_test), "Test set"
    n = len(prepared.x_train)
    if prepared.validation_split > 0:
        split_at = int(np.floor(n * (1.0 - prepared.validation_split)))
        y = prepared.y_train[split_at:]
        labels = y.reshape(len(y), -1)
        labels = labels[:, 0] if labels.shape[1] == 1 else np.argmax(labels, axis=1)
        return (prepared.x_train[split_at:], y, labels.astype(np.int64)), "Validation split"
    return None, ""


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
            data, source = results_data(p)
            if data is not None and job.nan_at is None and not job.skip_results:
                x, y, labels = data
                result["results"] = compute_results(model, x, y, labels, p.num_classes, source)
            self.finished.emit(result)
        except Exception as exc:  # shown to the user in a dialog; the app stays usable
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
