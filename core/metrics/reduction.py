"""``Sum`` and ``MeanAbsolutePercentageError``, as Keras 3's.

``Sum`` adds every value (times its sample weight, broadcast from the batch axis);
``MeanAbsolutePercentageError`` is the running mean of
``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon), axis=-1)``.

>>> m = Sum()
>>> m.update_state([1.0, 3.0, 5.0, 7.0])
>>> m.result()
16.0
"""

from __future__ import annotations

import numpy as np

from core.backend import epsilon
from core.metrics.accuracy import _arrays
from core.metrics.base import MeanMetricWrapper, Metric, check_same_shape, same_rank


class Sum(Metric):
    """Running (weighted) sum of the values it is given."""
    sums_over_samples = True  # (Metric.merges_batches)

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values, sample_weight=None) -> None:
        values = np.asarray(values, np.float64)
        if sample_weight is not None:
            sw = np.asarray(sample_weight, np.float64)
            while sw.ndim > values.ndim and sw.shape[-1] == 1:
                sw = sw[..., 0]
            sw = sw.reshape(sw.shape + (1,) * (values.ndim - sw.ndim))
            try:
                values = values * np.broadcast_to(sw, values.shape)
            except ValueError:
                raise ValueError(f"{self.name}: sample_weight of shape {sw.shape} does not "
                                 f"broadcast to values of shape {values.shape}") from None
        self.total.value[()] += values.sum()

    def result(self) -> float:
        return float(self.total.value)


def mean_absolute_percentage_error(y_true, y_pred, metric="mean_absolute_percentage_error"):
    t, p = _arrays(y_true, y_pred)
    t2, p2 = same_rank(t.astype(np.float64), p.astype(np.float64))
    check_same_shape(metric, y_true, y_pred, t2, p2)
    return 100.0 * np.mean(np.abs(t2 - p2) / np.maximum(np.abs(t2), epsilon()), axis=-1)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)
