"""A small CNN (Conv2D, MaxPooling2D, BatchNormalization) learns real MNIST digits."""

from __future__ import annotations

import gzip

import numpy as np

from core.layers import BatchNormalization, Conv2D, Dense, Flatten, Input, MaxPooling2D
from core.models import Sequential
from core.utils import set_random_seed


def _mnist_5k(folder):
    with gzip.open(folder / "mnist-5k" / "mnist_5k.csv.gz", "rt") as f:
        rows = [line for line in f if line[:1].isdigit()]  # skips a header line if any
    data = np.loadtxt(rows, delimiter=",", dtype=np.float32)
    return data[:, :784].reshape(-1, 28, 28, 1) / 255.0, data[:, 784].astype(np.int64)


def test_small_cnn_learns_mnist(shared_data):
    x, y = _mnist_5k(shared_data)
    assert x.shape == (5000, 28, 28, 1) and set(np.unique(y)) == set(range(10))
    order = np.random.default_rng(0).permutation(len(x))  # the file is sorted by label
    x, y = x[order], y[order]
    set_random_seed(0)
    model = Sequential([
        Input((28, 28, 1)),
        Conv2D(16, 3, activation="relu"),
        MaxPooling2D(),
        BatchNormalization(momentum=0.9),  # moving stats settle within ~200 steps
        Conv2D(16, 3, padding="same", activation="relu"),
        MaxPooling2D(),
        Flatten(),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:4000], y[:4000], batch_size=64, epochs=3, verbose=0)
    probs = model.predict(x[4000:], verbose=0)
    accuracy = float((probs.argmax(axis=1) == y[4000:]).mean())
    assert accuracy > 0.93, accuracy
