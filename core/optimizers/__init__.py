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


def serialize(optimizer: Optimizer) -> dict:
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config) -> Optimizer:
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not deserialize optimizer from {config!r}; expected a name "
                         "or a dict with 'class_name' and 'config'.")
    name = config["class_name"]
    cls = _CLASSES.get(name) or _NAMES.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer {name!r}. Known optimizers: "
                         f"{', '.join(sorted(_CLASSES))}.")
    return cls.from_config(config.get("config") or {})


def get(identifier) -> Optimizer:
    """An optimizer from a name ('sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', or the class
    name), a Keras config dict, or an Optimizer (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}. Known optimizers: "
                             f"{', '.join(sorted(_NAMES))}.")
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
