"""Crossentropy losses (binary, categorical, sparse categorical) and the fused
softmax + crossentropy gradient used after a softmax output layer.

>>> import numpy as np
>>> from core.losses import SparseCategoricalCrossentropy
>>> p = np.array([[0.1, 0.9], [0.8, 0.2]], "float32")
>>> round(SparseCategoricalCrossentropy()([1, 0], p), 4)
0.1643
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.kernels import losses as _k
from core.losses.base import Loss, _as_float, _expand, _same_rank


def _check_smoothing(loss, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"Loss '{loss}': label_smoothing={value!r} is invalid; "
                         "expected a number in [0, 1].")
    return float(value)


class BinaryCrossentropy(Loss):
    per_sample = True  # (Loss.merges_batches)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(name, reduction, dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(self.name, label_smoothing)
        self.axis = axis

    def _forward(self, yt, yp):
        if self.label_smoothing:
            yt = yt * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            # Stable form of -[y log s(z) + (1-y) log(1-s(z))] (as TF/JAX compute it).
            el = np.maximum(yp, 0) - yp * yt + np.log1p(np.exp(-np.abs(yp)))
        else:
            eps = backend.epsilon()
            o = np.clip(yp, eps, 1.0 - eps)
            el = -(yt * np.log(o) + (1.0 - yt) * np.log(1.0 - o))
        return np.mean(el, axis=self.axis), (yt, yp)

    def _backward(self, cache, dper):
        yt, yp = cache
        n = yp.shape[self.axis]
        dper = dper if np.ndim(dper) == 0 else np.expand_dims(dper, self.axis)
        if self.from_logits:
            g = 0.5 * (1.0 + np.tanh(0.5 * yp)) - yt  # sigmoid without exp overflow
        else:
            eps = backend.epsilon()
            o = np.clip(yp, eps, 1.0 - eps)
            g = -(yt / o - (1.0 - yt) / (1.0 - o)) * ((yp >= eps) & (yp <= 1.0 - eps))
        return g * (dper / n)

    def value_and_logits_grad(self, y_true, probs, sample_weight=None):
        """``(loss, d loss / d logits)`` for ``probs = sigmoid(logits)``: the gradient is
        ``(p - y) / n`` (what Keras' TF backend gets by computing from the logits), so a
        saturated wrong prediction still learns; the value is Keras' clipped one."""
        if self.from_logits:
            raise ValueError(f"Loss '{self.name}': logits_grad expects sigmoid probabilities; "
                             "this loss has from_logits=True, use value_and_grad instead.")
        if self.reduction in (None, "none"):
            raise ValueError(f"Loss '{self.name}': gradients need a reducing reduction, got "
                             f"reduction={self.reduction!r}.")
        yt, yp, shape = self._prepare(y_true, probs)
        per, (ys, _) = self._forward(yt, yp)
        value, dper = self._reduce(per, self._weights(per, sample_weight))
        dper = 1.0 if dper is None else dper
        dper = dper if np.ndim(dper) == 0 else np.expand_dims(dper, self.axis)
        return value, ((yp - ys) * (dper / yp.shape[self.axis])).reshape(shape)

    def logits_grad(self, y_true, probs, sample_weight=None):
        return self.value_and_logits_grad(y_true, probs, sample_weight)[1]

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class _SoftmaxCrossentropy(Loss):
    """Shared pieces of the two categorical crossentropies: the one-pass numba path for
    softmax probabilities (``logits_grad``) and for raw logits (``from_logits=True``)."""
    per_sample = True  # (Loss.merges_batches)

    def _fused(self, y_true, y_pred, sample_weight, logits):
        if self.reduction in (None, "none"):
            raise ValueError(f"Loss '{self.name}': gradients need a reducing reduction, got "
                             f"reduction={self.reduction!r}.")
        p = _as_float(y_pred, self.dtype)
        p2 = np.ascontiguousarray(p.reshape(-1, p.shape[-1]))
        rows, valid = self._fused_targets(y_true, p)
        w = np.empty(0, p.dtype)
        if sample_weight is not None:
            sw = np.asarray(sample_weight, p.dtype)
            sw = sw.reshape(sw.shape + (1,) * max(p.ndim - 1 - sw.ndim, 0))
            try:
                w = np.ascontiguousarray(np.broadcast_to(sw, p.shape[:-1]).reshape(-1))
            except ValueError:
                raise ValueError(
                    f"Loss '{self.name}': sample_weight of shape {np.shape(sample_weight)} "
                    f"does not match the per-sample losses of shape {p.shape[:-1]}.") from None
        if self.reduction == "sum":
            denom = 1.0
        elif self.reduction == "mean_with_sample_weight" and w.size:
            denom = float(w.sum() if valid is None else w[valid.reshape(-1)].sum())
        else:  # Keras: masked (ignored) entries leave the mean
            denom = float(p2.shape[0] if valid is None else valid.sum())
        scale = 1.0 / denom if denom else 0.0
        out = np.empty_like(p2)
        total = self._fused_kernel(p2, rows, w, out, p.dtype.type(scale), logits)
        return total * scale, out.reshape(p.shape)

    def value_and_grad(self, y_true, y_pred, sample_weight=None):
        if self.from_logits and self.axis in (-1, np.ndim(y_pred) - 1):
            return self._fused(y_true, y_pred, sample_weight, logits=True)
        return super().value_and_grad(y_true, y_pred, sample_weight)

    def _probabilities_only(self):
        if self.from_logits:
            raise ValueError(f"Loss '{self.name}': logits_grad expects softmax probabilities; "
                             "this loss has from_logits=True, use value_and_grad instead.")

    def logits_grad(self, y_true, probs, sample_weight=None):
        """d(loss)/d(logits) for ``probs = softmax(logits)``: ``(p * sum(y) - y) / N``."""
        self._probabilities_only()
        return self._fused(y_true, probs, sample_weight, logits=False)[1]

    def value_and_logits_grad(self, y_true, probs, sample_weight=None):
        """``(loss, logits_grad)`` in one fused pass."""
        self._probabilities_only()
        return self._fused(y_true, probs, sample_weight, logits=False)


class CategoricalCrossentropy(_SoftmaxCrossentropy):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(name, reduction, dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(self.name, label_smoothing)
        self.axis = axis

    def _smooth(self, yt):
        ls = self.label_smoothing
        return yt * (1.0 - ls) + ls / yt.shape[-1] if ls else yt

    def _forward(self, yt, yp):
        yt = np.moveaxis(self._smooth(yt), self.axis, -1)
        yp = np.moveaxis(yp, self.axis, -1)
        if self.from_logits:
            z = yp - yp.max(axis=-1, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=-1, keepdims=True))
            return -(yt * (z - lse)).sum(axis=-1), (yt, z - lse, None)
        eps = backend.epsilon()
        s = yp.sum(axis=-1, keepdims=True)
        q = yp / s
        inside = (q >= eps) & (q <= 1.0 - eps)
        return -(yt * np.log(np.clip(q, eps, 1.0 - eps))).sum(axis=-1), (yt, q, (s, inside))

    def _backward(self, cache, dper):
        yt, q, extra = cache
        dper = _expand(dper, q.ndim)
        if extra is None:  # from logits: q holds log-softmax
            g = (np.exp(q) * yt.sum(axis=-1, keepdims=True) - yt) * dper
        else:
            s, inside = extra
            a = np.where(inside, -yt / np.where(inside, q, 1.0), 0.0)
            g = (a - (a * q).sum(axis=-1, keepdims=True)) / s * dper
        return np.moveaxis(g, -1, self.axis)

    def _fused_targets(self, y_true, p):
        if self.axis not in (-1, p.ndim - 1):
            raise ValueError(f"Loss '{self.name}': the fused softmax gradient needs the class "
                             f"axis last, got axis={self.axis}.")
        yt, yp = _same_rank(_as_float(y_true, p.dtype), p)
        if yt.shape != p.shape:
            raise ValueError(
                f"Loss '{self.name}': y_true and y_pred have incompatible shapes "
                f"y_true.shape={tuple(np.shape(y_true))}, y_pred.shape={tuple(p.shape)}.")
        return np.ascontiguousarray(self._smooth(yt).reshape(-1, p.shape[-1])), None

    @staticmethod
    def _fused_kernel(p2, y2, w, out, scale, logits):
        if logits:
            return _k.logits_ce_grad(p2, y2, w, out, scale)
        return _k.softmax_ce_grad(p2, y2, w, out, scale, backend.epsilon())

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


def _sparse_rows(yp, labels, eps):
    """Per-sample losses, row sums and label shares (both with a trailing 1) of
    probabilities ``yp`` (..., classes) against int64 ``labels`` (...), in yp's dtype."""
    c, lead = yp.shape[-1], yp.shape[:-1]
    p2 = np.ascontiguousarray(yp.reshape(-1, c))
    lab = np.ascontiguousarray(labels.reshape(-1))
    per, s, ql = (np.empty(len(p2), yp.dtype) for _ in range(3))
    # (float16 probabilities: the numpy twin, numba has no float16)
    rows = _k.sparse_ce_rows if yp.dtype.char in "fd" else _k.sparse_ce_rows_ref
    rows(p2, lab, eps, per, s, ql)
    return per.reshape(lead), s.reshape(lead + (1,)), ql.reshape(lead + (1,))


class SparseCategoricalCrossentropy(_SoftmaxCrossentropy):
    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None, axis=-1):
        super().__init__(name, reduction, dtype)
        self.from_logits = bool(from_logits)
        if ignore_class is not None and (isinstance(ignore_class, bool)
                                         or not float(ignore_class).is_integer()):
            raise ValueError(f"Loss '{self.name}': ignore_class={ignore_class!r} is invalid; "
                             "expected an integer or None.")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        if axis not in (-1,):
            raise ValueError(f"Loss '{self.name}': only axis=-1 is supported, got axis={axis}.")
        self.axis = axis

    def _labels(self, y_true, p):
        """int64 labels of shape p.shape[:-1]; ValueError on bad shapes or values."""
        c = p.shape[-1]
        yt = np.asarray(y_true)
        if yt.ndim == p.ndim and yt.shape[-1] == 1:
            yt = yt.reshape(yt.shape[:-1])
        if yt.shape != p.shape[:-1]:
            raise ValueError(
                f"Loss '{self.name}': y_true and y_pred have incompatible shapes "
                f"y_true.shape={tuple(np.shape(y_true))}, y_pred.shape={tuple(p.shape)}; "
                f"expected integer labels of shape {p.shape[:-1]}.")
        lab = yt.astype(np.int64)
        if yt.dtype.kind in "fc" or yt.dtype.kind == "b":
            bad = lab != yt
            if bad.any():
                raise ValueError(f"Loss '{self.name}': label {yt[bad].flat[0].item()!r} is not an "
                                 f"integer class index (model has {c} classes).")
        valid = None if self.ignore_class is None else lab != self.ignore_class
        check = lab if valid is None else lab[valid]
        if check.size and (check.min() < 0 or check.max() >= c):
            badv = check.min() if check.min() < 0 else check.max()
            raise ValueError(f"Loss '{self.name}': label {int(badv)} is out of range for "
                             f"{c} classes (expected 0..{c - 1}).")
        return lab, valid

    def _prepare(self, y_true, y_pred):
        yp = _as_float(y_pred, self.dtype)
        lab, valid = self._labels(y_true, yp)
        return (lab, valid), yp, yp.shape

    def _mask(self, cache):
        return cache[2]

    def merges_batches(self) -> bool:
        # ignore_class: each batch's mean is over its own unignored labels.
        return super().merges_batches() and self.ignore_class is None

    def _forward(self, labv, yp):
        lab, valid = labv
        safe = lab if valid is None else np.where(valid, lab, 0)
        idx = safe[..., None]
        if self.from_logits:
            z = yp - yp.max(axis=-1, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=-1, keepdims=True))
            per = -(np.take_along_axis(z, idx, -1) - lse)[..., 0]
            cache = (idx, np.exp(z - lse), valid, None)
        else:
            eps = backend.epsilon()
            per, s, ql = _sparse_rows(yp, safe, eps)  # (each row's sum, the label's share)
            cache = (idx, yp, valid, (s, ql, (ql >= eps) & (ql <= 1.0 - eps)))
        if valid is not None:
            per = np.where(valid, per, 0.0).astype(yp.dtype)
        return per, cache

    def _backward(self, cache, dper):
        idx, q, valid, extra = cache  # q: the softmax of logits, or y_pred (its shape)
        dper = _expand(dper, q.ndim)
        if extra is None:
            g = q * dper
            np.put_along_axis(g, idx, np.take_along_axis(g, idx, -1) - dper, -1)
        else:
            s, ql, inside = extra
            # d(-log q_l)/dp_j = a (delta_jl - q_l) with a = -1 / (q_l S): constant off-label.
            a = np.where(inside, -1.0 / np.where(inside, ql, 1.0), 0.0) / s * dper
            g = np.broadcast_to(-a * ql, q.shape).copy()
            np.put_along_axis(g, idx, np.take_along_axis(g, idx, -1) + a, -1)
        if valid is not None:
            g *= valid[..., None]
        return g.astype(q.dtype, copy=False)

    def _fused_targets(self, y_true, p):
        lab, valid = self._labels(y_true, p)
        return np.ascontiguousarray(lab.reshape(-1)), valid

    def _fused_kernel(self, p2, lab, w, out, scale, logits):
        ign = self.ignore_class
        has, ign = ign is not None, -1 if ign is None else ign
        if logits:
            return _k.sparse_logits_ce_grad(p2, lab, w, out, scale, has, ign)
        return _k.sparse_softmax_ce_grad(p2, lab, w, out, scale, backend.epsilon(), has, ign)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "ignore_class": self.ignore_class}


