"""Regression losses: ``MeanSquaredError``, ``MeanAbsoluteError``, ``Huber``.

As in Keras, y_true and y_pred broadcast against each other (after
``squeeze_or_expand_to_same_rank``): the error ``y_pred - y_true`` takes the broadcast
shape, is averaged over its last axis, and its gradient is summed back to y_pred's
shape.

>>> from core.losses import Huber, MeanSquaredError
>>> round(Huber(delta=1.0)([[0.0, 0.0]], [[0.5, 3.0]]), 4)
1.3125
>>> MeanSquaredError()([[1.0, 3.0]], [[2.0]])  # one prediction against two targets
1.0
"""

from __future__ import annotations

import numpy as np

from core.losses.base import Loss, _expand, _unbroadcast


class _ErrorLoss(Loss):
    """A loss of the error ``e = y_pred - y_true``, averaged over the last axis:
    subclasses give the per-element value ``_value(e)`` and derivative ``_slope(e)``."""
    per_sample = True  # (Loss.merges_batches)
    broadcasts = True

    def _forward(self, yt, yp):
        e = yp - yt  # numpy broadcasts as Keras' backend does
        return np.mean(self._value(e), axis=-1), (e, yp.shape)

    def _backward(self, cache, dper):
        e, shape = cache
        g = self._slope(e) * (_expand(dper, e.ndim) / e.shape[-1])
        return _unbroadcast(g, shape) if g.shape != shape else g


class MeanSquaredError(_ErrorLoss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name, reduction, dtype)

    def _value(self, e):
        return e * e

    def _slope(self, e):
        return 2.0 * e


class MeanAbsoluteError(_ErrorLoss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name, reduction, dtype)

    def _value(self, e):
        return np.abs(e)

    def _slope(self, e):
        return np.sign(e)


class Huber(_ErrorLoss):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name, reduction, dtype)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta < 0:
            raise ValueError(f"Loss '{self.name}': delta={delta!r} is invalid; "
                             "expected a number >= 0.")
        self.delta = float(delta)

    def _value(self, e):
        a, dl = np.abs(e), self.delta
        return np.where(a <= dl, 0.5 * e * e, dl * a - 0.5 * dl * dl)

    def _slope(self, e):
        return np.where(np.abs(e) <= self.delta, e, self.delta * np.sign(e))

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}
