"""Confusion-matrix metrics: ``Precision``, ``Recall`` (Keras ``confusion_metrics``) and
``FBetaScore``/``F1Score`` (Keras ``f_score_metrics``).

Precision/Recall flatten every prediction and count ``y_pred > threshold`` (default
0.5) against ``y_true != 0``, optionally per threshold, on the ``top_k`` scores of each
row only (``top_k=1``: the top class of a one-hot output), or for one ``class_id``.

>>> import numpy as np
>>> p = Precision()
>>> p.update_state([0, 1, 1, 1], [1, 0, 1, 1])
>>> round(p.result(), 4)
0.6667
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.metrics.base import Metric, same_rank

NEG_INF = -1e10  # Keras' metrics_utils.NEG_INF


def _thresholds(name, thresholds, default):
    if thresholds is None:
        return [default], None
    vals = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    for t in vals:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1:
            raise ValueError(f"Metric '{name}': threshold values must be in [0, 1]; "
                             f"received thresholds={thresholds!r}.")
    return [float(t) for t in vals], thresholds


def _filter_top_k(x, k):
    """Keep each row's k largest scores (first index wins ties), set the rest to NEG_INF."""
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    out = np.full_like(x, NEG_INF)
    np.put_along_axis(out, idx, np.take_along_axis(x, idx, -1), -1)
    return out


class _ConfusionMetric(Metric):
    sums_over_samples = True  # (Metric.merges_batches)
    _counts: tuple = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                                  or top_k < 1):
            raise ValueError(f"Metric '{self.name}': top_k={top_k!r} is invalid; expected an "
                             "integer >= 1 or None.")
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, int)
                                     or class_id < 0):
            raise ValueError(f"Metric '{self.name}': class_id={class_id!r} is invalid; "
                             "expected an integer >= 0 or None.")
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds, self.init_thresholds = _thresholds(self.name, thresholds, default)
        self.top_k, self.class_id = top_k, class_id
        n = len(self.thresholds)
        self.true_positives = self.add_variable((n,), name="true_positives")
        self._other = self.add_variable((n,), name=self._counts[1])

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        t = np.asarray(y_true, np.float64)
        p = np.asarray(y_pred, np.float64)
        p, t = same_rank(p, t)
        if p.shape != t.shape:
            raise ValueError(f"Metric '{self.name}': y_true and y_pred have incompatible "
                             f"shapes y_true.shape={np.shape(y_true)}, "
                             f"y_pred.shape={np.shape(y_pred)}.")
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, np.float64)
            w = w.reshape(w.shape + (1,) * max(p.ndim - w.ndim, 0))
            try:
                w = np.broadcast_to(w, p.shape)
            except ValueError:
                raise ValueError(f"Metric '{self.name}': sample_weight of shape "
                                 f"{np.shape(sample_weight)} does not match y_pred of shape "
                                 f"{p.shape}.") from None
        if self.top_k is not None:
            p = _filter_top_k(p, self.top_k)
        if self.class_id is not None:
            if self.class_id >= p.shape[-1]:
                raise ValueError(f"Metric '{self.name}': class_id={self.class_id} is out of "
                                 f"range for {p.shape[-1]} classes.")
            p, t = p[..., self.class_id], t[..., self.class_id]
            w = None if w is None else w[..., self.class_id]
        p, pos = p.reshape(-1), t.reshape(-1) != 0
        w = np.ones_like(p) if w is None else w.reshape(-1)
        for j, th in enumerate(self.thresholds):
            pred = p > th
            self.true_positives.value[j] += w[pred & pos].sum()
            other = (pred & ~pos) if self._counts[1] == "false_positives" else (~pred & pos)
            self._other.value[j] += w[other].sum()

    def result(self):
        tp = self.true_positives.value
        den = tp + self._other.value
        res = np.divide(tp, den, out=np.zeros_like(tp), where=den != 0)
        return float(res[0]) if len(self.thresholds) == 1 else res.astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_ConfusionMetric):
    """``true_positives / (true_positives + false_positives)``."""

    _counts = ("true_positives", "false_positives")

    @property
    def false_positives(self):
        return self._other


class Recall(_ConfusionMetric):
    """``true_positives / (true_positives + false_negatives)``."""

    _counts = ("true_positives", "false_negatives")

    @property
    def false_negatives(self):
        return self._other


class FBetaScore(Metric):
    """F-beta per class (``average=None``) or averaged ('micro', 'macro', 'weighted');
    ``threshold=None`` marks each row's top score (if non-zero) as the prediction."""
    sums_over_samples = True  # (Metric.merges_batches)

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score",
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"Metric '{self.name}': average={average!r} is invalid; expected "
                             "one of None, 'micro', 'macro', 'weighted'.")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
            raise ValueError(f"Metric '{self.name}': beta={beta!r} is invalid; expected a "
                             "number > 0.")
        if threshold is not None and (isinstance(threshold, bool)
                                      or not isinstance(threshold, (int, float))
                                      or not 0 < threshold <= 1):
            raise ValueError(f"Metric '{self.name}': threshold={threshold!r} is invalid; "
                             "expected 0 < threshold <= 1 or None.")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, t, p):
        if p.ndim != 2 or t.ndim != 2:
            raise ValueError(f"Metric '{self.name}' expects 2D inputs with shape (batch_size, "
                             f"output_dim); received y_true.shape={t.shape}, "
                             f"y_pred.shape={p.shape}.")
        self._num_classes = p.shape[-1]
        shape = () if self.average == "micro" else (p.shape[-1],)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")
        self.intermediate_weights = self.add_variable(shape, name="intermediate_weights")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        t = np.asarray(y_true, np.float64)
        p = np.asarray(y_pred, np.float64)
        if not self._built:
            self._build(t, p)
        if t.shape != p.shape or p.ndim != 2 or p.shape[-1] != self._num_classes:
            raise ValueError(f"Metric '{self.name}': y_true and y_pred have incompatible "
                             f"shapes y_true.shape={t.shape}, y_pred.shape={p.shape}.")
        if self.threshold is None:
            top = p.max(axis=-1, keepdims=True)
            pred = ((p >= top) & (np.abs(p) > 1e-9)).astype(np.float64)
        else:
            pred = (p > self.threshold).astype(np.float64)
        w = None if sample_weight is None else np.asarray(sample_weight, np.float64)[:, None]

        def wsum(v):
            return (v if w is None else v * w).sum(axis=self.axis)

        self.true_positives.value[...] += wsum(pred * t)
        self.false_positives.value[...] += wsum(pred * (1 - t))
        self.false_negatives.value[...] += wsum((1 - pred) * t)
        self.intermediate_weights.value[...] += wsum(t)

    def result(self):
        if not self._built:
            return 0.0
        eps = backend.epsilon()
        tp = self.true_positives.value
        precision = tp / (tp + self.false_positives.value + eps)
        recall = tp / (tp + self.false_negatives.value + eps)
        b2 = self.beta ** 2
        f = precision * recall / (b2 * precision + recall + eps) * (1 + b2)
        if self.average == "weighted":
            iw = self.intermediate_weights.value
            return float(np.sum(f * iw / (iw.sum() + eps)))
        if self.average is not None:
            return float(np.mean(f))
        return f.astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name,
                         dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
