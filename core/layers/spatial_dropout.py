"""``SpatialDropout1D`` and ``SpatialDropout2D`` (Keras 3): Dropout that drops whole
feature maps (channels) instead of single elements; one keep/drop draw per sample and
channel, shared by every step (1D) or pixel (2D). Scaling and inference behaviour are
Dropout's.

>>> import numpy as np
>>> y = SpatialDropout1D(0.5, seed=1)(np.ones((2, 4, 3), "float32"), training=True)
>>> bool(all(len(set(y[b, :, c])) == 1 for b in range(2) for c in range(3)))
True
"""

from __future__ import annotations

from core import config
from core.layers.core_layers import Dropout
from core.layers.spec import Param, register_layer


class _SpatialDropout(Dropout):
    """Keras' BaseSpatialDropout: ``__init__(rate, seed=None, name=None, dtype=None)``
    (no ``noise_shape``, no other layer arguments) and a config of exactly ``rate``,
    ``seed``, ``name`` and ``dtype`` (the plain dtype name, no policy)."""

    params = tuple(p for p in Dropout.params if p.name != "noise_shape")
    dtype_policy_in_config = False
    ndim = 3

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)

    def _check_rank(self, shape):
        if len(shape) != self.ndim:
            raise ValueError(f"Input 0 of layer '{self.name}' ({type(self).__name__}) is "
                             f"incompatible with the layer: expected ndim={self.ndim}, found "
                             f"ndim={len(shape)}. Full shape received: {tuple(shape)}")

    def build(self, input_shape):
        self._check_rank(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return input_shape

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


@register_layer
class SpatialDropout1D(_SpatialDropout):
    def _mask_shape(self, shape):
        return (shape[0], 1, shape[2])  # (samples, 1, channels): every step alike


@register_layer
class SpatialDropout2D(_SpatialDropout):
    params = _SpatialDropout.params + (
        Param("data_format", "choice", None, choices=("channels_last", "channels_first"),
              optional=True, advanced=True, doc="Where the channels axis is."),)
    ndim = 4

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        # Keras: None means the configured image_data_format
        self.data_format = self._check("data_format", data_format) or config.image_data_format()

    def _mask_shape(self, shape):
        if self.data_format == "channels_first":
            return (shape[0], shape[1], 1, 1)
        return (shape[0], 1, 1, shape[3])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
