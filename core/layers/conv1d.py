"""``Conv1D`` over (batch, steps, channels) (Keras 3 semantics), as im2col + one GEMM.

The sequence is a 1 x L image for the 2-D ``im2col``/``col2im`` numba kernels
(``core.kernels.conv``), so the column matrix is (N*OL, K*C) and the output is one
BLAS product with the kernel reshaped to (K*C, filters). ``padding='causal'`` pads
``dilation_rate * (kernel_size - 1)`` steps on the left only, so output step t sees
input steps <= t. Weights as Keras: ``kernel`` (kernel_size, in_channels, filters),
then ``bias`` (filters,). Only ``data_format='channels_last'`` and ``groups=1``.

>>> import numpy as np
>>> conv = Conv1D(4, 3, padding="causal")
>>> conv(np.zeros((2, 10, 3), "float32")).shape
(2, 10, 4)
"""

from __future__ import annotations

import numpy as np

from core import activations
from core.kernels import conv as conv_kernels
from core.layers.base import Layer
from core.layers.convolutional import check_channels_last, check_groups
from core.layers.kernel_bias import KernelBias
from core.layers.spec import KERNEL_BIAS_PARAMS, Param, register_layer


def check_3d(layer, input_shape) -> None:
    if len(input_shape) != 3:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) expects a 3-D input "
            f"(batch, steps, channels), received input with shape {tuple(input_shape)}")


def padding_1d(padding, size, k, stride, dilation=1):
    """``(left, right, out)`` for a sequence of ``size`` steps (None: unknown)."""
    if size is None:
        return 0, 0, None
    if padding == "same":
        left, right = conv_kernels.same_padding(size, k, stride, dilation)
    elif padding == "causal":
        left, right = dilation * (k - 1), 0
    else:
        left = right = 0
    return left, right, conv_kernels.conv_output_size(size, k, stride, dilation, left, right)


@register_layer
class Conv1D(KernelBias, Layer):
    group = "Sequence"
    params = (
        Param("filters", "int", None, min=1, doc="Number of output channels."),
        Param("kernel_size", "tuple", None, min=1, length=1, doc="Window length."),
        Param("strides", "tuple", (1,), min=1, length=1, doc="Step of the window."),
        Param("padding", "choice", "valid", choices=("valid", "same", "causal"),
              doc="'valid': none; 'same': output = ceil(steps / stride); "
                  "'causal': pad on the left so no step sees the future."),
        Param("dilation_rate", "tuple", (1,), min=1, length=1, advanced=True,
              doc="Spacing between kernel taps (cannot combine with strides > 1)."),
        Param("activation", "activation", None, optional=True, doc="Activation function."),
        Param("use_bias", "bool", True, doc="Whether to add a bias vector."),
    ) + KERNEL_BIAS_PARAMS

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = self._check("filters", filters)
        self.kernel_size = self._check("kernel_size", kernel_size)
        self.strides = self._check("strides", strides)
        self.padding = self._check("padding", padding)
        self.dilation_rate = self._check("dilation_rate", dilation_rate)
        self.data_format = check_channels_last(self, data_format)
        self.groups = check_groups(self, groups)
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            raise ValueError(
                f"Layer '{self.name}': strides > 1 cannot be combined with dilation_rate > 1 "
                f"(received strides={self.strides}, dilation_rate={self.dilation_rate}).")
        self.activation = activations.get(activation)
        self._init_kernel_bias(use_bias, kernel_initializer, bias_initializer,
                               kernel_regularizer, bias_regularizer,
                               kernel_constraint, bias_constraint)

    def _geometry(self, steps):
        return padding_1d(self.padding, steps, self.kernel_size[0], self.strides[0],
                          self.dilation_rate[0])

    def compute_output_shape(self, input_shape):
        check_3d(self, input_shape)
        _, _, out = self._geometry(input_shape[1])
        if out is not None and out <= 0:
            raise ValueError(
                f"Layer '{self.name}' (Conv1D): kernel_size={self.kernel_size} with "
                f"dilation_rate={self.dilation_rate}, strides={self.strides} and "
                f"padding='{self.padding}' does not fit the input of shape "
                f"{tuple(input_shape)}; the output would have {out} steps.")
        return (input_shape[0], out, self.filters)

    def build(self, input_shape):
        check_3d(self, input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"Layer '{self.name}' (Conv1D) needs a known number of input "
                             f"channels, received input with shape {tuple(input_shape)}")
        self.compute_output_shape(input_shape)
        self._add_kernel_bias((self.kernel_size[0], input_shape[-1], self.filters), self.filters)

    def _columns(self, x4, left, right, out):
        k, s, d = self.kernel_size[0], self.strides[0], self.dilation_rate[0]
        n, c = x4.shape[0], x4.shape[3]
        cols = np.empty((n * out, k * c), x4.dtype)
        conv_kernels.im2col(x4, 1, k, 1, s, 1, d, 0, 0, left, right, cols)
        return cols

    def forward(self, inputs, training=False):
        x = np.ascontiguousarray(inputs, dtype=self.kernel.dtype)
        n, steps, c = x.shape
        left, right, out = self._geometry(steps)
        x4 = x.reshape(n, 1, steps, c)
        cols = self._columns(x4, left, right, out)
        z = cols @ self.kernel.value.reshape(-1, self.filters)
        if self.use_bias:
            z += self.bias.value
        y, act_cache = self.activation.forward(z, inplace=True)
        return y.reshape(n, out, self.filters), (x.shape, cols, act_cache, (left, right))

    def backward(self, cache, grad_output, need_input_grad=True):
        x_shape, cols, act_cache, (left, right) = cache
        n, steps, c = x_shape
        dz = self.activation.backward(
            act_cache, np.ascontiguousarray(grad_output, cols.dtype).reshape(-1, self.filters))
        dz = np.ascontiguousarray(dz, cols.dtype)
        self.write_grad(self.kernel, (cols.T @ dz).reshape(self.kernel.shape))
        if self.use_bias:
            self.write_grad(self.bias, dz.sum(axis=0))
        if not need_input_grad:
            return None
        dcols = dz @ self.kernel.value.reshape(-1, self.filters).T
        dx = np.empty((n, 1, steps, c), cols.dtype)
        k, s, d = self.kernel_size[0], self.strides[0], self.dilation_rate[0]
        conv_kernels.col2im(dcols, 1, k, 1, s, 1, d, 0, 0, left, right, dx)
        return dx.reshape(x_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            **self.kernel_bias_config(with_activity=True),
        })
        return config
