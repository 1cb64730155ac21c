"""Accuracy and regression metrics (Keras 3 ``accuracy_metrics`` / ``regression_metrics``).

Each metric is a running ``Mean`` of a per-sample function: equality for
``Accuracy``, thresholding at 0.5 for ``BinaryAccuracy``, argmax match for
``CategoricalAccuracy``/``SparseCategoricalAccuracy``, "target among the k highest
scores (ties count)" for the top-k variants, and the mean absolute / squared error.

>>> import numpy as np
>>> m = SparseCategoricalAccuracy()
>>> m.update_state([2, 1], np.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0]]))
>>> m.result()
0.5
"""

from __future__ import annotations

import numpy as np

from core.kernels.metrics import argmax_hits
from core.metrics.base import MeanMetricWrapper, check_same_shape, same_rank


def _arrays(y_true, y_pred):
    p = np.asarray(y_pred)
    if p.dtype.kind not in "fiub":
        raise ValueError(f"y_pred must be numeric, got dtype {p.dtype}.")
    return np.asarray(y_true), p


def accuracy(y_true, y_pred, metric="accuracy"):
    t, p = _arrays(y_true, y_pred)
    t2, p2 = same_rank(t, p)
    check_same_shape(metric, y_true, y_pred, t2, p2)
    return (t2 == p2).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5, metric="binary_accuracy"):
    t, p = _arrays(y_true, y_pred)
    t2, p2 = same_rank(t, p)
    check_same_shape(metric, y_true, y_pred, t2, p2)
    return (t2 == (p2 > threshold)).astype(np.float64)


def _labels_vs_argmax(metric, labels, p, y_true, y_pred):
    """``labels == argmax(p, -1)`` with Keras' squeeze of a trailing 1 on the labels."""
    org_shape = labels.shape
    if labels.ndim == p.ndim and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != p.shape[:-1]:
        raise ValueError(f"Metric '{metric}': y_true and y_pred have incompatible shapes "
                         f"y_true.shape={np.shape(y_true)}, y_pred.shape={np.shape(y_pred)}.")
    if labels.dtype.kind not in "fiub":
        raise ValueError(f"Metric '{metric}': y_true must hold class indices, got dtype "
                         f"{labels.dtype}.")
    scores = np.ascontiguousarray(p.reshape(-1, p.shape[-1]))
    matches = np.empty(len(scores))
    if scores.size:
        if scores.dtype.char not in "fd":
            scores = scores.astype(np.float64)
        argmax_hits(scores, np.asarray(labels, np.float64).reshape(-1), matches)
    return matches.reshape(org_shape)


def categorical_accuracy(y_true, y_pred, metric="categorical_accuracy"):
    t, p = _arrays(y_true, y_pred)
    if t.shape != p.shape:
        raise ValueError(f"Metric '{metric}': y_true and y_pred have incompatible shapes "
                         f"y_true.shape={t.shape}, y_pred.shape={p.shape}.")
    # the one-hot side with numpy, the scores with the row kernel (first maximum, NaN first)
    return _labels_vs_argmax(metric, np.argmax(t, axis=-1), p, y_true, y_pred)


def sparse_categorical_accuracy(y_true, y_pred, metric="sparse_categorical_accuracy"):
    t, p = _arrays(y_true, y_pred)
    return _labels_vs_argmax(metric, t, p, y_true, y_pred)


def _in_top_k(labels, p, k):
    """Keras' ``in_top_k``: the target's score is >= the k-th highest score."""
    p2 = p.reshape(-1, p.shape[-1])
    lab = labels.reshape(-1).astype(np.int64)
    target = np.take_along_axis(p2, lab[:, None], axis=1)
    return ((p2 > target).sum(axis=1) < k).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k=5, metric="top_k_categorical_accuracy"):
    t, p = _arrays(y_true, y_pred)
    if t.shape != p.shape:
        raise ValueError(f"Metric '{metric}': y_true and y_pred have incompatible shapes "
                         f"y_true.shape={t.shape}, y_pred.shape={p.shape}.")
    labels = np.argmax(t, axis=-1)
    return _in_top_k(labels, p, k).reshape(labels.shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False,
                                      metric="sparse_top_k_categorical_accuracy"):
    """1 where the label is among the k highest scores (ties count), else 0. With
    ``from_sorted_ids=True`` (Keras 3), ``y_pred`` holds class ids sorted from the highest
    score down (``(batch, N)``, N >= k, e.g. ``ops.top_k``'s indices) and a hit is the
    label among its first k columns.

    >>> sparse_top_k_categorical_accuracy([2, 1], [[1, 0, 3], [1, 2, 3]], k=1,
    ...                                   from_sorted_ids=True).tolist()
    [0.0, 1.0]
    """
    t, p = _arrays(y_true, y_pred)
    org = t.shape
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t.reshape(t.shape[:-1])
    if t.shape != p.shape[:-1]:
        raise ValueError(f"Metric '{metric}': y_true and y_pred have incompatible shapes "
                         f"y_true.shape={np.shape(y_true)}, y_pred.shape={p.shape}.")
    if from_sorted_ids:
        if p.shape[-1] < k:
            raise ValueError(f"Metric '{metric}': from_sorted_ids needs at least k={k} ids a "
                             f"row in y_pred, got {p.shape[-1]}.")
        ids = p.reshape(-1, p.shape[-1])[:, :k]
        return np.any(ids == t.reshape(-1, 1), axis=1).astype(np.float64).reshape(org)
    c = p.shape[-1]
    if t.size and (t.min() < 0 or t.max() >= c):
        raise ValueError(f"Metric '{metric}': label {int(t.min() if t.min() < 0 else t.max())}"
                         f" is out of range for {c} classes.")
    return _in_top_k(t, p, k).reshape(org)


def mean_absolute_error(y_true, y_pred, metric="mean_absolute_error"):
    t, p = _arrays(y_true, y_pred)
    t2, p2 = same_rank(t.astype(np.float64), p.astype(np.float64))
    check_same_shape(metric, y_true, y_pred, t2, p2)
    return np.mean(np.abs(p2 - t2), axis=-1)


def mean_squared_error(y_true, y_pred, metric="mean_squared_error"):
    t, p = _arrays(y_true, y_pred)
    t2, p2 = same_rank(t.astype(np.float64), p.astype(np.float64))
    check_same_shape(metric, y_true, y_pred, t2, p2)
    return np.mean((p2 - t2) ** 2, axis=-1)


class Accuracy(MeanMetricWrapper):
    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise ValueError(f"Metric '{name}': threshold={threshold!r} is invalid; "
                             "expected a number.")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


def _check_k(name, k):
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"Metric '{name}': k={k!r} is invalid; expected an integer >= 1.")
    return k


class TopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype,
                         k=_check_k(name, k))


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        # Keras writes "from_sorted_ids" into the config only when it is True
        extra = {"from_sorted_ids": True} if from_sorted_ids else {}
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype,
                         k=_check_k(name, k), **extra)
        self.from_sorted_ids = bool(from_sorted_ids)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)
