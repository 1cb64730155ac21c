"""How steady this machine is right now: a cache-resident GEMM against an L3-sized stream.

The reference machine is a shared 2-vCPU VM. Its arithmetic is steady (a 384x384 sgemm
that lives in L2 stays within ~10% from one tenth of a second to the next) but its
memory is not: an 11 MB ``np.add`` (the size of the seed CNN's Adam state) took 5.0 to
12.7 ms on the same vCPU a few seconds apart (2026-12-07), because other tenants share
the L3 and the memory bus. Training kernels whose working set is megabytes (Adam,
im2col, the fused conv + pool) slow down with it, which is why one epoch can take 50%
more CPU seconds than the next in the same process, whatever the engine does. Run this
before and after a benchmark to see which kind of hour it ran in.

    python benchmarks/machine_noise.py [--rounds 25]

Prints, per round and per vCPU (pinned, one BLAS thread), the GEMM and stream times,
then each one's median and max/min spread.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _timed(fn, repeats: int) -> float:
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=25)
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.random((384, 384), dtype=np.float32)
    x = rng.random(2_800_000, dtype=np.float32)  # 11 MB, two of them: 22 MB through L3
    y = x.copy()
    cpus = sorted(os.sched_getaffinity(0))
    gemm: dict = {c: [] for c in cpus}
    stream: dict = {c: [] for c in cpus}
    with threadpool_limits(1):
        for r in range(args.rounds):
            for c in cpus:
                os.sched_setaffinity(0, {c})
                gemm[c].append(_timed(lambda: a @ a, 40))
                stream[c].append(_timed(lambda: np.add(x, y, out=x), 10))
            print(f"round {r + 1:2d}: " + " | ".join(
                f"cpu{c} gemm {gemm[c][-1]:.2f} ms stream {stream[c][-1]:.2f} ms"
                for c in cpus), flush=True)
            time.sleep(0.2)
    os.sched_setaffinity(0, set(cpus))
    for c in cpus:
        for name, v in (("gemm", gemm[c]), ("stream", stream[c])):
            print(f"cpu{c} {name:6s}: median {np.median(v):.2f} ms, max/min {max(v) / min(v):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
