"""Every layer a Keras user imports from ``keras.layers``, plus registry helpers.

Importing this package registers all layers (``core.layers.spec``), so the
graph editor's palette and the loaders see them. ``get_layer_specs()`` groups
the registry by palette section; ``serialize``/``deserialize`` round-trip a
layer through its Keras 3 config dict.

>>> from core.layers import Input, Dense, Dropout
>>> y = Dropout(0.2)(Dense(8, activation="relu")(Input((4,))))
>>> y.shape
(None, 8)
>>> {"Core", "Convolution", "Recurrent"} <= set(get_layer_specs())
True
"""

from __future__ import annotations

from core.layers.activation_layers import ELU, LeakyReLU, ReLU, Softmax
from core.layers.base import Layer
from core.layers.bidirectional import Bidirectional
from core.layers.conv2d_transpose import Conv2DTranspose
from core.layers.convolutional import Conv2D
from core.layers.core_layers import Activation, Dropout, Flatten, Input, InputLayer, Reshape
from core.layers.dense import Dense
from core.layers.einsum_dense import EinsumDense
from core.layers.gaussian_dropout import GaussianDropout as GaussianDropout
from core.layers.gaussian_noise import GaussianNoise as GaussianNoise
from core.layers.lambda_layer import Lambda
from core.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from core.layers.multi_head_attention import MultiHeadAttention
from core.layers.node import KerasTensor
from core.layers.normalization import BatchNormalization
from core.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)
from core.layers.rnn_gru import GRU, GRUCell  # noqa: I001
from core.layers.rnn_lstm import LSTM, LSTMCell
from core.layers.rnn_simple import SimpleRNN, SimpleRNNCell
from core.layers.rnn_wrapper import RNN, StackedRNNCells
from core.layers.sequence import *  # noqa: F403  Embedding, Conv1D, LayerNormalization...
from core.layers.spatial_dropout import SpatialDropout1D as SpatialDropout1D
from core.layers.spatial_dropout import SpatialDropout2D as SpatialDropout2D
from core.layers.spec import GROUPS, Param, get_layer_class, registered_layers
from core.layers.up_sampling2d import UpSampling2D

# Keras' aliases.
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D


def get_layer_specs() -> dict[str, list[type]]:
    """Registered layer classes by palette group, in ``GROUPS`` order, registration order
    within a group; empty groups are left out."""
    by_group: dict[str, list[type]] = {g: [] for g in GROUPS}
    for cls in registered_layers().values():
        by_group.setdefault(cls.group, []).append(cls)
    return {g: classes for g, classes in by_group.items() if classes}


def serialize(layer) -> dict:
    """Keras 3 layer dict (``module``, ``class_name``, ``config``, ``registered_name``,
    ``build_config``), as ``keras.layers.serialize``; custom layers keep their
    registered name."""
    from core.saving.serialization import serialize_layer

    return serialize_layer(layer)


def deserialize(config: dict, custom_objects=None):
    """A new layer from ``serialize``'s dict (or Keras 2's ``{"class_name", "config"}``);
    registered custom layers and ``custom_objects`` resolve too."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Cannot deserialize a layer from {config!r}; expected a dict with "
                         "'class_name' and 'config'.")
    from core.saving.serialization import deserialize_layer

    return deserialize_layer(config, custom_objects=custom_objects)


__all__ = [
    "Layer", "KerasTensor", "Param", "Input", "InputLayer", "Dense", "Lambda",
    "Activation", "Dropout",
    "Flatten", "Reshape", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
    "Concatenate", "ReLU", "LeakyReLU", "Softmax", "ELU", "Conv2D", "Convolution2D",
    "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D", "GlobalAveragePooling2D",
    "GlobalAvgPool2D", "GlobalMaxPooling2D", "GlobalMaxPool2D", "BatchNormalization",
    "SimpleRNN", "SimpleRNNCell", "LSTM", "LSTMCell", "GRU", "GRUCell", "RNN", "StackedRNNCells",
    "Bidirectional", "EinsumDense", "MultiHeadAttention", "Conv2DTranspose", "UpSampling2D",
    "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate",
    "get_layer_specs", "get_layer_class", "registered_layers", "serialize", "deserialize",
]
# A layer registered by a module imported above joins the star-import by its class name
# (so a new layer needs only its import line, written ``import X as X`` for the linter).
__all__ += sorted(n for n, c in registered_layers().items()
                  if c.__module__.startswith("core.layers") and n not in __all__)
