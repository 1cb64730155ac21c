"""Data sets with Keras' signatures, plus loaders for users' own files.

>>> from core.datasets import load_sample, mnist, fashion_mnist
>>> (x_train, y_train), (x_test, y_test) = load_sample()
>>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
"""

from core.datasets import fashion_mnist, imdb, mnist
from core.datasets.download import ChecksumError, get_file
from core.datasets.files import load_csv, load_idx, load_npz
from core.datasets.idx import read_idx, read_idx_pair
from core.datasets.sample import load_sample

__all__ = ["ChecksumError", "fashion_mnist", "get_file", "imdb", "load_csv", "load_idx", "load_npz",
           "load_sample", "mnist", "read_idx", "read_idx_pair"]
