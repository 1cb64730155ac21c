"""MNIST digits, as ``keras.datasets.mnist.load_data``.

Looks for ``mnist.npz`` in this order: ``path`` when it names an existing file;
``$NETWEAVER_DATA/<name>``; the Keras cache ``~/.keras/datasets/<path>`` (checked
against Keras' SHA-256); otherwise downloads it there from Keras' own URL.

>>> from core.datasets import mnist
>>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
>>> x_train.shape, x_train.dtype  # doctest: +SKIP
((60000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import os

import numpy as np

from core.datasets import download, files

ORIGIN = download.KERAS_DATASETS + "mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def _override_dirs() -> list[str]:
    env = os.environ.get("NETWEAVER_DATA")
    return [env] if env else []


def find_local(path: str = "mnist.npz") -> str | None:
    """The first existing local copy (no download), or None."""
    if os.path.isfile(path):
        return path
    name = os.path.basename(path)
    for d in _override_dirs():
        for cand in (os.path.join(d, name), os.path.join(d, "mnist", name)):
            if os.path.isfile(cand):
                return cand
    return None


def load_data(path: str = "mnist.npz", progress=None, cache_dir: str | None = None,
              opener=None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (N, 28, 28), uint8 labels."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"mnist.load_data: path={path!r} is a folder; pass the mnist.npz "
                         "file inside it.")
    local = find_local(path)
    if local is None:
        local = download.get_file(path, ORIGIN, file_hash=SHA256, cache_dir=cache_dir,
                                  progress=progress, opener=opener)
    train, test = files.load_npz(local)
    if test is None:
        raise ValueError(f"{local}: expected x_train, y_train, x_test, y_test arrays "
                         "(the Keras mnist.npz layout).")
    for x, y, what in ((*train, "train"), (*test, "test")):
        if x.ndim != 3 or x.dtype != np.uint8 or y.ndim != 1:
            raise ValueError(f"{local}: x_{what} must be uint8 images (N, H, W) and y_{what} "
                             f"labels (N,); file has x_{what} {x.dtype.name}{x.shape}, "
                             f"y_{what} {y.dtype.name}{y.shape}.")
    return (train[0], train[1].astype(np.uint8, copy=False)), \
        (test[0], test[1].astype(np.uint8, copy=False))
