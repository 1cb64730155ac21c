"""Models: ``Model`` (functional or subclassed), ``Sequential``, loading and cloning.

>>> from core.models import Sequential
>>> from core.layers import Dense, Flatten
>>> model = Sequential([Flatten(input_shape=(28, 28)), Dense(10, activation="softmax")])
>>> model.count_params()
7850
"""

from core.models.functional import Functional
from core.models.model import Model
from core.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a ``.keras`` file written by ``Model.save`` (or by Keras 3)."""
    from core import saving
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile,
                             safe_mode=safe_mode)


def model_from_json(json_string, custom_objects=None):
    """The model ``model.to_json()`` describes, freshly initialised (Keras'
    ``model_from_json``); user classes come from the registry or ``custom_objects``."""
    import json

    from core.saving.serialization import deserialize_layer
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"model_from_json: not a JSON model description ({e}).") from None
    return deserialize_layer(config, custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and freshly initialised weights
    (Keras' ``clone_model``): rebuilt from ``get_config``."""
    if input_tensors is not None or clone_function is not None:
        raise ValueError("clone_model: input_tensors and clone_function are not supported; "
                         "call clone_model(model).")
    return type(model).from_config(model.get_config())


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model",
           "model_from_json"]
