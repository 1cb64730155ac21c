"""Small callbacks: ``LearningRateScheduler``, ``TerminateOnNaN``, ``CSVLogger``,
``LambdaCallback``.

>>> sched = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
>>> log = CSVLogger("training.csv")
>>> stop = TerminateOnNaN()
"""

from __future__ import annotations

import csv
import math
import os
import sys

import numpy as np

from core.callbacks.base import HOOKS, Callback
from core.safety_state import StateSnapshot


class LearningRateScheduler(Callback):
    """``schedule(epoch, lr) -> new_lr`` (or ``schedule(epoch)``) at each epoch start."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"LearningRateScheduler: schedule must be callable, "
                             f"received {schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError('LearningRateScheduler: the optimizer must have a '
                             '"learning_rate" attribute.')
        try:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # the old one-argument form
            lr = self.schedule(epoch)
        if isinstance(lr, np.ndarray) and lr.size == 1:
            lr = lr.item()
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or \
                not math.isfinite(float(lr)):
            raise ValueError("LearningRateScheduler: the output of the schedule function "
                             f"should be a finite float. Got: {lr!r}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            sys.stdout.write(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning "
                             f"rate to {float(lr)}.\n")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stop at the first batch whose loss is NaN or infinite, keeping the last finite
    state: weights, optimizer slots and iteration count.

    With this callback the trainer skips that batch's weight update; and because a
    finite loss can still produce a non-finite update (the NaN shows only in the
    next batch's loss), the state at the start of every batch is kept (two buffer
    sets, allocated once): at a NaN the newest all-finite one is put back. Keras
    would stop with the NaN weights in place.
    """

    skip_nonfinite_update = True

    def __init__(self):
        super().__init__()
        self._older = StateSnapshot()
        self._newer = StateSnapshot()

    def on_train_begin(self, logs=None):
        self._older, self._newer = StateSnapshot(), StateSnapshot()

    def on_train_batch_begin(self, batch, logs=None):
        self._older, self._newer = self._newer, self._older
        self._newer.take(self.model)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            sys.stdout.write(f"Batch {batch}: Invalid loss, terminating training\n")
            self.model.stop_training = True
            for snap in (self._newer, self._older):
                if snap.taken and snap.finite():
                    snap.restore(self.model)
                    break


class CSVLogger(Callback):
    """Append one CSV row per epoch (``epoch`` then the sorted log keys)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self._file = None
        self._writer = None
        self._append_header = True

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as f:
                    self._append_header = not bool(f.readline().strip())
            mode = "a"
        else:
            mode = "w"
            self._append_header = True
        self._file = open(self.filename, mode, newline="", encoding="utf-8")  # noqa: SIM115
        self.keys = None
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys,
                                          delimiter=self.sep, lineterminator="\n")
            if self._append_header:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, logs.get(k, "NA")) for k in self.keys)
        self._writer.writerow(row)
        # Flushed each epoch so a crash or a stop keeps the rows already written.
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None


class LambdaCallback(Callback):
    """Callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, l: ...)``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in given.items():
            if name in ("on_batch_begin", "on_batch_end"):
                name = name.replace("on_batch", "on_train_batch")
            if name not in HOOKS:
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; expected one of "
                                 f"{', '.join(HOOKS)}.")
            if fn is not None:
                # An instance attribute shadows the class no-op; CallbackList sees it.
                setattr(self, name, fn)
