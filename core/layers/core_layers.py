"""Keras 3 core layers: ``InputLayer``/``Input``, ``Activation``, ``Dropout``,
``Flatten`` and ``Reshape`` (same signatures, defaults and config keys).

>>> import numpy as np
>>> x = Input(shape=(4, 3))
>>> x.shape
(None, 4, 3)
>>> Flatten()(np.ones((2, 4, 3), "float32")).shape
(2, 12)
>>> Reshape((-1, 2))(np.ones((2, 12), "float32")).shape
(2, 6, 2)
"""

from __future__ import annotations

import math

import numpy as np

from core import activations
from core import random as nw_random
from core.kernels import dropout as dropout_kernels
from core.layers.base import Layer
from core.layers.node import KerasTensor, Node
from core.layers.spec import Param, register_layer


def _shape_tuple(layer_name, arg, shape, allow_minus_one=False):
    """Normalise a user shape (int, list or tuple) or raise ValueError naming it."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    ok = isinstance(shape, (tuple, list)) and all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                      and (d > 0 or (allow_minus_one and d == -1)))
        for d in shape)
    if not ok:
        allowed = "positive integers" + (", one -1" if allow_minus_one else "") + " or None"
        raise ValueError(f"Layer '{layer_name}': argument {arg}={shape!r} is invalid; "
                         f"expected a tuple of {allowed}.")
    return tuple(None if d is None else int(d) for d in shape)


@register_layer
class InputLayer(Layer):
    """The graph's entry point; ``Input(...)`` returns its symbolic output."""

    group = "Input"
    num_inputs = 0
    dtype_policy_in_config = False  # it has no policy of its own: the plain name
    built_at_init = True  # Keras builds it in __init__: no build_config in its file
    params = (
        Param("shape", "shape", (784,), doc="Shape of one sample, without the batch size."),
        Param("batch_size", "int", None, min=1, optional=True, advanced=True,
              doc="Fixed batch size (usually left empty)."),
    )

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        # Keras 2 spellings, as Keras 3 still accepts them.
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        trainable = kwargs.pop("trainable", True)
        if kwargs:
            raise TypeError(f"InputLayer: unrecognized keyword argument(s) {sorted(kwargs)}")
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if input_tensor is not None:
            raise ValueError(f"Layer '{self.name}': input_tensor is not supported; "
                             "pass shape=... instead.")
        if sparse or ragged:
            raise ValueError(f"Layer '{self.name}': sparse={sparse!r} / ragged={ragged!r} "
                             "inputs are not supported.")
        if shape is not None and batch_shape is not None:
            raise ValueError(f"Layer '{self.name}': pass either shape={shape!r} or "
                             f"batch_shape={batch_shape!r}, not both.")
        if batch_size is not None and batch_shape is not None:
            raise ValueError(f"Layer '{self.name}': pass either batch_size={batch_size!r} or "
                             f"batch_shape={batch_shape!r}, not both.")
        if shape is None and batch_shape is None:
            raise ValueError(f"Layer '{self.name}': you must pass a shape argument "
                             "(e.g. shape=(784,)).")
        if batch_shape is None:
            batch_size = self._check("batch_size", batch_size)
            batch_shape = (batch_size,) + _shape_tuple(self.name, "shape", shape)
        else:
            batch_shape = _shape_tuple(self.name, "batch_shape", batch_shape)
            if len(batch_shape) < 1:
                raise ValueError(f"Layer '{self.name}': batch_shape=() has no batch axis.")
        self._batch_shape = batch_shape
        self.sparse = False
        self.ragged = False
        self.optional = bool(optional)
        self._input_tensor = KerasTensor(batch_shape, self.dtype, name=self.name,
                                         history=(self, 0, 0))
        Node(self, None, self._input_tensor)
        self.built = True

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def shape(self):
        return self._batch_shape[1:]

    def compute_output_shape(self, input_shape=None):
        return self._batch_shape

    def forward(self, inputs, training=False):
        return inputs, None

    def get_config(self):
        return {"batch_shape": self._batch_shape, "dtype": self.dtype, "sparse": self.sparse,
                "ragged": self.ragged, "name": self.name, "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        dtype = config.get("dtype")
        if isinstance(dtype, dict):  # Keras 3 DTypePolicy dict
            config["dtype"] = dtype.get("config", {}).get("name")
        return cls(**config)


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
          name=None, tensor=None, optional=False):
    """A symbolic ``KerasTensor`` produced by a new ``InputLayer`` (Keras' ``keras.Input``)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       ragged=ragged, batch_shape=batch_shape, name=name, input_tensor=tensor,
                       optional=optional)
    return layer.output


@register_layer
class Activation(Layer):
    """Applies an activation function (``Activation("relu")``)."""

    reentrant_inference = True
    built_at_init = True  # Keras builds it in __init__: no build_config in its file
    supports_masking = True  # Keras: the mask passes through (core.layers.masks)
    group = "Activation"
    params = (Param("activation", "activation", "relu", doc="Activation function."),)

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, inputs, training=False):
        # Never in place: the input may be another layer's output kept for its backward.
        return self.activation.forward(inputs)

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        return self.activation.backward(cache, grad_output)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


@register_layer
class Dropout(Layer):
    """Inverted dropout: keeps each unit with probability ``1 - rate`` and scales it by
    ``1 / (1 - rate)`` while training; the identity at inference."""

    reentrant_inference = True
    supports_masking = True
    built_at_init = True  # Keras builds it in __init__: no build_config in its file
    call_training_default = False
    inference_identity = True
    group = "Regularization"
    params = (
        Param("rate", "float", 0.5, min=0.0, max=1.0, max_exclusive=True,
              doc="Fraction of the input units to drop."),
        Param("noise_shape", "shape", None, optional=True, advanced=True,
              doc="Shape of the dropout mask (None entries follow the input)."),
        Param("seed", "int", None, min=0, optional=True, advanced=True,
              doc="Random seed for reproducible masks."),
    )

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = self._check("rate", rate)
        self.noise_shape = None if noise_shape is None else _shape_tuple(
            self.name, "noise_shape", noise_shape)
        self.seed = self._check("seed", seed)
        # A seeded layer owns its generator (its masks continue from call to call, as
        # Keras' SeedGenerator); unseeded layers use the module generator at call time.
        self._gen = None if self.seed is None else np.random.default_rng(self.seed)

    def _mask_shape(self, shape):
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(f"Layer '{self.name}': noise_shape={self.noise_shape} does not "
                             f"match the rank of the input shape {tuple(shape)}.")
        return tuple(d if n is None else n for n, d in zip(self.noise_shape, shape))

    def forward(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs, None
        gen = self._gen if self._gen is not None else nw_random.rng()
        # One 64-bit seed per call from the engine RNG; the kernel derives every
        # element's draw from it (see core.kernels.dropout). The raw draw is the value
        # ``integers(0, 2**64 - 1, endpoint=True, dtype=uint64)`` returns (numpy takes a
        # full-range draw straight from the bit generator) at 0.6 us instead of 2.7.
        seed = np.uint64(gen.bit_generator.random_raw())
        x = inputs
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        mask_shape = self._mask_shape(x.shape)
        if mask_shape == x.shape and x.flags.c_contiguous:
            y, mask = np.empty_like(x), np.empty_like(x)
            dropout_kernels.dropout_forward(x.reshape(-1), self.rate, seed, y.reshape(-1),
                                            mask.reshape(-1))
            return y, mask
        mask = np.empty(mask_shape, x.dtype)
        dropout_kernels.dropout_mask(self.rate, seed, mask.reshape(-1))
        return x * mask, mask

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        return grad_output if cache is None else grad_output * cache

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return config


@register_layer
class Flatten(Layer):
    """Flattens every axis but the batch axis (``(N, 28, 28, 1)`` -> ``(N, 784)``)."""

    reentrant_inference = True
    keeps_input_values = True
    group = "Reshaping"
    params = (Param("data_format", "choice", None, choices=("channels_last", "channels_first"),
                    optional=True, advanced=True),)

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = self._check("data_format", data_format) or "channels_last"

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape[1:])
        if not rest:
            dim = 1
        elif any(d is None for d in rest):
            dim = None
        else:
            dim = math.prod(rest)
        return (input_shape[0], dim)

    def forward(self, inputs, training=False):
        x = inputs
        if self.data_format == "channels_first" and x.ndim > 2:
            x = np.moveaxis(x, 1, -1)
        # A view whenever the input is contiguous: no copy on the common path.
        return x.reshape(x.shape[0], -1), (inputs.shape, x.shape)

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        in_shape, moved_shape = cache
        g = grad_output.reshape(moved_shape)
        if moved_shape != in_shape:
            g = np.moveaxis(g, -1, 1)
        return g

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


@register_layer
class Reshape(Layer):
    """Reshapes to ``(batch,) + target_shape``; one entry may be -1 (inferred)."""

    reentrant_inference = True
    keeps_input_values = True
    built_at_init = True  # Keras builds it in __init__: no build_config in its file
    group = "Reshaping"
    params = (Param("target_shape", "shape", (-1,),
                    doc="Shape without the batch size; one entry may be -1."),)

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = _shape_tuple(self.name, "target_shape", target_shape,
                                         allow_minus_one=True)
        if None in self.target_shape or self.target_shape.count(-1) > 1:
            raise ValueError(f"Layer '{self.name}': argument target_shape="
                             f"{self.target_shape} may contain at most one -1 and no None.")

    def _resolve(self, in_rest):
        """Target shape with -1 filled in; ValueError naming both shapes if sizes differ."""
        target = self.target_shape
        if any(d is None for d in in_rest):
            return tuple(None if d == -1 else d for d in target)
        total = math.prod(in_rest)
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if known == 0 or total % known:
                self._size_error(in_rest)
            return tuple(total // known if d == -1 else d for d in target)
        if known != total:
            self._size_error(in_rest)
        return target

    def _size_error(self, in_rest):
        raise ValueError(
            f"Layer '{self.name}': cannot reshape an input of shape {(None,) + tuple(in_rest)} "
            f"({math.prod(in_rest)} values per sample) into target_shape={self.target_shape}.")

    def build(self, input_shape):
        self._resolve(tuple(input_shape[1:]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(tuple(input_shape[1:]))

    def forward(self, inputs, training=False):
        shape = self._resolve(inputs.shape[1:])
        return inputs.reshape((inputs.shape[0],) + shape), inputs.shape

    def backward(self, cache, grad_output, need_input_grad=True):
        return grad_output.reshape(cache) if need_input_grad else None

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config
