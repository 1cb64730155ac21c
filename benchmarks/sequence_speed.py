"""Training speed of the sequence layers vs PyTorch CPU (issue #10's benchmark).

Three models, one epoch each, Adam, on synthetic data of the issue's sizes:

* ``lstm`` -- Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid), sequence length
  200, batch 64, binary cross-entropy;
* ``gru`` -- the same with GRU(128) (Keras' ``reset_after=True``, as torch's GRU);
* ``conv1d`` -- a time-series model: windows (200, 4) -> Conv1D(32, 5, relu) ->
  MaxPooling1D(2) -> Conv1D(32, 5, relu) -> GlobalAveragePooling1D -> Dense(1), MSE.

Both frameworks start from the *same* initial weights, drawn with numpy by Keras' rules
(``_init_weights``: glorot-uniform kernels, orthogonal recurrent kernels, the LSTM's
unit forget bias, Embedding uniform +-0.05) and mapped into torch's layouts. With torch's
own initialisation the two did different arithmetic: its LSTM (forget bias ~0) let the
gradient of the last step decay by ~0.5 per step back through the 200 steps into
*subnormal* floats, which cost this Sapphire Rapids a microcode assist each (torch's LSTM
backward 5.8 s per batch instead of 0.3 s), while our LSTM (forget bias 1) never got
there -- a 0.08x "win" that measured the CPU quirk, not the engines.

Subnormals still appear with equal weights wherever the gradient vanishes (the GRU:
about 15% of the input-projection gradients of a batch). Our recurrent backward kernels
zero gradient parts below sqrt(smallest normal float), 1.1e-19 in float32
(``core.kernels.recurrent_fast._ftz``), which is what our users get. Torch keeps them
unless the user calls ``torch.set_flush_denormal(True)``; ``--torch-denormals flush``
(the default, the strict comparison) does that in torch's child, ``default`` measures
torch as it comes (its GRU then stalls: ~25 s instead of ~3 s CPU here).

Each (framework, model, repeat) runs in its own subprocess with ``numpy`` imported
first (as users do) and the same thread count for every pool (torch, OpenBLAS, numba);
runs alternate between the frameworks and the median of ``--repeats`` (at least 3) is
reported with the peak RSS. The timed epoch of ours includes no numba compile time: a
warm-up of two batches runs first in the same process (torch gets the same warm-up).

The machine is shared, so each child also reports the epoch's CPU seconds and the CPU
time of a float32 512^3 numpy GEMM (median of 7, before and after the epoch): ``gemm x``
is the epoch's CPU time in units of that GEMM, the figure least moved by other
processes; the wall, CPU and GEMM-unit ratios should agree when the load held still.

    python benchmarks/sequence_speed.py --samples 1280 --threads 1
    python benchmarks/sequence_speed.py --models gru --torch-denormals default
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T, VOCAB, BATCH = 200, 10000, 64
GEMM_N = 512


def _gemm_seconds():
    """CPU seconds of one float32 GEMM_N^3 numpy GEMM (median of 7, this process's BLAS
    threads). CPU time, not wall: under load a wall-clock probe of a few ms measures the
    scheduler (best-of-5 wall probes moved 2x between children at load 9)."""
    import numpy as np

    a = np.random.default_rng(1).normal(size=(GEMM_N, GEMM_N)).astype("float32")
    a @ a
    times = []
    for _ in range(7):
        c0 = time.process_time()
        a @ a
        times.append(time.process_time() - c0)
    return statistics.median(times)


def _data(name, n):
    import numpy as np

    rng = np.random.default_rng(0)
    if name == "conv1d":
        x = rng.normal(size=(n, T, 4)).astype("float32")
        return x, x[:, -10:, 0].mean(1, keepdims=True).astype("float32")
    return rng.integers(1, VOCAB, (n, T)).astype("int64"), \
        rng.integers(0, 2, (n, 1)).astype("float32")


def _glorot(rng, shape, fan_in, fan_out):
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return rng.uniform(-limit, limit, shape).astype("float32")


def _orthogonal(rng, rows, cols):
    """Keras' Orthogonal initializer for a (rows, cols) matrix, rows < cols."""
    import numpy as np

    q, r = np.linalg.qr(rng.normal(size=(cols, rows)))
    return (q * np.sign(np.diag(r))).T.astype("float32")


def _init_weights(name):
    """The initial weights, in our (Keras') order and layouts, drawn with numpy alone."""
    import numpy as np

    rng = np.random.default_rng(7)
    if name == "conv1d":
        return [_glorot(rng, (5, 4, 32), 20, 160), np.zeros(32, "float32"),
                _glorot(rng, (5, 32, 32), 160, 160), np.zeros(32, "float32"),
                _glorot(rng, (32, 1), 32, 1), np.zeros(1, "float32")]
    g = 4 if name == "lstm" else 3
    emb = rng.uniform(-0.05, 0.05, (VOCAB, 128)).astype("float32")
    kernel = _glorot(rng, (128, g * 128), 128, g * 128)
    rk = _orthogonal(rng, 128, g * 128)
    bias = np.zeros(g * 128 if name == "lstm" else (2, 3 * 128), "float32")
    if name == "lstm":
        bias[128:256] = 1.0  # unit_forget_bias
    return [emb, kernel, rk, bias, _glorot(rng, (128, 1), 128, 1), np.zeros(1, "float32")]


def _torch_weights(name, w):
    """``_init_weights`` in torch's layouts: (out, in) matrices, Conv1d (out, in, k), GRU
    gates r, z, n instead of Keras' z, r, h, LSTM's input bias in bias_ih."""
    import numpy as np

    if name == "conv1d":
        return [w[0].transpose(2, 1, 0), w[1], w[2].transpose(2, 1, 0), w[3], w[4].T, w[5]]
    emb, kernel, rk, bias, dense, dbias = w
    if name == "lstm":
        return [emb, kernel.T, rk.T, bias, np.zeros_like(bias), dense.T, dbias]
    U = 128

    def rzn(a):  # Keras z, r, h along the last axis -> torch r, z, n
        return np.concatenate([a[..., U:2 * U], a[..., :U], a[..., 2 * U:]], axis=-1)

    return [emb, rzn(kernel).T, rzn(rk).T, rzn(bias[0]), rzn(bias[1]), dense.T, dbias]


def _ours(name, x, y):
    sys.path.insert(0, REPO)
    from core import layers as L
    from core.models import Sequential

    if name == "conv1d":
        model = Sequential([L.Input((T, 4)), L.Conv1D(32, 5, activation="relu"),
                            L.MaxPooling1D(2), L.Conv1D(32, 5, activation="relu"),
                            L.GlobalAveragePooling1D(), L.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
    else:
        rnn = L.LSTM(128) if name == "lstm" else L.GRU(128)
        model = Sequential([L.Input((T,)), L.Embedding(VOCAB, 128), rnn,
                            L.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy")
    model.set_weights(_init_weights(name))
    model.fit(x[:2 * BATCH], y[:2 * BATCH], batch_size=BATCH, epochs=1, verbose=0)
    return _timed(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0))


def _timed(fn):
    """``(wall s, cpu s, gemm cpu s)`` of one call; the GEMM probe the mean of before and
    after it."""
    g0 = _gemm_seconds()
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, (g0 + _gemm_seconds()) / 2


def _torch(name, x, y):
    import numpy as np
    import torch
    from torch import nn

    class Text(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(VOCAB, 128)
            self.rnn = (nn.LSTM if name == "lstm" else nn.GRU)(128, 128, batch_first=True)
            self.out = nn.Linear(128, 1)

        def forward(self, ids):
            h = self.rnn(self.emb(ids))[0][:, -1]
            return torch.sigmoid(self.out(h))

    class Series(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv1d(4, 32, 5), nn.Conv1d(32, 32, 5)
            self.out = nn.Linear(32, 1)

        def forward(self, s):
            h = torch.relu(self.c1(s.transpose(1, 2)))
            h = torch.relu(self.c2(nn.functional.max_pool1d(h, 2)))
            return self.out(h.mean(2))

    model = Series() if name == "conv1d" else Text()
    with torch.no_grad():  # Text: emb, rnn (ih, hh, b_ih, b_hh), out; Series: c1, c2, out
        for p, w in zip(model.parameters(), _torch_weights(name, _init_weights(name)),
                        strict=True):
            if tuple(p.shape) != w.shape:
                raise ValueError(f"torch {name}: weight {tuple(p.shape)} vs {w.shape}")
            p.copy_(torch.from_numpy(np.ascontiguousarray(w)))
    loss_fn = nn.MSELoss() if name == "conv1d" else nn.BCELoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def epoch(n):
        perm = torch.randperm(n)
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    epoch(2 * BATCH)
    return _timed(lambda: epoch(len(x)))


def child(framework, name, n, threads, torch_denormals):
    import numpy  # noqa: F401  (first, as users import it)

    x, y = _data(name, n)
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        # Before any op, so torch's worker threads inherit the FTZ/DAZ bits.
        torch.set_flush_denormal(torch_denormals == "flush")
        seconds, cpu, gemm = _torch(name, x, y)
    else:
        seconds, cpu, gemm = _ours(name, x, y)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"seconds": seconds, "cpu": cpu, "gemm": gemm, "peak_mb": peak}))


def _median(records, key):
    return statistics.median(key(r) for r in records)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1280)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", nargs="*", default=["lstm", "gru", "conv1d"])
    ap.add_argument("--torch-denormals", choices=("flush", "default"), default="flush",
                    help="flush: torch.set_flush_denormal(True) in torch's child (our "
                         "kernels flush by themselves); default: torch as it comes")
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    args.repeats = max(3, args.repeats)
    if args.child:
        child(args.child[0], args.child[1], args.samples, args.threads,
              args.torch_denormals)
        return
    print(f"load average before: {os.getloadavg()}; samples {args.samples}, "
          f"threads {args.threads}, median of {args.repeats}, torch denormals "
          f"{args.torch_denormals}")
    for name in args.models:
        runs = {"core": [], "torch": []}
        for r in range(args.repeats):
            order = ("core", "torch") if r % 2 == 0 else ("torch", "core")
            for fw in order:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", fw, name, "--samples",
                     str(args.samples), "--threads", str(args.threads),
                     "--torch-denormals", args.torch_denormals],
                    capture_output=True, text=True,
                    env=dict(os.environ, OMP_NUM_THREADS=str(args.threads),
                             OPENBLAS_NUM_THREADS=str(args.threads),
                             MKL_NUM_THREADS=str(args.threads),
                             NUMBA_NUM_THREADS=str(args.threads)))
                if out.returncode:
                    sys.exit(f"{fw} {name} failed:\n{out.stderr}")
                runs[fw].append(json.loads(out.stdout.strip().splitlines()[-1]))
        sec = {fw: _median(rs, lambda r: r["seconds"]) for fw, rs in runs.items()}
        cpu = {fw: _median(rs, lambda r: r["cpu"]) for fw, rs in runs.items()}
        units = {fw: _median(rs, lambda r: r["cpu"] / r["gemm"]) for fw, rs in runs.items()}
        gflops = statistics.median(2 * GEMM_N ** 3 / r["gemm"] / 1e9
                                   for rs in runs.values() for r in rs)
        peak = {fw: max(r["peak_mb"] for r in rs) for fw, rs in runs.items()}
        print(f"{name:7s} epoch ours {sec['core']:.2f}s torch {sec['torch']:.2f}s "
              f"ratio {sec['core'] / sec['torch']:.2f}x | gemm x ours {units['core']:.0f} "
              f"torch {units['torch']:.0f} ratio {units['core'] / units['torch']:.2f}x "
              f"(GEMM {gflops:.1f} GFLOP/s) | cpu ours {cpu['core']:.2f}s torch "
              f"{cpu['torch']:.2f}s | peak ours {peak['core']:.0f} MB "
              f"torch {peak['torch']:.0f} MB ({peak['core'] / peak['torch']:.2f}x)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
