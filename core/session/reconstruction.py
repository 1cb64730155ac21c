"""Image-output networks: the input itself as the target (an autoencoder), and why the
data set's labels cannot be one. No Qt.

A network whose output is an image (several values per sample along more than one
axis) cannot learn class labels or one number per sample. When its output has the
input's shape and the loss compares values (mse, mae, or binary_crossentropy after a
sigmoid), it can learn to reconstruct its input: ``TrainingSettings.target = "input"``
trains ``fit(x, x)``. ``reconstruction_results`` gives the results panel the
reconstruction error per pixel next to the error of always answering the mean training
image, and a few inputs beside their reconstructions.

>>> reconstruction_fit((None, 28, 28, 1), (None, 28, 28, 1), "mse", "sigmoid") is None
True
>>> reconstruction_fit((None, 28, 28, 1), (None, 14, 14, 1), "mse", None)[:44]
'its output has shape (14, 14, 1), not the in'
>>> image_output((None, 28, 28, 1)), image_output((None, 10))
(True, False)
"""

from __future__ import annotations

import numpy as np

RECONSTRUCTION_LOSSES = ("mse", "mean_squared_error", "mae", "mean_absolute_error",
                         "binary_crossentropy")
MAX_EXAMPLES = 8


def image_output(shape) -> bool:
    """True for an output with more than one axis per sample (an image, a sequence of
    vectors): what class labels or one value per sample cannot be compared with."""
    return shape is not None and len(tuple(shape)[1:]) >= 2


def reconstruction_fit(input_shape, output_shape, loss: str, activation) -> str | None:
    """Why the input cannot be this network's target (a clause), or None when it can."""
    want, have = tuple(input_shape or ())[1:], tuple(output_shape or ())[1:]
    if have != want:
        return f"its output has shape {have}, not the input's {want}"
    loss = (loss or "").lower()
    if loss not in RECONSTRUCTION_LOSSES:
        return (f"the loss {loss} does not compare values (use mse, mae, or "
                "binary_crossentropy with a sigmoid output)")
    if loss == "binary_crossentropy" and activation != "sigmoid":
        return (f"binary_crossentropy needs values in [0, 1], but the output's activation "
                f"is {activation or 'linear'} (use sigmoid, or mse)")
    return None


def reconstruction_targets(what: str, x, sample_shape) -> np.ndarray:
    """The (scaled) input samples as the targets of an output whose samples have
    ``sample_shape``; ``ValueError`` naming ``what`` when the shapes differ."""
    have = tuple(sample_shape or ())
    if tuple(np.shape(x)[1:]) != have:
        raise ValueError(f"{what}: the target is the input itself, but the input's samples "
                         f"have shape {tuple(np.shape(x)[1:])} and the output gives {have}. "
                         "Make the output the input's shape, or train on the labels.")
    return x


def _errors(x, y) -> dict:
    """Mean squared and mean absolute error per value between ``x`` and ``y``."""
    d = np.asarray(y, np.float64) - np.asarray(x, np.float64)
    return {"mean_squared_error": float(np.mean(d ** 2)),
            "mean_absolute_error": float(np.mean(np.abs(d)))}


def reconstruction_results(pred, x, x_train) -> dict:
    """``reconstruction`` (mean squared error per value, mean absolute error), the same
    for the mean training image (``mean_image``) and the first samples with their
    reconstructions (``examples``: a list of ``(input, reconstruction)`` arrays)."""
    pred = np.asarray(pred, np.float32).reshape(np.shape(x))
    mean_image = np.mean(np.asarray(x_train, np.float64), axis=0)
    base = np.broadcast_to(mean_image, np.shape(x))
    return {
        "reconstruction": _errors(x, pred),
        "mean_image": _errors(x, base),
        "examples": [(np.array(x[i], copy=True), np.array(pred[i], copy=True))
                     for i in range(min(MAX_EXAMPLES, len(x)))],
    }
