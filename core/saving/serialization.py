"""Layer and model configs in Keras 3's JSON form (``serialize_keras_object`` shape).

``serialize_layer`` gives ``{"module", "class_name", "config", "registered_name",
"build_config"}``; ``deserialize_layer`` rebuilds through the layer registry and
never imports the ``module`` it reads: that string is only checked against an
allow-list of Keras module names. Model classes come from the object registry
(``core.models`` registers Sequential, Functional and Model), and a functional
model's graph config is the model's own code (``core.models.functional_config``):
this package never imports ``core.models``.

>>> from core.layers import Dense, Input
>>> d = Dense(3, name="d")
>>> _ = d(Input((5,)))
>>> cfg = serialize_layer(d)
>>> cfg["class_name"], cfg["module"], cfg["build_config"]
('Dense', 'keras.layers', {'input_shape': [None, 5]})
>>> deserialize_layer(cfg).units
3
"""

from __future__ import annotations

import numpy as np

from core.layers.base import Layer
from core.layers.node import KerasTensor
from core.layers.spec import get_layer_class
from core.saving.object_registry import (  # noqa: F401  (custom_object_scope: re-export)
    builtin_model,
    custom_object_scope,
    get_registered_name,
    is_builtin_model,
    lookup_custom,
    unknown_class_message,
)

# ``module`` values we accept for built-in classes (we never import them).
_ALLOWED_MODULE_PREFIXES = ("keras.layers", "keras.models", "keras.src.layers",
                            "keras.src.models", "keras.src.engine", "core.layers",
                            "core.models")
_ALLOWED_MODULES = ("keras",)
_MODEL_CLASSES = ("Sequential", "Functional", "Model")


def to_plain(obj):
    """JSON-ready copy: tuples -> lists, numpy scalars -> Python, objects with
    ``get_config`` -> Keras dicts (as ``serialize_keras_object`` does)."""
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, KerasTensor):
        return _tensor_config(obj, obj._keras_history)
    if isinstance(obj, Layer):
        return serialize_layer(obj)
    from core.saving.keras_objects import serialize_keras_object

    return to_plain(serialize_keras_object(obj))  # functions, losses, initializers...


def _is_builtin(cls) -> bool:
    mod = cls.__module__
    return mod.startswith(("core.layers", "core.models"))


def class_identity(obj) -> tuple[str | None, str, str | None]:
    """``(module, class_name, registered_name)`` as Keras writes them for ``obj``."""
    cls = type(obj)
    name = cls.__name__
    if _is_builtin(cls):
        if name == "Sequential":
            return "keras", "Sequential", None
        if name == "Functional":
            return "keras.src.models.functional", "Functional", "Functional"
        return "keras.layers", name, None
    # User classes: Keras writes their module (None for __main__) and the registered
    # name (the class name when not registered); loading needs them registered or
    # passed in custom_objects.
    module = None if cls.__module__ == "__main__" else cls.__module__
    return module, name, get_registered_name(cls)


def build_config(layer):
    if _is_functional(layer):
        return {"input_shape": None}  # Keras' functional models are built at creation
    if _is_builtin(type(layer)) and type(layer).built_at_init:
        return None  # Keras builds it in __init__ and records no shape (core.layers.facts)
    if not getattr(layer, "built", False):
        return None
    if _user_defines(type(layer), "get_build_config"):
        # A user class's own get_build_config (its build may take more than a shape, and
        # it may have been built by calling build() directly); Keras saves it through
        # serialize_dict.
        from core.saving.compile_config import serialize_object

        bc = layer.get_build_config()
        return None if bc is None else serialize_object(bc)
    if layer._build_input_shape is None:
        return None
    if hasattr(layer, "get_build_config"):  # a layer built from several named shapes
        return layer.get_build_config()
    return {"input_shape": to_plain(layer._build_input_shape)}


def dtype_policy(name: str) -> dict:
    """Keras 3's serialized ``DTypePolicy`` (what a layer config's ``dtype`` holds)."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}


def serialize_layer(layer) -> dict:
    """Keras 3 ``serialize_keras_object(layer)`` (models included)."""
    module, class_name, registered = class_identity(layer)
    if _is_builtin(type(layer)):
        config = to_plain(layer.get_config())
    else:
        from core.saving.keras_objects import _user_config

        config = to_plain(_user_config(layer))  # a failure names the class
    # Keras writes a layer's dtype as its DTypePolicy, except where its class (and so a
    # subclass, through its get_config) keeps the plain string (InputLayer: layers.facts).
    if isinstance(config.get("dtype"), str) and type(layer).dtype_policy_in_config:
        config["dtype"] = dtype_policy(config["dtype"])
    out = {"module": module, "class_name": class_name, "config": config,
           "registered_name": registered}
    bc = build_config(layer)
    if bc is not None:
        out["build_config"] = bc
    if is_builtin_model(layer, "Model"):
        # Keras writes a compile_config for every model, {} when it was never compiled
        # (nested models included).
        from core.saving.compile_config import get_compile_config

        out["compile_config"] = get_compile_config(layer) or {}
    return out


def _resolve_class(config: dict, custom_objects=None):
    class_name = config.get("class_name")
    if not isinstance(class_name, str) or not class_name:
        raise ValueError(f"Layer config has no valid 'class_name': {_short(config)}")
    found = lookup_custom(custom_objects, config.get("registered_name"), class_name)
    if found is not None:
        return found
    module = config.get("module")
    if module is not None and not (module in _ALLOWED_MODULES or
                                   module.startswith(_ALLOWED_MODULE_PREFIXES)):
        # Only registered user classes may come from another module; the module
        # itself is never imported.
        try:
            cls = get_layer_class(class_name)
        except ValueError:
            raise ValueError(
                unknown_class_message("layer", class_name) +
                f" (The file names module {module!r}; modules are never imported "
                "from a file.)") from None
        if _is_builtin(cls):
            raise ValueError(f"Layer class {class_name!r} claims module {module!r}, which is "
                             "not a Keras module.")
        return cls
    if class_name in _MODEL_CLASSES:  # a Functional file entry rebuilds as Model(...)
        return builtin_model("Sequential" if class_name == "Sequential" else "Model")
    try:
        return get_layer_class(class_name)
    except ValueError as e:  # names the unknown class; add how to supply one's own
        raise ValueError(f"{e} {unknown_class_message('layer', class_name)}") from None


def _short(obj, limit=200) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[:limit] + "..."


def deserialize_layer(config: dict, custom_objects=None):
    """Rebuild a layer (or nested model) from ``serialize_layer``'s dict."""
    if not isinstance(config, dict):
        raise ValueError(f"Expected a layer config dict, got {_short(config)}.")
    cls = _resolve_class(config, custom_objects)
    inner = config.get("config", {})
    if not isinstance(inner, dict):
        raise ValueError(f"Layer {config.get('class_name')!r}: 'config' must be a dict, "
                         f"got {_short(inner)}.")
    inner = dict(inner)
    with custom_object_scope(custom_objects):
        if config.get("class_name") == "Functional" or "input_layers" in inner:
            layer = builtin_model("Functional").from_graph_config(inner, model_class=cls)
        elif _is_builtin(cls):
            layer = cls.from_config(inner)
        else:
            from core.saving.keras_objects import call_from_config

            layer = call_from_config(cls, inner, config.get("class_name"))
    bc = config.get("build_config")
    if not getattr(layer, "built", False) and isinstance(bc, dict) and bc and \
            _user_defines(cls, "build_from_config"):
        layer.build_from_config(bc)  # as Keras: the class's own rebuild, then built
        layer.built = True
    elif not getattr(layer, "built", False) and isinstance(bc, dict) and \
            hasattr(layer, "build_from_config") and "shapes_dict" in bc:
        layer.build_from_config(bc)  # Keras' build(query_shape, value_shape, ...)
    elif not getattr(layer, "built", False) and isinstance(bc, dict) and \
            bc.get("input_shape") is not None:
        layer._maybe_build(_to_shape(bc["input_shape"]))
    return layer


def _user_defines(cls, method: str) -> bool:
    """Whether ``method`` comes from a user class (not one of the engine's layers), so
    that a user's ``get_build_config``/``build_from_config`` pair is honoured as Keras
    does, while a built-in's stays with the paths above."""
    for klass in cls.__mro__:
        if method in vars(klass):
            return not _is_builtin(klass)
    return False


def _to_shape(shape):
    """JSON lists back to shape tuples; a list of lists is a multi-input shape."""
    if isinstance(shape, (list, tuple)) and shape and all(
            isinstance(s, (list, tuple)) for s in shape):
        return [tuple(s) for s in shape]
    return tuple(shape)


def _tensor_config(t: KerasTensor, history) -> dict:
    hist = None if history is None else [history[0].name, int(history[1]), int(history[2])]
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": t.dtype, "keras_history": hist}}


def _is_functional(layer) -> bool:
    """A built-in functional model (not a user class made functionally)."""
    return type(layer).__name__ == "Functional" and is_builtin_model(layer, "Functional")


# The model's own config code (core.models.functional_config) uses these by name.
is_builtin_class, short_repr, tensor_config, is_functional = (
    _is_builtin, _short, _tensor_config, _is_functional)
