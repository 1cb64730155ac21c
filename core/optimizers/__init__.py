"""Keras 3 optimizers on fused numba kernels: ``SGD``, ``Adam``, ``AdamW``, ``RMSprop``,
``Adagrad``, plus ``schedules`` and Keras-style ``get``/``serialize``/``deserialize``.

The model calls ``optimizer.apply(grads, variables)`` once per step (grads[i] is
``variables[i].grad``); each variable is updated in place by one kernel call.

>>> import numpy as np
>>> from core.variables import Variable
>>> opt = get("adam")
>>> w = Variable(np.zeros(4, "float32"), name="kernel")
>>> opt.apply([np.ones(4, "float32")], [w])
>>> opt.iterations
1
>>> opt.learning_rate = 0.01  # may be changed at any time
>>> serialize(opt)["class_name"]
'Adam'
"""

from __future__ import annotations

from core.optimizers import schedules
from core.optimizers.base import Optimizer
from core.optimizers.rules import SGD, Adagrad, Adam, AdamW, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get",
           "serialize", "deserialize"]

_CLASSES = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad)}
_NAMES = {n.lower(): c for n, c in _CLASSES.items()}


ALL_OBJECTS_DICT = {**_CLASSES, **_NAMES}


def serialize(optimizer: Optimizer) -> dict:
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None} \
        if type(optimizer).__module__.startswith("core.") else _serialize(optimizer)


def _serialize(obj):
    from core.saving.keras_objects import serialize_keras_object

    return serialize_keras_object(obj)


def deserialize(config, custom_objects=None) -> Optimizer:
    """The optimizer a name or Keras config dict describes (class names matched without
    case, as Keras does); registered custom optimizers resolve too."""
    if isinstance(config, str):
        config = {"class_name": config, "config": {}}
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not deserialize optimizer from {config!r}; expected a name "
                         "or a dict with 'class_name' and 'config'.")
    from core.saving.keras_objects import (
        SerializationError,
        deserialize_keras_object,
        unknown_object_message,
    )

    config = dict(config)
    config.setdefault("config", {})
    name = config["class_name"]
    if isinstance(name, str) and name.lower() in _NAMES:
        config["class_name"] = _NAMES[name.lower()].__name__
    unknown = ValueError(f"Unknown optimizer {name!r}. Known optimizers: "
                         f"{', '.join(sorted(_CLASSES))}. " +
                         unknown_object_message("optimizer", str(name)))
    try:
        obj = deserialize_keras_object(config, custom_objects=custom_objects,
                                       module_objects=ALL_OBJECTS_DICT)
    except SerializationError as e:
        if "Could not locate" in str(e):
            raise unknown from None
        raise
    if not isinstance(obj, Optimizer):
        raise unknown
    return obj


def get(identifier) -> Optimizer:
    """An optimizer from a name ('sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', or the class
    name), a Keras config dict, or an Optimizer (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, (dict, str)):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
