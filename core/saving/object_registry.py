"""One registry of user classes and functions, as Keras' ``serialization_lib`` /
``object_registration``: ``@register_keras_serializable`` puts an object under
``"Package>Name"`` in the global custom objects; ``custom_object_scope`` adds more for
the length of a ``with`` block (per thread); ``get_registered_object`` looks a name up
in the scope, then the global registry, then the ``custom_objects`` given.

>>> @register_keras_serializable(package="Docs")
... def twice(x):
...     return 2 * x
>>> get_registered_name(twice)
'Docs>twice'
>>> get_registered_object("Docs>twice") is twice
True
>>> del get_custom_objects()["Docs>twice"]
"""

from __future__ import annotations

import importlib
import inspect
import threading

_GLOBAL_CUSTOM_OBJECTS: dict[str, object] = {}
# Keras' own model classes by the class name a file writes ("Sequential", "Functional",
# "Model"). ``core.models`` registers them when it is imported, so saving finds them
# without importing the models package (which imports saving).
_BUILTIN_MODELS: dict[str, type] = {}
_MODELS_PACKAGE = "core.models"  # imported by name only if a lookup finds nothing
_GLOBAL_CUSTOM_NAMES: dict[object, str] = {}
_scope = threading.local()


def register_keras_serializable(package="Custom", name=None):
    """Decorator: register a class (which must have ``get_config``) or a function under
    ``f"{package}>{name or obj.__name__}"`` so saved files naming it load back."""

    def decorator(obj):
        serialized_name = name if name is not None else obj.__name__
        registered = f"{package}>{serialized_name}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register {obj.__name__}: a class must have a "
                             "get_config() method to be serializable.")
        previous = _GLOBAL_CUSTOM_OBJECTS.get(registered)
        if previous is not None and getattr(previous, "__qualname__", None) != \
                getattr(obj, "__qualname__", None):
            raise ValueError(f"{registered!r} has already been registered to {previous!r}")
        if previous is not None:  # a re-run of the same definition replaces the old one
            _GLOBAL_CUSTOM_NAMES.pop(previous, None)
        _GLOBAL_CUSTOM_OBJECTS[registered] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = registered
        return obj

    return decorator


def register_builtin_model(cls):
    """Class decorator for the engine's own model classes: ``builtin_model(name)`` and
    ``is_model(obj)`` find them by their Keras class name."""
    _BUILTIN_MODELS[cls.__name__] = cls
    return cls


def builtin_model(name: str) -> type:
    """The built-in model class a file calls ``name`` ("Sequential", "Functional",
    "Model").

    ``core.models`` registers them when it is imported. A process that loads a file
    before anything imported it (``from core.saving import load_model`` alone, or
    ``import core as keras; keras.saving.load_model(...)``) gets the package imported
    here by its name, once, as ``keras_objects.module_table`` does for the built-in
    losses and metrics: saving's code depends on no model module, only on the
    package registering its classes."""
    if name not in _BUILTIN_MODELS:
        importlib.import_module(_MODELS_PACKAGE)
    try:
        return _BUILTIN_MODELS[name]
    except KeyError:
        raise ValueError(f"Model class {name!r} is not a built-in model class "
                         f"(those are {sorted(_BUILTIN_MODELS)}).") from None


def is_builtin_model(obj, name: str = "Model") -> bool:
    """``obj`` is an instance of the registered model class ``name`` (False when none is
    registered: then no object can be one)."""
    cls = _BUILTIN_MODELS.get(name)
    return cls is not None and isinstance(obj, cls)


def get_custom_objects() -> dict:
    """The global ``{registered name: object}`` dict (mutable, as in Keras)."""
    return _GLOBAL_CUSTOM_OBJECTS


def scoped_custom_objects() -> dict:
    """The objects added by the enclosing ``custom_object_scope`` blocks of this thread."""
    return getattr(_scope, "custom_objects", None) or {}


class CustomObjectScope:
    """``with CustomObjectScope({"MyLayer": MyLayer}):`` — names visible to every
    deserialization inside the block (nested models included)."""

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for objects in custom_objects:
            if objects:
                if not isinstance(objects, dict):
                    raise TypeError(f"custom_object_scope: expected dicts of "
                                    f"{{name: object}}, got {type(objects).__name__}")
                self.custom_objects.update(objects)
        self._previous = None

    def __enter__(self):
        self._previous = getattr(_scope, "custom_objects", None)
        if self.custom_objects:
            _scope.custom_objects = {**(self._previous or {}), **self.custom_objects}
        return self

    def __exit__(self, *exc):
        _scope.custom_objects = self._previous


custom_object_scope = CustomObjectScope


def get_registered_name(obj) -> str:
    """The name ``obj`` is saved under: ``"Package>Name"`` if registered, else its name."""
    if obj in _GLOBAL_CUSTOM_NAMES:
        return _GLOBAL_CUSTOM_NAMES[obj]
    return getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object saved as ``name``: scope first, then the global registry, then
    ``custom_objects``, then ``module_objects`` (Keras' order); None when unknown."""
    for table in (scoped_custom_objects(), _GLOBAL_CUSTOM_OBJECTS, custom_objects or {},
                  module_objects or {}):
        if name in table:
            return table[name]
    return None


def lookup_custom(custom_objects, *names):
    """The first of ``names`` (registered name, class name...) known to the scope, the
    registry or ``custom_objects``; None if none is."""
    for key in names:
        if isinstance(key, str) and key:
            found = get_registered_object(key, custom_objects)
            if found is not None:
                return found
    return None


def unknown_class_message(kind: str, class_name: str) -> str:
    """How to make an unknown class loadable, for every error that meets one."""
    return (f"Unknown {kind} class {class_name!r}: it is not built in and not registered. "
            f"Decorate it with @core.saving.register_keras_serializable() (as "
            f"@keras.saving.register_keras_serializable()), or pass "
            f"custom_objects={{'{class_name}': {class_name}}} when loading.")

