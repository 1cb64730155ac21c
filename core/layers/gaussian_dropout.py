"""``GaussianDropout`` (Keras 3): multiplies the input by noise from N(1, rate / (1 -
rate)) while training (multiplicative, mean-preserving dropout); the identity at
inference.

>>> import numpy as np
>>> x = np.ones((2, 3), "float32")
>>> bool((GaussianDropout(0.2)(x) == x).all())  # inference: unchanged
True
>>> GaussianDropout(0.2)(x, training=True).shape
(2, 3)
"""

from __future__ import annotations

import math

import numpy as np

from core import random as nw_random
from core.layers.base import Layer
from core.layers.spec import Param, register_layer


@register_layer
class GaussianDropout(Layer):
    group = "Regularization"
    # Keras: supports_masking, _build_at_init(), call(inputs, training=False)
    supports_masking = True
    built_at_init = True
    call_training_default = False
    inference_identity = True
    reentrant_inference = True  # inference returns its input; training allocates
    # Keras accepts rate == 1 when built (its training call then divides by zero).
    params = (
        Param("rate", "float", None, min=0.0, max=1.0,
              doc="Drop probability; the noise's variance is rate / (1 - rate)."),
        Param("seed", "int", None, min=0, optional=True, advanced=True,
              doc="Random seed for reproducible noise."),
    )

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = self._check("rate", rate)
        self.seed = self._check("seed", seed)
        # As Dropout: a seeded layer owns its generator (draws continue call to call, as
        # Keras' SeedGenerator); an unseeded one draws from the engine RNG at call time.
        self._gen = None if self.seed is None else np.random.default_rng(self.seed)

    def forward(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs, None
        if self.rate >= 1.0:  # Keras divides by zero here; say why instead
            raise ValueError(f"Layer '{self.name}' (GaussianDropout): rate=1 makes the noise "
                             "variance rate / (1 - rate) infinite; use a rate below 1.")
        gen = self._gen if self._gen is not None else nw_random.rng()
        dtype = np.float64 if inputs.dtype == np.float64 else np.float32
        noise = gen.standard_normal(inputs.shape, dtype=dtype)
        noise *= dtype(math.sqrt(self.rate / (1.0 - self.rate)))
        noise += dtype(1.0)
        return inputs * noise, noise

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        return grad_output if cache is None else grad_output * cache  # d(x * noise)/dx

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
