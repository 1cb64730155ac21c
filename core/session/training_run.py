"""One training run, headless: ``fit`` under the job's control, then the test results.

The app's worker thread and the command line both call ``run_job``: ``fit`` runs with
the ``ControlCallback`` (pause, stop, learning-rate changes, the NaN guard) and the
project's own callbacks (``settings_callbacks``: early stopping, a learning-rate drop on
a plateau). ``fit`` may run more than once when epochs were added while paused; each
later call passes ``initial_epoch`` so the optimizer state carries on. No Qt here.

>>> job = TrainingJob(plan.model, epochs=3)                          # doctest: +SKIP
>>> result = run_job(job, plan.make_data(), plan.fit_kwargs)          # doctest: +SKIP
>>> result["epochs_done"], result["results"]["accuracy"]              # doctest: +SKIP
(3, 0.91)
"""

from __future__ import annotations

import time

import numpy as np

from core.session.job import ControlCallback, TrainingJob
from core.session.task_results import compute_results


def settings_callbacks(s) -> list:
    """The Keras callbacks the project's settings ask for (early stopping keeps the best
    epoch's weights; the learning rate drops tenfold on a plateau)."""
    from core.callbacks import EarlyStopping, ReduceLROnPlateau

    monitor = "val_loss" if s.validation_split > 0 else "loss"
    out = []
    if s.early_stopping:
        out.append(EarlyStopping(monitor=monitor, patience=s.early_stopping,
                                 restore_best_weights=True))
    if s.reduce_lr:
        out.append(ReduceLROnPlateau(monitor=monitor, factor=0.1, patience=s.reduce_lr))
    return out


def early_stop(callbacks):
    """``(stopped epoch, best epoch)``, 1-based, when EarlyStopping ended the run."""
    for cb in callbacks:
        if getattr(cb, "stopped_epoch", 0) > 0 and hasattr(cb, "best_epoch"):
            return (cb.stopped_epoch + 1, cb.best_epoch + 1)
    return None


def run_job(job: TrainingJob, prepared, fit_kwargs: dict, control: ControlCallback | None = None,
            verbose: int = 0) -> dict:
    """Train ``job.model`` on ``prepared`` (``core.session.network_data.Prepared``).

    ``fit_kwargs``: ``fit``'s arguments, ``callbacks`` (the settings' ones) included;
    ``control``: the job's callback (a new one when None). Returns copies of the
    weights, ``epochs_done``, ``nan_at``/``good_at`` (1-based), ``stopped``,
    ``train_seconds`` (pauses excluded), ``early_stopped`` and ``results``
    (``compute_results``; None after a NaN stop, when skipped, or with nothing held out).
    """
    model, p = job.model, prepared
    kwargs = dict(fit_kwargs)
    extra = list(kwargs.pop("callbacks", ()))  # the settings' callbacks run after ours
    control = control if control is not None else ControlCallback(job)
    t0 = time.perf_counter()
    while not job.stop_requested and job.nan_at is None and job.epochs_done < job.target_epochs:
        start = job.epochs_done
        model.fit(p.x_train, p.y_train, epochs=job.target_epochs, initial_epoch=start,
                  callbacks=[control, *extra], verbose=verbose, **kwargs)
        if job.epochs_done == start or early_stop(extra) is not None:
            break  # no progress, or EarlyStopping ended it (another fit would restart it)
    train_seconds = time.perf_counter() - t0 - control.paused_seconds
    result = {"weights": [np.array(w.value, copy=True) for w in model.weights],
              "epochs_done": job.epochs_done, "nan_at": job.nan_at, "good_at": job.good_at,
              "stopped": job.stop_requested, "train_seconds": train_seconds,
              "results": None, "early_stopped": early_stop(extra)}
    if job.nan_at is None and not job.skip_results:
        result["results"] = compute_results(model, p)
    return result
