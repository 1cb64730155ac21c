"""Keras 3 weight regularizers: ``L1``, ``L2``, ``L1L2`` (aliases ``l1``, ``l2``, ``l1_l2``).

A regularizer maps a weight to a penalty that training adds to the loss (and its
gradient to the weight's gradient): ``L1(l1)`` is ``l1 * sum(|w|)``, ``L2(l2)`` is
``l2 * sum(w**2)`` (no 1/2), ``L1L2`` both. Layers take them as
``kernel_regularizer=``/``bias_regularizer=`` (Dense, Conv2D) and
``gamma_regularizer=``/``beta_regularizer=`` (BatchNormalization); a custom layer
passes one to ``add_weight(regularizer=...)``. Penalties count only for trainable
weights, in ``fit``'s and ``evaluate``'s loss alike, as in Keras 3, and
``model.losses`` lists them.

``get`` takes None, a regularizer, a Keras string id (``"l1"``, ``"l2"``,
``"l1l2"`` or the class names, each with its default factor) or a serialized dict;
``serialize`` writes Keras' dict. Keras' ``OrthogonalRegularizer`` and plain
functions are refused with a ``ValueError`` rather than ignored.

>>> get("l2").get_config()
{'l2': 0.01}
>>> float(L1L2(l1=0.5, l2=0.1)(np.array([-2.0, 0.0, 3.0])))
3.8
"""

from __future__ import annotations

import math

import numpy as np


def _factor(value, name: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer))
            or not math.isfinite(value) or value < 0):
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. "
                         f"Received: {name}={value!r}")
    return float(value)


class Regularizer:
    """Base class: ``__call__(x)`` is the penalty, ``add_gradient(x, grad)`` adds its
    gradient to ``grad`` in place."""

    l1 = 0.0
    l2 = 0.0

    def __call__(self, x):
        from core.kernels import regularize
        x = np.ascontiguousarray(x)
        if x.dtype.char not in "fd":
            return regularize.penalty_ref(x, self.l1, self.l2)
        return regularize.penalty(x.reshape(-1), self.l1, self.l2)

    def add_gradient(self, x, grad) -> None:
        if type(self).__call__ is not Regularizer.__call__:
            # A user subclass (Keras style: ``__call__`` written with core.ops): the
            # gradient of its penalty is the VJP of those ops.
            from core.ops.function_grad import record_function

            _, backward = record_function(self.__call__, [x])
            if not backward.connected:
                raise ValueError(f"Regularizer {type(self).__name__}: __call__ does not "
                                 "compute its penalty with core.ops, so it has no gradient.")
            grad += backward(1.0)[0].astype(grad.dtype, copy=False)
            return
        from core.kernels import regularize
        if x.dtype.char in "fd" and x.flags.c_contiguous and grad.flags.c_contiguous:
            regularize.add_gradient(x.reshape(-1), grad.reshape(-1), self.l1, self.l2)
        else:
            regularize.add_gradient_ref(x, grad, self.l1, self.l2)

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1(Regularizer):
    def __init__(self, l1=0.01):
        # Keras keeps l1 as a float32 tensor and writes float(tensor): 0.01 is stored
        # as 0.009999999776482582, so we keep the same number.
        self.l1 = float(np.float32(_factor(l1, "l1")))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2")

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2  # Keras' lower-case aliases (of the classes themselves)

_BY_NAME = {"L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1l2": L1L2}


ALL_OBJECTS_DICT = dict(_BY_NAME)


def get(identifier):
    """A regularizer from None, an instance, a class, a Keras string id or a dict;
    registered custom ones (subclasses of ``Regularizer``) resolve by name too."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            from core.saving.object_registry import get_registered_object

            cls = get_registered_object(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret regularizer identifier: {identifier!r} "
                             f"(known: {sorted(_BY_NAME)}).")
        return get(cls)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}; "
                     "use L1, L2, L1L2 or a subclass of Regularizer (plain functions and "
                     "OrthogonalRegularizer are not supported).")


def serialize(regularizer):
    """Keras 3's dict for a regularizer (None stays None)."""
    if regularizer is None:
        return None
    from core.saving.keras_objects import serialize_keras_object

    return serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    """The regularizer a Keras dict describes (built-in or registered custom)."""
    from core.saving.keras_objects import deserialize_keras_object

    name = config.get("class_name") if isinstance(config, dict) else None
    if isinstance(name, str) and name in _BY_NAME and _BY_NAME[name].__name__ != name:
        raise ValueError(f"Could not interpret regularizer identifier: {config!r}; "
                         "known classes: L1, L2, L1L2.")
    try:
        obj = deserialize_keras_object(config, custom_objects=custom_objects,
                                       module_objects=ALL_OBJECTS_DICT)
    except ValueError as e:
        raise ValueError(f"Could not interpret regularizer identifier: {config!r} ({e})") \
            from None
    if not isinstance(obj, Regularizer):
        raise ValueError(f"Could not interpret regularizer identifier: {config!r}; "
                         "known classes: L1, L2, L1L2.")
    return obj
