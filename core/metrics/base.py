"""Metric base classes: ``Metric``, the running ``Mean`` and ``MeanMetricWrapper``.

As in Keras 3, a ``Mean`` reduces each batch to one value per sample (mean over the
non-batch axes), adds their (sample-weighted) sum to ``total`` and the batch size (or
the sum of the sample weights) to ``count``; ``result() = total / count`` (0 when empty).
State lives in ``core.variables.Variable``s so it can be saved and reset in place.

>>> m = Mean()
>>> m.update_state([1.0, 3.0]); m.update_state([5.0])
>>> m.result()
3.0
"""

from __future__ import annotations

import inspect

import numpy as np

from core import backend
from core.variables import Variable


def same_rank(x1, x2):
    """Keras' ``squeeze_or_expand_to_same_rank`` (ranks differing by one, last dim 1)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        x2, x1 = (x2[..., None], x1) if r2 == 1 else (x2, x1.reshape(x1.shape[:-1]))
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        x1, x2 = (x1[..., None], x2) if r1 == 1 else (x1, x2.reshape(x2.shape[:-1]))
    return x1, x2


def check_same_shape(metric, y_true, y_pred, t, p):
    if t.shape != p.shape:
        raise ValueError(f"Metric '{metric}': y_true and y_pred have incompatible shapes "
                         f"y_true.shape={np.shape(y_true)}, y_pred.shape={np.shape(y_pred)}.")


class Metric:
    """Base class: ``update_state``, ``result``, ``reset_state``, ``name``, ``get_config``."""

    # True on built-in metrics whose state only sums over samples, so one update with
    # several batches stacked equals an update per batch: ``evaluate`` may then score a
    # group of batches at once (``core.models.evaluate_fast``). Read through
    # ``merges_batches()``, which a user's subclass never passes.
    sums_over_samples = False

    def __init__(self, name=None, dtype=None):
        self.name = name or backend.unique_name(backend.to_snake_case(type(self).__name__))
        self.dtype = backend.standardize_dtype(dtype)
        self._variables: list[Variable] = []

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="sum",
                     name=None) -> Variable:
        """Keras' ``add_variable(shape, initializer, dtype, aggregation, name)``: a
        non-trainable state variable, reset to zeros by ``reset_state``."""
        if "_variables" not in vars(self):
            raise RuntimeError(f"{type(self).__name__}: call super().__init__(name=..., "
                               "**kwargs) before add_variable (as Keras requires).")
        from core import initializers

        shape = tuple(shape) if isinstance(shape, (list, tuple)) else \
            (() if shape is None else (int(shape),))
        name = name or f"variable_{len(self._variables)}"
        # float64 by default: long running sums stay exact far beyond float32's 2**24.
        dt = np.dtype(backend.standardize_dtype(dtype) if dtype is not None else np.float64)
        value = np.asarray(initializers.get(initializer)(shape, dt), dtype=dt)
        var = Variable(value, name=name, trainable=False, path=f"{self.name}/{name}")
        self._variables.append(var)
        return var

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None) -> Variable:
        """Keras' alias of ``add_variable`` on metrics."""
        return self.add_variable(shape, initializer or "zeros", dtype=dtype, name=name)

    @property
    def variables(self) -> list[Variable]:
        return list(self._variables)

    def reset_state(self) -> None:
        for v in self._variables:
            v.value.fill(0)

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def merges_batches(self) -> bool:
        """Whether updating once with stacked batches gives the state that updating per
        batch gives: built-in metrics that sum over samples (a subclass defined outside
        the engine may keep batch-level state, so it never merges).

        >>> from core.metrics import SparseCategoricalAccuracy
        >>> SparseCategoricalAccuracy().merges_batches()
        True
        """
        return type(self).sums_over_samples and type(self).__module__.startswith("core.metrics")

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def samplewise(metric, values, sample_weight):
    """Keras' ``reduce_to_samplewise_values``: per-sample values and weights."""
    values = np.asarray(values, np.float64)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, np.float64)
        values, sw = same_rank(values, sw)
        if values.ndim > sw.ndim:
            values = values.mean(axis=tuple(range(sw.ndim, values.ndim)))
        try:
            sw = np.broadcast_to(sw, values.shape)
        except ValueError:
            raise ValueError(f"Metric '{metric}': sample_weight of shape "
                             f"{np.shape(sample_weight)} does not match values of shape "
                             f"{values.shape}.") from None
        values = values * sw
        if sw.ndim > 1:
            sw = sw.mean(axis=tuple(range(1, sw.ndim)))
    else:
        sw = None
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sw


class Mean(Metric):
    """Running (weighted) mean of the values it is given."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values, sample_weight=None) -> None:
        values, sw = samplewise(self.name, values, sample_weight)
        self.total.value[()] += values.sum()
        if sw is not None:
            self.count.value[()] += sw.sum()
        else:
            self.count.value[()] += values.shape[0] if values.ndim >= 1 else 1

    def result(self) -> float:
        c = float(self.count.value)
        return float(self.total.value) / c if c else 0.0


class MeanMetricWrapper(Mean):
    """``Mean`` of ``fn(y_true, y_pred, **kwargs)`` per sample (Keras' wrapper)."""

    sums_over_samples = True  # when fn is the engine's own (per-sample) function

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        # The engine's metric functions take ``metric=`` (the name their errors use);
        # a user's function ``fn(y_true, y_pred)`` is called as Keras calls it.
        try:
            self._named = "metric" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            self._named = False

    @property
    def fn(self):
        return self._fn

    def merges_batches(self) -> bool:
        # A user's fn may return one value per batch, which Mean counts once per call.
        return super().merges_batches() and \
            getattr(self._fn, "__module__", "").startswith("core.metrics")

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        extra = {"metric": self.name} if self._named else {}
        if not self._named:  # as Keras' wrapper: both cast to the metric's dtype
            y_true = np.asarray(y_true, dtype=self.dtype)
            y_pred = np.asarray(y_pred, dtype=self.dtype)
        values = self._fn(y_true, y_pred, **extra, **self._fn_kwargs)
        super().update_state(np.asarray(values), sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
