"""``TruePositives``, ``FalsePositives``, ``TrueNegatives``, ``FalseNegatives`` and ``AUC``,
as Keras 3's ``confusion_metrics`` computes them (``metrics_utils``).

A prediction counts as positive when ``y_pred > threshold`` and a label when
``y_true != 0``. Evenly spaced thresholds (AUC's default: ``num_thresholds=200``,
``[0 - eps, 1/199, ..., 198/199, 1 + eps]``) take Keras' bucketed path, whose float32
bucket index ``ceil(p * (n - 1)) - 1`` decides the boundary cases exactly as Keras
does; other threshold lists compare directly. ``AUC.result`` is Keras' Riemann sum
(``interpolation``, ``minoring``, ``majoring``) over ROC or PR, and for PR with
interpolation the Davis & Goadrich closed form Keras uses.

>>> m = AUC()
>>> m.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
>>> round(m.result(), 4)
0.75
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.metrics.base import Metric, same_rank

_CURVES = ("ROC", "PR", "PRGAIN")
_SUMMATIONS = ("interpolation", "minoring", "majoring")


def evenly_distributed(thresholds) -> bool:
    """Keras' ``is_evenly_distributed_thresholds``."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=backend.epsilon()))


def _prepare(name, y_true, y_pred, sample_weight, multi_label=False):
    p = np.asarray(y_pred, np.float32)
    t = np.asarray(y_true, np.float32)
    p, t = same_rank(p, t)
    if p.shape != t.shape:
        raise ValueError(f"Metric '{name}': y_true and y_pred have incompatible shapes "
                         f"y_true.shape={np.shape(y_true)}, y_pred.shape={np.shape(y_pred)}.")
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, np.float32)
        w = w.reshape(w.shape + (1,) * max(p.ndim - w.ndim, 0))
        try:
            w = np.broadcast_to(w, p.shape)
        except ValueError:
            raise ValueError(f"Metric '{name}': sample_weight of shape "
                             f"{np.shape(sample_weight)} does not match y_pred of shape "
                             f"{p.shape}.") from None
    return t, p, w


def confusion_counts(t, p, w, thresholds, evenly, multi_label=False, label_weights=None):
    """``(tp, fp, tn, fn)`` per threshold (and per label when ``multi_label``)."""
    if label_weights is not None and not multi_label:
        lw = np.broadcast_to(np.asarray(label_weights, np.float32), p.shape)
        w = lw if w is None else w * lw
    if not multi_label:
        t, p = t.reshape(-1), p.reshape(-1)
        w = None if w is None else np.asarray(w).reshape(-1)
    elif p.ndim != 2:
        raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                         f"{p.ndim}. Full shape received for `y_pred`: {p.shape}")
    w = np.ones_like(p) if w is None else np.asarray(w, np.float32)
    pos = (t != 0).astype(np.float64) * w
    neg = (t == 0).astype(np.float64) * w
    n = len(thresholds)
    if evenly:
        # Keras' bucketed path: bucket i holds predictions in (t_i, t_{i+1}], and a
        # count at threshold i sums every bucket >= i.
        with_eps = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        q = np.clip(p, np.float32(0), np.float32(1))
        idx = np.ceil(q * (np.float32(n) - np.float32(1))) - np.float32(1)
        if with_eps:
            idx = np.maximum(idx, 0)
        idx = idx.astype(np.int64)
        keep = idx >= 0
        shape = (n,) + p.shape[1:] if multi_label else (n,)
        tp_b, fp_b = np.zeros(shape), np.zeros(shape)
        if multi_label:
            cols = np.broadcast_to(np.arange(p.shape[1]), p.shape)
            np.add.at(tp_b, (idx[keep], cols[keep]), pos[keep])
            np.add.at(fp_b, (idx[keep], cols[keep]), neg[keep])
        else:
            np.add.at(tp_b, idx[keep], pos[keep])
            np.add.at(fp_b, idx[keep], neg[keep])
        tp = np.flip(np.cumsum(np.flip(tp_b, 0), axis=0), 0)
        fp = np.flip(np.cumsum(np.flip(fp_b, 0), axis=0), 0)
    else:
        th = np.asarray(thresholds, np.float32).reshape((n,) + (1,) * p.ndim)
        pred = p[None] > th
        axes = 1 if multi_label else tuple(range(1, p.ndim + 1))
        tp = (pred * pos[None]).sum(axis=axes)
        fp = (pred * neg[None]).sum(axis=axes)
    axis = 0 if multi_label else None
    fn = pos.sum(axis=axis) - tp
    tn = neg.sum(axis=axis) - fp
    return tp, fp, tn, fn


class _ConditionCount(Metric):
    sums_over_samples = True  # (Metric.merges_batches)
    _index = 0  # into (tp, fp, tn, fn)

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if thresholds is not None:
            for v in (thresholds if isinstance(thresholds, (list, tuple)) else [thresholds]):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                    raise ValueError(f"Metric '{self.name}': threshold values must be in "
                                     f"[0, 1]. Received: {thresholds!r}")
        self.init_thresholds = thresholds
        vals = 0.5 if thresholds is None else thresholds
        self.thresholds = [float(v) for v in (vals if isinstance(vals, (list, tuple))
                                              else [vals])]
        self._evenly = evenly_distributed(self.thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        t, p, w = _prepare(self.name, y_true, y_pred, sample_weight)
        counts = confusion_counts(t, p, w, self.thresholds, self._evenly)
        self.accumulator.value[...] += counts[self._index]

    def result(self):
        acc = self.accumulator.value
        return float(acc[0]) if len(self.thresholds) == 1 else acc.astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """The (weighted) number of true positives per threshold."""
    _index = 0


class FalsePositives(_ConditionCount):
    """The (weighted) number of false positives per threshold."""
    _index = 1


class TrueNegatives(_ConditionCount):
    """The (weighted) number of true negatives per threshold."""
    _index = 2


class FalseNegatives(_ConditionCount):
    """The (weighted) number of false negatives per threshold."""
    _index = 3


def _div(a, b):
    """Keras' ``divide_no_nan``: 0 where the denominator is 0."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return np.divide(a, b, out=np.zeros(a.shape), where=b != 0)


class AUC(Metric):
    """Area under the ROC or PR curve, approximated on ``num_thresholds`` thresholds."""
    sums_over_samples = True  # (Metric.merges_batches)

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        if str(curve).upper() not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are '
                             "['ROC', 'PR', 'PRGAIN']")
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(f'Invalid `summation_method` argument value "{summation_method}".'
                             f" Expected one of: {list(_SUMMATIONS)}")
        super().__init__(name=name, dtype=dtype)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            inner = sorted(float(t) for t in thresholds)
            self._evenly = evenly_distributed(np.array([0.0] + inner + [1.0]))
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or \
                    num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        eps = backend.epsilon()
        self._thresholds = np.array([0.0 - eps] + inner + [1.0 + eps])
        self.curve = str(curve).upper()
        self.summation_method = str(summation_method).lower()
        self.multi_label = bool(multi_label)
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else \
            np.asarray(label_weights, np.float32)
        self._from_logits = bool(from_logits)
        self._built = False
        if self.multi_label:
            if num_labels:
                self._build((None, num_labels))
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found "
                                 f"rank {len(shape)}. Full shape received for `y_pred`: "
                                 f"{shape}")
            self._num_labels = shape[1]
            var_shape = (self.num_thresholds, self._num_labels)
        else:
            var_shape = (self.num_thresholds,)
        for n in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, n, self.add_variable(var_shape, name=n))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if not self._built:
            self._build(np.shape(y_pred))
        if self._from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-np.asarray(y_pred, np.float32)))
        t, p, w = _prepare(self.name, y_true, y_pred, sample_weight, self.multi_label)
        lw = None if self.multi_label else self.label_weights
        tp, fp, tn, fn = confusion_counts(t, p, w, self._thresholds, self._evenly,
                                          self.multi_label, lw)
        self.true_positives.value[...] += tp
        self.false_positives.value[...] += fp
        self.true_negatives.value[...] += tn
        self.false_negatives.value[...] += fn

    def _by_label(self, terms):
        if not self.multi_label:
            return float(np.sum(terms))
        per_label = np.sum(terms, axis=0)
        if self.label_weights is None:
            return float(np.mean(per_label))
        return float(_div(np.sum(per_label * self.label_weights), np.sum(self.label_weights)))

    def interpolate_pr_auc(self):
        n = self.num_thresholds
        tp, fp, fn = (self.true_positives.value, self.false_positives.value,
                      self.false_negatives.value)
        dtp = tp[:n - 1] - tp[1:]
        p = tp + fp
        dp = p[:n - 1] - p[1:]
        slope = _div(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:n - 1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _div(p[:n - 1], np.maximum(p[1:], 0)), 1.0)
        increment = _div(slope * (dtp + intercept * np.log(ratio)),
                         np.maximum(tp[1:] + fn[1:], 0))
        return self._by_label(increment)

    def result(self):
        if not self._built:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        n = self.num_thresholds
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        recall = _div(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _div(tp, tp + fp)
        else:  # PRGAIN
            scale = _div(tp + fn, tn + fp)
            rg = np.where(tp == 0, 0.0, 1.0 - scale * _div(fn, tp))
            pg = np.where(tp == 0, 1.0, 1.0 - scale * _div(fp, tp))
            x, y = np.maximum(rg, 0.0), pg
        if self.summation_method == "interpolation":
            heights = (y[:n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:n - 1], y[1:])
        else:
            heights = np.maximum(y[:n - 1], y[1:])
        return self._by_label((x[:n - 1] - x[1:]) * heights)

    def get_config(self):
        config = {"num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else
                  self.label_weights.tolist(), "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return {**super().get_config(), **config}
