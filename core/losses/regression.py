"""Regression losses: ``MeanSquaredError``, ``MeanAbsoluteError``, ``Huber``.

>>> from core.losses import Huber
>>> round(Huber(delta=1.0)([[0.0, 0.0]], [[0.5, 3.0]]), 4)
1.3125
"""

from __future__ import annotations

import numpy as np

from core.losses.base import Loss, _expand


class MeanSquaredError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name, reduction, dtype)

    def _forward(self, yt, yp):
        d = yp - yt
        return np.mean(d * d, axis=-1), d

    def _backward(self, d, dper):
        return d * (_expand(dper, d.ndim) * (2.0 / d.shape[-1]))


class MeanAbsoluteError(Loss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name, reduction, dtype)

    def _forward(self, yt, yp):
        d = yp - yt
        return np.mean(np.abs(d), axis=-1), d

    def _backward(self, d, dper):
        return np.sign(d) * (_expand(dper, d.ndim) / d.shape[-1])


class Huber(Loss):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name, reduction, dtype)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta < 0:
            raise ValueError(f"Loss '{self.name}': delta={delta!r} is invalid; "
                             "expected a number >= 0.")
        self.delta = float(delta)

    def _forward(self, yt, yp):
        e = yp - yt
        a = np.abs(e)
        dl = self.delta
        el = np.where(a <= dl, 0.5 * e * e, dl * a - 0.5 * dl * dl)
        return np.mean(el, axis=-1), e

    def _backward(self, e, dper):
        g = np.where(np.abs(e) <= self.delta, e, self.delta * np.sign(e))
        return g * (_expand(dper, e.ndim) / e.shape[-1])

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


