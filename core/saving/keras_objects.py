"""``serialize_keras_object`` / ``deserialize_keras_object``: Keras 3's one format for
every object a config holds (``keras/src/saving/serialization_lib.py``), and the one
resolver every ``get`` (losses, metrics, optimizers, activations, initializers,
regularizers, constraints) goes through, so a registered custom object is found by
its name and by its serialized dict wherever Keras would find it.

The format: a class instance is ``{"module", "class_name", "config",
"registered_name"}`` (``module`` None for ``__main__``, ``registered_name`` None for a
Keras built-in); a function is ``{"module": "builtins", "class_name": "function",
"config": "<registered name>", "registered_name": "function"}``; arrays are
``{"class_name": "__numpy__", ...}``; a lambda is ``__lambda__`` (bytecode) and loads
only with ``safe_mode=False``. Modules named in a config are never imported: built-in
names resolve through the engine's own tables, everything else through the registry.

>>> from core import losses
>>> cfg = serialize_keras_object(losses.MeanSquaredError())
>>> cfg["module"], cfg["class_name"], cfg["registered_name"]
('keras.losses', 'MeanSquaredError', None)
>>> type(deserialize_keras_object(cfg)).__name__
'MeanSquaredError'
"""

from __future__ import annotations

import importlib
import inspect
import threading
import types

import numpy as np

from core.saving.object_registry import (
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    scoped_custom_objects,
)

# Keras' ``keras.<module>`` -> the engine module whose ``ALL_OBJECTS_DICT`` holds its
# built-ins (the module string of a config is only ever a key into this table).
BUILTIN_MODULES = {
    "activations": "core.activations", "constraints": "core.constraints",
    "initializers": "core.initializers", "losses": "core.losses", "metrics": "core.metrics",
    "optimizers": "core.optimizers", "regularizers": "core.regularizers",
    "schedules": "core.optimizers.schedules",
}
_safe = threading.local()


class SerializationError(ValueError, TypeError):
    """A config that cannot be turned into an object (or an object into a config).
    Keras raises TypeError or ValueError for these; this is both."""


class SafeModeScope:
    """``with SafeModeScope(False):`` lets nested deserialization load lambdas
    (Keras' ``serialization_lib.SafeModeScope``)."""

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        self._previous = getattr(_safe, "value", None)
        _safe.value = self.safe_mode
        return self

    def __exit__(self, *exc):
        _safe.value = self._previous


def in_safe_mode():
    """True/False inside a ``SafeModeScope``, None outside one (Keras' tri-state)."""
    return getattr(_safe, "value", None)


def enable_unsafe_deserialization():
    """``keras.config.enable_unsafe_deserialization()``: lambdas load on this thread."""
    _safe.value = False


# ----------------------------------------------------------------------------- serialize
def _keras_module_of(cls) -> str | None:
    """``"keras.losses"`` for an engine built-in class, None for a user class."""
    mod = cls.__module__
    for short, ours in BUILTIN_MODULES.items():
        if mod == ours or mod.startswith(ours + "."):
            return "keras.optimizers.schedules" if short == "schedules" else f"keras.{short}"
    return None


def _user_config(obj) -> dict:
    """``obj.get_config()`` checked: a failure names the class and what failed."""
    cls = type(obj).__name__
    try:
        config = obj.get_config()
    except Exception as e:
        raise SerializationError(f"Cannot serialize {cls}: its get_config() raised "
                                 f"{type(e).__name__}: {e}") from e
    if not isinstance(config, dict):
        raise SerializationError(f"Cannot serialize {cls}: get_config() must return a dict, "
                                 f"it returned {type(config).__name__} {config!r}.")
    try:
        return serialize_keras_object(config)
    except SerializationError as e:
        raise SerializationError(f"Cannot serialize {cls}: its get_config() holds a value "
                                 f"that cannot be serialized ({e}).") from e


def _function_config(fn) -> dict:
    if fn.__name__ == "<lambda>":
        from core.saving.lambda_code import lambda_config

        return lambda_config(fn)
    return {"module": "builtins", "class_name": "function",
            "config": get_registered_name(fn), "registered_name": "function"}


def serialize_keras_object(obj):
    """The Keras 3 config of ``obj`` (a layer, loss, metric, optimizer, initializer,
    regularizer, constraint, function, array, or containers of them)."""
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {
            "start": serialize_keras_object(obj.start), "stop": serialize_keras_object(obj.stop),
            "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, np.ndarray) and obj.ndim > 0:
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.item()
    from core.layers.base import Layer
    from core.layers.node import KerasTensor

    if isinstance(obj, (Layer, KerasTensor)):
        from core.saving.serialization import to_plain

        return to_plain(obj)
    if isinstance(obj, types.FunctionType):
        return _function_config(obj)
    wrapped = getattr(obj, "_keras_function", None)
    if isinstance(wrapped, types.FunctionType):
        return _function_config(wrapped)  # a user function the engine wrapped: saved as itself
    keras_module = _keras_module_of(type(obj))
    if keras_module == "keras.activations" and hasattr(obj, "forward"):
        return {"module": "builtins", "class_name": "function", "config": obj.name,
                "registered_name": "function"}  # built-in activations are functions in Keras
    if not hasattr(obj, "get_config"):
        raise SerializationError(
            f"Cannot serialize object {obj!r} of type {type(obj).__name__}: to be "
            "serializable, a class must implement the get_config() method.")
    config = _user_config(obj)
    if keras_module is not None:
        return {"module": keras_module, "class_name": _public_name(type(obj)),
                "config": config, "registered_name": None}
    cls = type(obj)
    module = None if cls.__module__ == "__main__" else cls.__module__
    return {"module": module, "class_name": cls.__name__, "config": config,
            "registered_name": get_registered_name(cls)}


def _public_name(cls) -> str:
    return getattr(cls, "keras_name", cls.__name__)


# --------------------------------------------------------------------------- deserialize
def _all_custom(custom_objects) -> dict:
    return {**(custom_objects or {}), **scoped_custom_objects(), **get_custom_objects()}


def module_table(module: str | None) -> dict:
    """The built-in objects a ``keras.<module>`` config may name ({} for others)."""
    if not module:
        return {}
    parts = module.split(".")
    if parts[0] not in ("keras", "core"):
        return {}
    short = "schedules" if "schedules" in parts else next(
        (p for p in parts[1:] if p in BUILTIN_MODULES), None)
    if short is None:
        return {}
    return getattr(importlib.import_module(BUILTIN_MODULES[short]), "ALL_OBJECTS_DICT", {})


def _builtin_function(name: str, module_objects) -> object | None:
    if module_objects and name in module_objects:
        return module_objects[name]
    for short in ("activations", "losses", "metrics"):
        table = module_table(f"keras.{short}")
        if name in table and callable(table[name]):
            return table[name]
    return None


def unknown_object_message(kind: str, name: str, module=None) -> str:
    where = "" if module in (None, "builtins") else \
        f" (the config names module {module!r}; modules are never imported from a config)"
    return (f"Could not locate {kind} {name!r}{where}. Make sure custom classes and "
            f"functions are decorated with @keras.saving.register_keras_serializable() "
            f"(core.saving.register_keras_serializable) and imported before loading, or "
            f"pass custom_objects={{{name!r}: {name.split('>')[-1]}}}.")


def _resolve(config, custom, module_objects):
    """The class or function a dict config names."""
    class_name = config["class_name"]
    module = config.get("module")
    if class_name == "function":
        name = config.get("config")
        if not isinstance(name, str):
            raise SerializationError(f"A function config needs its name as 'config', got "
                                     f"{config!r}.")
        if name in custom:
            return custom[name]
        found = _builtin_function(name, module_objects)
        if found is not None:
            return found
        if ">" not in name:  # Keras <= 3.6 saved registered functions by bare name
            for key, obj in custom.items():
                if key.endswith(f">{name}"):
                    return obj
        raise SerializationError(unknown_object_message("function", name, module))
    registered = config.get("registered_name") or class_name
    if registered in custom:
        return custom[registered]
    if class_name in custom:
        return custom[class_name]
    # Built-ins only for a Keras module or none named (Keras 2's {"class_name", "config"});
    # ``"module": None`` is Keras' mark of a user class.
    builtin = ("module" not in config) or str(module).startswith(("keras", "core"))
    table = {} if not builtin else (
        module_objects if module_objects is not None else module_table(module))
    if class_name in table:
        return table[class_name]
    if module_objects is None and builtin:
        from core.layers.spec import get_layer_class

        try:
            return get_layer_class(class_name)
        except ValueError:
            pass
    raise SerializationError(unknown_object_message("class", class_name, module))


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object ``config`` describes (the inverse of ``serialize_keras_object``).

    ``custom_objects`` adds ``{name: class or function}`` to the registry and the
    enclosing ``custom_object_scope``; ``safe_mode=False`` allows lambdas.
    ``module_objects`` (keyword) restricts built-ins to one module's table, as each
    ``get`` does."""
    scoped = in_safe_mode()
    safe_mode = scoped if scoped is not None else safe_mode
    module_objects = kwargs.pop("module_objects", None)
    custom = _all_custom(custom_objects)
    if config is None:
        return None
    if isinstance(config, str):
        if config in custom:
            return custom[config]
        if module_objects is not None:
            return module_objects.get(config, config)
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode,
                                         module_objects=module_objects) for x in config]
    if isinstance(config, (bool, int, float)):
        return config
    if not isinstance(config, dict):
        raise SerializationError(f"Could not parse config: {config!r}")
    if "class_name" not in config or "config" not in config:
        if module_objects is not None:
            raise SerializationError(f"Unknown `config` as a `dict`, config={config!r}")
        return {k: deserialize_keras_object(v, custom_objects, safe_mode)
                for k, v in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    special = _special(class_name, inner, config, custom_objects, safe_mode)
    if special is not _NOT_SPECIAL:
        return special
    obj = _resolve(config, custom, module_objects)
    if class_name == "function" or not inspect.isclass(obj):
        return obj
    if not isinstance(inner, dict):
        raise SerializationError(f"Expected 'config' to be a dict for {class_name}, got "
                                 f"{type(inner).__name__}. Full object config: {config!r}")
    from core.layers.base import Layer

    with custom_object_scope(custom), SafeModeScope(safe_mode):
        if issubclass(obj, Layer):
            from core.saving.serialization import deserialize_layer

            return deserialize_layer(config, custom_objects)
        if not hasattr(obj, "from_config"):
            raise SerializationError(f"Unable to reconstruct an instance of {class_name!r}: "
                                     "the class has no from_config() method.")
        return call_from_config(obj, inner, class_name)


def call_from_config(cls, inner, class_name=None):
    """``cls.from_config(inner)``; a failure names the class, the config and the error."""
    try:
        return cls.from_config(dict(inner))
    except Exception as e:
        name = class_name or cls.__name__
        raise SerializationError(
            f"{name} could not be deserialized: {cls.__name__}.from_config(config) raised "
            f"{type(e).__name__}: {e}. Make sure get_config() returns every __init__ "
            f"argument and from_config() rebuilds nested objects. config={inner!r}") from e


_NOT_SPECIAL = object()


def _special(class_name, inner, config, custom_objects, safe_mode):
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(*(deserialize_keras_object(inner.get(k), custom_objects, safe_mode)
                       for k in ("start", "stop", "step")))
    if class_name == "__lambda__":
        from core.saving.lambda_code import load_lambda

        return load_lambda(inner, safe_mode)
    if class_name in ("__keras_tensor__", "__tensor__", "__typespec__"):
        if class_name == "__tensor__":
            return np.array(inner["value"], dtype=inner["dtype"])
        raise SerializationError(f"{class_name} configs are only valid inside a functional "
                                 "model's config.")
    return _NOT_SPECIAL
