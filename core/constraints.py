"""Keras 3 weight constraints: ``MaxNorm``, ``NonNeg``, ``UnitNorm``, ``MinMaxNorm``.

A constraint projects a weight after every optimizer update (Keras 3 applies it in
``optimizer.apply``, after the update and the EMA). Layers take them as
``kernel_constraint=``/``bias_constraint=`` (Dense, Conv2D) and
``gamma_constraint=``/``beta_constraint=`` (BatchNormalization); a custom layer passes
one to ``add_weight(constraint=...)``. The formulas are Keras' own, epsilon 1e-7
included: ``MaxNorm`` scales ``w`` by ``clip(norm, 0, max_value) / (1e-7 + norm)``,
so even a weight inside the bound moves by that epsilon, exactly as in Keras.

``get`` takes None, a constraint, its class, a Keras string id (``"max_norm"``,
``"non_neg"``, ``"unit_norm"``, ``"min_max_norm"`` or the class names) or a
serialized dict; ``serialize`` writes Keras' dict. Functions are refused.

>>> w = np.array([[3.0, 0.0], [4.0, 1.0]])
>>> MaxNorm(max_value=2.5)(w).round(6).tolist()
[[1.5, 0.0], [2.0, 1.0]]
>>> NonNeg()(np.array([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-7  # keras.backend.epsilon()


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=_axis(axis), keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight (the identity here)."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        eps = w.dtype.type(EPSILON)
        return w * (np.clip(norms, 0, self.max_value) / (eps + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w):
        return np.maximum(w, 0)


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (w.dtype.type(EPSILON) + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = (self.rate * np.clip(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms).astype(w.dtype)
        return w * (desired / (w.dtype.type(EPSILON) + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value,
                "rate": self.rate, "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_CLASSES = (MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
_BY_NAME = {c.__name__: c for c in _CLASSES}
_BY_NAME.update({"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
                 "min_max_norm": MinMaxNorm})


ALL_OBJECTS_DICT = dict(_BY_NAME)


def get(identifier):
    """A constraint from None, an instance, a class, a Keras string id or a dict;
    registered custom ones (subclasses of ``Constraint``) resolve by name too."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            from core.saving.object_registry import get_registered_object

            cls = get_registered_object(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret constraint identifier: {identifier!r}; "
                             f"known: {sorted(_BY_NAME)}.")
        return get(cls)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    raise ValueError(f"Could not interpret constraint identifier: {identifier!r}; known: "
                     f"{sorted(_BY_NAME)} or a subclass of Constraint (functions are not "
                     "supported).")


def serialize(constraint):
    """Keras 3's dict for a constraint (None stays None)."""
    if constraint is None:
        return None
    from core.saving.keras_objects import serialize_keras_object

    return serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    """The constraint a Keras dict describes (built-in or registered custom)."""
    from core.saving.keras_objects import deserialize_keras_object

    try:
        obj = deserialize_keras_object(config, custom_objects=custom_objects,
                                       module_objects=ALL_OBJECTS_DICT)
    except ValueError as e:
        raise ValueError(f"Could not interpret constraint identifier: {config!r} ({e})") \
            from None
    if not isinstance(obj, Constraint):
        raise ValueError(f"Could not interpret constraint identifier: {config!r}; known "
                         "classes: MaxNorm, NonNeg, UnitNorm, MinMaxNorm.")
    return obj
