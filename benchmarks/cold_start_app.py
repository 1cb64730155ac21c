"""Cold start as a user meets it: the app's first training on an empty kernel cache.

Each run is a fresh ``netweaver`` process (``desktop.app.main``, with its kernel
warm-up child) on a fresh ``HOME``, so on a first start it opens the default example
(``resources/examples/mnist_cnn.nwproj``) with its shipped data, exactly as a new user
sees it; ``--template NAME`` starts it on another shipped example instead. Once the data
panel has loaded, Train is clicked, and the run's end is awaited in the app's own event
loop. ``NUMBA_CACHE_DIR`` points at a temporary folder: empty for the cold run, then the
cache the cold run (and its warm-up child, waited for untimed) filled for the cached run.

Per run it prints the click-to-end time, the run's own ``train_seconds``, when the first
batch reached the curves, how many kernel calls ran their numpy version, and every text
the status bar and the training panel's kernel line showed (with the second it appeared).
Runs alternate cold/cached pairs; the load average stands beside every figure.

    python benchmarks/cold_start_app.py [--rounds 2] [--template mnist_cnn]
    DISPLAY=:95 python benchmarks/cold_start_app.py --shot /tmp/shots/cold.png
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "resources" / "examples"


def _driver(template: str, shot: str, epochs: int, full_cache: bool) -> dict:
    """Inside the app process: click Train once the data is in, report, quit."""
    sys.path.insert(0, str(REPO))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    out: dict = {"texts": [], "first_batch_s": None}
    t0 = [None]
    seen = {}

    def window():
        from desktop.main_window import MainWindow
        return next((w for w in app.topLevelWidgets() if isinstance(w, MainWindow)), None)

    def note(where, text):
        if text and seen.get(where) != text:
            seen[where] = text
            at = None if t0[0] is None else round(time.perf_counter() - t0[0], 2)
            out["texts"].append((at, where, text))

    def watch():
        win = window()
        if win is not None:
            note("status", win.statusBar().currentMessage())
            note("kernels", win.training_ui.kernel_label.text())
            note("status-bar kernels", win.kernel_label.text())

    def finished(result):
        from core.kernels import _cold
        out["click_to_end_s"] = time.perf_counter() - t0[0]
        out["train_seconds"] = result["train_seconds"]
        out["epochs_done"] = result["epochs_done"]
        out["fallback_calls"] = _cold.fallback_calls()
        out["still_compiling"] = _cold.compiling()
        watch()
        QTimer.singleShot(0, wait_and_quit)

    def wait_and_quit():  # untimed: the cached run must find what this session compiled
        from core import kernels
        from core.kernels import _cold
        if (kernels.is_warm() or not full_cache) and not _cold.compiling():
            app.quit()
        else:
            QTimer.singleShot(200, wait_and_quit)

    def start():
        win = window()
        ui = getattr(win, "training_ui", None)
        if ui is None or ui.data_panel.dataset is None:
            QTimer.singleShot(100, start)
            return
        win.auto_answer, win.auto_save_answer, win.quiet_errors = True, "discard", True
        if epochs:
            win.document.set_training(epochs=epochs)
        ui.controller.runFinished.connect(finished)
        ui.controller.batchProgress.connect(
            lambda d, t: out["first_batch_s"] is None and out.update(
                first_batch_s=time.perf_counter() - t0[0]))
        ui.controller.failed.connect(lambda t, d: (out.update(error=t + "\n" + d), app.quit()))
        out["epochs"] = win.document.training.epochs
        out["data"] = ui.data_panel.dataset.name
        t0[0] = time.perf_counter()
        ui.train_button.click()
        if shot:
            QTimer.singleShot(1500, lambda: subprocess.run(
                ["import", "-window", "root", shot], check=False))

    timer = QTimer()
    timer.timeout.connect(watch)
    timer.start(100)
    QTimer.singleShot(0, start)
    from desktop.app import main

    argv = [] if template == "mnist_cnn" else [str(EXAMPLES / f"{template}.nwproj")]
    main(argv)  # the app's own start-up: theme, window, first-start example, warm-up
    return out


def _run(template, cache, label, shot, epochs, full_cache) -> dict:
    home = tempfile.mkdtemp(prefix="nw-cold-home-")  # a first start: no QSettings
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, HOME=home, XDG_CONFIG_HOME=home,
               QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM") or (
                   "xcb" if os.environ.get("DISPLAY") else "offscreen"))
    cmd = [sys.executable, __file__, "--driver", template, "--epochs", str(epochs)]
    if full_cache:
        cmd.append("--full-cache")
    if shot and label == "cold":
        cmd += ["--shot", shot]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800,
                         check=False)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        raise RuntimeError(f"app run failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", default="mnist_cnn", help="a resources/examples name")
    ap.add_argument("--rounds", type=int, default=1, help="cold/cached pairs")
    ap.add_argument("--epochs", type=int, default=0, help="0: the template's own")
    ap.add_argument("--shot", default="", help="screenshot path (X display) 1.5 s after Train")
    ap.add_argument("--texts", action="store_true", help="print the status texts seen")
    ap.add_argument("--full-cache", action="store_true",
                    help="after the cold run, also wait for the app's warm-up child to fill "
                         "the whole cache (else the cached run's warm-up child compiles the "
                         "kernels this model does not use, nice'd, beside it)")
    ap.add_argument("--driver", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.driver:
        print(json.dumps(_driver(args.driver, args.shot, args.epochs, args.full_cache)), flush=True)
        return 0
    print(f"app, template {args.template}; {os.cpu_count()} cores")
    print(f"{'cache':7} {'click->end s':>12} {'train s':>8} {'1st batch s':>11} "
          f"{'numpy calls':>11} {'load':>5}")
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="netweaver-numba-",
                                         ignore_cleanup_errors=True) as cache:  # warm-up child
            for label in ("cold", "cached"):
                load = os.getloadavg()[0]
                r = _run(args.template, cache, label, args.shot, args.epochs, args.full_cache)
                if "error" in r:
                    raise SystemExit(r["error"])
                print(f"{label:7} {r['click_to_end_s']:12.2f} {r['train_seconds']:8.2f} "
                      f"{r['first_batch_s'] or float('nan'):11.2f} {r['fallback_calls']:11d} "
                      f"{load:5.2f}  ({r['epochs_done']} epochs, {r['data']})", flush=True)
                if args.texts:
                    for at, where, text in r["texts"]:
                        print(f"    {at if at is not None else '-':>6} {where}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
