"""Conv2DTranspose: the direct path (Conv2D's direct kernels, roles swapped) vs GEMM +
col2im, forward and forward + backward, on decoder-sized layers.

Each (path, case) runs in its own process, so one path's numba/OpenBLAS thread pools
do not slow the other's first calls; each prints the median of ``--reps`` timed runs
after one warm-up. ``DIRECT_MAX_K`` in ``core.layers.conv2d_transpose`` picks the path
in the engine; this script forces one or the other.

Usage::

    python benchmarks/conv_transpose.py            # every case, both paths
    python benchmarks/conv_transpose.py --reps 21
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (batch, size, in_channels, filters, kernel, strides, padding)
CASES = [
    (64, 24, 16, 1, 3, 1, "valid"),   # a decoder's 1-channel output layer
    (64, 4, 16, 16, 3, 1, "valid"),   # the functional API guide's first decoder layer
    (64, 14, 32, 16, 3, 2, "same"),   # 2x upsampling, K = 144
    (128, 7, 64, 32, 4, 2, "same"),   # 2x upsampling, K = 512
]


def _child(path, case, reps):
    sys.path.insert(0, REPO)
    import numpy as np

    from core.autodiff import Tape
    from core.layers import Conv2DTranspose, conv2d_transpose

    conv2d_transpose.DIRECT_MAX_K = 10**9 if path == "direct" else 0
    n, size, c, f, k, s, padding = case
    x = np.random.default_rng(0).normal(size=(n, size, size, c)).astype("float32")
    layer = Conv2DTranspose(f, k, strides=s, padding=padding)
    r = np.ones(layer(x).shape, "float32")

    def step():
        with Tape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        tape.backward(y, r)

    def median_ms(fn):
        fn()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1e3 * sorted(times)[len(times) // 2]

    print(json.dumps({"forward": median_ms(lambda: layer(x)), "step": median_ms(step)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=11)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], CASES[int(args.child[1])], args.reps)
        return
    for i, case in enumerate(CASES):
        row = []
        for path in ("direct", "gemm"):
            out = subprocess.run([sys.executable, __file__, "--reps", str(args.reps),
                                  "--child", path, str(i)], capture_output=True, text=True,
                                 check=True)
            t = json.loads(out.stdout.strip().splitlines()[-1])
            row.append(f"{path} fwd {t['forward']:6.1f} ms, fwd+bwd {t['step']:6.1f} ms")
        print(f"{case}: " + " | ".join(row))


if __name__ == "__main__":
    main()
