"""``Permute`` (Keras 3): reorder the non-batch axes; ``dims`` is 1-indexed
(``Permute((2, 1))`` swaps the two axes after the batch).

>>> import numpy as np
>>> Permute((2, 1))(np.ones((2, 3, 5), "float32")).shape
(2, 5, 3)
"""

from __future__ import annotations

import numpy as np

from core.layers.base import Layer
from core.layers.spec import Param, register_layer


@register_layer
class Permute(Layer):
    group = "Reshaping"
    reentrant_inference = True
    params = (Param("dims", "shape", None,
                    doc="New order of the axes after the batch, 1-indexed, e.g. (2, 1)."),)

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = self._check("dims", dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Layer '{self.name}' (Permute): dims={dims} is invalid; "
                             f"expected a permutation of 1..{len(dims)} (1-indexed axes).")
        self.dims = dims

    def _check_rank(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(f"Layer '{self.name}' (Permute): dims={self.dims} needs an input "
                             f"of rank {len(self.dims) + 1}, received input with shape "
                             f"{tuple(input_shape)}")

    def build(self, input_shape):
        self._check_rank(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, inputs, training=False):
        return np.transpose(inputs, (0,) + self.dims), None

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        return np.transpose(grad_output, np.argsort((0,) + self.dims))

    def get_config(self):
        config = super().get_config()
        config["dims"] = self.dims
        return config
