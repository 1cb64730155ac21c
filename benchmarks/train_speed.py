"""Training speed of Netweaver's engine vs PyTorch CPU on Fashion-MNIST.

Trains three models for one epoch each — the MLP (Flatten, Dense 128 relu,
Dropout 0.2, Dense 10 softmax; batch 32), the seed CNN (Conv2D 32 3x3 relu,
MaxPooling2D 2, Flatten, Dense 128 relu, Dense 10 softmax; batch 128) and the
deeper CNN (Conv 32, Pool, Conv 64, Pool, Conv 64, Flatten, Dense 64, Dense 10;
batch 128) — with Adam, then times predict and evaluate over the 10,000 test
images (fastest of 5 calls each). The engine runs in three variants of what its
process imports first (``core``; ``numpy``, as most scripts start; numpy and
torch), PyTorch once; every (framework, variant, model) run is its own process
(separate memory peaks, RSS high-water mark), the runs alternate, and each cell
is the median of ``--repeats`` (default 3). Printed per model: seconds per
epoch and the ratio to PyTorch, the training arithmetic's GFLOP/s beside
numpy's sgemm rate (the higher of two, before and after the model's runs), predict and
evaluate times and ratios, peak memory and ratio, and the load average when
each run started (the reference machine is shared). No environment variables
are set for the engine's processes: it sets its thread policy itself
(``core.runtime``). PyTorch uses ``--threads`` (default 2); its loop is the
idiomatic one (random permutation, index the tensors, zero_grad/forward/
backward/step, and a running loss and accuracy like Keras' logs).

Usage::

    python benchmarks/train_speed.py            # full 60,000 training images, 3 runs
    python benchmarks/train_speed.py --n 12000 --repeats 3 --variants numpy
    python benchmarks/train_speed.py --quick    # first 10,000 images
    python benchmarks/train_speed.py --models mlp --frameworks core
    python benchmarks/train_speed.py --profile  # per-step overhead of the engine
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "fashion-mnist")
BATCH = {"mlp": 32, "cnn": 128, "deep": 128}
PREDICT_BATCH = 256
PREDICT_REPEATS = 5


def _best_of(repeats, fn) -> float:
    """Fastest of ``repeats`` timed calls: one predict over 10,000 images takes ~15 ms,
    where a single timing moved by +-50 % from run to run (both frameworks)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _load(n):
    sys.path.insert(0, REPO)
    from core.datasets import fashion_mnist

    (x, y), (xt, yt) = fashion_mnist.load_data(DATA)
    x = (x[:n].astype("float32") / 255.0)
    xt = (xt.astype("float32") / 255.0)
    return x, y[:n].astype("int64"), xt, yt.astype("int64")


# --------------------------------------------------------------------- core
def _core_model(name):
    from core.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from core.models import Sequential

    if name == "mlp":
        return Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"),
                           Dropout(0.2), Dense(10, activation="softmax")])
    if name == "cnn":
        return Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                           MaxPooling2D((2, 2)), Flatten(), Dense(128, activation="relu"),
                           Dense(10, activation="softmax")])
    return Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                       MaxPooling2D((2, 2)), Conv2D(64, (3, 3), activation="relu"),
                       MaxPooling2D((2, 2)), Conv2D(64, (3, 3), activation="relu"), Flatten(),
                       Dense(64, activation="relu"), Dense(10, activation="softmax")])


def run_core(name, n):
    x, y, xt, yt = _load(n)
    if name != "mlp":
        x, xt = x[..., None], xt[..., None]
    base = _rss_peak_mb()
    from core import kernels, utils

    t0 = time.perf_counter()
    kernels.warmup()
    warm = time.perf_counter() - t0
    utils.set_random_seed(0)
    model = _core_model(name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t0, c0 = time.perf_counter(), time.process_time()
    hist = model.fit(x, y, batch_size=BATCH[name], epochs=1, verbose=0)
    train, cpu = time.perf_counter() - t0, time.process_time() - c0
    pred = _best_of(PREDICT_REPEATS, lambda: model.predict(xt, batch_size=PREDICT_BATCH,
                                                           verbose=0))
    scores = []
    ev = _best_of(PREDICT_REPEATS, lambda: scores.append(
        model.evaluate(xt, yt, batch_size=PREDICT_BATCH, verbose=0)))
    from core import runtime
    return {"epoch_s": train, "epoch_cpu_s": cpu, "predict_s": pred, "evaluate_s": ev,
            "n": len(x), "n_test": len(xt), "peak_mb": _rss_peak_mb(), "data_mb": base,
            "warmup_s": warm, "runtime": _runtime_summary(runtime.report()),
            "train_acc": hist.history["accuracy"][-1], "test_acc": scores[-1][1],
            "train_flop": training_flop(model) * len(x)}


def _runtime_summary(rep) -> str:
    """What ``core.runtime.report()`` says is in force, in one line (per variant)."""
    blas = ",".join(f"{b['library']}:{b['threads']}" for b in rep["blas"])
    nb = rep["numba"] or {}
    omp = ",".join(f"{o['library']}:{o['threads']}" for o in rep.get("openmp", ()))
    return (f"blas {blas or '-'}; openmp {omp or '-'}; numba {nb.get('threading_layer')}x"
            f"{nb.get('threads')}; kernel wait {rep['kernel_wait']}")


def training_flop(model) -> float:
    """Floating-point operations of one training sample: 2 per multiply-add of each
    Dense/Conv2D forward product, times 3 (forward, input gradient, weight gradient)."""
    import math

    total = 0
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        rows = math.prod(d for d in layer.output_shape[1:-1] if d)
        total += 2 * rows * math.prod(kernel.shape)
    return 3.0 * total


def profile_overhead(steps=2000):
    """Per-step cost of the engine itself: a model whose arithmetic is negligible
    (4 layers of width 2, batch 2), timed in CPU seconds, then a cProfile split by file."""
    import cProfile
    import pstats

    import numpy as np

    sys.path.insert(0, REPO)
    from core import kernels, utils
    from core.layers import Dense, Dropout, Flatten
    from core.models import Sequential

    kernels.warmup()
    utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((2 * steps, 2, 2), dtype=np.float32)
    y = rng.integers(0, 2, 2 * steps)
    model = Sequential([Flatten(input_shape=(2, 2)), Dense(2, activation="relu"), Dropout(0.2),
                        Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:64], y[:64], batch_size=2, verbose=0)
    for verbose in (0, 1):
        t0 = time.process_time()
        model.fit(x, y, batch_size=2, verbose=verbose)
        per = (time.process_time() - t0) / steps
        print(f"\nper-step overhead (CPU time, verbose={verbose}): {per * 1e6:.0f} us",
              flush=True)
    prof = cProfile.Profile()
    prof.runcall(model.fit, x, y, batch_size=2, verbose=0)
    by_file: dict[str, float] = {}
    for (fname, _, _), (_, _, tottime, _, _) in pstats.Stats(prof).stats.items():
        key = fname.split(REPO + os.sep)[-1] if REPO in fname else "numpy/builtins"
        by_file[key] = by_file.get(key, 0.0) + tottime
    total = sum(by_file.values())
    print("share of the per-step time under cProfile, by file:")
    for key, t in sorted(by_file.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {100 * t / total:5.1f}%  {key}")


# -------------------------------------------------------------------- torch
def _torch_model(name):
    from torch import nn

    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(128, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64 * 3 * 3, 64), nn.ReLU(), nn.Linear(64, 10))


def run_torch(name, n, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    x, y, xt, yt = _load(n)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    xt, yt = torch.from_numpy(xt), torch.from_numpy(yt)
    if name != "mlp":
        x, xt = x.unsqueeze(1), xt.unsqueeze(1)
    base = _rss_peak_mb()
    torch.manual_seed(0)
    model = _torch_model(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)  # Keras' defaults
    bs = BATCH[name]
    t0 = time.perf_counter()
    model.train()
    perm = torch.randperm(len(x))
    loss_sum, correct, seen = 0.0, 0, 0
    for i in range(0, len(x), bs):
        idx = perm[i:i + bs]
        xb, yb = x[idx], y[idx]
        opt.zero_grad()
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(yb)
        correct += (out.argmax(1) == yb).sum().item()
        seen += len(yb)
    train = time.perf_counter() - t0
    model.eval()
    preds = []

    def predict():
        with torch.no_grad():
            preds[:] = [torch.softmax(model(xt[i:i + PREDICT_BATCH]), 1)
                        for i in range(0, len(xt), PREDICT_BATCH)]
    pred = _best_of(PREDICT_REPEATS, predict)
    acc = float((torch.cat(preds).argmax(1) == yt).float().mean())

    def evaluate():  # Keras' evaluate: mean loss and accuracy over the test batches
        with torch.no_grad():
            loss, hits = 0.0, 0
            for i in range(0, len(xt), PREDICT_BATCH):
                out, yb = model(xt[i:i + PREDICT_BATCH]), yt[i:i + PREDICT_BATCH]
                loss += float(F.cross_entropy(out, yb, reduction="sum"))
                hits += int((out.argmax(1) == yb).sum())
        return loss / len(xt), hits / len(xt)
    ev = _best_of(PREDICT_REPEATS, evaluate)
    return {"epoch_s": train, "predict_s": pred, "evaluate_s": ev, "n": len(x),
            "n_test": len(xt), "peak_mb": _rss_peak_mb(), "data_mb": base, "warmup_s": 0.0,
            "train_acc": correct / seen, "test_acc": acc}


# --------------------------------------------------------------------- main
VARIANTS = ("core", "numpy", "numpy+torch")  # what the engine's process imports first


def _import_first(variant):
    """As a user's script starts: ``import core``, ``import numpy`` or numpy and torch."""
    if variant == "core":
        sys.path.insert(0, REPO)
        import core  # noqa: F401
    else:
        import numpy  # noqa: F401
        if variant == "numpy+torch":
            import torch  # noqa: F401


def gemm_rate(size=1024, repeats=20) -> dict:
    """numpy's float32 GEMM (size^3) in GFLOP/s, best of ``repeats``, with numpy's own
    thread count and with one thread (what the engine gives BLAS during fit)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    out = {}
    for label, limit in (("default", None), ("1 thread", 1)):
        with threadpool_limits(limit, "blas"):
            a @ a
            out[label] = 2 * size ** 3 / _best_of(repeats, lambda: a @ a) / 1e9
    return out


def _child(framework, name, n, threads, variant="numpy"):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, name,
           "--n", str(n), "--threads", str(threads), "--first", variant]
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{framework}/{name} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]), load=load)


def _median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def _report(name, runs, gemm):
    """One model's table: medians per variant, ratios vs torch, GFLOP/s, loads."""
    med = {key: {k: _median([r[k] for r in rs]) for k in
                 ("epoch_s", "predict_s", "evaluate_s", "peak_mb", "load")}
           for key, rs in runs.items() if rs}
    t = med.get("torch")
    print(f"\n{name} (batch {BATCH[name]}), median of {len(next(iter(runs.values())))} "
          f"runs; numpy sgemm {gemm['default']:.0f} GFLOP/s ({gemm['1 thread']:.0f} on "
          "one thread)")
    print(f"{'variant':16} {'s/epoch':>8} {'xtorch':>6} {'GFLOP/s':>7} {'%gemm':>5} "
          f"{'predict':>8} {'xtorch':>6} {'evaluate':>8} {'xtorch':>6} {'peak MB':>7} "
          f"{'xtorch':>6} {'load':>5}")
    for key, m in med.items():
        flop = runs[key][0].get("train_flop")
        rate = flop / m["epoch_s"] / 1e9 if flop else None
        rates = f"{rate:7.1f} {100 * rate / gemm['default']:5.0f}" if rate else " " * 13
        ratios = {k: f"{m[k] / t[k]:6.2f}" if t and key != "torch" else " " * 6
                  for k in ("epoch_s", "predict_s", "evaluate_s", "peak_mb")}
        print(f"{key:16} {m['epoch_s']:8.2f} {ratios['epoch_s']} {rates} "
              f"{m['predict_s'] * 1e3:6.1f}ms {ratios['predict_s']} "
              f"{m['evaluate_s'] * 1e3:6.1f}ms {ratios['evaluate_s']} {m['peak_mb']:7.0f} "
              f"{ratios['peak_mb']} {m['load']:5.1f}", flush=True)
    core = [med[f"core/{v}"]["epoch_s"] for v in VARIANTS if f"core/{v}" in med]
    if len(core) > 1:
        print(f"{'':16} import variants: slowest/fastest epoch {max(core) / min(core):.3f}")
    fastest = [min(r["epoch_s"] for r in runs[f"core/{v}"]) for v in VARIANTS
               if runs.get(f"core/{v}")]
    if len(fastest) > 1:  # the load only ever slows a run: the fastest is the least hit
        print(f"{'':16} import variants: slowest/fastest of the fastest epochs "
              f"{max(fastest) / min(fastest):.3f}")
    cpu = [_median([r["epoch_cpu_s"] for r in runs[f"core/{v}"]]) for v in VARIANTS
           if runs.get(f"core/{v}")]
    if len(cpu) > 1:
        print(f"{'':16} import variants: slowest/fastest epoch CPU s {max(cpu) / min(cpu):.3f}")
    for key, rs in runs.items():
        print(f"{'':16} {key}: epochs " + ", ".join(
            f"{r['epoch_s']:.2f}" + (f" ({r['epoch_cpu_s']:.2f} CPU s, load {r['load']:.1f})"
                                     if "epoch_cpu_s" in r else f" (load {r['load']:.1f})")
            for r in rs) + f"; test acc {rs[-1]['test_acc']:.4f}")
        if rs and "runtime" in rs[-1]:
            print(f"{'':18} runtime: {rs[-1]['runtime']}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="train on 10,000 images only")
    ap.add_argument("--models", default="mlp,cnn,deep")
    ap.add_argument("--frameworks", default="core,torch")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="what the engine's process imports first")
    ap.add_argument("--repeats", type=int, default=3, help="runs per cell (median)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--profile", action="store_true",
                    help="also measure the engine's per-step overhead (cProfile by file)")
    ap.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    ap.add_argument("--first", default="numpy", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    n = args.n or (10_000 if args.quick else 60_000)
    if args.profile:
        profile_overhead()
        return
    if args.worker:
        fw, name = args.worker
        if fw == "gemm":
            print(json.dumps(gemm_rate()))
            return
        if fw == "core":
            _import_first(args.first)
            sys.path.insert(0, REPO)
            from core import runtime
            if args.threads != runtime.cores():
                runtime.configure(kernel_threads=args.threads)
        res = run_core(name, n) if fw == "core" else run_torch(name, n, args.threads)
        print(json.dumps(res))
        return
    frameworks = args.frameworks.split(",")
    if "torch" in frameworks:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("torch is not importable: measuring core only")
            frameworks = [f for f in frameworks if f != "torch"]
    # the numpy+torch variant needs torch installed, not torch's own runs
    has_torch = importlib.util.find_spec("torch") is not None
    variants = [v for v in args.variants.split(",") if has_torch or "torch" not in v]
    cells = [("core", v) for v in variants if "core" in frameworks]
    cells += [("torch", "numpy+torch")] if "torch" in frameworks else []
    print(f"Fashion-MNIST, {n} training images, 1 epoch, Adam, {args.threads} thread(s); "
          f"load average at start {os.getloadavg()[0]:.1f}")
    for name in args.models.split(","):
        gemm = [_child("gemm", name, n, args.threads)]
        runs = {("torch" if fw == "torch" else f"core/{v}"): [] for fw, v in cells}
        for r in range(args.repeats):  # alternate: each repeat starts one cell later
            for fw, v in cells[r % len(cells):] + cells[:r % len(cells)]:
                key = "torch" if fw == "torch" else f"core/{v}"
                runs[key].append(_child(fw, name, n, args.threads, v))
        gemm.append(_child("gemm", name, n, args.threads))
        # the higher of the two: a GEMM measured in a noisy moment (107 against 177-203
        # GFLOP/s once) made the model's share of the machine look larger than it was
        _report(name, runs, {k: max(g[k] for g in gemm) for k in gemm[0]})


if __name__ == "__main__":
    main()
