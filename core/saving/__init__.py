"""Saving and loading models in Keras 3's ``.keras`` format, and weights alone.

>>> from core.saving import save_model, load_model
>>> save_model(model, "model.keras")  # doctest: +SKIP
>>> restored = load_model("model.keras")  # doctest: +SKIP
>>> save_weights(model, "m.weights.h5")  # doctest: +SKIP
"""

from core.saving.keras_format import (
    ModelFileError,
    load_model,
    load_weights,
    save_model,
    save_weights,
)
from core.saving.keras_objects import (
    SerializationError,
    deserialize_keras_object,
    serialize_keras_object,
)
from core.saving.object_registry import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from core.saving.serialization import deserialize_layer, serialize_layer

__all__ = ["SerializationError", "deserialize_keras_object", "serialize_keras_object",
           "CustomObjectScope", "custom_object_scope", "get_custom_objects",
           "get_registered_name", "get_registered_object", "register_keras_serializable",
           "ModelFileError", "deserialize_layer", "load_model", "load_weights", "save_model",
           "save_weights", "serialize_layer"]
