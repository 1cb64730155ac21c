"""IMDB movie-review sentiment, as ``keras.datasets.imdb.load_data`` (Keras 3.15).

Same signature, same shuffling (``np.random.RandomState(seed)``, train then test), same
``start_char`` / ``index_from`` / ``maxlen`` / ``num_words`` / ``skip_top`` /
``oov_char`` rules, same result: object arrays of word-id lists and int labels.

The file is Keras' ``imdb.npz``: ``path`` when it names an existing file, else
``~/.keras/datasets/<path>`` checked against Keras' SHA-256, else downloaded there from
Keras' URL (offline, ``get_file`` raises an error naming the URL and the cause).
Reading it never unpickles: its ragged arrays are parsed by
``core.datasets.object_npy.read_ragged`` (opcodes walked, nothing imported or called),
the label arrays by ``np.load(allow_pickle=False)``.

>>> from core.datasets import imdb
>>> (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib

import numpy as np

from core.datasets import download
from core.datasets.object_npy import read_ragged

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"


def _read(path):
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            need = {"x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy"}
            if not need <= names:
                raise ValueError(f"{path}: expected x_train, y_train, x_test, y_test arrays "
                                 f"(Keras' imdb.npz), found {sorted(names)}.")
            xs = {k: read_ragged(z.read(f"{k}.npy"), f"{path}:{k}") for k in ("x_train",
                                                                               "x_test")}
            ys = {k: np.load(io.BytesIO(z.read(f"{k}.npy")), allow_pickle=False)
                  for k in ("y_train", "y_test")}
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
        raise ValueError(f"{path}: not a readable .npz (zip) file ({e}).") from None
    for x, y in (("x_train", "y_train"), ("x_test", "y_test")):
        if ys[y].ndim != 1 or len(ys[y]) != len(xs[x]):
            raise ValueError(f"{path}: {y} has shape {ys[y].shape} for {len(xs[x])} reviews.")
    return xs["x_train"], ys["y_train"], xs["x_test"], ys["y_test"]


def _object_array(rows):
    return np.array(rows, dtype="object")


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, cache_dir=None, progress=None,
              opener=None):
    """``(x_train, y_train), (x_test, y_test)`` as Keras returns them."""
    path = os.fspath(path)
    local = path if os.path.isfile(path) else download.get_file(
        path, ORIGIN, file_hash=SHA256, cache_dir=cache_dir, progress=progress, opener=opener)
    x_train, labels_train, x_test, labels_test = _read(local)
    rng = np.random.RandomState(seed)
    idx = np.arange(len(x_train))
    rng.shuffle(idx)
    x_train, labels_train = [x_train[i] for i in idx], labels_train[idx]
    idx = np.arange(len(x_test))
    rng.shuffle(idx)
    x_test, labels_test = [x_test[i] for i in idx], labels_test[idx]
    if start_char is not None:
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
    elif index_from:
        x_train = [[w + index_from for w in x] for x in x_train]
        x_test = [[w + index_from for w in x] for x in x_test]
    if maxlen:
        keep = [i for i, x in enumerate(x_train) if len(x) < maxlen]
        x_train, labels_train = [x_train[i] for i in keep], labels_train[keep]
        keep = [i for i, x in enumerate(x_test) if len(x) < maxlen]
        x_test, labels_test = [x_test[i] for i in keep], labels_test[keep]
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, "
                             "no sequence was kept. Increase maxlen.")
    xs = x_train + x_test
    labels = np.concatenate([labels_train, labels_test])
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    n = len(x_train)
    return (_object_array(xs[:n]), labels[:n]), (_object_array(xs[n:]), labels[n:])
