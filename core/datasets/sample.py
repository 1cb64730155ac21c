"""The embedded sample: 5,000 real MNIST digits shipped in ``resources/data/``.

Works with no network and no downloads, so the app's default demo always has
data. 4,000 training and 1,000 test images, 400/100 of each digit, shuffled.

>>> from core.datasets.sample import load_sample
>>> (x_train, y_train), (x_test, y_test) = load_sample()
>>> x_train.shape, x_test.shape, x_train.dtype.name
((4000, 28, 28), (1000, 28, 28), 'uint8')
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from core.datasets import files
from resources import resource_path

SAMPLE_FILE = ("data", "mnist_sample.npz")


def sample_path():
    return resource_path(*SAMPLE_FILE)


def load_sample():
    """``(x_train, y_train), (x_test, y_test)`` of the embedded MNIST sample (uint8)."""
    path = sample_path()
    if not path.is_file():
        raise ValueError(f"{path}: the embedded data sample is missing from this install.")
    train, test = files.load_npz(path)
    return train, test


def build_sample(csv_path, out_path, test_per_class: int = 100, seed: int = 0) -> None:
    """Rebuild the sample file from ``mnist_5k.csv.gz`` (784 pixels + label per row).

    Stratified split (``test_per_class`` of each digit go to test), then each part
    shuffled with ``seed``; written with ``np.savez_compressed`` atomically.
    """
    (x, y), _ = files.load_csv(csv_path, label_column=-1, header=False)
    if x.shape[1] != 784 or x.dtype != np.uint8:
        raise ValueError(f"{csv_path}: expected 784 uint8 pixel columns, got "
                         f"{x.shape[1]} of {x.dtype.name}.")
    rng = np.random.default_rng(seed)
    test_idx, train_idx = [], []
    for digit in np.unique(y):
        idx = np.flatnonzero(y == digit)
        rng.shuffle(idx)
        test_idx.append(idx[:test_per_class])
        train_idx.append(idx[test_per_class:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    images = x.reshape(-1, 28, 28)
    folder = os.path.dirname(os.fspath(out_path)) or "."
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, x_train=images[train_idx], y_train=y[train_idx],
                                x_test=images[test_idx], y_test=y[test_idx])
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the sample is shipped, keep it readable
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
