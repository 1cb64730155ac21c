"""What ``core.ops`` costs: per-op overhead on small arrays, and a user-written Dense
(``add_weight`` + ``ops.matmul`` + ``ops.relu``) MLP 784-128-10 against the built-in
Dense for one epoch.

* ``micro``: ``ops.add`` on (4, 4) float32 arrays without a tape, under a tape with a
  watched input (the op records) and ``np.add``; median per call over repeats.
* ``mlp``: one epoch (Adam, batch 32, categorical crossentropy) on random data shaped
  like Fashion-MNIST (``--samples``, default 10,000), user Dense vs built-in Dense; each
  run in its own process (numpy imported before core, as a user script does), median
  of ``--repeats`` runs, one BLAS thread (``--blas-threads``).

Usage::

    python benchmarks/ops_overhead.py              # both
    python benchmarks/ops_overhead.py --quick      # fewer samples and repeats
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def micro(calls=2000, repeats=7) -> dict:
    import numpy as np
    sys.path.insert(0, REPO)
    from core import ops
    from core.autodiff import Tape

    a = np.ones((4, 4), "float32")
    b = np.ones((4, 4), "float32")

    def per_call(fn):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            times.append((time.perf_counter() - t0) / calls)
        return statistics.median(times) * 1e6

    out = {"numpy_add_us": per_call(lambda: np.add(a, b)),
           "ops_add_no_tape_us": per_call(lambda: ops.add(a, b))}
    with Tape() as tape:
        tape.watch(a)
        out["ops_add_recording_us"] = per_call(lambda: ops.add(a, b))
    x = ops.add(a, 0.0)
    with Tape() as tape:
        tape.watch(x)
        t = ops.add(x, b)  # a Tracked array: operators go through ops
        out["tracked_operator_add_us"] = per_call(lambda: t + b)
    return out


def mlp_epoch(kind: str, samples: int) -> float:
    import numpy as np
    sys.path.insert(0, REPO)
    from core import ops
    from core.layers import Dense, Flatten
    from core.layers.base import Layer
    from core.models import Sequential

    class UserDense(Layer):
        def __init__(self, units, activation=None, **kw):
            super().__init__(**kw)
            self.units, self.activation = units, activation

        def build(self, input_shape):
            self.w = self.add_weight((input_shape[-1], self.units), name="kernel")
            self.b = self.add_weight((self.units,), initializer="zeros", name="bias")

        def call(self, x):
            y = ops.matmul(x, self.w) + self.b
            if self.activation == "relu":
                return ops.relu(y)
            return ops.softmax(y) if self.activation == "softmax" else y

    rng = np.random.default_rng(0)
    x = rng.random((samples, 28, 28), dtype=np.float32)
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, samples)]
    layer = UserDense if kind == "user" else Dense
    model = Sequential([Flatten(input_shape=(28, 28)), layer(128, activation="relu"),
                        layer(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)  # JIT warm-up
    t0 = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    return time.perf_counter() - t0


def _child(args):
    sys.path.insert(0, REPO)
    from core import runtime

    runtime.configure(blas_threads=args.blas_threads)
    if args.child == "micro":
        print(json.dumps(micro()))
    else:
        print(json.dumps({"seconds": mlp_epoch(args.child, args.samples)}))


def _run(child, samples, threads):
    # The same BLAS thread count for both (core.runtime applies it to every layer,
    # built-in or written with core.ops).
    out = subprocess.run([sys.executable, __file__, "--child", child, "--samples",
                          str(samples), "--blas-threads", str(threads)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--blas-threads", type=int, default=1)
    p.add_argument("--child", choices=["micro", "user", "builtin"])
    args = p.parse_args()
    if args.child:
        return _child(args)
    samples = args.samples or (3000 if args.quick else 10000)
    repeats = args.repeats or (3 if args.quick else 5)
    print("per-call (us, median):", json.dumps(_run("micro", samples, args.blas_threads), indent=1))
    for kind in ("builtin", "user"):
        times = [_run(kind, samples, args.blas_threads)["seconds"] for _ in range(repeats)]
        print(f"MLP 784-128-10 epoch, {kind} Dense, {samples} samples: median "
              f"{statistics.median(times):.3f} s (runs {', '.join(f'{t:.3f}' for t in times)})")


if __name__ == "__main__":
    main()
