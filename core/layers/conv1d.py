"""``Conv1D`` over (batch, steps, channels) (Keras 3 semantics), as im2col + one GEMM.

``core.kernels.conv1d.im2col_1d`` copies the windows of the whole batch into a
column matrix (N*OL, K*C) and the output is one BLAS product with the kernel
reshaped to (K*C, filters). ``padding='causal'`` pads ``dilation_rate *
(kernel_size - 1)`` steps on the left only, so output step t sees input steps <= t.
Weights as Keras: ``kernel`` (kernel_size, in_channels, filters), then ``bias``
(filters,). Only ``data_format='channels_last'`` and ``groups=1``. Keras' Conv1D
takes no mask, and neither does this one.

>>> import numpy as np
>>> conv = Conv1D(4, 3, padding="causal")
>>> conv(np.zeros((2, 10, 3), "float32")).shape
(2, 10, 4)
"""

from __future__ import annotations

import numpy as np

from core import activations
from core.kernels import activations as _act_kernels
from core.kernels import conv as conv_kernels
from core.kernels import conv1d as conv1d_kernels
from core.layers.base import Layer
from core.layers.convolutional import check_channels_last, check_groups
from core.layers.kernel_bias import KernelBias
from core.layers.scratch import ScratchBuffers
from core.layers.spec import KERNEL_BIAS_PARAMS, Param, register_layer

_RELU = activations.get("relu")  # the builtin plain ReLU, fused with the bias


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
    serialized_variables = ("kernel", "bias")  # Keras' save_own_variables
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
        self._scratch = ScratchBuffers()
        self._geometry_cache: dict[int, tuple] = {}

    def _geometry(self, steps):
        geo = self._geometry_cache.get(steps)
        if geo is None:
            geo = padding_1d(self.padding, steps, self.kernel_size[0], self.strides[0],
                             self.dilation_rate[0])
            if steps is not None:
                self._geometry_cache[steps] = geo
        return geo

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

    # ------------------------------------------------------------- computation
    # One im2col (``core.kernels.conv1d``) over the whole batch into a column
    # buffer reused every step (fresh multi-MB arrays page-fault on each step), one
    # GEMM, then bias + activation in place (bias + ReLU in one pass). The columns
    # stay in the buffer of this call's slot for backward: dW is one GEMM, dX one
    # GEMM + col2im, again into reused buffers. The bias does not ride in the GEMM
    # on a column of ones as in Conv2D: K*C + 1 = 161 columns made the benchmark's
    # GEMMs 20-30 % slower than 160 (OpenBLAS, float32).

    def _pointwise(self):
        """Kernel 1, stride 1: the input rows already *are* the column matrix."""
        return self.kernel_size == (1,) and self.strides == (1,)

    def forward(self, inputs, training=False):
        x = np.ascontiguousarray(inputs, dtype=self.kernel.dtype)
        n, steps, c = x.shape
        left, _, out = self._geometry(steps)
        k, f, kc = self.kernel_size[0], self.filters, self.kernel_size[0] * c
        slot = self._scratch.slot()
        if self._pointwise():
            cols = x.reshape(n * steps, c)
        else:
            cols, _ = self._scratch.get("cols", slot, (n * out, kc), x.dtype)
            conv1d_kernels.im2col_1d(x, k, self.strides[0], self.dilation_rate[0], left, cols)
        z = np.empty((n * out, f), x.dtype)  # the output: callers may keep it
        np.matmul(cols, self.kernel.value.reshape(kc, f), out=z)
        if not self.use_bias:
            y, act_cache = self.activation.forward(z, inplace=True)
        elif self.activation is _RELU and z.dtype.char in "fd":
            _act_kernels.bias_relu_forward(z, self.bias.value)  # one pass, not two
            y, act_cache = z, z  # ReLU's backward needs only the output's sign
        else:
            y, act_cache = self.activation.forward_biased(z, self.bias.value)
        return y.reshape(n, out, f), (x.shape, cols, act_cache, left, slot)

    def backward(self, cache, grad_output, need_input_grad=True):
        x_shape, cols, act_cache, left, slot = cache
        n, steps, c = x_shape
        k, f, kc = self.kernel_size[0], self.filters, self.kernel_size[0] * c
        dtype = cols.dtype
        dy = np.ascontiguousarray(grad_output, dtype).reshape(-1, f)
        dz_buf, _ = self._scratch.get("dz", "block", dy.shape, dtype)
        if self.use_bias and self.activation is _RELU and dtype.char in "fd":
            db = np.empty(f, dtype)
            dz = conv1d_kernels.relu_bias_backward(act_cache, dy, dz_buf, db)  # one pass
        else:
            dz = np.ascontiguousarray(self.activation.backward(act_cache, dy, out=dz_buf),
                                      dtype)
            db = dz.sum(axis=0) if self.use_bias else None
        self.write_grad(self.kernel, (cols.T @ dz).reshape(self.kernel.shape))
        if db is not None:
            self.write_grad(self.bias, db)
        if not need_input_grad:
            return None
        w2 = self.kernel.value.reshape(kc, f)
        dx, _ = self._scratch.get("dx", slot, x_shape, dtype)
        if self._pointwise():
            np.matmul(dz, w2.T, out=dx.reshape(n * steps, c))
            return dx
        dcols, _ = self._scratch.get("dcols", "block", (dz.shape[0], kc), dtype)
        np.matmul(dz, w2.T, out=dcols)
        conv1d_kernels.col2im_1d(dcols, k, self.strides[0], self.dilation_rate[0], left, dx)
        return dx

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
