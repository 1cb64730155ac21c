"""``GaussianNoise`` (Keras 3): adds zero-centred Gaussian noise of standard deviation
``stddev`` while training (a regularizer, or data augmentation of real-valued inputs);
the identity at inference.

>>> import numpy as np
>>> x = np.ones((2, 3), "float32")
>>> bool((GaussianNoise(0.1)(x) == x).all())  # inference: unchanged
True
>>> bool((GaussianNoise(0.1)(x, training=True) == x).any())
False
"""

from __future__ import annotations

import numpy as np

from core import random as nw_random
from core.layers.base import Layer
from core.layers.spec import Param, register_layer


@register_layer
class GaussianNoise(Layer):
    group = "Regularization"
    # Keras: supports_masking, _build_at_init(), call(inputs, training=False)
    supports_masking = True
    built_at_init = True
    call_training_default = False
    inference_identity = True
    reentrant_inference = True  # inference returns its input; training allocates
    params = (
        Param("stddev", "float", None, min=0.0, max=1.0,
              doc="Standard deviation of the noise added while training."),
        Param("seed", "int", None, min=0, optional=True, advanced=True,
              doc="Random seed for reproducible noise."),
    )

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = self._check("stddev", stddev)
        self.seed = self._check("seed", seed)
        # As Dropout: a seeded layer owns its generator (draws continue call to call, as
        # Keras' SeedGenerator); an unseeded one draws from the engine RNG at call time.
        self._gen = None if self.seed is None else np.random.default_rng(self.seed)

    def forward(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs, None
        gen = self._gen if self._gen is not None else nw_random.rng()
        dtype = np.float64 if inputs.dtype == np.float64 else np.float32
        noise = gen.standard_normal(inputs.shape, dtype=dtype)
        noise *= dtype(self.stddev)
        return inputs + noise, None

    def backward(self, cache, grad_output, need_input_grad=True):
        return grad_output if need_input_grad else None  # d(x + noise)/dx = 1

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config
