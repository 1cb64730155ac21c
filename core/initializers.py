"""Keras 3 weight initializers: same class names, formulas, aliases and configs.

Random draws come from ``core.random`` (reseeded by ``set_seed``); an
initializer with an integer ``seed`` draws the same values on every call, as
in Keras. ``serialize`` gives Keras 3's dict form, ``get`` accepts a name
(``"glorot_uniform"`` or ``"GlorotUniform"``), that dict, or an instance.

>>> init = get("glorot_uniform")
>>> init((3, 4), dtype="float32").shape
(3, 4)
>>> serialize(init)["class_name"]
'GlorotUniform'
"""

from __future__ import annotations

import math

import numpy as np

from core import backend
from core import random as nw_random

# Keras' constant: stddev of a unit normal truncated to [-2, 2].
_TRUNC_STD = 0.87962566103423978


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """``(fan_in, fan_out)`` as Keras: conv kernels ``(..., in, out)`` multiply by
    the receptive field size (product of the leading spatial dims); with both
    ``input_axes`` and ``output_axes`` given, the products of those axes."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return (int(math.prod(shape[a] for a in input_axes)),
                int(math.prod(shape[a] for a in output_axes)))
    if len(shape) < 1:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    elif len(shape) == 2:
        fan_in, fan_out = shape
    else:
        receptive = math.prod(shape[:-2])
        fan_in = shape[-2] * receptive
        fan_out = shape[-1] * receptive
    return int(fan_in), int(fan_out)


def _float_dtype(dtype) -> np.dtype:
    dt = np.dtype(backend.standardize_dtype(dtype))
    if dt.kind != "f":
        raise ValueError(f"Initializers produce floats; got dtype={dt.name!r}.")
    return dt


def _check_seed(cls_name, seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"{cls_name}: argument seed={seed!r} is invalid; "
                         "expected an integer or None.")
    return None if seed is None else int(seed)


def _truncated_normal(gen, shape, mean, stddev, dt):
    """Unit normals redrawn until every value lies within 2 stddev (as Keras)."""
    z = gen.standard_normal(shape, dtype=np.float64)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return (z * stddev + mean).astype(dt, copy=False)


class Initializer:
    """Base class: ``init(shape, dtype=None) -> ndarray``; ``get_config``/``from_config``."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(type(self).__name__)


# --------------------------------------------------------------- constants
class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(tuple(shape), dtype=_float_dtype(dtype))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(tuple(shape), dtype=_float_dtype(dtype))


class Constant(Initializer):
    def __init__(self, value=0.0):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"Constant: argument value={value!r} is invalid; "
                             "expected a number.")
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(tuple(shape), self.value, dtype=_float_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """``gain * eye`` for 2D shapes (Keras' ``Identity``)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2D shape, got shape={shape}.")
        return (self.gain * np.eye(*shape)).astype(_float_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


# ----------------------------------------------------------------- random
class RandomInitializer(Initializer):
    def __init__(self, seed=None):
        self.seed = _check_seed(type(self).__name__, seed)

    def _gen(self) -> np.random.Generator:
        return nw_random.generator(self.seed)

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        dt = _float_dtype(dtype)
        z = self._gen().standard_normal(tuple(shape), dtype=np.float64)
        return (z * self.stddev + self.mean).astype(dt, copy=False)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return _truncated_normal(self._gen(), tuple(shape), self.mean, self.stddev,
                                 _float_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        u = self._gen().random(tuple(shape), dtype=np.float64)
        return (self.minval + (self.maxval - self.minval) * u).astype(_float_dtype(dtype),
                                                                    copy=False)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(RandomInitializer):
    """stddev (or uniform limit) from ``scale / n`` with ``n`` chosen by ``mode``."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTS = ("uniform", "truncated_normal", "untruncated_normal")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        name = type(self).__name__
        for arg, axes in (("input_axes", input_axes), ("output_axes", output_axes)):
            if axes is not None and (isinstance(axes, (str, bytes)) or not all(
                    isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                    for a in axes)):
                raise ValueError(f"{name}: argument {arg}={axes!r} is invalid; expected None "
                                 "or a list of integer axes.")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"{name}: argument scale={scale!r} is invalid; "
                             "expected a positive number.")
        if mode not in self._MODES:
            raise ValueError(f"{name}: argument mode={mode!r} is invalid; expected one of "
                             f"{', '.join(self._MODES)}.")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        if dist == "normal":
            dist = "truncated_normal"
        if dist not in self._DISTS:
            raise ValueError(f"{name}: argument distribution={distribution!r} is invalid; "
                             f"expected one of {', '.join(self._DISTS)}.")
        self.scale = scale
        self.mode = mode
        self.distribution = dist
        # Keras 3.15 writes both (None by default) into every VarianceScaling config.
        self.input_axes = None if input_axes is None else [int(a) for a in input_axes]
        self.output_axes = None if output_axes is None else [int(a) for a in output_axes]
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        dt = _float_dtype(dtype)
        shape = tuple(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        gen = self._gen()
        if self.distribution == "truncated_normal":
            return _truncated_normal(gen, shape, 0.0, math.sqrt(scale) / _TRUNC_STD, dt)
        if self.distribution == "untruncated_normal":
            z = gen.standard_normal(shape, dtype=np.float64)
            return (z * math.sqrt(scale)).astype(dt, copy=False)
        limit = math.sqrt(3.0 * scale)
        u = gen.random(shape, dtype=np.float64)
        return ((2.0 * u - 1.0) * limit).astype(dt, copy=False)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


def _preset(cls_name, scale, mode, distribution, doc):
    """A named VarianceScaling whose config is ``{"seed", "input_axes", "output_axes"}``
    (as Keras 3.15)."""

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale=scale, mode=mode, distribution=distribution,
                                 seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}

    return type(cls_name, (VarianceScaling,), {
        "__init__": __init__, "get_config": get_config, "__doc__": doc,
        "__module__": __name__})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Uniform in [-l, l], l = sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal, stddev = sqrt(2 / (fan_in + fan_out)).")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform",
                    "Uniform in [-l, l], l = sqrt(6 / fan_in).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "Truncated normal, stddev = sqrt(2 / fan_in).")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform",
                       "Uniform in [-l, l], l = sqrt(3 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "Truncated normal, stddev = sqrt(1 / fan_in).")


class OrthogonalInitializer(RandomInitializer):
    """QR of a normal matrix, sign-corrected (Keras' ``Orthogonal``)."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"OrthogonalInitializer needs a shape of rank >= 2, "
                             f"got shape={shape}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._gen().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(_float_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


Orthogonal = OrthogonalInitializer

# ------------------------------------------------------------- registry / API
_CLASSES = (Zeros, Ones, Constant, Identity, RandomNormal, TruncatedNormal, RandomUniform,
            VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform,
            LecunNormal, OrthogonalInitializer)
_BY_NAME: dict[str, type] = {c.__name__: c for c in _CLASSES}
_BY_NAME.update({backend.to_snake_case(c.__name__): c for c in _CLASSES})
_BY_NAME.update({"uniform": RandomUniform, "normal": RandomNormal,
                 "orthogonal": OrthogonalInitializer, "Orthogonal": OrthogonalInitializer,
                 "one": Ones, "zero": Zeros})


def known_names() -> list[str]:
    """Every accepted string identifier (snake_case, class names and Keras' aliases)."""
    return sorted(_BY_NAME)


def available() -> list[str]:
    """One snake_case name per initializer (what an editor offers in a list)."""
    return sorted([backend.to_snake_case(c.__name__) for c in _CLASSES
                   if c is not OrthogonalInitializer] + ["orthogonal"])


def _unknown(identifier):
    return ValueError(f"Unknown initializer {identifier!r}; known initializers: "
                      f"{', '.join(known_names())}.")


ALL_OBJECTS_DICT = dict(_BY_NAME)


def serialize(initializer) -> dict:
    """Keras 3 form: ``{"module", "class_name", "config", "registered_name"}``."""
    init = get(initializer)
    if not type(init).__module__.startswith("core."):
        from core.saving.keras_objects import serialize_keras_object

        return serialize_keras_object(init)  # a user initializer (class or function)
    # Keras 3 writes its OrthogonalInitializer under the public alias "Orthogonal".
    name = "Orthogonal" if type(init) is OrthogonalInitializer else type(init).__name__
    return {"module": "keras.initializers", "class_name": name,
            "config": init.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize``; also accepts Keras 2's ``{"class_name", "config"}`` and
    registered custom initializers (through ``deserialize_keras_object``)."""
    if isinstance(config, str):
        return get(config)
    inner = config.get("config") or {} if isinstance(config, dict) else None
    if not isinstance(inner, dict) or "class_name" not in config:
        raise ValueError(f"Cannot deserialize initializer from {config!r}; expected a dict "
                         "with 'class_name' and a dict 'config'.")
    builtin = config.get("module", "keras") is not None and not config.get("registered_name")
    cls = _BY_NAME.get(config["class_name"]) if builtin else None
    if cls is None:
        from core.saving.keras_objects import deserialize_keras_object
        try:
            return get(deserialize_keras_object({**config, "config": inner}, custom_objects,
                                                module_objects=ALL_OBJECTS_DICT))
        except ValueError as e:
            raise ValueError(f"Unknown initializer {config['class_name']!r}: {e}") from None
    try:
        return cls.from_config(dict(inner))
    except TypeError as e:
        raise ValueError(f"Initializer {config['class_name']!r}: bad config {inner!r} "
                         f"({e}).") from None


def get(identifier) -> Initializer | None:
    """Resolve a name, Keras dict, class, instance or function ``fn(shape, dtype=None)``
    to an initializer (None stays None); registered custom ones resolve by name too."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        from core.saving.object_registry import get_registered_object
        cls = _BY_NAME.get(identifier) or get_registered_object(identifier)
        if cls is None:
            raise _unknown(identifier)
        return get(cls)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):  # a class: an instance; any callable(shape, dtype=None)
        return identifier() if isinstance(identifier, type) else identifier
    raise ValueError(f"Could not interpret initializer identifier {identifier!r}; expected "
                     f"a name such as 'glorot_uniform', a Keras config dict or an Initializer.")


__all__ = ["Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomNormal",
           "TruncatedNormal", "RandomUniform", "VarianceScaling", "GlorotUniform",
           "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
           "OrthogonalInitializer", "Orthogonal", "compute_fans", "get", "serialize",
           "deserialize", "known_names", "available"]
