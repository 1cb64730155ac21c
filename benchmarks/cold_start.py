"""First-epoch time with an empty numba kernel cache (a fresh clone) vs a filled one.

For each model (the MLP, the seed CNN and the deeper CNN of ``train_speed.py``) a fresh
process trains one epoch on Fashion-MNIST with an empty ``NUMBA_CACHE_DIR`` (cold: every
kernel the model calls compiles), then another fresh process trains it again on the
cache the first one filled (cached). Each prints the time to the end of the first batch
(how soon training visibly starts) and of the first epoch. The repository's own
``__pycache__`` is never read or written: the cache lives in a temporary directory.
numpy is imported before the engine, as user scripts do.

Usage::

    python benchmarks/cold_start.py                  # 12,000 images, all three models
    python benchmarks/cold_start.py --models cnn --n 60000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))


def _worker(name: str, n: int) -> dict:
    import numpy as np  # noqa: F401  (first, as a user's script)

    sys.path.insert(0, REPO)
    from train_speed import BATCH, _core_model, _load

    from core import utils
    from core.callbacks import Callback

    t_start = time.perf_counter()
    x, y, _, _ = _load(n)
    if name != "mlp":
        x = x[..., None]

    class FirstBatch(Callback):
        first = None

        def on_train_batch_end(self, batch, logs=None):
            if self.first is None:
                self.first = time.perf_counter()

    utils.set_random_seed(0)
    model = _core_model(name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    marker = FirstBatch()
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=BATCH[name], epochs=1, verbose=0, callbacks=[marker])
    t1 = time.perf_counter()
    return {"first_batch_s": marker.first - t0, "epoch_s": t1 - t0,
            "process_s": t1 - t_start}


def _run(name: str, n: int, cache_dir: str, threads: int) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, NUMBA_NUM_THREADS=str(threads))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--n", str(n)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="mlp,cnn,deep")
    ap.add_argument("--n", type=int, default=12_000, help="training images")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.n)))
        return
    print(f"Fashion-MNIST, {args.n} images, 1 epoch, Adam, {args.threads} thread(s); "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'model':6} {'cache':7} {'1st batch s':>11} {'epoch s':>8}")
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory(prefix="netweaver-numba-") as cache:
            for label in ("cold", "cached"):
                r = _run(name, args.n, cache, args.threads)
                print(f"{name:6} {label:7} {r['first_batch_s']:11.2f} {r['epoch_s']:8.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
