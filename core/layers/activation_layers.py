"""Keras 3 activation layers: ``ReLU``, ``LeakyReLU``, ``Softmax``, ``ELU``.

Each wraps a configured ``core.activations`` object; outputs are never written
over the input (it may be another layer's output kept for its backward).

>>> import numpy as np
>>> ReLU(max_value=1.0)(np.array([[-2.0, 0.5, 3.0]], "float32")).tolist()
[[0.0, 0.5, 1.0]]
>>> LeakyReLU()(np.array([[-1.0]], "float32")).tolist()  # Keras 3 layer default 0.3
[[-0.30000001192092896]]
"""

from __future__ import annotations

import warnings

from core import activation_ops
from core.layers.base import Layer
from core.layers.spec import Param, register_layer


class _ActivationLayer(Layer):
    reentrant_inference = True
    built_at_init = True  # Keras builds it in __init__: no build_config in its file
    supports_masking = True  # Keras: the mask passes through (core.layers.masks)
    group = "Activation"

    def forward(self, inputs, training=False):
        return self._act.forward(inputs)

    def backward(self, cache, grad_output, need_input_grad=True):
        return self._act.backward(cache, grad_output) if need_input_grad else None


@register_layer
class ReLU(_ActivationLayer):
    """``max_value`` clips, ``threshold`` shifts the kink, ``negative_slope`` leaks below it."""

    params = (
        Param("max_value", "float", None, min=0.0, optional=True,
              doc="Largest output value (None: unlimited)."),
        Param("negative_slope", "float", 0.0, min=0.0, doc="Slope below the threshold."),
        Param("threshold", "float", 0.0, min=0.0, doc="Inputs below this are damped."),
    )

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = self._check("max_value", max_value)
        self.negative_slope = self._check("negative_slope", negative_slope)
        self.threshold = self._check("threshold", threshold)
        self._act = activation_ops.ReLU(self.negative_slope, self.max_value, self.threshold)

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config


@register_layer
class LeakyReLU(_ActivationLayer):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below (layer default 0.3, as Keras 3)."""

    params = (Param("negative_slope", "float", 0.3, min=0.0, doc="Slope for x < 0."),)

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2 name
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU: argument `alpha` is deprecated; use `negative_slope`.",
                          DeprecationWarning, stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = self._check("negative_slope", negative_slope)
        self._act = activation_ops.LeakyReLU(self.negative_slope)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


@register_layer
class Softmax(_ActivationLayer):
    call_takes_mask = True
    """Normalised exponentials along ``axis`` (an int or a list of ints)."""

    params = (Param("axis", "axis", -1, doc="Axis (or axes) to normalise over."),)
    supports_masking = False  # Keras' Softmax applies a mask; ours takes none, so drops it

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = self._check("axis", axis)
        self._act = activation_ops.Softmax(self.axis)

    def build(self, input_shape):
        rank = len(input_shape)
        for a in (self.axis if isinstance(self.axis, list) else [self.axis]):
            if not -rank <= a < rank or a % rank == 0:
                raise ValueError(f"Layer '{self.name}': axis={self.axis!r} is invalid for an "
                                 f"input of shape {tuple(input_shape)}; use a non-batch axis.")

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


@register_layer
class ELU(_ActivationLayer):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` below."""

    params = (Param("alpha", "float", 1.0, doc="Scale of the negative part."),)

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = self._check("alpha", alpha)
        self._act = activation_ops.ELU(self.alpha)

    def get_config(self):
        # Keras' ELU puts alpha right after the name: {"name", "alpha", "trainable", ...}.
        config = super().get_config()
        return {"name": config.pop("name"), "alpha": self.alpha, **config}
