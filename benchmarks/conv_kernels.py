"""Conv/pool/BN layer forward+backward per batch, and whole CNN training steps, against
PyTorch CPU (``torch.set_num_threads(2)``). Torch is used here only, never at run time.

Run from the repository root (takes ~1-2 minutes)::

    /work/venv/bin/python benchmarks/conv_kernels.py            # layer blocks + CNN steps
    /work/venv/bin/python benchmarks/conv_kernels.py --blocks   # layer blocks only
    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        /work/venv/bin/python benchmarks/conv_kernels.py --torch-threads 1   # one core each

Timings are medians over repeats (the machine is shared). The CNN part trains the
seed CNN (Conv 32 3x3 relu, MaxPool 2, Flatten, Dense 128 relu, Dense 10 softmax) and
the deeper CNN (Conv 32, Pool, Conv 64, Pool, Conv 64, Flatten, Dense 64, Dense 10) at
batch 128 with Adam and sparse categorical crossentropy; the epoch estimate is
469 x the median step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import kernels  # noqa: E402
from core.autodiff import Tape  # noqa: E402
from core.layers.convolutional import Conv2D  # noqa: E402
from core.layers.normalization import BatchNormalization  # noqa: E402
from core.layers.pooling import MaxPooling2D  # noqa: E402

BATCH = 128
STEPS_PER_EPOCH = -(-60_000 // BATCH)


def median_ms(ours, theirs, repeats=15, warm=3):
    """``((min, median) ours, (min, median) theirs)`` wall times in ms. The two run
    interleaved so that load from other processes on the shared machine hits both
    alike; the minimum is the least disturbed run."""
    for _ in range(warm):
        ours()
        theirs()
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        for fn, out in ((ours, t_ours), (theirs, t_theirs)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return [(min(t) * 1e3, statistics.median(t) * 1e3) for t in (t_ours, t_theirs)]


# --------------------------------------------------------------- layer blocks
def ours_block(layers, x, first):
    """Forward + backward through ``layers`` as in training (first layer: no dx)."""
    class _Src:  # marks x as produced upstream when the block is not the first layer
        def backward(self, cache, g, need_input_grad=True):
            return []

        def _own_trainable_variables(self):
            return []

    def step():
        with Tape() as tape:
            if not first:
                tape.record(_Src(), [], [x], None)
            y = x
            for layer in layers:
                y = layer(y, training=True)
        tape.backward(y, np.ones_like(y))
    return step


def torch_block(torch, mods, x, first):
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    xt.requires_grad_(not first)

    def step():
        y = xt
        for m in mods:
            y = m(y)
        y.backward(torch.ones_like(y))
    return step


def blocks(torch):
    nn = torch.nn
    rng = np.random.default_rng(0)
    cases = [
        ("conv1 32@3x3 relu + maxpool (28x28x1, first layer)", (BATCH, 28, 28, 1), True,
         lambda: [Conv2D(32, 3, activation="relu"), MaxPooling2D()],
         lambda: [nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2)]),
        ("conv2 64@3x3 relu + maxpool (13x13x32)", (BATCH, 13, 13, 32), False,
         lambda: [Conv2D(64, 3, activation="relu"), MaxPooling2D()],
         lambda: [nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2)]),
        ("conv3 64@3x3 relu (5x5x64)", (BATCH, 5, 5, 64), False,
         lambda: [Conv2D(64, 3, activation="relu")],
         lambda: [nn.Conv2d(64, 64, 3), nn.ReLU()]),
        ("conv 32@3x3 same + batchnorm (28x28x16)", (BATCH, 28, 28, 16), False,
         lambda: [Conv2D(32, 3, padding="same"), BatchNormalization()],
         lambda: [nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32, eps=1e-3)]),
    ]
    print(f"{'block (batch 128, fwd+bwd), min | median':58s} {'ours ms':>8s} {'torch ms':>9s} "
          f"{'ratio':>6s} | {'ours':>7s} {'torch':>7s} {'ratio':>6s}")
    for name, shape, first, make_ours, make_torch in cases:
        x = rng.standard_normal(shape).astype(np.float32)
        ours, theirs = median_ms(ours_block(make_ours(), x, first),
                                 torch_block(torch, make_torch(), x, first))
        print(f"{name:58s} {ours[0]:8.2f} {theirs[0]:9.2f} {ours[0] / theirs[0]:6.2f} | "
              f"{ours[1]:7.2f} {theirs[1]:7.2f} {ours[1] / theirs[1]:6.2f}")


# ------------------------------------------------------------- whole CNN steps
def our_cnn(deep):
    from core.layers import Dense, Flatten, Input
    from core.models import Sequential
    layers = [Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), MaxPooling2D()]
    if deep:
        layers += [Conv2D(64, 3, activation="relu"), MaxPooling2D(),
                   Conv2D(64, 3, activation="relu"), Flatten(), Dense(64, activation="relu")]
    else:
        layers += [Flatten(), Dense(128, activation="relu")]
    return Sequential(layers + [Dense(10, activation="softmax")])


def our_step(model, x, y):
    from core import losses, optimizers
    from core.activation_ops import Activation
    loss = losses.get("sparse_categorical_crossentropy")
    opt = optimizers.get("adam")
    out_layer = model.layers[-1]
    identity = Activation()  # linear: the fused gradient already is d loss / d logits

    def step():
        with Tape() as tape:
            probs = model(x, training=True)
        _, g = loss.value_and_logits_grad(y, probs)  # fused softmax + CE gradient
        act, out_layer.activation = out_layer.activation, identity
        try:
            tape.backward(probs, g)
        finally:
            out_layer.activation = act
        variables = model.trainable_weights
        opt.apply([v.grad for v in variables], variables)
    return step


def torch_cnn(torch, deep):
    nn = torch.nn
    if deep:
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
                             nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(13 * 13 * 32, 128), nn.ReLU(), nn.Linear(128, 10))


def torch_step(torch, model, x, y):
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), 1e-3, eps=1e-7)
    lossf = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        lossf(model(xt), yt).backward()
        opt.step()
    return step


def cnn_steps(torch):
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    print(f"\n{'training step (batch 128), min | median':42s} {'ours ms':>8s} {'torch ms':>9s} "
          f"{'ratio':>6s} | {'ours':>7s} {'torch':>7s} {'ratio':>6s}   (epoch = 469 steps)")
    for name, deep in (("seed CNN", False), ("deeper CNN", True)):
        ours, theirs = median_ms(our_step(our_cnn(deep), x, y),
                                 torch_step(torch, torch_cnn(torch, deep), x, y),
                                 repeats=40, warm=5)
        print(f"{name:42s} {ours[0]:8.2f} {theirs[0]:9.2f} {ours[0] / theirs[0]:6.2f} | "
              f"{ours[1]:7.2f} {theirs[1]:7.2f} {ours[1] / theirs[1]:6.2f}   epoch ours "
              f"{ours[1] * STEPS_PER_EPOCH / 1e3:.1f} s, torch "
              f"{theirs[1] * STEPS_PER_EPOCH / 1e3:.1f} s (median)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", action="store_true", help="layer blocks only")
    parser.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.torch_threads)
    kernels.warmup()
    blocks(torch)
    if not args.blocks:
        cnn_steps(torch)


if __name__ == "__main__":
    main()
