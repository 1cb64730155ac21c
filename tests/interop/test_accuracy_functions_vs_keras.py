"""Keras 3's accuracy functions and ``SparseTopKCategoricalAccuracy(from_sorted_ids=...)``
against real Keras 3 (PyTorch backend): per-sample values on ties, NaN-free random
scores and 3-D outputs, the running result with sample weights, and the config.

>>> # pytest tests/interop/test_accuracy_functions_vs_keras.py
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from core import metrics  # noqa: E402

keras = pytest.importorskip("keras")
pytest.importorskip("torch")
RNG = np.random.default_rng(23)


def _keras(fn, *args, **kw):
    return keras.ops.convert_to_numpy(getattr(keras.metrics, fn)(*args, **kw))


@pytest.mark.parametrize("shape", [(32, 6), (4, 5, 6)])
def test_categorical_and_sparse_accuracy_functions_match_keras(shape):
    p = RNG.integers(0, 3, shape).astype(np.float32)  # many tied maxima
    labels = RNG.integers(0, shape[-1], shape[:-1])
    onehot = np.eye(shape[-1], dtype=np.float32)[labels]
    np.testing.assert_array_equal(metrics.categorical_accuracy(onehot, p),
                                  _keras("categorical_accuracy", onehot, p))
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(labels, p),
                                  _keras("sparse_categorical_accuracy", labels, p))
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(onehot, p, k=2),
                                  _keras("top_k_categorical_accuracy", onehot, p, k=2))


def test_binary_accuracy_function_matches_keras():
    t = RNG.integers(0, 2, (20, 1)).astype(np.float32)
    p = RNG.random((20, 1)).astype(np.float32)
    np.testing.assert_array_equal(metrics.binary_accuracy(t, p, threshold=0.3),
                                  _keras("binary_accuracy", t, p, threshold=0.3))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_sparse_top_k_from_sorted_ids_matches_keras(k):
    labels = RNG.integers(0, 8, 40)
    ids = np.stack([RNG.permutation(8)[:4] for _ in range(40)]).astype(np.float32)
    ids[::5, 0] = labels[::5]  # some certain hits
    ours = metrics.sparse_top_k_categorical_accuracy(labels, ids, k=k, from_sorted_ids=True)
    theirs = _keras("sparse_top_k_categorical_accuracy", labels, ids, k=k,
                    from_sorted_ids=True)
    np.testing.assert_array_equal(ours, theirs)
    assert 0 < ours.sum() < len(ours)
    w = RNG.random(40)
    m, km = (metrics.SparseTopKCategoricalAccuracy(k=k, from_sorted_ids=True),
             keras.metrics.SparseTopKCategoricalAccuracy(k=k, from_sorted_ids=True))
    m.update_state(labels, ids, sample_weight=w)
    km.update_state(labels, ids, sample_weight=w)
    assert float(m.result()) == pytest.approx(float(km.result()), rel=1e-6)


def test_sparse_top_k_config_like_keras():
    for flag in (False, True):
        ours = metrics.SparseTopKCategoricalAccuracy(k=3, from_sorted_ids=flag).get_config()
        theirs = keras.metrics.SparseTopKCategoricalAccuracy(
            k=3, from_sorted_ids=flag).get_config()
        assert ours == theirs
        again = metrics.SparseTopKCategoricalAccuracy.from_config(ours)
        assert again.from_sorted_ids is flag and again.get_config() == ours
