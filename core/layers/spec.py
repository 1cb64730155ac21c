"""Declarative layer argument specs and the one layer registry.

Every layer class declares ``group`` (palette section), ``num_inputs`` and a
tuple of ``Param`` describing its constructor arguments. From that single
source the engine validates arguments (``check``), the graph document checks
configs, and the editor builds its palette and inspector forms, so adding a
layer to the engine adds it everywhere with no GUI code.

>>> p = Param("units", "int", None, min=1, doc="Output dimension")
>>> check("dense", p, 4)
4
>>> check("dense", p, 0)
Traceback (most recent call last):
ValueError: Layer 'dense': argument units=0 is invalid; expected an integer >= 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("int", "float", "bool", "choice", "str", "tuple", "shape", "activation",
         "initializer", "regularizer", "constraint", "axis")


@dataclass(frozen=True)
class Param:
    """One constructor argument of a layer.

    kind: one of ``KINDS``. ``tuple`` is a fixed-length int tuple that also
    accepts a single int (``kernel_size=3`` -> ``(3, 3)``); ``shape`` is a
    variable-length tuple of positive ints (``Input``/``Reshape``); ``axis`` is
    an int or a list of ints.
    """

    name: str
    kind: str
    default: object = None
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    length: int | None = None
    optional: bool = False  # None is allowed
    min_exclusive: bool = False
    max_exclusive: bool = False
    doc: str = ""
    advanced: bool = False  # hidden behind "More" in the inspector

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Unknown Param kind {self.kind!r} for {self.name!r}")


def penalty_params(first: str, second: str) -> tuple:
    """The ``<weight>_regularizer`` and ``<weight>_constraint`` Params of two weights, in
    Keras' order (both regularizers, then both constraints)."""
    return (
        Param(f"{first}_regularizer", "regularizer", None, optional=True, advanced=True,
              doc=f"Penalty on the {first} added to the loss (l1, l2: factor 0.01)."),
        Param(f"{second}_regularizer", "regularizer", None, optional=True, advanced=True,
              doc=f"Penalty on the {second} added to the loss."),
        Param(f"{first}_constraint", "constraint", None, optional=True, advanced=True,
              doc=f"Projection of the {first} after each update (e.g. max_norm, non_neg)."),
        Param(f"{second}_constraint", "constraint", None, optional=True, advanced=True,
              doc=f"Projection of the {second} after each update."),
    )


# The kernel and bias settings Dense and Conv2D share (Keras' names and defaults).
KERNEL_BIAS_PARAMS = (
    Param("kernel_initializer", "initializer", "glorot_uniform", advanced=True),
    Param("bias_initializer", "initializer", "zeros", advanced=True),
) + penalty_params("kernel", "bias")


def _fail(layer: str, p: Param, value, expected: str):
    raise ValueError(
        f"Layer '{layer}': argument {p.name}={value!r} is invalid; expected {expected}."
    )


def _range_text(p: Param, what: str) -> str:
    parts = []
    if p.min is not None:
        parts.append(f"{'>' if p.min_exclusive else '>='} {p.min:g}")
    if p.max is not None:
        parts.append(f"{'<' if p.max_exclusive else '<='} {p.max:g}")
    return what + (" " + " and ".join(parts) if parts else "")


def _check_number(layer, p, v, what):
    if isinstance(v, float) and not math.isfinite(v):
        _fail(layer, p, v, _range_text(p, what))
    lo_bad = p.min is not None and (v <= p.min if p.min_exclusive else v < p.min)
    hi_bad = p.max is not None and (v >= p.max if p.max_exclusive else v > p.max)
    if lo_bad or hi_bad:
        _fail(layer, p, v, _range_text(p, what))


def check(layer: str, p: Param, value):
    """Validate and normalise ``value`` for ``p``; raise ``ValueError`` naming both."""
    if value is None:
        if p.optional or p.kind in ("activation", "regularizer", "constraint"):
            return None
        _fail(layer, p, value, "a value (None is not allowed)")
    k = p.kind
    if k == "int":
        if isinstance(value, bool) or not isinstance(value, (int,)) and not (
            hasattr(value, "__index__")
        ):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                _fail(layer, p, value, _range_text(p, "an integer"))
        value = int(value)
        _check_number(layer, p, value, "an integer")
    elif k == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
            value, "__float__"
        ):
            _fail(layer, p, value, _range_text(p, "a number"))
        value = float(value)
        _check_number(layer, p, value, "a number")
    elif k == "bool":
        if not isinstance(value, (bool, int)) or value not in (0, 1, True, False):
            _fail(layer, p, value, "True or False")
        value = bool(value)
    elif k == "choice":
        norm = value.lower() if isinstance(value, str) else value
        if norm not in p.choices:
            _fail(layer, p, value, "one of " + ", ".join(repr(c) for c in p.choices))
        value = norm
    elif k == "str":
        if not isinstance(value, str):
            _fail(layer, p, value, "a string")
    elif k == "tuple":
        n = p.length or 2
        if isinstance(value, (int,)) and not isinstance(value, bool):
            value = (int(value),) * n
        if not isinstance(value, (tuple, list)) or len(value) != n or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            _fail(layer, p, value, f"an integer or a tuple of {n} integers")
        value = tuple(int(v) for v in value)
        for v in value:
            _check_number(layer, p, v, f"a tuple of {n} integers each")
    elif k == "shape":
        if isinstance(value, int) and not isinstance(value, bool):
            value = (value,)
        if not isinstance(value, (tuple, list)) or not all(
            (v is None or (isinstance(v, int) and not isinstance(v, bool) and (v > 0 or v == -1)))
            for v in value
        ):
            _fail(layer, p, value, "a tuple of positive integers")
        value = tuple(None if v is None else int(v) for v in value)
    elif k == "axis":
        if isinstance(value, (list, tuple)):
            if not all(isinstance(v, int) for v in value):
                _fail(layer, p, value, "an integer axis or a list of them")
            value = [int(v) for v in value]
        elif not isinstance(value, int) or isinstance(value, bool):
            _fail(layer, p, value, "an integer axis")
    # activation / initializer / regularizer / constraint are resolved by
    # their own modules' ``get`` which raise on unknown names.
    return value


# --------------------------------------------------------------------------
# Registry: one dict, stable string names (the class name, as Keras uses).

_LAYERS: dict[str, type] = {}
GROUPS = ("Input", "Core", "Convolution", "Pooling", "Normalization", "Merge", "Activation",
          "Regularization", "Reshaping", "Sequence", "Recurrent", "Attention", "Custom")


_NESTED: dict[str, type] = {}


def register_layer(cls):
    """Class decorator: make ``cls`` known by its class name."""
    name = cls.__name__
    if name in _LAYERS and _LAYERS[name] is not cls:
        raise ValueError(f"Layer class name {name!r} is already registered")
    _LAYERS[name] = cls
    return cls


def unregister_layer(name: str) -> None:
    """Forget a registered layer class (a project's own layer code being reloaded)."""
    _LAYERS.pop(name, None)


def register_nested_layer(cls):
    """Class decorator for layers that only live inside another layer (Keras' RNN cells,
    ``RNN(cell)``): known to the loaders by class name, but not offered in the palette
    (``registered_layers``), since they need a layer object as an argument."""
    _NESTED[cls.__name__] = cls
    return cls


def get_layer_class(name: str) -> type:
    if name in _NESTED:
        return _NESTED[name]
    try:
        return _LAYERS[name]
    except KeyError:
        close = [n for n in _LAYERS if n.lower() == str(name).lower()]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown layer type {name!r}.{hint} Known layers: {', '.join(sorted(_LAYERS))}."
        ) from None


def nested_layers() -> dict[str, type]:
    """Name -> class of the layers known only inside others (``register_nested_layer``)."""
    return dict(_NESTED)


def registered_layers() -> dict[str, type]:
    """Name -> class for every registered layer (aliases excluded)."""
    return dict(_LAYERS)
