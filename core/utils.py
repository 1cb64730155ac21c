"""Keras' small utilities: ``to_categorical``, ``set_random_seed``, ``normalize``,
``Progbar`` (as ``keras.utils.Progbar``), ``image_dataset_from_directory``
(numpy batches: ``core.datasets.image_folder``), ``plot_model`` (``core.plotting``: SVG/PNG
without graphviz), and the custom-object registry functions Keras also exports here
(``register_keras_serializable``, ``serialize_keras_object``... as in ``core.saving``).

>>> to_categorical([0, 2, 1]).tolist()
[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
>>> set_random_seed(42)   # same seed + same data -> same weights and History
"""

from __future__ import annotations

import random as _py_random

import numpy as np

from core.callbacks.progbar import Progbar
from core.datasets.image_folder import image_dataset_from_directory
from core.models.py_dataset import PyDataset
from core.saving.keras_objects import deserialize_keras_object, serialize_keras_object
from core.saving.object_registry import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from core.sequence_utils import pad_sequences, timeseries_dataset_from_array

# Keras 3 exports the custom-object registry from keras.utils too (the same functions as
# keras.saving): guides write @keras.utils.register_keras_serializable and
# keras.utils.deserialize_keras_object.
__all__ = ["CustomObjectScope", "Progbar", "PyDataset", "custom_object_scope",
           "deserialize_keras_object", "get_custom_objects", "get_registered_name",
           "get_registered_object", "image_dataset_from_directory", "normalize",
           "pad_sequences", "plot_model", "register_keras_serializable",
           "serialize_keras_object", "set_random_seed", "timeseries_dataset_from_array",
           "to_categorical"]


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, splines="ortho",
               **kwargs):
    """``keras.utils.plot_model``, writing SVG or PNG with no graphviz (``core.plotting``)."""
    from core.plotting import plot_model as _plot
    return _plot(model, to_file, show_shapes=show_shapes, show_dtype=show_dtype,
                 show_layer_names=show_layer_names, rankdir=rankdir,
                 expand_nested=expand_nested, dpi=dpi,
                 show_layer_activations=show_layer_activations,
                 show_trainable=show_trainable, splines=splines, **kwargs)


def to_categorical(x, num_classes=None) -> np.ndarray:
    """One-hot encode integer labels (Keras: a trailing axis of size 1 is dropped)."""
    x = np.asarray(x)
    if x.dtype.kind == "f":
        bad = ~(np.isfinite(x) & (np.mod(x, 1) == 0))
        if bad.any():
            raise ValueError("to_categorical: labels must be integers, received non-integer "
                             f"values such as {x[bad].flat[0].item()!r}.")
    elif x.dtype.kind not in "biu":
        raise ValueError(f"to_categorical: labels must be integers, received dtype {x.dtype}.")
    x = x.astype(np.int64)
    shape = x.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if x.size and x.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, received {int(x.min())}.")
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    elif x.size and x.max() >= num_classes:
        raise ValueError(f"to_categorical: label {int(x.max())} is out of range for "
                         f"num_classes={num_classes}.")
    from core.safety import array_bytes, check_allocation
    check_allocation(array_bytes((x.size, int(num_classes)), 4),
                     f"to_categorical: one-hot labels of shape ({x.size}, {int(num_classes)})")
    out = np.zeros((x.size, int(num_classes)), dtype="float32")
    out[np.arange(x.size), x] = 1.0
    return out.reshape(shape + (int(num_classes),))


def set_random_seed(seed) -> None:
    """Seed the engine RNG (weights, dropout, shuffling), numpy's and Python's."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: seed={seed!r} is invalid; expected a non-negative "
                         "integer.")
    from core import random as core_random

    seed = int(seed)
    core_random.set_seed(seed)
    np.random.seed(seed % (2**32))
    _py_random.seed(seed)


def normalize(x, axis=-1, order=2) -> np.ndarray:
    """Scale ``x`` to unit ``order``-norm along ``axis`` (zero vectors stay zero)."""
    x = np.asarray(x)
    x = x.astype(x.dtype if x.dtype.kind == "f" else "float32")
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)
