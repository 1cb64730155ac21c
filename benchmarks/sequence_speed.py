"""Training speed of the sequence layers vs PyTorch CPU (issue #10's benchmark).

Three models, one epoch each, Adam, on synthetic data of the issue's sizes:

* ``lstm`` -- Embedding(10000, 128) -> LSTM(128) -> Dense(1, sigmoid), sequence length
  200, batch 64, binary cross-entropy;
* ``gru`` -- the same with GRU(128) (Keras' ``reset_after=True``, as torch's GRU);
* ``conv1d`` -- a time-series model: windows (200, 4) -> Conv1D(32, 5, relu) ->
  MaxPooling1D(2) -> Conv1D(32, 5, relu) -> GlobalAveragePooling1D -> Dense(1), MSE.

Each (framework, model, repeat) runs in its own subprocess with ``numpy`` imported
first (as users do) and the same thread count; runs alternate between the frameworks
and the median of ``--repeats`` (default 3) is reported with the peak RSS. The first
epoch of ours includes no numba compile time: a warm-up of two batches runs first in
the same process (torch gets the same warm-up).

    python benchmarks/sequence_speed.py --samples 1280 --threads 1
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


def _data(name, n):
    import numpy as np

    rng = np.random.default_rng(0)
    if name == "conv1d":
        x = rng.normal(size=(n, T, 4)).astype("float32")
        return x, x[:, -10:, 0].mean(1, keepdims=True).astype("float32")
    return rng.integers(1, VOCAB, (n, T)).astype("int64"), \
        rng.integers(0, 2, (n, 1)).astype("float32")


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
    model.fit(x[:2 * BATCH], y[:2 * BATCH], batch_size=BATCH, epochs=1, verbose=0)
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    return time.perf_counter() - t0


def _torch(name, x, y):
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
    t0 = time.perf_counter()
    epoch(len(x))
    return time.perf_counter() - t0


def child(framework, name, n, threads):
    import numpy  # noqa: F401  (first, as users import it)

    os.environ["OMP_NUM_THREADS"] = str(threads)
    x, y = _data(name, n)
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        seconds = _torch(name, x, y)
    else:
        seconds = _ours(name, x, y)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"seconds": seconds, "peak_mb": peak}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1280)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", nargs="*", default=["lstm", "gru", "conv1d"])
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.samples, args.threads)
        return
    print(f"load average before: {os.getloadavg()}; samples {args.samples}, "
          f"threads {args.threads}, median of {args.repeats}")
    for name in args.models:
        runs = {"core": [], "torch": []}
        for r in range(args.repeats):
            order = ("core", "torch") if r % 2 == 0 else ("torch", "core")
            for fw in order:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", fw, name, "--samples",
                     str(args.samples), "--threads", str(args.threads)],
                    capture_output=True, text=True, check=True,
                    env=dict(os.environ, OMP_NUM_THREADS=str(args.threads),
                             OPENBLAS_NUM_THREADS=str(args.threads)))
                runs[fw].append(json.loads(out.stdout.strip().splitlines()[-1]))
        med = {fw: statistics.median(r["seconds"] for r in rs) for fw, rs in runs.items()}
        peak = {fw: max(r["peak_mb"] for r in rs) for fw, rs in runs.items()}
        print(f"{name:7s} epoch ours {med['core']:.2f}s torch {med['torch']:.2f}s "
              f"ratio {med['core'] / med['torch']:.2f}x | peak ours {peak['core']:.0f} MB "
              f"torch {peak['torch']:.0f} MB ({peak['core'] / peak['torch']:.2f}x)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
