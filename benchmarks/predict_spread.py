"""Spread of predict times: the Fashion-MNIST MLP over the 10,000 test images, many calls.

``train_speed.py`` reports the best of 5 predict calls per framework; this script
shows how those calls spread (min, p10, p50, p90, max over ``--calls`` calls), for
the engine on its usual path, for the engine with batches one at a time
(``core.runtime.configure(blas_threads=2)``), and for PyTorch CPU with the same thread count when
it is installed. Each runs in its own process, untrained weights (speed does not
depend on them), batch 256.

Usage::

    python benchmarks/predict_spread.py                 # 100 calls each
    python benchmarks/predict_spread.py --calls 400 --frameworks core
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "fashion-mnist")
BATCH = 256


def _test_images():
    sys.path.insert(0, REPO)
    import core  # noqa: F401  before numpy, as the app and train_speed.py do
    from core.datasets import fashion_mnist

    _, (xt, _) = fashion_mnist.load_data(DATA)
    return (xt.astype("float32") / 255.0)


def _times(fn, calls):
    fn()  # warm-up: first-call checks, thread pools, BLAS buffers
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def run(framework, calls):
    xt = _test_images()
    if framework == "torch":
        import torch

        torch.set_num_threads(2)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128),
                                    torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                    torch.nn.Linear(128, 10)).eval()
        x = torch.from_numpy(xt)

        def predict():
            with torch.no_grad():
                return [torch.softmax(model(x[i:i + BATCH]), 1)
                        for i in range(0, len(x), BATCH)]
        return _times(predict, calls)
    from core import runtime
    from core.layers import Dense, Dropout, Flatten
    from core.models import Sequential

    if framework == "core-serial":  # multi-threaded BLAS: predict runs batches in turn
        runtime.configure(blas_threads=2)
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"),
                        Dropout(0.2), Dense(10, activation="softmax")])
    return _times(lambda: model.predict(xt, batch_size=BATCH, verbose=0), calls)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--frameworks", default="core,core-serial,torch")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.calls)))
        return
    if not os.path.isdir(DATA):
        sys.exit(f"needs the full Fashion-MNIST in {DATA}")
    print(f"Fashion-MNIST MLP predict, 10,000 images, batch {BATCH}, {args.calls} calls (ms)")
    print(f"{'':12} {'min':>6} {'p10':>6} {'p50':>6} {'p90':>6} {'max':>6}")
    for name in args.frameworks.split(","):
        proc = subprocess.run([sys.executable, __file__, "--child", name,
                               "--calls", str(args.calls)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name:12} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        v = sorted(json.loads(proc.stdout.strip().splitlines()[-1]))
        q = [v[int(p * (len(v) - 1))] for p in (0.0, 0.1, 0.5, 0.9, 1.0)]
        print(f"{name:12} " + " ".join(f"{t:6.2f}" for t in q))


if __name__ == "__main__":
    main()
