"""First-epoch time with an empty numba kernel cache (a fresh clone) vs a filled one.

For each model (the MLP, the seed CNN and the deeper CNN of ``train_speed.py`` on
Fashion-MNIST, or ``text``: the *Text classifier* template -- Embedding(mask_zero) -> LSTM
-> Dense -- with its own settings on the shipped VADER sentences) a fresh process trains
one epoch with an empty ``NUMBA_CACHE_DIR`` (cold: every
kernel the model calls compiles), then another fresh process trains it again on the
cache the first one filled (cached). Each prints the time to the end of the first batch
(how soon training visibly starts) and of the first epoch, how many kernel calls ran
their numpy version while numba compiled (``core.kernels._cold``) and how many kernels
were still compiling when the epoch ended, and the process CPU seconds of the epoch (a
figure a crowded machine moves less than wall time). The repository's own
``__pycache__`` is never read or written: the cache lives in a temporary directory.
numpy is imported before the engine, as user scripts do.

Usage::

    python benchmarks/cold_start.py                  # 12,000 images, all three models
    python benchmarks/cold_start.py --models cnn --n 60000
    python benchmarks/cold_start.py --models cnn --modes compile,fallback --rounds 2
    python benchmarks/cold_start.py --models text --modes compile,fallback --rounds 3
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


def _text_template():
    """The *Text classifier* template's model, data and ``fit`` settings, as the app
    trains it: the shipped sentences vectorized by ``core.session.shipped_samples``,
    the template's optimizer, learning rate, batch size and validation split."""
    from core import optimizers
    from core.graph import templates
    from core.session.shipped_samples import text_dataset

    ds = text_dataset()
    doc = templates.text_classifier()
    s = doc.training
    model = doc.build_model()
    model.compile(optimizer=optimizers.Adam(s.learning_rate), loss=s.loss,
                  metrics=s.metrics)
    fit = dict(batch_size=s.batch_size, validation_split=s.validation_split)
    return model, ds.x_train, ds.y_train.astype("float32"), fit


def _worker(name: str, n: int) -> dict:
    import numpy as np  # noqa: F401  (first, as a user's script)

    sys.path.insert(0, REPO)
    from train_speed import BATCH, _core_model, _load

    from core import utils
    from core.callbacks import Callback

    t_start = time.perf_counter()
    utils.set_random_seed(0)
    if name == "text":
        model, x, y, fit = _text_template()
    else:
        x, y, _, _ = _load(n)
        if name != "mlp":
            x = x[..., None]
        model = _core_model(name)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        fit = dict(batch_size=BATCH[name])

    class FirstBatch(Callback):
        first = None

        def on_train_batch_end(self, batch, logs=None):
            if self.first is None:
                self.first = time.perf_counter()

    marker = FirstBatch()
    c0 = time.process_time()
    t0 = time.perf_counter()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[marker], **fit)
    t1 = time.perf_counter()
    cpu = time.process_time() - c0
    from core.kernels import _cold

    fallbacks, left = _cold.fallback_calls(), len(_cold.compiling())
    _cold.wait()  # untimed: the cached run must find every kernel in the cache
    return {"first_batch_s": marker.first - t0, "epoch_s": t1 - t0,
            "process_s": t1 - t_start, "fallback_calls": fallbacks, "still_compiling": left,
            "cpu_s": cpu}


def _run(name: str, n: int, cache_dir: str, threads: int, mode: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, NUMBA_NUM_THREADS=str(threads),
               NETWEAVER_COLD_START=mode)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--n", str(n)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="mlp,cnn,deep",
                    help="mlp, cnn, deep (Fashion-MNIST) or text (the Text classifier "
                         "template on the shipped sentences)")
    ap.add_argument("--n", type=int, default=12_000,
                    help="training images (text: always the template's 2,400 sentences)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="fallback",
                    help="cold-start modes to compare, e.g. compile,fallback (compile: "
                         "numba compiles at the first call and training waits)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.n)))
        return
    print(f"Fashion-MNIST {args.n} images / text template, 1 epoch, {args.threads} thread(s); "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'model':6} {'mode':8} {'cache':7} {'1st batch s':>11} {'epoch s':>8} "
          f"{'CPU s':>6} {'numpy calls':>11} {'compiling at end':>16} {'load':>5}")
    for _ in range(args.rounds):
        for name in args.models.split(","):
            for mode in args.modes.split(","):  # alternating: similar load for each
                with tempfile.TemporaryDirectory(prefix="netweaver-numba-") as cache:
                    for label in ("cold", "cached"):
                        r = _run(name, args.n, cache, args.threads, mode)
                        print(f"{name:6} {mode:8} {label:7} {r['first_batch_s']:11.2f} "
                              f"{r['epoch_s']:8.2f} {r['cpu_s']:6.1f} "
                              f"{r['fallback_calls']:11d} {r['still_compiling']:16d} "
                              f"{os.getloadavg()[0]:5.2f}", flush=True)


if __name__ == "__main__":
    main()
