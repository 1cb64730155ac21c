"""The QObject that runs one training run on a QThread: a thin Qt adapter.

The run itself is ``core.session.training_run.run_job`` (the command line runs the
same): ``fit`` under the job's control, then the test results. The worker never touches
widgets: progress travels through ``job.events`` (drained by a GUI timer), the end
through one queued signal carrying the result (copies of the weights, test results).

>>> worker = TrainingWorker(job, prepared, fit_kwargs)    # doctest: +SKIP
>>> worker.moveToThread(thread); thread.started.connect(worker.run)   # doctest: +SKIP
"""

from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, Signal, Slot

from core.session.job import ControlCallback, TrainingJob
from core.session.training_run import run_job


class TrainingWorker(QObject):
    """Runs in the training thread. ``finished(dict)`` or ``failed(message, details)``."""

    finished = Signal(object)
    failed = Signal(str, str)

    def __init__(self, job: TrainingJob, make_data, fit_kwargs: dict):
        super().__init__()
        self.job = job
        self.make_data = make_data  # () -> Prepared; scaling 60k images is not GUI work
        self.prepared = None
        self.fit_kwargs = dict(fit_kwargs)  # the settings' callbacks included
        # the settings' Keras callbacks (EarlyStopping...), for whoever reads them after
        self.extra_callbacks = list(self.fit_kwargs.get("callbacks", ()))
        self.callback = ControlCallback(job)

    @Slot()
    def run(self) -> None:
        try:
            # No kernels.warmup() wait: fit compiles the kernels this model calls
            # (numba compiles lazily) while the app's child process fills the cache.
            self.prepared = self.make_data()
            self.finished.emit(run_job(self.job, self.prepared, self.fit_kwargs,
                                       control=self.callback))
        except Exception as exc:  # shown to the user in a dialog; the app stays usable
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
