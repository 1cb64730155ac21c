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
from core.losses.wrapper import LossFunctionWrapper

__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError",
    "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
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


# Keras' ``ALL_OBJECTS_DICT``: every name a config or ``get`` may use for a built-in.
ALL_OBJECTS_DICT = {**_CLASSES, "LossFunctionWrapper": LossFunctionWrapper,
                    **{f.__name__: f for f in _FUNCTIONS}, "mse": mean_squared_error,
                    "mae": mean_absolute_error, "MSE": mean_squared_error,
                    "MAE": mean_absolute_error, "huber_loss": huber, "bce": binary_crossentropy}


def serialize(loss) -> dict:
    """Keras 3's config of a loss object or function (``serialize_keras_object``)."""
    from core.saving.keras_objects import serialize_keras_object

    return serialize_keras_object(loss)


def deserialize(config, custom_objects=None):
    """The loss a name or Keras config dict describes; registered custom losses
    (``@register_keras_serializable``, ``custom_objects``) resolve too."""
    from core.saving.keras_objects import deserialize_keras_object, unknown_object_message

    obj = deserialize_keras_object(config, custom_objects=custom_objects,
                                   module_objects=ALL_OBJECTS_DICT)
    if isinstance(obj, str):
        raise ValueError(unknown_object_message("loss", obj) +
                         f" Known losses: {', '.join(sorted(_NAMES))}.")
    return obj


def get(identifier):
    """Loss instance from a name ('mse', 'categorical_crossentropy', 'CategoricalCrossentropy'),
    a Keras config dict, a Loss class or instance, or a function ``fn(y_true, y_pred)``
    (built-in or your own, written with ``core.ops``); None stays None. Registered
    custom losses resolve by their registered name too."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    obj = identifier
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _NAMES.get(identifier) or _NAMES.get(identifier.lower()) or \
            _CLASSES.get(identifier)
        if obj is None:
            from core.saving.object_registry import get_registered_object
            obj = get_registered_object(identifier)
        if obj is None:
            raise ValueError(f"Unknown loss {identifier!r}. Known losses: "
                             f"{', '.join(sorted(_NAMES))}; custom losses need "
                             "@keras.saving.register_keras_serializable().")
    if isinstance(obj, type) and issubclass(obj, Loss):
        return obj()
    if isinstance(obj, Loss):
        return obj
    if callable(obj) and obj in _FUNCTIONS:
        return _FUNCTIONS[obj]()
    if callable(obj) and not isinstance(obj, type):
        return LossFunctionWrapper(obj)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
