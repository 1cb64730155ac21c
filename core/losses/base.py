"""The ``Loss`` base class: input preparation, Keras reduction and sample weights.

Built-in subclasses implement ``_forward(y_true, y_pred) -> (per_sample_losses, cache)``
and ``_backward(cache, d_per_sample) -> d_y_pred``; the base turns them into Keras'
``__call__`` (reduced value) and ``value_and_grad``. A user subclass implements
Keras' ``call(y_true, y_pred)`` with ``core.ops`` instead: its gradient is the VJP of
those ops (``core.ops.function_grad``), and y_true/y_pred only get the loss dtype, no
shape check (Keras checks nothing either: the ops do).

>>> from core.losses import MeanSquaredError
>>> MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]])
0.5
"""

from __future__ import annotations

import numpy as np

from core import backend

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _as_float(x, dtype):
    a = np.asarray(x)
    if dtype is None:
        dtype = a.dtype if a.dtype.kind == "f" else backend.floatx()
    return a if a.dtype == dtype else a.astype(dtype)


def _same_rank(x1, x2):
    """Keras' ``squeeze_or_expand_to_same_rank`` (ranks differing by one, last dim 1)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1:
            x2 = x2.reshape(x2.shape + (1,))
        else:
            x1 = x1.reshape(x1.shape[:-1])
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1:
            x1 = x1.reshape(x1.shape + (1,))
        else:
            x2 = x2.reshape(x2.shape[:-1])
    return x1, x2


def _unbroadcast(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def _on_tape(y_pred) -> bool:
    """True while a tape records and ``y_pred`` needs a gradient (a layer's output)."""
    tape = backend.get_tape()
    return tape is not None and isinstance(y_pred, np.ndarray) and tape.needs_grad(y_pred)


def _run(name, forward, vjp, tensors):
    from core.ops.engine import run

    return run(name, forward, vjp, tensors)


class Loss:
    """Base class: subclasses implement ``_forward``/``_backward`` on prepared arrays."""

    # Keras' regression losses compute ``y_true - y_pred`` after
    # ``squeeze_or_expand_to_same_rank``, so the backend broadcasts the two: targets
    # (8, 10) against predictions (8, 1) compare each of the ten targets with the one
    # prediction. The crossentropies need equal shapes (Keras' backends raise).
    broadcasts = False
    # True on built-in losses computed sample by sample (read through merges_batches).
    per_sample = False

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        cls = type(self).__name__
        self.name = name or backend.to_snake_case(cls)
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Loss '{self.name}': reduction={reduction!r} is invalid; "
                             f"expected one of {_REDUCTIONS}.")
        self.reduction = reduction
        self.dtype = None if dtype is None else backend.standardize_dtype(dtype)

    def merges_batches(self) -> bool:
        """Whether this loss over several batches stacked, times their samples, equals the
        sum of each batch's loss times its samples, so ``evaluate`` may score a group of
        batches at once (``core.models.evaluate_fast``): a built-in per-sample loss
        averaged over the batch (a subclass defined outside the engine never merges).

        >>> from core.losses import MeanSquaredError
        >>> MeanSquaredError().merges_batches(), MeanSquaredError(reduction="sum").merges_batches()
        (True, False)
        """
        return (type(self).per_sample and type(self).__module__.startswith("core.losses")
                and self.reduction in ("sum_over_batch_size", "mean"))

    # ------------------------------------------------------------- preparation
    def _user_call(self) -> bool:
        return type(self).call is not Loss.call

    def _prepare(self, y_true, y_pred):
        yp = _as_float(y_pred, self.dtype)
        yt = _as_float(y_true, yp.dtype)
        if self._user_call():
            return yt, yp, yp.shape
        a, b = _same_rank(yt, yp)
        problem = self._shape_problem(a.shape, b.shape)
        if problem:
            raise ValueError(
                f"Loss '{self.name}': y_true and y_pred have incompatible shapes "
                f"y_true.shape={tuple(np.shape(y_true))}, y_pred.shape={tuple(yp.shape)}"
                f"{problem}.")
        return a, b, yp.shape

    def _shape_problem(self, true_shape, pred_shape) -> str:
        """'' when Keras computes this loss on these (same-rank) shapes, else why not."""
        if true_shape == pred_shape:
            return ""
        if not self.broadcasts:
            return " (this loss needs them equal, as Keras' does)"
        try:
            np.broadcast_shapes(true_shape, pred_shape)
        except ValueError:
            return " (they cannot be broadcast together for y_true - y_pred)"
        return ""

    def target_shape_error(self, y_shape, pred_shape) -> str:
        """Why targets of ``y_shape`` cannot train an output of ``pred_shape`` (None
        entries: any size) with a loss that ``broadcasts``, or '' when they can: the
        check ``fit`` makes before the first step, by the same rules as the loss itself
        (other losses: '', ``fit`` checks their targets by their own rule).

        >>> from core.losses import MeanSquaredError
        >>> MeanSquaredError().target_shape_error((8, 10), (None, 1))
        ''
        """
        if not self.broadcasts:
            return ""
        t = np.broadcast_to(np.empty((), bool), tuple(y_shape))
        p = np.broadcast_to(np.empty((), bool), tuple(1 if d is None else d
                                                       for d in pred_shape))
        a, b = _same_rank(t, p)
        problem = self._shape_problem(a.shape, b.shape)
        return (f"targets of shape {tuple(y_shape)} do not fit the output shape "
                f"{tuple(pred_shape)}{problem}") if problem else ""

    def _weights(self, per, sample_weight, mask=None):
        """Keras' apply_mask + sample-weight broadcasting; None when all ones."""
        sw = None
        if mask is not None:
            m = mask.astype(per.dtype)
            if self.reduction in ("mean", "sum_over_batch_size"):
                valid = m.sum()
                m *= (m.size / valid) if valid > 0 else 0.0
            sw = m
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=per.dtype)
            if w.ndim == per.ndim + 1 and w.shape[-1] == 1:
                w = w.reshape(w.shape[:-1])
            while w.ndim < per.ndim:
                w = w.reshape(w.shape + (1,))
            try:
                np.broadcast_shapes(w.shape, per.shape)
            except ValueError:
                raise ValueError(
                    f"Loss '{self.name}': sample_weight of shape {np.shape(sample_weight)} "
                    f"does not match the per-sample losses of shape {per.shape}.") from None
            sw = w if sw is None else sw * w
        return sw

    def _reduce(self, per, sw):
        """Reduced value and d(value)/d(per) (a scalar or an array of per's shape)."""
        values = per if sw is None else per * sw
        red = self.reduction
        if red in (None, "none") or values.ndim == 0:
            return (float(values) if values.ndim == 0 else values), None
        total = float(values.sum(dtype=np.float64))
        if red == "sum":
            scale = 1.0
        elif red == "mean_with_sample_weight" and sw is not None:
            s = float(np.sum(sw))
            scale = 1.0 / s if s else 0.0
        else:
            scale = 1.0 / values.size if values.size else 0.0
        dper = scale if sw is None else _unbroadcast(
            np.broadcast_to(sw * scale, values.shape), per.shape)
        return total * scale, dper

    # -------------------------------------------------------------- public API
    def call(self, y_true, y_pred):
        """Per-sample losses (no reduction), as Keras' ``Loss.call``."""
        if _on_tape(y_pred):  # the function forms (binary_crossentropy(t, p)) in a call
            def forward(p):
                yt, yp, shape = self._prepare(y_true, p)
                per, cache = self._forward(yt, yp)
                return np.asarray(per), (cache, shape)

            def vjp(cache, g, need):
                return [self._backward(cache[0], g).reshape(cache[1])]

            return _run(f"loss_{self.name}", forward, vjp, [y_pred])
        yt, yp, _ = self._prepare(y_true, y_pred)
        return self._forward(yt, yp)[0]

    def __call__(self, y_true, y_pred, sample_weight=None):
        if _on_tape(y_pred) and self.reduction not in (None, "none"):
            # inside a layer's call (``self.add_loss(loss_fn(targets, logits))``): one op
            # on the tape whose VJP is this loss's own gradient w.r.t. y_pred
            def forward(yp):
                value, grad = self.value_and_grad(y_true, yp, sample_weight)
                return np.asarray(value, dtype=grad.dtype), grad

            return _run(f"loss_{self.name}", forward, lambda grad, g, need: [g * grad],
                        [y_pred])
        yt, yp, _ = self._prepare(y_true, y_pred)
        per, cache = self._forward(yt, yp)
        value, _ = self._reduce(per, self._weights(per, sample_weight, self._mask(cache)))
        return value

    def value_and_grad(self, y_true, y_pred, sample_weight=None):
        """``(reduced loss, d loss / d y_pred)``; the gradient has y_pred's shape."""
        if self.reduction in (None, "none"):
            raise ValueError(f"Loss '{self.name}': value_and_grad needs a reducing "
                             f"reduction, got reduction={self.reduction!r}.")
        yt, yp, shape = self._prepare(y_true, y_pred)
        per, cache = self._forward(yt, yp)
        value, dper = self._reduce(per, self._weights(per, sample_weight, self._mask(cache)))
        if dper is None:  # 0-d per-sample loss (rank-1 inputs averaged to a scalar)
            dper = 1.0
        return value, self._backward(cache, dper).reshape(shape)

    # ------------------------------------------------- user ``call`` built from ops
    def _forward(self, yt, yp):
        if not self._user_call():
            raise NotImplementedError(f"Loss {type(self).__name__!r} must implement "
                                      "call(y_true, y_pred), as keras.losses.Loss does.")
        from core.ops.function_grad import record_function

        per, backward = record_function(lambda p: self.call(yt, p), [yp])
        return np.asarray(per), backward

    def _backward(self, backward, dper):
        if not backward.connected:
            raise ValueError(
                f"Loss {type(self).__name__!r} ({self.name}): call() returned a value that "
                "does not depend on y_pred through core.ops (was it computed with plain "
                "numpy?), so it has no gradient; write it with core.ops (keras.ops).")
        return backward(dper)[0]

    def _mask(self, cache):
        return None

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _expand(dper, ndim):
    return dper if np.isscalar(dper) or np.ndim(dper) == 0 else np.expand_dims(dper, -1)


