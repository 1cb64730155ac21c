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
    from core.graph.run_states import LastEpochWeights

    monitor = "val_loss" if s.validation_split > 0 else "loss"
    out = []
    if s.early_stopping:
        # before EarlyStopping, whose on_train_end puts the best epoch's weights back:
        # the run keeps the last epoch's too (core.graph.run_states)
        out.append(LastEpochWeights())
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


def complete_run(run: dict, result: dict, samples_per_s: float) -> dict:
    """Fill a run record (``core.graph.run_history.start_run``) from ``run_job``'s
    result: epochs done, seconds, speed, where a NaN stopped it, early stopping, the
    results' summary. The per-epoch logs are the caller's (they arrive while it runs).

    >>> complete_run({}, {"epochs_done": 2, "train_seconds": 1.234, "nan_at": None,
    ...               "early_stopped": (2, 1), "results": None}, 812.34)
    {'epochs_done': 2, 'seconds': 1.23, 'samples_per_s': 812.3, 'early_stopped': [2, 1]}
    """
    from core.session.task_results import run_summary

    run["epochs_done"] = result["epochs_done"]
    run["seconds"] = round(result["train_seconds"], 2)
    run["samples_per_s"] = round(float(samples_per_s), 1)
    for key in ("nan_at", "early_stopped"):
        if result.get(key):
            run[key] = list(result[key])
    if result.get("results") is not None:
        run["test"] = run_summary(result["results"])
    return run


def end_message(result: dict, epoch_offset: int = 0) -> str:
    """How the run ended, in one sentence (the app's status line, the CLI's last word);
    ``epoch_offset``: the epochs the starting weights already had.

    >>> end_message({"epochs_done": 1, "train_seconds": 2.0, "stopped": False})
    'Training finished after 1 epoch in 2.0 s.'
    """
    if result.get("nan_at"):
        e, b = result["nan_at"]
        good = result.get("good_at")
        kept = (f"the weights from epoch {good[0]}, batch {good[1]} (the last checkpoint "
                "with a finite loss) were kept" if good else "the weights from before "
                "training were kept")
        return f"Training stopped: the loss became NaN/inf at epoch {e}, batch {b}; {kept}."
    if result.get("early_stopped"):
        at, best = result["early_stopped"]
        return (f"Early stopping after epoch {epoch_offset + at}: the monitored loss stopped "
                f"improving; the weights of its best epoch ({epoch_offset + best}) were kept.")
    how = "stopped" if result.get("stopped") else "finished"
    n = result["epochs_done"]
    return f"Training {how} after {n} epoch{'' if n == 1 else 's'} in " \
           f"{result['train_seconds']:.1f} s."
