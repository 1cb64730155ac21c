"""Does training in the app keep the GUI responsive and run as fast as headless ``fit``?

Trains the seed CNN (``resources/examples/mnist_cnn.nwproj``, else the Keras
"simple MNIST convnet") for one epoch on Fashion-MNIST (``../shared/data/fashion-mnist``;
the embedded sample when that is absent) twice:

1. headless: ``model.fit`` in this process, no Qt event loop involved;
2. in the app: the main window (offscreen, or the X display in ``$DISPLAY``), Train
   clicked, while a 10 ms ``QTimer`` probes the event loop: each tick records how
   late it fired.

Prints the 99th-percentile event-loop delay (target < 50 ms) and the in-app
throughput as a share of headless (target >= 90 %). ``--samples N`` trains on the
first N training images to keep a run short.

    python benchmarks/ui_latency.py [--samples 20000] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# core before numpy, as in the app (desktop/__init__.py): it sets OpenBLAS' thread timeout.
import core  # noqa: E402, F401, I001
import numpy as np  # noqa: E402
FASHION = REPO.parent / "shared" / "data" / "fashion-mnist"
TEMPLATE = REPO / "resources" / "examples" / "mnist_cnn.nwproj"


def seed_document():
    from core.graph import GraphDocument

    if TEMPLATE.is_file():
        from core.graph.project_file import load_project
        return load_project(TEMPLATE)[0]
    d = GraphDocument()
    ids = [d.add_node("InputLayer", {"shape": [28, 28, 1]}),
           d.add_node("Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
           d.add_node("MaxPooling2D", {"pool_size": [2, 2]}),
           d.add_node("Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}),
           d.add_node("MaxPooling2D", {"pool_size": [2, 2]}),
           d.add_node("Flatten"), d.add_node("Dropout", {"rate": 0.5}),
           d.add_node("Dense", {"units": 10, "activation": "softmax"})]
    for a, b in zip(ids, ids[1:]):
        d.connect(a, b)
    return d


def load_data(samples: int | None):
    from core.session.data_source import DataSpec, load_dataset

    spec = DataSpec(kind="fashion_mnist", path=str(FASHION)) if FASHION.is_dir() else \
        DataSpec(kind="sample")
    ds = load_dataset(spec)
    if samples:
        ds.x_train, ds.y_train = ds.x_train[:samples], ds.y_train[:samples]
    return ds


def _compiled_model(doc):
    from core import optimizers, utils

    s = doc.training
    utils.set_random_seed(0)
    model = doc.build_model()
    opt = optimizers.get(s.optimizer)
    opt.learning_rate = s.learning_rate
    model.compile(optimizer=opt, loss=s.loss, metrics=list(s.metrics))
    return model


def headless_fit(doc, ds, warm_only=False, stats=None) -> float:
    """Samples/s of one epoch of plain ``fit`` (same model, data and settings).

    ``warm_only``: a few batches on a throwaway model, so that lazily compiled kernel
    signatures are compiled before either timed run (both runs share this process).
    """
    from core.session.data_source import prepare

    s = doc.training
    p = prepare(ds, (28, 28, 1), 10, s.loss, 0.0)
    model = _compiled_model(doc)
    n = 4 * s.batch_size if warm_only else len(p.x_train)
    t, cpu = time.perf_counter(), time.process_time()
    model.fit(p.x_train[:n], p.y_train[:n], batch_size=s.batch_size, epochs=1,
              shuffle=s.shuffle, verbose=0)
    if stats is not None:  # process CPU seconds: steadier than wall time on a busy box
        stats["cpu_s"] = time.process_time() - cpu
    return n / (time.perf_counter() - t)


def in_app_fit(doc, ds, stats=None):
    """(samples/s, probe delays in ms) of one epoch started with the Train button.

    ``stats`` (a dict) gets ``cpu_s`` (process CPU seconds, every thread, from the click
    to the end of the epoch as the GUI hears of it) and ``gui_cpu_s`` (the GUI
    thread's share)."""
    from PySide6.QtCore import QEventLoop, QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    try:
        from desktop.main_window import MainWindow
        win = MainWindow(QSettings(str(Path("/tmp") / "nw_bench.ini"), QSettings.IniFormat))
        win.auto_answer, win.auto_save_answer, win.quiet_errors = True, "discard", True
        win.set_document(doc)
    except ImportError:
        from desktop.training.dock import install_training_ui
        from tests.desktop.training_helpers import HostWindow
        win = HostWindow(doc)
        install_training_ui(win)
    win.show()
    ui = win.training_ui
    # Let the panel finish loading the project's own data set first, then hand it the
    # arrays loaded above so both runs train on exactly the same samples.
    ui.data_panel.pool.waitForDone()
    app.processEvents()
    ui.data_panel.dataset = ds
    result = {}
    began = []
    ui.controller.runFinished.connect(lambda r: result.update(r))
    ui.controller.batchProgress.connect(lambda d, t: began or began.append(len(delays)))
    ui.controller.failed.connect(lambda t, d: result.update(error=t + "\n" + d))
    delays: list[float] = []
    probe = start_probe(delays)
    ends = []  # at the epoch's end as the GUI sees it (<= one 500 ms drain late), not after the
    # test-set results the worker computes once training is over
    ui.controller.epochEnded.connect(
        lambda e, logs: ends.append((time.process_time(), time.thread_time())))
    cpu0, gui0 = time.process_time(), time.thread_time()
    QTest.mouseClick(ui.train_button, Qt.LeftButton)
    if ui.controller.state != "running":
        raise SystemExit(f"Training did not start: {ui.controller.last_message}")
    # A real event loop (as app.exec()), not a processEvents/sleep spin: a spinning
    # main thread keeps the CPUs awake and made training look several times faster.
    loop = QEventLoop()
    ui.controller.runFinished.connect(lambda r: loop.quit())
    ui.controller.failed.connect(lambda t, d: loop.quit())
    if not result:
        loop.exec()
    probe.stop()
    if "error" in result:
        raise SystemExit(result["error"])
    trained = len(ui.controller.worker.prepared.x_train)  # validation_split is 0 here
    assert trained == len(ds.x_train) and result["epochs_done"] == 1, (trained, result)
    rate = trained / result["train_seconds"]
    if stats is not None and ends:
        stats.update(cpu_s=ends[0][0] - cpu0, gui_cpu_s=ends[0][1] - gui0)
    ui.shutdown()
    win.close()
    # probes from the first batch on: building the window and the model are not training
    return rate, np.maximum(np.asarray(delays[began[0] if began else 0:]), 0.0)


def start_probe(delays: list) -> object:
    """A 10 ms precise QTimer appending how late each tick fired (ms) to ``delays``."""
    from PySide6.QtCore import QElapsedTimer, Qt, QTimer

    clock = QElapsedTimer()
    probe = QTimer()
    probe.setTimerType(Qt.PreciseTimer)
    probe.setInterval(10)

    def tick():
        if clock.isValid():
            delays.append(clock.nsecsElapsed() / 1e6 - 10.0)
        clock.restart()

    probe.timeout.connect(tick)
    probe.start()
    return probe


def idle_probe(seconds: float = 3.0) -> np.ndarray:
    """Event-loop delays with nothing training: what this machine's load alone costs."""
    from PySide6.QtCore import QEventLoop, QTimer

    delays: list[float] = []
    probe = start_probe(delays)
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    probe.stop()
    return np.maximum(np.asarray(delays), 0.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=None, help="train on the first N images")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=2, help="alternating headless/in-app runs")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY")
                          else "xcb")
    from core import kernels

    kernels.warmup()
    ds = load_data(args.samples)
    doc = seed_document()
    changes = {"epochs": 1, "validation_split": 0.0, "seed": 0}
    if args.batch_size:
        changes["batch_size"] = args.batch_size
    doc.set_training(**changes)
    print(f"data: {ds.name}, {len(ds.x_train)} training images; batch size "
          f"{doc.training.batch_size}; optimizer {doc.training.optimizer}")
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    headless_fit(doc, ds, warm_only=True)
    # Alternate the two runs and keep the best of each: other processes on a shared
    # machine only ever slow a run down, so the best is the least disturbed figure.
    # Headless runs both on the main thread and on a plain thread (the app trains on a
    # thread; on this machine the engine was measured faster off the main thread), and
    # the in-app figure is compared with the better of the two.
    heads, rates, all_delays = [], [], []
    for r in range(args.rounds):
        main_rate = headless_fit(doc, ds)
        box = []
        t = threading.Thread(target=lambda b=box: b.append(headless_fit(doc, ds)))
        t.start()
        t.join()
        heads += [main_rate, box[0]]
        rate, delays = in_app_fit(doc, ds)
        rates.append(rate)
        all_delays.append(delays)
        print(f"round {r + 1}: headless {main_rate:,.0f} samples/s (main thread), "
              f"{box[0]:,.0f} (thread); in-app {rate:,.0f} samples/s, event-loop p99 "
              f"{np.percentile(delays, 99):.1f} ms")
    headless, rate = max(heads), max(rates)
    delays = all_delays[int(np.argmax(rates))]
    print(f"headless fit: {headless:,.0f} samples/s (best of {args.rounds})")
    idle = idle_probe()
    print(f"load average after: {os.getloadavg()[0]:.1f}; idle event loop p99 "
          f"{np.percentile(idle, 99):.1f} ms late")
    p99 = float(np.percentile(delays, 99)) if delays.size else float("nan")
    print(f"in-app fit:   {rate:,.0f} samples/s = {rate / headless:.1%} of headless "
          f"(target >= 90%)")
    print(f"event loop:   {delays.size} probes, p50 {np.percentile(delays, 50):.1f} ms, "
          f"p99 {p99:.1f} ms, max {delays.max():.1f} ms late (target p99 < 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
