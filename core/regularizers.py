"""Keras 3 weight regularizers: ``L1``, ``L2``, ``L1L2`` (aliases ``l1``, ``l2``, ``l1_l2``).

A regularizer maps a weight to a penalty that training adds to the loss (and its
gradient to the weight's gradient): ``L1(l1)`` is ``l1 * sum(|w|)``, ``L2(l2)`` is
``l2 * sum(w**2)`` (no 1/2), ``L1L2`` both. Layers take them as
``kernel_regularizer=``/``bias_regularizer=`` (Dense, Conv2D) and
``gamma_regularizer=``/``beta_regularizer=`` (BatchNormalization); a custom layer
passes one to ``add_weight(regularizer=...)``. Penalties count only for trainable
weights, in ``fit``'s and ``evaluate``'s loss alike, as in Keras 3, and
``model.losses`` lists them.

A penalty is an op (``core.ops``): the built-ins' forward and VJP are the numba
kernels of ``core/kernels/regularize.py``; your own regularizer, a ``Regularizer``
subclass whose ``__call__`` uses ``core.ops`` or a plain function of ``core.ops``
(as in Keras), gets the VJP of the ops it calls. Training calls each penalty on the
weight itself under the step's tape (``weight_penalties``), so one ``tape.backward``
carries the loss's and the penalties' gradients alike.

``get`` takes None, a regularizer, a Keras string id (``"l1"``, ``"l2"``,
``"l1l2"`` or the class names, each with its default factor), a serialized dict or
a callable; ``serialize`` writes Keras' dict (a function by its registered name).
Keras' ``OrthogonalRegularizer`` is refused with a ``ValueError`` rather than ignored.

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


def _value(K, x, l1, l2) -> float:
    if x.dtype.char in "fd":
        return K.penalty(np.ascontiguousarray(x).reshape(-1), l1, l2)
    return K.penalty_ref(x, l1, l2)


def _write_grad(buf, accumulate, K, x, a, b):
    """``a * sign(x) + 2 * b * x`` into ``buf`` (added when ``accumulate``): the VJP of a
    penalty as a ``GradWriter``, so the kernel writes straight into a weight's gradient
    buffer, with no temporary of the weight's size."""
    if x.dtype.char in "fd" and buf.dtype == x.dtype and x.flags.c_contiguous and \
            buf.flags.c_contiguous:
        K.penalty_grad(x.reshape(-1), buf.reshape(-1), a, b, accumulate)
    else:
        K.penalty_grad_ref(x, buf, a, b, accumulate)


def _penalty_forward(x, l1, l2):
    from core import backend
    from core.kernels import regularize as K
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(backend.floatx())
    return np.asarray(_value(K, x, l1, l2), dtype), (x, l1, l2)


def _penalty_vjp(cache, g, need):
    from core.kernels import regularize as K
    from core.ops.engine import GradWriter
    x, l1, l2 = cache
    if not need[0] or x.dtype.kind != "f":
        return [None]
    s = float(g)
    return [GradWriter(_write_grad, K, x, l1 * s, l2 * s)]


def _fused_forward(*xs, factors):
    """The summed penalties of several weights (float64: the loss is summed in Python
    floats): one op per step for all built-in penalties, however many weights."""
    from core.kernels import regularize as K
    total = 0.0
    for x, (l1, l2) in zip(xs, factors):
        # (weights are float and C-contiguous: the kernel on their flat view)
        total += K.penalty(x.reshape(-1), l1, l2) if x.dtype.char in "fd" and \
            x.flags.c_contiguous else _value(K, x, l1, l2)
    return np.asarray(total), (xs, factors)


def _fused_vjp(cache, g, need):
    from core.kernels import regularize as K
    from core.ops.engine import GradWriter
    xs, factors = cache
    s = float(g)
    return [GradWriter(_write_grad, K, x, l1 * s, l2 * s) if n and x.dtype.kind == "f"
            else None for x, (l1, l2), n in zip(xs, factors, need)]


class Regularizer:
    """Base class (Keras'): ``__call__(x)`` is the penalty of a weight or a layer output,
    a scalar of ``x``'s dtype. The built-ins are one op, ``l1 * sum(|x|) + l2 *
    sum(x**2)``, whose forward and VJP are the numba kernels of
    ``core/kernels/regularize.py``; a subclass writes ``__call__`` with ``core.ops``, as
    in Keras (so does a plain function passed as a regularizer). Either way, under a
    training tape the penalty is recorded like any op and its gradient reaches the
    weight through ``tape.backward`` (``penalties_on_tape``)."""

    l1 = 0.0
    l2 = 0.0

    def __call__(self, x):
        from core.ops.engine import run
        return run("l1_l2_penalty", _penalty_forward, _penalty_vjp, [x],
                   {"l1": self.l1, "l2": self.l2})

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
    """A regularizer from None, an instance, a class, a Keras string id, a dict or a
    callable; registered custom ones (``Regularizer`` subclasses, functions) resolve by
    name too."""
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
    if callable(identifier) and not isinstance(identifier, type):
        return identifier  # Keras: any callable of the weight (written with core.ops)
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}; "
                     "use L1, L2, L1L2, a subclass of Regularizer or a function of "
                     "core.ops (OrthogonalRegularizer is not supported).")


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
    if not isinstance(obj, Regularizer) and (isinstance(obj, type) or not callable(obj)):
        raise ValueError(f"Could not interpret regularizer identifier: {config!r}; "
                         "known classes: L1, L2, L1L2.")
    return obj


def weight_penalties(variables) -> list:
    """The penalties of ``variables`` (each with a regularizer) as ops on the variables
    themselves: under a tape each is recorded with the variable as its input, so
    ``tape.backward(penalties, ones)`` writes their gradients into the variables'
    gradient buffers (a built-in through its kernel, adding to what the layers wrote).
    The built-ins' penalties are summed by one op (one tape record a step, however many
    weights); each other regularizer is called on its variable. One whose value does
    not reach the weight through ops (plain numpy on it) raises ``ValueError`` naming
    it, rather than training without its gradient.

    >>> from core.autodiff import Tape
    >>> from core.variables import Variable
    >>> w = Variable(np.array([1.0, -2.0]), name="w")
    >>> w.regularizer = L1(0.5)
    >>> with Tape() as tape:
    ...     (p,) = weight_penalties([w])
    >>> _ = tape.backward([p], [np.ones(())])
    >>> float(p), w.grad.tolist()
    (1.5, [0.5, -0.5])
    """
    from core import backend
    from core.ops.engine import run
    tape = backend.get_tape()
    builtin, out = [], []
    for v in variables:
        reg = v.regularizer
        if type(reg).__call__ is Regularizer.__call__:
            builtin.append(v)
            continue
        p = reg(v)
        if tape is not None and not tape.needs_grad(p):
            name = getattr(reg, "__name__", type(reg).__name__)
            raise ValueError(f"Regularizer {name} of weight '{v.path or v.name}' does not "
                             "compute its penalty with core.ops, so it has no gradient.")
        out.append(p)
    if builtin:
        factors = [(v.regularizer.l1, v.regularizer.l2) for v in builtin]
        out.insert(0, run("weight_penalties", _fused_forward, _fused_vjp, builtin,
                          {"factors": factors}))
    return out
