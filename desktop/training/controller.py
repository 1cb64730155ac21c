"""Train / pause / resume / stop: the state machine between the document and the worker.

``start()`` runs on the GUI thread and only does cheap things: build the model from
the document (no kernel calls), compile it, shape the data, check memory, restore
the project's weights when they fit. Then a ``TrainingWorker`` on a ``QThread`` runs
``fit`` while a 2 Hz ``QTimer`` drains the job's event queue into the curves.
At the end the trained weights (copies) go into ``document.weights`` and the run
into ``document.history``.

States: ``idle`` -> ``running`` <-> ``paused`` -> ``stopping`` -> ``idle``.

>>> ctl = TrainingController(get_document=lambda: doc, get_data=lambda: dataset)  # doctest: +SKIP
>>> ctl.start()                                                                    # doctest: +SKIP
"""

from __future__ import annotations

import sys
import time

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThread, QTimer, Signal

from core.graph.memory import fmt_bytes
from core.graph.run_history import start_run
from core.graph.run_states import keep_run, network_of
from core.session.job import TrainingJob
from core.session.run_weights import (  # noqa: F401 - restore_weights is used by the dock
    last_epoch_weights,
    plural,
    restore_weights,
    warning_note,
    weights_by_layer,
)
from core.session.smoothing import BatchSmoother
from core.session.training_run import complete_run, end_message, settings_callbacks
from desktop.training.worker import TrainingWorker

# 2 Hz: the curves never get one signal per batch, and the GUI's share of the 2 cores
# stays small (every GUI-thread turn takes the GIL, and a core, from training). What a
# user sees changes at 2 Hz (the counters, one plot per drain, so each plot every
# second), so draining faster only cost: seed CNN at batch 32, 4-epoch runs in the
# app, GUI thread CPU medians 45-53 ms an epoch at 5 Hz against 44-46 ms at 2 Hz (3
# alternating processes of 4 runs each). Earlier (benchmarks/ui_latency.py): 85-88 %
# of headless throughput at 10 Hz with 1 ms GIL switches, 92-94 % at 5 Hz with 2 ms.
DRAIN_MS = 500
# The counters line and the progress bar change at every drain, and at every epoch end,
# pause and the run's end: a QLabel's new text re-lays and repaints its panel (1-2 ms of
# GUI thread on the styled window, offscreen raster), the bar repaints synchronously; at
# 5 Hz they were a third of the GUI thread's time while training. A little under one
# drain: Qt's coarse timers fire up to 5 % early, and a tick that came 1 ms early
# skipped the counters for a whole second.
COUNTERS_S = 0.45
GUI_SWITCH_INTERVAL = 0.002  # seconds; see _launch()
# The event that starts the worker once the window shows the run (see start()).
_LAUNCH = QEvent.Type(QEvent.registerEventType())


class StartRefused(Exception):
    """Training cannot start; the message says why (shown to the user, nothing changed)."""


class TrainingController(QObject):
    """Owns one training run at a time; the dock wires buttons and panels to it."""

    stateChanged = Signal(str)
    message = Signal(str)             # one-line status text
    batchProgress = Signal(int, int)  # done, total (batches over all epochs)
    epochEnded = Signal(int, dict)
    runFinished = Signal(dict)        # the worker's result (weights, results, ...)
    failed = Signal(str, str)         # message, details

    def __init__(self, get_document, get_data, curves=None, parent=None):
        super().__init__(parent)
        self.get_document = get_document
        self.get_data = get_data
        self.curves = curves
        self.state = "idle"
        self.job: TrainingJob | None = None
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self.model = None
        self.doc = None
        self.input_shape = None
        self.run: dict | None = None
        self.plan = None  # core.session.run_setup.RunPlan of the current/last run
        self.last_result: dict | None = None
        self.last_error: tuple[str, str] | None = None
        self.last_message = ""
        self.epoch_offset = 0  # epochs the starting weights already had (continued runs)
        self._num_classes = None
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self.drain)
        self._stats = {}
        # (event, perf_counter, process CPU s) as the worker stamped its train_begin and
        # epoch events: what the run cost, for a benchmark or a status line
        self.marks: list[tuple[str, float, float | None]] = []
        self._switch_interval: float | None = None
        self._launch_rounds = 0  # event-loop rounds until the worker starts (start())

    # -------------------------------------------------------------- helpers
    def _set_state(self, state: str) -> None:
        self.state = state
        self.stateChanged.emit(state)

    def _say(self, text: str) -> None:
        self.last_message = text
        self.message.emit(text)

    def _build(self, doc, ds, continue_weights=True):
        """Model + prepared data + fit kwargs, or ``StartRefused`` (nothing changed).
        The checks, compile and data mapping are ``core.session.run_setup`` (shared with
        the command line); the settings' callbacks and the project's weights are added here."""
        from core.session.run_setup import RunRefused, plan_run

        try:
            plan = plan_run(doc, ds)
        except RunRefused as exc:
            raise StartRefused(str(exc)) from None
        self.plan = plan
        resumed = continue_weights and restore_weights(plan.model, doc.weights)
        fit_kwargs = dict(plan.fit_kwargs, callbacks=settings_callbacks(doc.training))
        return plan.model, plan.make_data, plan.input_shape, fit_kwargs, resumed, plan.estimate

    # --------------------------------------------------------------- actions
    def start(self, continue_weights: bool = True) -> bool:
        """Start training from the current document; False (with a message) if refused.

        ``continue_weights``: start from ``document.weights`` when they fit the network
        (a reopened project continues training); otherwise from fresh initial weights.
        """
        if self.state != "idle":
            return False
        doc, ds = self.get_document(), self.get_data()
        if doc is None:
            return False
        if ds is None:
            self._say("No data loaded yet: choose a data set in the Data panel.")
            return False
        from core.graph.training_rules import pre_train_problems

        blockers = pre_train_problems(doc)  # the same rules the Problems panel shows
        try:
            if blockers:
                more = f" (and {len(blockers) - 1} more in Problems)" if len(blockers) > 1 else ""
                raise StartRefused(blockers[0].message + more)
            model, make_data, shape, fit_kwargs, resumed, est = self._build(doc, ds,
                                                                            continue_weights)
        except StartRefused as exc:
            self._say(str(exc))
            self.failed.emit("Training cannot start", str(exc))
            return False
        s = doc.training
        self.model, self.input_shape, self.last_error = model, shape, None
        self.doc = doc  # results go to the document that was trained, even if replaced
        self.job = TrainingJob(model, epochs=s.epochs, batch_size=s.batch_size)
        self.worker = TrainingWorker(self.job, make_data, fit_kwargs)
        self.thread = QThread(self)
        self.thread.setObjectName("trainingThread")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        classifier = self.plan.task == "classification"
        self._num_classes = ds.num_classes if classifier else None
        # the record the command line writes too (core.graph.run_history)
        self.run = start_run(doc, ds.name, resumed, source="app")
        offset = self.epoch_offset = self.run["first_epoch"] - 1
        self._network = network_of(doc)  # what this run trains, kept to restore it later
        self.marks = []
        self._stats = {"t0": time.perf_counter(), "samples": 0, "steps": None,
                       "last_batch": None, "rate": 0.0,
                       "paused_s": 0.0, "pause_t": None, "smoother": BatchSmoother()}
        if self.curves is not None:
            self.curves.set_history(doc.history)
            self.curves.begin_run(self.run["name"], list(s.metrics), epoch_offset=offset)
        self._set_state("running")
        self._say(f"Training {self.run['name']}: {plural(s.epochs, 'epoch')}, batch {s.batch_size}"
                  + (", continuing from the project's weights" if resumed else "")
                  + f" (memory estimate {fmt_bytes(est.total)})."
                  + warning_note(doc))
        # The worker starts once the window shows the run: the new state (the form and
        # buttons greyed, the curves cleared and raised) repaints 25-55 ms of GUI-thread
        # CPU after this returns; with the worker already training, that burst took the
        # GIL and a core from its first batches (seed CNN, 12,000 images at batch 32:
        # 5 % of a 1.2 s epoch, on top of the 2-4 % the running GUI costs). Widgets'
        # repaints are posted at low priority and an event posted after them at the same
        # priority comes after them; the plots' repaints come one round later (their
        # scenes post them from a queued call), hence two rounds.
        self._launch_rounds = 2
        QCoreApplication.postEvent(self, QEvent(_LAUNCH), Qt.LowEventPriority.value)
        return True

    def customEvent(self, event) -> None:
        if event.type() != _LAUNCH or self._launch_rounds <= 0:
            return  # (shutdown came first)
        self._launch_rounds -= 1
        if self._launch_rounds:
            QCoreApplication.postEvent(self, QEvent(_LAUNCH), Qt.LowEventPriority.value)
        else:
            self._launch()

    def _launch(self) -> None:
        """Start the worker thread and the drain timer (once per ``start``)."""
        # While the worker runs Python code it holds the GIL; CPython makes it hand the
        # GIL over only after the switch interval (5 ms) when the GUI thread asks. A
        # repaint asks many times, so 5 ms waits add up to visible stutter; 2 ms keeps
        # the event loop's p99 delay under 25 ms, and 1 ms cost training 2-4 % in GIL
        # hand-overs. It costs nothing while the GUI is idle (no one asks for the GIL).
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(GUI_SWITCH_INTERVAL)
        self.thread.start()
        self._timer.start()

    def pause(self) -> None:
        if self.state == "running":
            self.job.pause()
            self._set_state("paused")
            self._say("Pausing at the next batch...")

    def resume(self) -> None:
        if self.state == "paused":
            self.job.resume()
            self._set_state("running")

    def stop(self) -> None:
        if self.state in ("running", "paused"):
            self.job.stop()
            self._set_state("stopping")
            self._say("Stopping at the next batch...")

    def set_learning_rate(self, lr: float) -> None:
        """Applied by the worker before its next batch (to ``model.optimizer.learning_rate``)."""
        if self.job is not None and self.state in ("running", "paused"):
            self.job.set_learning_rate(lr)

    def add_epochs(self, n: int) -> int | None:
        if self.job is not None and self.state in ("running", "paused"):
            return self.job.add_epochs(n)
        return None

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Stop and join the worker thread (window closing); a worker not started yet
        never starts."""
        self._launch_rounds = 0
        if self.job is not None:
            self.job.skip_results = True
            self.job.stop()
        if self.thread is not None and self.thread.isRunning():
            self.thread.quit()
            self.thread.wait(timeout_ms)
        self._timer.stop()

    # ------------------------------------------------------- queue draining
    def drain(self) -> None:
        """Move queued worker events into the curves and counters (GUI thread, 2 Hz)."""
        if self.job is None:
            return
        st = self._stats
        batch_points = []
        now_due = False  # an epoch end or a pause: show the counters at once
        epoch_seen = False  # an epoch's points wait for their plot's turn (add_batches)
        for kind, ev in self.job.drain():
            if kind in ("train_begin", "epoch"):
                self.marks.append((kind, ev["time"], ev.get("cpu")))
            if kind == "train_begin":
                st["steps"] = ev.get("steps")
                if not st.get("began"):  # rate counts from the first fit's start
                    st["t0"], st["began"] = ev["time"], True
            elif kind == "batch":
                steps = ev.get("steps") or st.get("steps") or 1
                st["steps"] = steps
                smoothed = st["smoother"].update(ev["batch"], ev["logs"])
                batch_points.append((ev["epoch"] + (ev["batch"] + 1) / steps, smoothed))
                st["last_batch"] = (ev["epoch"], ev["batch"])
                st["samples"] += self.job.batch_size
                st["t_last"] = ev["time"]
            elif kind == "epoch":
                self.run["epochs"].append(dict(ev["logs"]))
                if self.curves is not None:
                    self.curves.add_epoch(ev["epoch"], ev["logs"], redraw=False)
                    epoch_seen = True
                self._diagnose()
                self.epochEnded.emit(ev["epoch"], ev["logs"])
                now_due = True
            elif kind == "paused":
                st["pause_t"] = ev["time"]
                if self.curves is not None:
                    self.curves.flush()  # show every batch up to the pause
                now_due = True
                self._say("Paused. Change the learning rate or add epochs, then Resume.")
            elif kind == "resumed" and st.get("pause_t") is not None:
                st["paused_s"] += ev["time"] - st["pause_t"]
                st["pause_t"] = None
            elif kind == "lr":
                self._say(f"Learning rate set to {ev['learning_rate']:g}.")
            elif kind == "nan":
                self._say(f"Loss became {ev['loss']} at epoch {ev['epoch'] + 1}, batch "
                          f"{ev['batch'] + 1}: stopping and keeping the last good weights.")
        if (batch_points or epoch_seen) and self.curves is not None:
            self.curves.add_batches(batch_points)
        if now_due or time.perf_counter() - st.get("shown_at", float("-inf")) >= COUNTERS_S:
            self._update_counters()

    def _diagnose(self, nan_at=None) -> list:
        """Read the run's curves (core.graph.curve_diagnosis) and show what they say."""
        from core.graph.curve_diagnosis import diagnose

        s = self.run["settings"]
        found = diagnose(self.run["epochs"], self._num_classes, s.get("learning_rate"), nan_at)
        self.run["diagnoses"] = [d.message for d in found]
        if self.curves is not None:
            self.curves.set_diagnoses(found)
        return found

    def _update_counters(self) -> None:
        st, job = self._stats, self.job
        if st.get("last_batch") is None:
            return
        st["shown_at"] = time.perf_counter()
        epoch, batch = st["last_batch"]
        steps = st["steps"] or 1
        total = job.target_epochs * steps
        done = epoch * steps + batch + 1
        busy = st.get("t_last", st["t0"]) - st["t0"] - st["paused_s"]
        rate = st["samples"] / busy if busy > 0 else 0.0
        st["rate"] = rate
        eta = (total - done) * job.batch_size / rate if rate > 0 else float("nan")
        eta_txt = "--" if not np.isfinite(eta) else time.strftime("%M:%S", time.gmtime(eta))
        off = self.epoch_offset
        text = (f"Epoch {off + epoch + 1}/{off + job.target_epochs} · batch {batch + 1}/{steps} · "
                f"{rate:,.0f} samples/s · ETA {eta_txt}")
        if self.curves is not None:
            self.curves.set_counters(text)
        self.batchProgress.emit(done, total)

    # ---------------------------------------------------------------- endings
    def _finish_thread(self) -> None:
        self._timer.stop()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()
        self.drain()
        self._update_counters()  # the last batch's counters and bar, however recent
        if self.curves is not None:
            self.curves.flush()  # batches after the last timed redraw (a stop mid-epoch)

    def _on_finished(self, result: dict) -> None:
        self._finish_thread()
        self.last_result = result
        doc = self.doc
        self._diagnose(result.get("nan_at"))  # the whole run, a NaN stop included
        if doc is not None:
            run = complete_run(dict(self.run), result, self._stats.get("rate", 0.0))
            doc.add_run(run, weights=weights_by_layer(self.model))  # one "run" event
            keep_run(doc, run["name"], self._network, doc.weights,  # restorable later
                     last_epoch_weights(self.worker.extra_callbacks, doc.weights))
        self._say(end_message(result, self.epoch_offset))
        if self.curves is not None:  # no ETA once the run has ended
            self.curves.set_counters(self.last_message)
        self._set_state("idle")
        self.runFinished.emit(result)

    def _on_failed(self, message: str, details: str) -> None:
        self._finish_thread()
        self.last_error = (message, details)
        self._say(f"Training failed: {message}")
        self._set_state("idle")
        self.failed.emit(f"Training failed: {message}", details)
