"""Fashion-MNIST (Zalando, MIT), as ``keras.datasets.fashion_mnist.load_data``.

The four IDX files are taken from the first place that has all of them:
``path`` (a folder), ``$NETWEAVER_DATA`` (itself or its ``fashion-mnist/``),
the Debian install ``/usr/share/datasets/fashion-mnist/`` (package
``dataset-fashion-mnist``), the Keras cache ``~/.keras/datasets/fashion-mnist/``;
otherwise they are downloaded there from Keras' URLs. Upstream publishes MD5
digests only, so cached/downloaded files are checked against those.

>>> from core.datasets import fashion_mnist
>>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
"""

from __future__ import annotations

import os

from core.datasets import download
from core.datasets.idx import read_idx_pair

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")
FILES = {  # name -> upstream MD5 (zalandoresearch/fashion-mnist README)
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
}
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


def _complete(folder: str) -> dict[str, str] | None:
    """name -> path when ``folder`` holds all four files (gzipped or not)."""
    found = {}
    for name in FILES:
        for cand in (name, name[:-3]):
            p = os.path.join(folder, cand)
            if os.path.isfile(p):
                found[name] = p
                break
        else:
            return None
    return found


def candidate_dirs(path: str | None = None) -> list[str]:
    dirs = [path] if path else []
    env = os.environ.get("NETWEAVER_DATA")
    if env:
        dirs += [os.path.join(env, "fashion-mnist"), env]
    dirs.append(DEBIAN_DIR)
    return dirs


def find_local(path: str | None = None) -> dict[str, str] | None:
    """Paths of the four files from the first complete local folder, or None.

    The Keras cache is not listed here: it is checksum-checked by ``get_file``.
    """
    for d in candidate_dirs(path):
        found = _complete(d)
        if found:
            return found
    return None


def load_data(path: str | None = None, progress=None, cache_dir: str | None = None,
              opener=None):
    """``(x_train, y_train), (x_test, y_test)``: uint8 (N, 28, 28) images, uint8 labels."""
    if path is not None and not os.path.isdir(path):
        raise ValueError(f"fashion_mnist.load_data: path={path!r} is not a folder.")
    paths = find_local(path)
    if paths is None:
        paths = {name: download.get_file(name, download.KERAS_DATASETS + name,
                                         file_hash=md5, cache_subdir=CACHE_SUBDIR,
                                         cache_dir=cache_dir, progress=progress,
                                         opener=opener)
                 for name, md5 in FILES.items()}
    x_train, y_train = read_idx_pair(paths["train-images-idx3-ubyte.gz"],
                                     paths["train-labels-idx1-ubyte.gz"])
    x_test, y_test = read_idx_pair(paths["t10k-images-idx3-ubyte.gz"],
                                   paths["t10k-labels-idx1-ubyte.gz"])
    return (x_train, y_train), (x_test, y_test)
