"""Keras 3 activations: ``get``, ``serialize`` and the ``keras.activations`` functions.

``get(name | function | Activation | dict | None)`` returns an ``Activation``
object (``.name``, ``forward(x, inplace=False) -> (y, cache)``,
``backward(cache, dy) -> dx``, ``__call__``); ``None`` gives ``linear``, which
returns its input itself. ``serialize(act)`` gives the Keras name string
(``"relu"``), as Keras 3 stores builtin activations in layer configs.
Unknown names raise ``ValueError`` listing the known ones.

The functions (``relu(x, negative_slope=0.0, max_value=None, threshold=0.0)``,
``softmax(x, axis=-1)``, ``leaky_relu(x, negative_slope=0.2)``,
``gelu(x, approximate=False)``, ...) take Keras' arguments and defaults. Not
provided: ``crelu`` and ``glu`` (they change the output shape), ``sparsemax``
and ``threshold`` (no defaults, so never named as a layer's activation).

>>> import numpy as np
>>> get("relu").name
'relu'
>>> softmax(np.zeros((1, 4))).tolist()
[[0.25, 0.25, 0.25, 0.25]]
>>> serialize(get(None))
'linear'
"""

from __future__ import annotations

from core.activation_elementwise import (
    CELU,
    Exponential,
    HardShrink,
    HardSigmoid,
    HardSiLU,
    HardTanh,
    LogSigmoid,
    Mish,
    ReLU6,
    Sigmoid,
    SiLU,
    Softplus,
    SoftShrink,
    Softsign,
    SparsePlus,
    SparseSigmoid,
    Squareplus,
    Tanh,
    TanhShrink,
)
from core.activation_ops import (
    ELU,
    GELU,
    SELU,
    Activation,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Softmax,
    _as_float,
)

# One shared, stateless instance per builtin name (Keras' default arguments).
_BUILTIN: dict[str, Activation] = {a.name: a for a in (
    Activation(), ReLU(), LeakyReLU(), ReLU6(), Softmax(), LogSoftmax(), ELU(), SELU(),
    GELU(), Sigmoid(), Tanh(), Exponential(), HardSigmoid(), HardSiLU(), Softplus(),
    Softsign(), SiLU(), Mish(), CELU(), HardTanh(), HardShrink(), SoftShrink(), TanhShrink(),
    LogSigmoid(), Squareplus(), SparsePlus(), SparseSigmoid())}
_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}


def known_names() -> list[str]:
    """Every accepted name, aliases (``swish``, ``hard_swish``) included."""
    return sorted(set(_BUILTIN) | set(_ALIASES))


def available() -> list[str]:
    """The canonical names, one per activation (what an editor offers in a list)."""
    return sorted(_BUILTIN)


# ---------------------------------------------------- keras.activations functions
def linear(x):
    return _as_float(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    return ReLU(negative_slope, max_value, threshold)(x)


def leaky_relu(x, negative_slope=0.2):
    return LeakyReLU(negative_slope)(x)


def relu6(x):
    return _BUILTIN["relu6"](x)


def softmax(x, axis=-1):
    return Softmax(axis)(x)


def log_softmax(x, axis=-1):
    return LogSoftmax(axis)(x)


def elu(x, alpha=1.0):
    return ELU(alpha)(x)


def selu(x):
    return _BUILTIN["selu"](x)


def gelu(x, approximate=False):
    return GELU(approximate)(x)


def sigmoid(x):
    return _BUILTIN["sigmoid"](x)


def tanh(x):
    return _BUILTIN["tanh"](x)


def exponential(x):
    return _BUILTIN["exponential"](x)


def hard_sigmoid(x):
    return _BUILTIN["hard_sigmoid"](x)


def hard_silu(x):
    return _BUILTIN["hard_silu"](x)


def softplus(x):
    return _BUILTIN["softplus"](x)


def softsign(x):
    return _BUILTIN["softsign"](x)


def silu(x):
    return _BUILTIN["silu"](x)


def mish(x):
    return _BUILTIN["mish"](x)


def celu(x, alpha=1.0):
    return CELU(alpha)(x)


def hard_tanh(x):
    return _BUILTIN["hard_tanh"](x)


def hard_shrink(x, threshold=0.5):
    return HardShrink(threshold)(x)


def soft_shrink(x, threshold=0.5):
    return SoftShrink(threshold)(x)


def tanh_shrink(x):
    return _BUILTIN["tanh_shrink"](x)


def log_sigmoid(x):
    return _BUILTIN["log_sigmoid"](x)


def squareplus(x, b=4):
    return Squareplus(b)(x)


def sparse_plus(x):
    return _BUILTIN["sparse_plus"](x)


def sparse_sigmoid(x):
    return _BUILTIN["sparse_sigmoid"](x)


swish = silu
hard_swish = hard_silu

_FUNCTIONS = {f: f.__name__ for f in (
    linear, relu, leaky_relu, relu6, softmax, log_softmax, elu, selu, gelu, sigmoid, tanh,
    exponential, hard_sigmoid, hard_silu, softplus, softsign, silu, mish, celu, hard_tanh,
    hard_shrink, soft_shrink, tanh_shrink, log_sigmoid, squareplus, sparse_plus,
    sparse_sigmoid)}


# ---------------------------------------------------------------- get / serialize
def _unknown(identifier):
    return ValueError(f"Unknown activation {identifier!r}; known activations: "
                      f"{', '.join(known_names())}.")


ALL_OBJECTS_DICT = {**_BUILTIN, **{k: _BUILTIN[v] for k, v in _ALIASES.items()}}


def get(identifier=None) -> Activation:
    """Resolve ``identifier`` to an ``Activation`` (``None`` -> linear): a name, a
    Keras function dict, an Activation, a built-in function, or your own function of
    ``core.ops`` (registered ones also by their registered name)."""
    if identifier is None:
        return _BUILTIN["linear"]
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        act = _BUILTIN.get(_ALIASES.get(identifier, identifier))
        if act is None:
            from core.saving.object_registry import get_registered_object

            custom = get_registered_object(identifier)
            if custom is None:
                raise _unknown(identifier)
            return get(custom)
        return act
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Activation):
        return identifier()
    if callable(identifier) and identifier in _FUNCTIONS:
        return _BUILTIN[_FUNCTIONS[identifier]]
    if callable(identifier) and not isinstance(identifier, type):
        from core.activation_function import FunctionActivation

        return FunctionActivation(identifier)
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


def serialize(activation):
    """What a layer config holds: the Keras name of a built-in (``"relu"``), Keras'
    function dict (registered name) for your own function."""
    act = get(activation)
    if getattr(act, "_keras_function", None) is not None:
        from core.saving.keras_objects import serialize_keras_object

        return serialize_keras_object(act)
    if type(act).__module__.startswith("core."):
        return act.name
    from core.saving.keras_objects import serialize_keras_object

    return serialize_keras_object(act)  # a user Activation subclass: its class config


def deserialize(config, custom_objects=None) -> Activation:
    """A name or Keras 3's dict (``{"class_name": "function", "config": "relu"}``, or a
    registered custom one)."""
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return get(custom_objects[config])
        return get(config)
    if isinstance(config, dict):
        from core.saving.keras_objects import deserialize_keras_object

        obj = deserialize_keras_object(config, custom_objects=custom_objects,
                                       module_objects=ALL_OBJECTS_DICT)
        if isinstance(obj, str):
            return get(obj)
        return get(obj)
    raise ValueError(f"Cannot deserialize activation from {config!r}; expected a name such as "
                     f"'relu' or a Keras function config dict.")


__all__ = [
    "Activation", "ReLU", "LeakyReLU", "Softmax", "LogSoftmax", "ELU", "SELU", "GELU", "Sigmoid",
    "Tanh", "Exponential", "ReLU6", "HardSigmoid", "Softplus", "Softsign", "SiLU", "HardSiLU",
    "Mish", "CELU", "HardTanh", "HardShrink", "SoftShrink", "TanhShrink", "LogSigmoid",
    "Squareplus", "SparsePlus", "SparseSigmoid", "get", "serialize", "deserialize", "known_names",
    "available", "linear", "relu", "leaky_relu", "relu6", "softmax", "log_softmax", "elu", "selu",
    "gelu", "sigmoid", "tanh", "exponential", "hard_sigmoid", "hard_silu", "hard_swish",
    "softplus", "softsign", "silu", "swish", "mish", "celu", "hard_tanh", "hard_shrink",
    "soft_shrink", "tanh_shrink", "log_sigmoid", "squareplus", "sparse_plus", "sparse_sigmoid",
]
