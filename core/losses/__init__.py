"""Keras losses with analytic gradients: value, d(mean loss)/d(y_pred), and the fused
softmax-crossentropy gradient for classifiers.

Semantics follow ``keras.losses`` (Keras 3): per-sample losses are averaged over the
last axis, probabilities are clipped to ``[1e-7, 1 - 1e-7]`` (categorical ones are
first renormalised to sum to 1), and the default reduction ``sum_over_batch_size``
divides the (sample-weighted) sum by the number of per-sample losses. Inputs are
computed in y_pred's float dtype (``floatx`` for non-float input) unless ``dtype``
is given.

>>> import numpy as np
>>> cce = get("categorical_crossentropy")
>>> y = np.array([[0, 1, 0], [0, 0, 1]], "float32")
>>> p = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], "float32")
>>> round(cce(y, p), 3)
1.177
>>> loss, dp = cce.value_and_grad(y, p)
>>> dlogits = cce.logits_grad(y, p)  # (p - y) / N, when p came out of a softmax
"""

from __future__ import annotations

from core.losses.base import Loss
from core.losses.crossentropy import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
)
from core.losses.regression import Huber, MeanAbsoluteError, MeanSquaredError

__all__ = [
    "Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "mean_squared_error",
    "mean_absolute_error", "huber", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "mse", "mae", "get", "serialize", "deserialize",
]


# ---------------------------------------------------------- function forms
def mean_squared_error(y_true, y_pred):
    return MeanSquaredError(reduction=None).call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    return MeanAbsoluteError(reduction=None).call(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    return Huber(delta, reduction=None).call(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return BinaryCrossentropy(from_logits, label_smoothing, axis, reduction=None).call(
        y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return CategoricalCrossentropy(from_logits, label_smoothing, axis, reduction=None).call(
        y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    return SparseCategoricalCrossentropy(from_logits, ignore_class, reduction=None,
                                         axis=axis).call(y_true, y_pred)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

_CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, Huber,
                                    BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy)}
_NAMES = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              huber: Huber, binary_crossentropy: BinaryCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy}


def serialize(loss: Loss) -> dict:
    return {"module": "keras.losses", "class_name": type(loss).__name__,
            "config": loss.get_config(), "registered_name": None}


def deserialize(config):
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not deserialize loss from {config!r}; expected a name or a "
                         "dict with 'class_name' and 'config'.")
    name = config["class_name"]
    cls = _CLASSES.get(name) or _NAMES.get(name)
    if cls is None:
        raise ValueError(f"Unknown loss class {name!r}. Known losses: {sorted(_CLASSES)}.")
    return cls.from_config(config.get("config") or {})


def get(identifier):
    """Loss instance from a name ('mse', 'categorical_crossentropy', 'CategoricalCrossentropy'),
    a Keras config dict, a function form or a Loss; None stays None."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier) or _NAMES.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown loss {identifier!r}. Known losses: "
                             f"{', '.join(sorted(_NAMES))}.")
        return cls()
    if callable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    raise ValueError(f"Could not interpret loss identifier {identifier!r}: custom loss "
                     "callables have no gradient in this engine; use a built-in loss.")

