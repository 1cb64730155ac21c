"""What the app's GUI costs its training, epoch against neighbouring epoch of one run.

``app_throughput.py`` pairs an in-app run with a headless ``fit`` a few seconds apart;
on this shared machine the ratio of one pair spreads over +-20 % and two 80-pair runs of
the same code gave medians 7 points apart. This measures the same question with pairs
one epoch apart, in one process and one run: the app trains a run of ``2k`` epochs
with the Train button, and at every epoch end the worker (through a queued signal)
turns the GUI's part of training on or off, alternating: the drain timer that moves the
worker's events into the curves and counters runs in every other epoch and is stopped in
the others, so a "quiet" epoch trains with the GUI thread idle, exactly as the app's
worker does otherwise (the same ``ControlCallback`` and event queue; against a plain
``fit`` they cost ~4 us a batch, seed CNN at batch 32, plus the NaN guard's snapshots,
at most 0.25 % of the time). Each quiet epoch is paired with the live epoch next to
it; which parity is live alternates from run to run. The figure: live / quiet samples/s
(each epoch's span is the worker's own stamps, ``on_epoch_begin`` to ``on_epoch_end``),
median over the pairs with a bootstrap interval and the medians of the run's quarters.
A live epoch also carries the catching-up drain of the quiet one before it (its points
and one repaint), so the cost is counted in full, if anything over.

    python benchmarks/app_gui_cost.py [--samples 12000] [--runs 6] [--pairs 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
import numpy  # noqa: E402, F401  (numpy first, as a user's own tooling would)
from app_throughput import showing, spread  # noqa: E402
from ui_latency import load_data, seed_document  # noqa: E402


def one_run(doc, ds, live_first: bool) -> list[tuple[float, float]]:
    """``(live, quiet)`` samples/s of each pair of neighbouring epochs of one run."""
    from PySide6.QtCore import QEventLoop, QObject, Qt, Signal
    from PySide6.QtTest import QTest

    import core.session.job as job_module

    ui = showing(doc, ds)
    ctl = ui.controller

    class Switch(QObject):  # lives on the GUI thread: its slot runs there, queued
        flip = Signal(int)

    switch = Switch()
    live_epochs = set()

    def set_live(next_epoch: int) -> None:
        live = (next_epoch % 2 == 0) == live_first
        if live:
            live_epochs.add(next_epoch)
            if not ctl._timer.isActive() and ctl.state != "idle":
                ctl._timer.start()
        else:
            ctl._timer.stop()

    switch.flip.connect(set_live, Qt.QueuedConnection)
    stamps: dict[int, list[float]] = {}
    plain_begin = job_module.ControlCallback.on_epoch_begin
    plain_end = job_module.ControlCallback.on_epoch_end

    def on_epoch_begin(cb, epoch, logs=None):
        stamps[int(epoch)] = [time.perf_counter()]
        return plain_begin(cb, epoch, logs)

    def on_epoch_end(cb, epoch, logs=None):
        stamps[int(epoch)].append(time.perf_counter())
        switch.flip.emit(int(epoch) + 1)  # the next epoch's state, set before its batches
        return plain_end(cb, epoch, logs)

    job_module.ControlCallback.on_epoch_begin = on_epoch_begin
    job_module.ControlCallback.on_epoch_end = on_epoch_end
    loop = QEventLoop()
    ctl.runFinished.connect(loop.quit)
    ctl.failed.connect(loop.quit)
    try:
        QTest.mouseClick(ui.train_button, Qt.LeftButton)
        if ctl.state != "running":
            raise SystemExit(f"Training did not start: {ctl.last_message}")
        set_live(0)  # epoch 0's state (the drain timer starts with the worker)
        loop.exec()
    finally:
        job_module.ControlCallback.on_epoch_begin = plain_begin
        job_module.ControlCallback.on_epoch_end = plain_end
        ctl.runFinished.disconnect(loop.quit)
        ctl.failed.disconnect(loop.quit)
    n = len(ds.x_train)
    rate = {e: n / (s[1] - s[0]) for e, s in stamps.items() if len(s) == 2}
    # epoch 0 starts the run (the first batches, the launch's repaint): pairs from epoch 1
    return [(rate[e] if e in live_epochs else rate[e + 1],
             rate[e + 1] if e in live_epochs else rate[e])
            for e in range(1, max(rate), 2) if e in rate and e + 1 in rate]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=12_000, help="train on the first N images")
    ap.add_argument("--runs", type=int, default=6, help="in-app runs (fresh documents)")
    ap.add_argument("--pairs", type=int, default=5, help="live/quiet epoch pairs a run")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY")
                          else "xcb")
    from PySide6.QtWidgets import QApplication

    from core import kernels

    QApplication.instance() or QApplication(sys.argv[:1])
    kernels.warmup()
    ds = load_data(args.samples)

    def fresh(epochs):
        doc = seed_document()
        doc.set_training(epochs=epochs, validation_split=0.0, seed=0)
        return doc
    print(f"data: {ds.name}, {len(ds.x_train)} images an epoch, {2 * args.pairs + 1} epochs a "
          f"run, {args.runs} runs; {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")
    one_run(fresh(3), ds, True)  # warm: lazily compiled signatures, Qt's first paints
    ratios = []
    for r in range(args.runs):
        load = os.getloadavg()[0]
        pairs = one_run(fresh(2 * args.pairs + 1), ds, live_first=r % 2 == 0)
        ratios += [live / quiet for live, quiet in pairs]
        print(f"run {r + 1} ({'live' if r % 2 == 0 else 'quiet'} epochs first): live/quiet "
              + ", ".join(f"{live / quiet:.1%}" for live, quiet in pairs)
              + f"; load {load:.2f} -> {os.getloadavg()[0]:.2f}", flush=True)
    print(f"GUI live / GUI quiet samples/s: {spread(ratios, 'epoch pairs')})")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
