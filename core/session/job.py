"""The state one training run shares between the GUI thread and the worker thread.

``TrainingJob`` holds the pause/stop flags, the pending learning-rate change, the
epoch target (which may grow while paused) and the queue of events the worker
pushes and a GUI timer drains. ``ControlCallback`` is the ``fit`` callback that
acts on those flags at every batch and guards against a NaN/inf loss by keeping
the last good weights in preallocated buffers. No Qt here.

>>> job = TrainingJob(model, epochs=3)            # doctest: +SKIP
>>> model.fit(x, y, epochs=3, callbacks=[ControlCallback(job)])   # doctest: +SKIP
>>> job.drain()                                    # doctest: +SKIP
[('batch', {...}), ('epoch', {...}), ...]
"""

from __future__ import annotations

import math
import queue
import threading
import time

from core.callbacks import Callback
from core.safety_state import StateSnapshot


class TrainingJob:
    """Flags and the event queue of one run. Methods are safe to call from any thread."""

    def __init__(self, model, epochs: int, batch_size: int = 32):
        self.model = model
        self.batch_size = int(batch_size)
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self.target_epochs = int(epochs)
        self.epochs_done = 0
        self.stop_requested = False
        self.pending_lr: float | None = None
        self.nan_at: tuple[int, int] | None = None  # (epoch, batch), 1-based for people
        self.good_at: tuple[int, int] | None = None  # where the kept weights come from
        self.waiting = False  # True while the worker sits blocked in a pause
        self.skip_results = False  # set when the app closes: no test-set evaluation

    # ----------------------------------------------------------- GUI side
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def stop(self) -> None:
        self.stop_requested = True
        self._running.set()  # a paused worker must wake up to see the stop

    def set_learning_rate(self, lr: float) -> None:
        lr = float(lr)
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"Training: learning_rate={lr!r} must be a positive number.")
        with self._lock:
            self.pending_lr = lr

    def add_epochs(self, n: int) -> int:
        if int(n) < 1:
            raise ValueError(f"Training: cannot add epochs={n!r}; expected an integer >= 1.")
        with self._lock:
            self.target_epochs += int(n)
            return self.target_epochs

    def drain(self, limit: int = 100000) -> list:
        out = []
        try:
            while len(out) < limit:
                out.append(self.events.get_nowait())
        except queue.Empty:
            pass
        return out

    # -------------------------------------------------------- worker side
    def wait_if_paused(self) -> float:
        """Block while paused; returns the seconds spent waiting."""
        if self._running.is_set():
            return 0.0
        t = time.perf_counter()
        self.events.put(("paused", {"time": t}))
        self.waiting = True
        self._running.wait()
        self.waiting = False
        now = time.perf_counter()
        self.events.put(("resumed", {"time": now}))
        return now - t

    def take_pending_lr(self) -> float | None:
        with self._lock:
            lr, self.pending_lr = self.pending_lr, None
            return lr


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return True  # non-numeric log entries are not our concern


SNAPSHOT_EVERY = 8  # batches at least between two weight snapshots
# and at most this share of the training time: a snapshot waits until the time since the
# last one is SNAPSHOT_EVERY batches and 1 / SNAPSHOT_SHARE times what the last one cost
SNAPSHOT_SHARE = 0.0025


class ControlCallback(Callback):
    """Pause/stop/learning-rate control and the NaN guard, checked once per batch.

    Weight snapshot: before every ``SNAPSHOT_EVERY``-th batch the current weights are
    copied into buffer set B (preallocated once, ``np.copyto``: no allocation per
    step). When that batch's loss comes back finite, the weights it started from are
    proven good and B becomes the "last good" set A by swapping references. When a
    loss is NaN/inf, A is copied back into the model, so training ends on finite
    weights that gave a finite loss, at most ``SNAPSHOT_EVERY - 1`` batches older than
    the last finite batch, and rarer when a copy is dear against a step (below). Why
    not every batch: one memcpy of the seed CNN's 2.8 MB of weights per batch of 32 cost
    ~5% of in-app throughput (measured with ``benchmarks/ui_latency.py``). Why the time
    bound too: with Adam's two slots a snapshot is 8.4 MB, ~2 ms, and every 8th batch
    was still 3% of the worker's time (cProfile, 6,000 images at batch 32, 47 of the
    callback's 70 ms); the next snapshot waits until the time since the last one is
    at least its cost / ``SNAPSHOT_SHARE`` (0.25%: ~0.8 s there), so a NaN rolls back
    about a second of training, never more than that plus 8 batches. (At 0.5% the
    snapshots still took 10-11 ms of a 1.3 s epoch of the seed CNN at batch 32, in
    ``on_train_batch_begin``: the first batch of a fit always snapshots, and a copy
    also evicts the step's data from the caches.)
    """

    def __init__(self, job: TrainingJob):
        super().__init__()
        self.job = job
        # Weights + optimizer slots + iteration count (core.safety_state): restoring
        # the weights alone left the moments NaN for the next Train or export.
        self._good = StateSnapshot()
        self._candidate = StateSnapshot()
        self._epoch = 0
        self._steps = None
        self.paused_seconds = 0.0
        self._since_snapshot = SNAPSHOT_EVERY  # the first batch always snapshots
        self._snapshot_cost = 0.0  # seconds the last snapshot took, and when it ended
        self._snapshot_end = float("-inf")
        self._snapshotting = False
        self._snapshot_at = self._good_at = None  # (epoch, batch), 1-based

    def _target_model(self):
        return getattr(self, "model", None) or self.job.model

    # Keras calls these -------------------------------------------------------
    def on_train_begin(self, logs=None):
        model = self._target_model()
        self._good.take(model)
        params = getattr(self, "params", None) or {}
        self._steps = params.get("steps")
        # "cpu": the process' CPU seconds, so that a run's CPU cost can be told from the
        # machine's load (benchmarks/app_throughput.py compares it with headless fit)
        self.job.events.put(("train_begin", {"time": time.perf_counter(), "steps": self._steps,
                                             "epochs": self.job.target_epochs,
                                             "cpu": time.process_time()}))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)
        self.job.events.put(("epoch_begin", {"epoch": self._epoch,
                                             "time": time.perf_counter()}))

    def on_train_batch_begin(self, batch, logs=None):
        job = self.job
        self.paused_seconds += job.wait_if_paused()
        model = self._target_model()
        if job.stop_requested:
            model.stop_training = True
        lr = job.take_pending_lr()
        if lr is not None:
            model.optimizer.learning_rate = lr
            job.events.put(("lr", {"learning_rate": lr}))
        self._snapshotting = self._since_snapshot >= SNAPSHOT_EVERY - 1 and (
            self._snapshot_cost <= SNAPSHOT_SHARE * (time.perf_counter() - self._snapshot_end))
        if self._snapshotting:
            t = time.perf_counter()
            self._candidate.take(model)
            self._snapshot_end = time.perf_counter()
            self._snapshot_cost = self._snapshot_end - t
            self._snapshot_at = (self._epoch + 1, int(batch) + 1)
            self._since_snapshot = 0
        else:
            self._since_snapshot += 1

    def on_train_batch_end(self, batch, logs=None):
        logs = dict(logs or {})
        job = self.job
        model = self._target_model()
        loss = logs.get("loss")
        if loss is not None and not _finite(loss):
            self._good.restore(model)
            job.nan_at = (self._epoch + 1, int(batch) + 1)
            job.good_at = self._good_at
            model.stop_training = True
            job.events.put(("nan", {"epoch": self._epoch, "batch": int(batch), "loss": loss}))
            return
        if self._snapshotting:
            self._good, self._candidate = self._candidate, self._good
            self._good_at = self._snapshot_at
        job.events.put(("batch", {"epoch": self._epoch, "batch": int(batch), "steps": self._steps,
                                  "logs": {k: float(v) for k, v in logs.items() if _finite(v)},
                                  "time": time.perf_counter()}))
        if job.stop_requested:
            model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in dict(logs or {}).items()}
        if self.job.nan_at is None:
            self.job.epochs_done = int(epoch) + 1
        self.job.events.put(("epoch", {"epoch": int(epoch), "logs": logs,
                                       "time": time.perf_counter(),
                                       "cpu": time.process_time()}))
