"""Achieved GFLOP/s of training the seed and deeper CNNs, beside numpy's sgemm rate
measured in the same run (issue 12 point 2: "report each model's achieved GFLOP/s
beside the GEMM rate measured in the same run").

The arithmetic of a training step is counted from the layers: a Conv2D does
OH*OW*F*KH*KW*C multiply-adds per image forward, a Dense IN*OUT; backward does the
same again for the weight gradient and once more for the input gradient, except for
the first layer (no input gradient): 2 FLOPs per multiply-add. Pooling, activations,
the loss and Adam are not counted (they are memory traffic, not arithmetic). The
sgemm rate is the best of a few float32 ``matmul`` calls of a square 1024 product and
of the deeper CNN's largest GEMM shape (its second conv's im2col columns x kernel),
with numpy's own thread count. Each model trains one epoch after a warm-up (kernels
cached), rounds alternate with the sgemm measurement and the median is printed.

    python benchmarks/cnn_gflops.py [--n 12000] [--rounds 3] [--models cnn,deep]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import numpy as np  # noqa: E402  (numpy first, as a user's script)


def training_flops(model) -> float:
    """FLOPs of one training step per image (see the module docstring)."""
    from core.layers import Conv2D, Dense

    total, first = 0.0, True
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            _, oh, ow, f = layer.output_shape
            kh, kw = layer.kernel_size
            macs = oh * ow * f * kh * kw * layer.input_shape[-1]
        elif isinstance(layer, Dense):
            macs = layer.input_shape[-1] * layer.units
        else:
            continue
        total += 2 * macs * (2 if first else 3)
        first = False
    return total


def sgemm_gflops(repeats: int = 5) -> float:
    """Best float32 matmul rate over two shapes (square 1024; the conv's columns)."""
    rng = np.random.default_rng(0)
    best = 0.0
    for m, k, n in ((1024, 1024, 1024), (128 * 11 * 11, 289, 64)):
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        for _ in range(repeats):
            t0 = time.perf_counter()
            np.matmul(a, b, out=out)
            best = max(best, 2.0 * m * k * n / (time.perf_counter() - t0) / 1e9)
    return best


def epoch(name: str, x, y) -> tuple[float, float]:
    """(seconds, FLOPs per image) of one epoch of ``name`` on ``x``/``y``."""
    from train_speed import BATCH, _core_model

    from core import utils

    utils.set_random_seed(0)
    model = _core_model(name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:4 * BATCH[name]], y[:4 * BATCH[name]], batch_size=BATCH[name], verbose=0)
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=BATCH[name], epochs=1, verbose=0)
    return time.perf_counter() - t0, training_flops(model)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="cnn,deep")
    ap.add_argument("--n", type=int, default=12_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    from train_speed import _load

    from core import kernels

    kernels.warmup()
    x, y, _, _ = _load(args.n)
    x = x[..., None]
    rows = {name: [] for name in args.models.split(",")}
    gemm = []
    for r in range(args.rounds):
        gemm.append(sgemm_gflops())
        for name in rows:
            seconds, flops = epoch(name, x, y)
            rate = flops * len(x) / seconds / 1e9
            rows[name].append((seconds, rate))
            print(f"round {r + 1} {name:5} {seconds:6.2f} s  {rate:6.1f} GFLOP/s  "
                  f"(sgemm {gemm[-1]:.1f}; load {os.getloadavg()[0]:.2f})", flush=True)
    g = float(np.median(gemm))
    print(f"\nmedian of {args.rounds}: sgemm {g:.1f} GFLOP/s; {args.n} images, 1 epoch")
    for name, rs in rows.items():
        s, rate = np.median([r[0] for r in rs]), np.median([r[1] for r in rs])
        print(f"{name:5} {s:6.2f} s/epoch  {rate:6.1f} GFLOP/s = {rate / g:.0%} of sgemm")


if __name__ == "__main__":
    main()
