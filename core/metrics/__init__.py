"""Keras 3 metrics: running means of per-sample scores and confusion-matrix metrics.

``get`` resolves ``'accuracy'``/``'acc'`` the way Keras' ``compile`` does: binary when
the output has one unit (or the loss is binary crossentropy), sparse categorical when the
labels have one dimension fewer than the output (or a trailing 1 against a multi-class
output), categorical otherwise; the metric keeps the name it was asked for.

>>> m = get("accuracy", y_true_shape=(None,), y_pred_shape=(None, 10))
>>> type(m).__name__, m.name
('SparseCategoricalAccuracy', 'accuracy')
>>> get("mae").name
'mae'
"""

from __future__ import annotations

import numpy as np

from core.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from core.metrics.auc import AUC, FalseNegatives, FalsePositives, TrueNegatives, TruePositives
from core.metrics.base import Mean, MeanMetricWrapper, Metric
from core.metrics.confusion import F1Score, FBetaScore, Precision, Recall
from core.metrics.reduction import MeanAbsolutePercentageError, Sum

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "MeanAbsoluteError", "MeanSquaredError",
           "Precision", "Recall", "TruePositives", "FalsePositives", "TrueNegatives",
           "FalseNegatives", "AUC", "FBetaScore", "F1Score", "Sum", "MeanAbsolutePercentageError",
           "get", "serialize", "deserialize",
           "resolve_accuracy", "DeferredAccuracy",
           # Keras 3's per-sample accuracy functions (keras.metrics.categorical_accuracy...)
           "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"]

_CLASSES = {c.__name__: c for c in (
    Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanAbsoluteError,
    MeanSquaredError, Precision, Recall, FBetaScore, F1Score, Sum,
    MeanAbsolutePercentageError, TruePositives, FalsePositives, TrueNegatives, FalseNegatives,
    AUC)}
_NAMES = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "precision": Precision, "recall": Recall, "f1_score": F1Score, "fbeta_score": FBetaScore,
    "mean": Mean, "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "true_positives": TruePositives, "false_positives": FalsePositives,
    "true_negatives": TrueNegatives, "false_negatives": FalseNegatives, "auc": AUC,
}
_RENAMED = {"mae", "mse", "mape", "mean_absolute_error", "mean_squared_error",
            "mean_absolute_percentage_error"}


def _is_binary_loss(loss) -> bool:
    if loss is None:
        return False
    if isinstance(loss, str):
        return loss.lower() in ("binary_crossentropy", "bce", "binarycrossentropy")
    if isinstance(loss, dict):
        return loss.get("class_name") == "BinaryCrossentropy"
    return type(loss).__name__ == "BinaryCrossentropy"


def _is_sparse_loss(loss) -> bool:
    if isinstance(loss, str):
        return loss.lower() in ("sparse_categorical_crossentropy",
                                "sparsecategoricalcrossentropy")
    if isinstance(loss, dict):
        return loss.get("class_name") == "SparseCategoricalCrossentropy"
    return type(loss).__name__ == "SparseCategoricalCrossentropy"


class DeferredAccuracy(Metric):
    """'accuracy' before the output shape is known: resolved on the first batch from the
    real y_true / y_pred shapes (as Keras does when it first sees data)."""

    def __init__(self, name="accuracy", loss=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._loss = loss
        self.resolved: Metric | None = None

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if self.resolved is None:
            self.resolved = resolve_accuracy(self.name, np.shape(y_true), np.shape(y_pred),
                                             self._loss)
        self.resolved.update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self):
        return 0.0 if self.resolved is None else self.resolved.result()

    def merges_batches(self) -> bool:
        return self.resolved is not None and self.resolved.merges_batches()

    def reset_state(self) -> None:
        if self.resolved is not None:
            self.resolved.reset_state()

    @property
    def variables(self):
        return [] if self.resolved is None else self.resolved.variables


def resolve_accuracy(name="accuracy", y_true_shape=None, y_pred_shape=None, loss=None):
    """The accuracy class Keras' compile_utils picks for these shapes (and loss); a
    ``DeferredAccuracy`` while the output shape is unknown."""
    if y_pred_shape is None:
        return DeferredAccuracy(name=name, loss=loss)
    p_last = y_pred_shape[-1] if len(y_pred_shape) else None
    if p_last == 1 or _is_binary_loss(loss):
        return BinaryAccuracy(name=name)
    if y_true_shape is None:  # labels not seen yet: the loss says what they will be
        sparse = _is_sparse_loss(loss)
    else:
        t_last = y_true_shape[-1] if len(y_true_shape) else None
        sparse = len(y_true_shape) < len(y_pred_shape) or (
            t_last == 1 and p_last is not None and p_last > 1)
    return (SparseCategoricalAccuracy if sparse else CategoricalAccuracy)(name=name)


ALL_OBJECTS_DICT = {**_CLASSES, **_NAMES, "MeanMetricWrapper": MeanMetricWrapper}


def serialize(metric) -> dict:
    """Keras 3's config of a metric (``serialize_keras_object``)."""
    from core.saving.keras_objects import serialize_keras_object

    return serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    """The metric a name or Keras config dict describes; registered custom metrics
    (``@register_keras_serializable``, ``custom_objects``) resolve too."""
    if isinstance(config, str) and config.lower() in ("accuracy", "acc"):
        return get(config)
    from core.saving.keras_objects import deserialize_keras_object, unknown_object_message

    obj = deserialize_keras_object(config, custom_objects=custom_objects,
                                   module_objects=ALL_OBJECTS_DICT)
    if isinstance(obj, str):
        raise ValueError(unknown_object_message("metric", obj) +
                         f" Known metrics: accuracy, acc, {', '.join(sorted(_NAMES))}.")
    return _as_metric(obj, config)


def _as_metric(obj, identifier, name=None):
    if isinstance(obj, type) and issubclass(obj, Metric):
        return obj(name=name) if name else obj()
    if isinstance(obj, Metric):
        return obj
    if callable(obj) and not isinstance(obj, type):
        return MeanMetricWrapper(obj, name=getattr(obj, "__name__", None))
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def get(identifier, y_true_shape=None, y_pred_shape=None, loss=None, output_shape=None):
    """A Metric from a name, a Keras config dict, a Metric class or instance (returned
    as is) or a function ``fn(y_true, y_pred)`` (wrapped in ``MeanMetricWrapper``).

    ``'accuracy'``/``'acc'`` need ``y_pred_shape`` (alias ``output_shape``; batch dim
    included, may be None) and use ``y_true_shape`` or the ``loss`` to pick the variant.
    Registered custom metrics resolve by their registered name too.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if not isinstance(identifier, str):
        return _as_metric(identifier, identifier)
    if identifier.lower() in ("accuracy", "acc"):
        return resolve_accuracy(identifier, y_true_shape,
                                y_pred_shape if y_pred_shape is not None else output_shape,
                                loss)
    cls = _NAMES.get(identifier) or _CLASSES.get(identifier) or _NAMES.get(identifier.lower())
    if cls is None:
        from core.saving.object_registry import get_registered_object

        custom = get_registered_object(identifier)
        if custom is not None:
            return _as_metric(custom, identifier)
        raise ValueError(f"Unknown metric {identifier!r}. Known metrics: accuracy, acc, "
                         f"{', '.join(sorted(_NAMES))}; custom metrics need "
                         "@keras.saving.register_keras_serializable().")
    return cls(name=identifier) if identifier in _RENAMED else cls()
