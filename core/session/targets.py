"""What a loss needs as targets, and which task (classification or regression) it is.

``task_for(loss, dataset_task)``: a regression loss (mse, mae, huber, ...) makes it a
regression; a crossentropy or hinge loss a classification; the data set's own ``task``
decides for the rest. ``class_targets`` turns class ids into what a classification loss
reads (ids, one-hot, a 0/1 column); ``regression_targets`` checks float targets against
the output's width.

>>> task_for("mse", "classification"), task_for("sparse_categorical_crossentropy", "regression")
('regression', 'classification')
>>> regression_targets("co2", np.array([1.5, 2.0]), 1).shape
(2, 1)
"""

from __future__ import annotations

import numpy as np

CLASS_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy",
                "binary_crossentropy", "hinge", "squared_hinge", "categorical_hinge",
                "binary_focal_crossentropy", "categorical_focal_crossentropy",
                "kl_divergence", "poisson")
REGRESSION_LOSSES = ("mse", "mae", "mape", "msle", "huber", "huber_loss", "log_cosh",
                     "logcosh", "mean_squared_error", "mean_absolute_error",
                     "mean_absolute_percentage_error", "mean_squared_logarithmic_error")


class TargetError(ValueError):
    """Targets that do not fit the loss or the output; the message names both."""


def task_for(loss: str, dataset_task: str = "classification") -> str:
    loss = (loss or "").lower()
    if loss in REGRESSION_LOSSES:
        return "regression"
    if loss in CLASS_LOSSES:
        return "classification"
    return dataset_task if dataset_task in ("classification", "regression") else \
        "classification"


def class_targets(name: str, y: np.ndarray, loss: str, num_outputs: int | None) -> np.ndarray:
    """Class ids -> the targets ``loss`` reads for an output of ``num_outputs`` values."""
    loss = (loss or "").lower()
    y = np.asarray(y)
    if not (np.issubdtype(y.dtype, np.integer) or
            (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0))):
        raise TargetError(f"{name}: the loss {loss} needs whole class numbers, but the labels "
                          f"are {y.dtype} values such as {float(y.reshape(-1)[0]):g}; "
                          "use a regression loss (mse, mae, huber) for numeric targets.")
    y = y.astype(np.int64).reshape(-1)
    n_cls = int(y.max()) + 1 if y.size else 0
    if loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        if num_outputs is not None and n_cls > num_outputs:
            raise TargetError(
                f"{name}: labels go up to {n_cls - 1} ({n_cls} classes) but the last layer "
                f"outputs {num_outputs} values. Use 'Set output units from data'.")
        if loss == "categorical_crossentropy":
            out = np.zeros((len(y), num_outputs or n_cls), np.float32)
            out[np.arange(len(y)), y] = 1.0
            return out
        return y.astype(np.int32)
    if loss in ("binary_crossentropy", "hinge", "squared_hinge"):
        if n_cls > 2:
            raise TargetError(f"{name}: {loss} needs labels 0/1 but the data has {n_cls} "
                              "classes.")
        return y.astype(np.float32).reshape(-1, 1)
    # another loss on class ids: one-hot so shapes match a softmax output
    if num_outputs is not None and num_outputs > 1:
        if n_cls > num_outputs:
            raise TargetError(f"{name}: {n_cls} classes but the last layer outputs "
                              f"{num_outputs} values.")
        out = np.zeros((len(y), num_outputs), np.float32)
        out[np.arange(len(y)), y] = 1.0
        return out
    return y.astype(np.float32).reshape(-1, 1)


def regression_targets(name: str, y: np.ndarray, num_outputs: int | None) -> np.ndarray:
    """Float targets as ``(n, num_outputs)`` float32; refuses NaN/inf and a width mismatch."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.number):
        raise TargetError(f"{name}: regression targets must be numbers, got dtype {y.dtype}.")
    y = y.astype(np.float32).reshape(len(y), -1)
    if not np.all(np.isfinite(y)):
        bad = int(np.flatnonzero(~np.isfinite(y).all(axis=1))[0])
        raise TargetError(f"{name}: target of sample {bad} is NaN or infinite.")
    if num_outputs is not None and y.shape[1] != num_outputs:
        raise TargetError(f"{name}: each target has {y.shape[1]} value(s) but the output "
                          f"layer gives {num_outputs}; set its units to {y.shape[1]}.")
    return y
