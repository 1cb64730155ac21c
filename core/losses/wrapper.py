"""``LossFunctionWrapper``: a plain loss function as a ``Loss`` (Keras 3's class).

``compile(loss=my_loss)`` with ``def my_loss(y_true, y_pred)`` written with
``core.ops`` gets this wrapper: per-sample values from the function, Keras'
reduction and sample weights from ``Loss``, and the gradient from the ops' VJPs.

>>> import numpy as np
>>> from core import ops
>>> def my_mse(y_true, y_pred):
...     return ops.mean(ops.square(y_true - y_pred), axis=-1)
>>> loss = LossFunctionWrapper(my_mse)
>>> value, grad = loss.value_and_grad(np.zeros((2, 2)), np.ones((2, 2)))
>>> value, grad.tolist()
(1.0, [[0.5, 0.5], [0.5, 0.5]])
"""

from __future__ import annotations

from core.losses.base import Loss, _same_rank


class LossFunctionWrapper(Loss):
    """``fn(y_true, y_pred, **kwargs)`` -> per-sample losses, as a ``Loss``."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(f"LossFunctionWrapper: fn must be callable, got {fn!r}.")
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = _same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        from core.saving.keras_objects import serialize_keras_object

        return {**super().get_config(), "fn": serialize_keras_object(self.fn),
                **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        from core.saving.keras_objects import deserialize_keras_object

        config = dict(config)
        config.pop("dtype", None)
        if "fn" in config:
            config["fn"] = deserialize_keras_object(config["fn"])
        return cls(**config)

    def __repr__(self):
        return f"<LossFunctionWrapper({getattr(self.fn, '__name__', self.fn)!r})>"
