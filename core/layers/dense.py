"""``Dense``: ``activation(inputs @ kernel + bias)`` — the reference layer.

Weights as Keras: ``kernel`` (input_dim, units), then ``bias`` (units,).
Works on any rank >= 2 input (applies to the last axis).

>>> import numpy as np
>>> layer = Dense(4, activation="relu")
>>> layer(np.ones((2, 3), "float32")).shape
(2, 4)
"""

from __future__ import annotations

import numpy as np

from core import activations, runtime
from core.kernels import activations as _act_kernels
from core.kernels import checks as _checks
from core.layers.base import Layer
from core.layers.kernel_bias import KernelBias
from core.layers.spec import KERNEL_BIAS_PARAMS, Param, register_layer

_RELU = activations.get("relu")


@register_layer
class Dense(KernelBias, Layer):
    serialized_variables = ("kernel", "bias")  # Keras' save_own_variables
    reentrant_inference = True
    supports_masking = True  # Keras: the mask passes through (core.layers.masks)
    group = "Core"
    params = (
        Param("units", "int", None, min=1, doc="Dimensionality of the output space."),
        Param("activation", "activation", None, optional=True, doc="Activation function."),
        Param("use_bias", "bool", True, doc="Whether to add a bias vector."),
    ) + KERNEL_BIAS_PARAMS

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = self._check("units", units)
        self.activation = activations.get(activation)
        self._init_kernel_bias(use_bias, kernel_initializer, bias_initializer,
                               kernel_regularizer, bias_regularizer,
                               kernel_constraint, bias_constraint)
        self._refuse_unsupported(lora_rank=lora_rank,
                                 quantization_config=quantization_config)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"Layer '{self.name}' needs an input with a known last dimension, "
                f"received input with shape {tuple(input_shape)}"
            )
        self._add_kernel_bias((input_shape[-1], self.units), self.units)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, inputs, training=False):
        x2 = inputs.reshape(-1, inputs.shape[-1])
        y, cache, _ = self._activate(inputs, x2, runtime.matmul(x2, self.kernel.value))
        return y, cache

    def forward_reporting_finite(self, inputs):
        """Inference ``forward`` that also says whether every pre-activation was finite.

        A NaN or inf in ``inputs`` makes its whole row of ``inputs @ kernel`` NaN or inf,
        so a True answer vouches for the input (``core.models.predictor.FiniteInputs``).
        The check comes before the activation, which may map -inf (or, in general, NaN)
        to a number.
        """
        x2 = inputs.reshape(-1, inputs.shape[-1])
        z = runtime.matmul(x2, self.kernel.value)
        y, _, finite = self._activate(inputs, x2, z, report=True)
        return y, finite

    def _activate(self, inputs, x2, z, report=False):
        """Bias and activation on ``z``, our fresh matmul result, so they may overwrite
        it. Returns (output, backward cache, whether z + bias was finite: always True
        unless ``report`` or the ReLU kernel looked)."""
        finite = True
        kernel = self.bias is not None and z.dtype.char in "fd"
        if kernel and self.activation is _RELU:
            finite = _act_kernels.bias_relu_forward(z, self.bias.value)  # one pass, not two
            y, act_cache = z, z  # ReLU's backward needs only the output's sign
        else:
            if report:
                flat = z.reshape(-1)
                finite = (_checks.finite_serial(flat) if z.dtype.char in "fd"
                          else bool(np.isfinite(flat).all()))
            if self.bias is not None:
                y, act_cache = self.activation.forward_biased(z, self.bias.value)
            else:
                y, act_cache = self.activation.forward(z, inplace=True)
        return y.reshape(inputs.shape[:-1] + (self.units,)), (inputs, x2, act_cache), finite

    def backward(self, cache, grad_output, need_input_grad=True):
        inputs, x2, act_cache = cache
        g = grad_output.reshape(-1, self.units)
        dz = self.activation.backward(act_cache, g)
        self.write_grad_matmul(self.kernel, x2.T, dz)
        if self.bias is not None:
            self.write_grad(self.bias, dz.sum(axis=0))
        if not need_input_grad:
            return None
        return runtime.matmul(dz, self.kernel.value.T).reshape(inputs.shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            **self.kernel_bias_config(),
            "quantization_config": None,  # Keras 3.15 writes it (None: not quantized)
        })
        return config
