"""``core.datasets.imdb.load_data`` on a local file in Keras' ``imdb.npz`` layout
(written here with numpy's object arrays, as Keras' file is): equal to real Keras'
``load_data`` for the same file and arguments; never unpickles; offline gives an error
naming the URL."""

import os
import urllib.error

import numpy as np
import pytest

from core.datasets import imdb
from core.datasets.object_npy import read_ragged


@pytest.fixture
def imdb_file(tmp_path):
    rng = np.random.default_rng(0)

    def reviews(n):
        return np.array([list(map(int, rng.integers(1, 60, rng.integers(3, 25))))
                         for _ in range(n)] + [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]],
                        dtype=object)
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=reviews(30), y_train=rng.integers(0, 2, 31),
             x_test=reviews(20), y_test=rng.integers(0, 2, 21))
    return path


@pytest.mark.parametrize("kwargs", [
    {}, {"num_words": 20, "skip_top": 3}, {"maxlen": 15, "seed": 7},
    {"start_char": None, "index_from": 0, "oov_char": None, "num_words": 30},
])
def test_equals_keras_load_data(imdb_file, kwargs, monkeypatch):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras_imdb = pytest.importorskip("keras.src.datasets.imdb")
    monkeypatch.setattr(keras_imdb, "get_file", lambda **kw: str(imdb_file))
    want = keras_imdb.load_data(**kwargs)
    got = imdb.load_data(str(imdb_file), **kwargs)
    for (gx, gy), (wx, wy) in zip(got, want):
        assert gx.dtype == object and [list(r) for r in gx] == [list(r) for r in wx]
        np.testing.assert_array_equal(gy, wy)


def test_never_unpickles(imdb_file, monkeypatch):
    import pickle
    monkeypatch.setattr(pickle, "loads", None)
    monkeypatch.setattr(pickle, "load", None)
    monkeypatch.setattr(pickle, "Unpickler", None)
    (x, _), _ = imdb.load_data(str(imdb_file))
    assert len(x) == 31


def test_refuses_other_pickled_content(tmp_path):
    import io
    import zipfile

    buf = io.BytesIO()
    np.savez(buf, x=np.array([{"a": 1}, print], dtype=object))
    with zipfile.ZipFile(buf) as z, pytest.raises(ValueError, match="x.npy"):
        read_ragged(z.read("x.npy"), "x.npy")


def test_offline_names_the_url(tmp_path):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no network")
    with pytest.raises(Exception, match="imdb.npz"):
        imdb.load_data(cache_dir=str(tmp_path), opener=offline, progress=lambda *a: None)
    assert not (tmp_path / "datasets" / "imdb.npz").exists()
