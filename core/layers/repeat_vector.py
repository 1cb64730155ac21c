"""``RepeatVector`` (Keras 3): (batch, features) -> (batch, n, features), the input
repeated ``n`` times (e.g. to feed one encoding to every step of a decoder).

>>> import numpy as np
>>> RepeatVector(3)(np.ones((2, 4), "float32")).shape
(2, 3, 4)
"""

from __future__ import annotations

import numpy as np

from core.layers.base import Layer
from core.layers.spec import Param, register_layer


@register_layer
class RepeatVector(Layer):
    group = "Reshaping"
    reentrant_inference = True
    params = (Param("n", "int", None, min=1, doc="How many times to repeat the input."),)

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = self._check("n", n)

    def _check_2d(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"Layer '{self.name}' (RepeatVector) expects a 2-D input "
                             f"(batch, features), received input with shape "
                             f"{tuple(input_shape)}")

    def build(self, input_shape):
        self._check_2d(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_2d(input_shape)
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, inputs, training=False):
        return np.repeat(inputs[:, None, :], self.n, axis=1), None

    def backward(self, cache, grad_output, need_input_grad=True):
        return grad_output.sum(axis=1) if need_input_grad else None

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config
