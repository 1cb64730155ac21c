"""Where a training step's time goes: per plan step (forward / backward), the
optimizer, the rest (loss, metrics, batching, Python), and per GEMM or conv kernel by
shape, each GEMM's training rate beside a single-threaded sgemm of the same shape
measured in the same process (issue 12 point 2: how close each conv gets to the GEMM).

Times are process CPU seconds (steady on the shared box: wall time there moves 2-4x
with the load) and wall seconds; the load average is printed beside them. numpy is
imported first, as a user's script does. Counting wraps each entry point in Python
(~1 us a call), so the "rest" line carries that too.

    python benchmarks/step_split.py --model deep [--n 10000]
    python benchmarks/step_split.py --model cnn --ops 0     # steps only

Example output (deeper CNN, 10,000 images, load 9.5): conv2d_1 + pool forward 647 ms CPU,
backward 1069 ms; its three GEMMs 6.3 / 5.9 / 5.5 ms a call, 91-102 GFLOP/s against
113-131 for the same shapes alone.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import time

import numpy as np  # noqa: I001  (numpy first, as a user's script)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

_KERNELS = {"core.kernels.conv": ("im2col", "col2im", "conv2d_direct_forward",
                                  "conv2d_direct_backward_filter",
                                  "conv2d_direct_backward_input"),
            "core.kernels.conv_window": ("im2col_window", "col2im_window", "maxpool_window",
                                         "unpool_window"),
            "core.kernels.conv_pool": ("conv2d_relu_maxpool", "relu_maxpool",
                                       "conv2d_relu_maxpool_backward_filter",
                                       "unpool_gradient")}


class Clock:
    """CPU and wall seconds and calls per key. ``cpu_time``: the process's CPU time for
    plan steps (they may run work on several threads), the calling thread's for GEMMs
    and kernels (the fused conv + pool step runs them on both cores at once, where the
    process's clock would count the other thread's work too)."""

    def __init__(self, cpu_time=time.process_time):
        self.cpu = collections.defaultdict(float)
        self.wall = collections.defaultdict(float)
        self.calls = collections.Counter()
        self._cpu_time = cpu_time

    def wrap(self, fn, key_of):
        lock = threading.Lock()

        def timed(*args, **kwargs):
            c0, t0 = self._cpu_time(), time.perf_counter()
            out = fn(*args, **kwargs)
            key = key_of(args)
            c1, t1 = self._cpu_time(), time.perf_counter()
            with lock:
                self.cpu[key] += c1 - c0
                self.wall[key] += t1 - t0
                self.calls[key] += 1
            return out
        return timed


def _shape(a) -> str:
    return "x".join(str(d) for d in a.shape) + ("T" if not a.flags.c_contiguous else "")


def instrument(model, steps: Clock, ops: Clock | None) -> None:
    """Time ``model``'s plan steps and optimizer into ``steps``, GEMMs and conv kernels
    (by shape) into ``ops``."""
    import importlib

    from core import runtime
    from core.layers import fusion

    for s in model._execution_plan():
        if isinstance(s, fusion.ConvPool):
            continue  # patched on the class below (called through type(step).__call__)
        s.forward = steps.wrap(s.forward, lambda a, n=s.name: f"{n} forward")
        s.backward = steps.wrap(s.backward, lambda a, n=s.name: f"{n} backward")
    cls = fusion.ConvPool
    cls.__call__ = steps.wrap(cls.__call__, lambda a: f"{a[0].name} forward")
    cls.backward = steps.wrap(cls.backward, lambda a: f"{a[0].name} backward")
    opt = model.optimizer
    opt.apply = steps.wrap(opt.apply, lambda a: "optimizer")
    if ops is None:
        return
    runtime.matmul = ops.wrap(runtime.matmul,
                              lambda a: f"matmul {_shape(a[0])} @ {_shape(a[1])}")
    for mod_name, names in _KERNELS.items():
        mod = importlib.import_module(mod_name)
        for name in names:
            setattr(mod, name, ops.wrap(getattr(mod, name),
                                        lambda a, n=name: f"{n} {_shape(a[0])}"))


def alone_rate(key: str, repeats: int = 9) -> float | None:
    """Single-threaded sgemm GFLOP/s (median CPU time) of a ``matmul`` key's shapes."""
    from threadpoolctl import threadpool_limits

    parts = key.split()
    if parts[0] != "matmul":
        return None
    rng = np.random.default_rng(0)

    def operand(text):
        dims = [int(d) for d in text.rstrip("T").split("x")]
        if text.endswith("T"):  # a transposed view, as in training
            return rng.random(dims[::-1], dtype=np.float32).T
        return rng.random(dims, dtype=np.float32)

    a, b = operand(parts[1]), operand(parts[3])
    if a.ndim != 2 or b.ndim != 2:
        return None
    out = np.empty((a.shape[0], b.shape[1]), np.float32)
    times = []
    with threadpool_limits(1, "blas"):
        for _ in range(repeats):
            c0 = time.process_time()
            np.matmul(a, b, out=out)
            times.append(time.process_time() - c0)
    return 2.0 * a.shape[0] * a.shape[1] * b.shape[1] / max(np.median(times), 1e-9) / 1e9


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="deep", choices=("mlp", "cnn", "deep"))
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--ops", type=int, default=1, help="0: plan steps only")
    args = ap.parse_args(argv)
    from train_speed import BATCH, _core_model, _load

    from core import kernels, utils

    x, y, _, _ = _load(args.n)
    if args.model != "mlp":
        x = x[..., None]
    kernels.warmup()
    utils.set_random_seed(0)
    model = _core_model(args.model)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    bs = BATCH[args.model]
    model.fit(x[:4 * bs], y[:4 * bs], batch_size=bs, verbose=0)  # builds, compiles, plans
    steps, ops = Clock(), (Clock(time.thread_time) if args.ops else None)
    instrument(model, steps, ops)
    load = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.perf_counter()
    model.fit(x, y, batch_size=bs, epochs=1, verbose=0)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print(f"{args.model}: {args.n} images, batch {bs}: {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"(load {load:.1f} -> {os.getloadavg()[0]:.1f})")
    print(f"  {'step':44} {'CPU ms':>8} {'wall ms':>8} {'%CPU':>5}")
    for key in steps.cpu:
        print(f"  {key:44} {steps.cpu[key] * 1e3:8.1f} {steps.wall[key] * 1e3:8.1f} "
              f"{100 * steps.cpu[key] / cpu:5.1f}")
    rest_cpu, rest_wall = cpu - sum(steps.cpu.values()), wall - sum(steps.wall.values())
    print(f"  {'rest (loss, metrics, batches, Python)':44} {rest_cpu * 1e3:8.1f} "
          f"{rest_wall * 1e3:8.1f} {100 * rest_cpu / cpu:5.1f}")
    if ops is None:
        return
    print(f"\n  {'GEMM / kernel (by first operand shape)':50} {'calls':>5} {'CPU ms':>8} "
          f"{'ms/call':>7} {'GF/s':>6} {'alone':>6}")
    for key in sorted(ops.cpu, key=lambda k: -ops.cpu[k]):
        per = ops.cpu[key] / ops.calls[key]
        if per * ops.calls[key] < 1e-3:
            continue
        rate = alone = ""
        if key.startswith("matmul"):
            p = key.split()
            a = [int(d) for d in p[1].rstrip("T").split("x")]
            b = [int(d) for d in p[3].rstrip("T").split("x")]
            if len(a) == 2 and len(b) == 2:  # shapes of the operands as multiplied
                rate = f"{2.0 * a[0] * a[1] * b[1] / max(per, 1e-9) / 1e9:6.1f}"
                alone = f"{alone_rate(key):6.1f}"
        print(f"  {key:50} {ops.calls[key]:5} {ops.cpu[key] * 1e3:8.1f} {per * 1e3:7.2f} "
              f"{rate:>6} {alone:>6}")
    print(f"  (GF/s: in training, CPU time; alone: the same shapes, one BLAS thread; "
          f"load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
