"""``Masking`` (Keras 3): mark the time steps whose features all equal ``mask_value``
as padding. Those steps' outputs are set to 0 and the output carries the mask
``any(x != mask_value, axis=-1)`` (``core.layers.masks``) for the layers downstream
(recurrent layers skip masked steps, ``GlobalAveragePooling1D`` averages the rest).

>>> import numpy as np
>>> x = np.array([[[1.0, 2.0], [0.0, 0.0]]], "float32")
>>> layer = Masking()
>>> layer(x).tolist(), layer.compute_mask(x).tolist()
([[[1.0, 2.0], [0.0, 0.0]]], [[True, False]])
"""

from __future__ import annotations

import numpy as np

from core.layers.base import Layer
from core.layers.spec import Param, register_layer


@register_layer
class Masking(Layer):
    built_at_init = True  # Keras builds it in __init__: no build_config in its file
    group = "Sequence"
    supports_masking = True
    reentrant_inference = True
    params = (Param("mask_value", "float", 0.0,
                    doc="Steps whose every feature equals this value are masked."),)

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = self._check("mask_value", mask_value)

    def compute_mask(self, inputs, mask=None):
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)

    def _creates_masks(self) -> bool:
        return True

    def forward(self, inputs, training=False):
        keep = np.any(inputs != self.mask_value, axis=-1, keepdims=True)
        return np.where(keep, inputs, 0).astype(inputs.dtype, copy=False), keep

    def backward(self, cache, grad_output, need_input_grad=True):
        return grad_output * cache if need_input_grad else None

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
