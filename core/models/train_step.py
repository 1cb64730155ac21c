"""Keras 3's public step methods: ``Model.train_step(data)``, ``test_step(data)``,
``predict_step(data)``, ``compute_metrics`` and ``get_metrics_result``.

``fit`` / ``evaluate`` / ``predict`` call a user's override once per batch with
``data`` packed as Keras does, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``,
and log what it returns. When a class does not override a step, the loops keep their
own fast path (``core.models.step.CompiledStep``, no per-batch packing), which is
also what the default methods below run, so ``super().train_step(data)`` in an
override trains exactly as the built-in loop. Overrides that work on every Keras
backend are the ones this supports: written with ``keras.ops``, ``self(x)``,
``compute_loss``, ``compute_metrics`` and metrics' ``update_state``; gradient code
for one backend (``tf.GradientTape``, ``jax.grad``, ``torch``'s ``backward``) has no
meaning here.

>>> import numpy as np
>>> import core as keras
>>> class Scaled(keras.Sequential):
...     def predict_step(self, data):
...         (x,) = data
...         return self(x, training=False) * 10.0
>>> m = Scaled([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones")])
>>> float(m.predict(np.ones((1, 2)), verbose=0)[0, 0])
20.0
"""

from __future__ import annotations

import numpy as np


def unpack_x_y_sample_weight(data):
    """Keras' ``keras.utils.unpack_x_y_sample_weight``: ``(x, y, sample_weight)``."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found: {data}")


def overridden(model, name: str) -> bool:
    """True when ``model``'s class defines its own ``name`` step (not ours)."""
    return getattr(type(model), name) is not getattr(StepMethods, name)


def pack(xs, ys, sw):
    """A batch as Keras hands it to a step: ``(x,)``, ``(x, y)``, ``(x, y, sw)``."""
    x = xs[0] if len(xs) == 1 else list(xs)
    y = None if not ys else (ys[0] if len(ys) == 1 else list(ys))
    if sw is not None:
        return x, y, sw
    return (x,) if y is None else (x, y)


def pythonify(logs) -> dict:
    """A step's returned logs as plain floats, nested dicts flattened (as Keras)."""
    if not isinstance(logs, dict):
        raise ValueError(f"A train_step/test_step must return a dict of logs, got "
                         f"{type(logs).__name__}.")
    out = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            out.update(pythonify(v))
        else:
            a = np.asarray(v)
            out[k] = float(a) if a.size == 1 else a
    return out


def reset_for_epoch(model) -> None:
    """Keras resets ``model.metrics`` before each epoch and evaluation."""
    for m in model.metrics:
        m.reset_state()


class LossTracker:
    """The ``loss`` entry of ``model.metrics`` (Keras' ``Mean(name="loss")``), kept in
    the compiled step's running sums so the built-in logs and overrides agree."""

    name = "loss"

    def __init__(self, model):
        self._model = model

    def update_state(self, values, sample_weight=None):
        step = self._model._step
        w = 1.0 if sample_weight is None else float(np.sum(sample_weight))
        step.loss_sum += float(np.mean(np.asarray(values, np.float64))) * w
        step.count += w

    def result(self):
        step = self._model._step
        return step.loss_sum / step.count if step.count else 0.0

    def reset_state(self):
        step = self._model._step
        step.loss_sum, step.count = 0.0, 0
        step.out_loss_sums = [0.0] * len(step.outputs)


class StepMethods:
    """Mixed into ``Model`` ahead of ``Trainer``."""

    @property
    def metrics(self) -> list:
        """Keras 3: the loss tracker first, then the compiled metrics."""
        if self._step is None:
            return []
        return [LossTracker(self)] + [m for spec in self._step.outputs for m in spec.metrics]

    def _step_lists(self, data):
        x, y, sw = unpack_x_y_sample_weight(data)
        if isinstance(x, dict) and hasattr(self, "_inputs_from_dict"):
            x = self._inputs_from_dict(x)
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        ys = [] if y is None else list(y) if isinstance(y, (list, tuple)) else [y]
        floats = [np.asarray(a) for a in xs]
        xs = [a.astype(self.dtype) if a.dtype.kind in "fiub" and a.dtype != self.dtype
              else a for a in floats]
        return xs, [np.asarray(a) for a in ys], sw

    def train_step(self, data):
        """One training step on ``data`` (the compiled loss, its gradient, the optimizer
        update, the metrics); returns the logs so far (``get_metrics_result``)."""
        xs, ys, sw = self._step_lists(data)
        self._step.train_step(xs, ys, sw)
        return self.get_metrics_result()

    def test_step(self, data):
        """One evaluation step on ``data``; returns the logs so far."""
        xs, ys, sw = self._step_lists(data)
        self._step.test_step(xs, ys, sw)
        return self.get_metrics_result()

    def predict_step(self, data):
        """The model's outputs for the batch ``data``."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics with this batch; returns ``get_metrics_result``."""
        preds = list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
        self._step._update_metrics(ys, [np.asarray(p) for p in preds])
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        """The current value of every metric (and the loss), as ``fit``'s logs."""
        return self._step.logs()
