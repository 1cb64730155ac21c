"""``Conv2D`` (NHWC, Keras 3 semantics) as im2col + one BLAS GEMM (direct numba
kernels when the reduction KH*KW*C is small), and the per-layer scratch buffers that
the conv, pooling and normalization layers reuse.

Weights as Keras: ``kernel`` (kh, kw, in_channels, filters), then ``bias``
(filters,). Only ``data_format='channels_last'`` and ``groups=1`` are
supported; anything else raises ``ValueError``.

>>> import numpy as np
>>> conv = Conv2D(8, 3, padding="same", activation="relu")
>>> conv(np.zeros((2, 28, 28, 1), "float32")).shape
(2, 28, 28, 8)
>>> conv.compute_output_shape((None, 28, 28, 1))
(None, 28, 28, 8)
"""

from __future__ import annotations

import numpy as np

from core import activations, aligned
from core.kernels import conv as conv_kernels
from core.layers import conv_gemm
from core.layers.base import Layer
from core.layers.kernel_bias import KernelBias
from core.layers.scratch import ScratchBuffers
from core.layers.spec import KERNEL_BIAS_PARAMS, Param, register_layer

# Largest reduction K = KH*KW*C that skips im2col + GEMM for the direct kernels
# (``conv_kernels.conv2d_direct_*``): for small K the GEMM is skinny and memory-bound
# and the column copy is pure overhead. Measured on the 2-core box (3x3 kernel, 32
# filters, 32x32 images, batch 128, forward + dW): K=9 6.6 vs 9.7 ms, K=27 12.3 vs
# 13.0 ms, K=36 14.3 vs 13.1 ms, K=72 23.1 vs 19.4 ms (direct vs im2col + GEMM).
DIRECT_MAX_K = 27

_RELU = activations.get("relu")  # the builtin plain ReLU, fused into the direct kernels


def spatial_padding(layer_name, padding, size, k, stride, dilation=1):
    """``(before, after, out)`` for one spatial axis; ``size`` may be None (unknown)."""
    if size is None:
        return 0, 0, None
    if padding == "same":
        before, after = conv_kernels.same_padding(size, k, stride, dilation)
    else:
        before = after = 0
    return before, after, conv_kernels.conv_output_size(size, k, stride, dilation,
                                                        before, after)


def check_4d(layer, input_shape) -> None:
    if len(input_shape) != 4:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) expects a 4-D input "
            f"(batch, height, width, channels), received input with shape "
            f"{tuple(input_shape)}")


def check_groups(layer, groups) -> int:
    """Keras' ``groups`` argument: a positive int; only 1 (no grouped convolution) here."""
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"Layer '{layer.name}': argument groups={groups!r} is invalid; "
                         f"expected a positive integer.")
    if groups != 1:
        raise ValueError(f"Layer '{layer.name}': groups={groups} is not supported; "
                         f"only groups=1 is.")
    return 1


def check_channels_last(layer, data_format):
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Layer '{layer.name}': argument data_format={data_format!r} is "
                         f"invalid; expected 'channels_last' or 'channels_first'.")
    if data_format != "channels_last":
        raise ValueError(f"Layer '{layer.name}': data_format={data_format!r} is not supported; "
                         f"only 'channels_last' (NHWC, Keras' default) is.")
    return data_format


@register_layer
class Conv2D(KernelBias, Layer):
    serialized_variables = ("kernel", "bias")  # Keras' save_own_variables
    group = "Convolution"
    params = (
        Param("filters", "int", None, min=1, doc="Number of output channels."),
        Param("kernel_size", "tuple", None, min=1, length=2, doc="Window height and width."),
        Param("strides", "tuple", (1, 1), min=1, length=2, doc="Step of the window."),
        Param("padding", "choice", "valid", choices=("valid", "same"),
              doc="'valid': no padding; 'same': pad so output = ceil(input / stride)."),
        Param("dilation_rate", "tuple", (1, 1), min=1, length=2, advanced=True,
              doc="Spacing between kernel taps (cannot combine with strides > 1)."),
        Param("activation", "activation", None, optional=True, doc="Activation function."),
        Param("use_bias", "bool", True, doc="Whether to add a bias vector."),
    ) + KERNEL_BIAS_PARAMS

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = self._check("filters", filters)
        self.kernel_size = self._check("kernel_size", kernel_size)
        self.strides = self._check("strides", strides)
        self.padding = self._check("padding", padding)
        self.dilation_rate = self._check("dilation_rate", dilation_rate)
        self.data_format = check_channels_last(self, data_format)
        self.groups = check_groups(self, groups)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"Layer '{self.name}': strides > 1 cannot be combined with dilation_rate > 1 "
                f"(received strides={self.strides}, dilation_rate={self.dilation_rate}).")
        self.activation = activations.get(activation)
        self._init_kernel_bias(use_bias, kernel_initializer, bias_initializer,
                               kernel_regularizer, bias_regularizer,
                               kernel_constraint, bias_constraint)
        self._refuse_unsupported(lora_rank=lora_rank,
                                 lora_alpha=lora_alpha)
        self._scratch = ScratchBuffers()
        self._geometry_cache: dict[tuple[int, int], tuple] = {}

    # ------------------------------------------------------------------ shapes
    def _geometry(self, h, w):
        """``(oh, ow, (top, bottom, left, right))`` for an input of spatial size h x w."""
        geo = self._geometry_cache.get((h, w))
        if geo is None:
            (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
            pt, pb, oh = spatial_padding(self.name, self.padding, h, kh, sh, dh)
            pl, pr, ow = spatial_padding(self.name, self.padding, w, kw, sw, dw)
            geo = (oh, ow, (pt, pb, pl, pr))
            if h is not None and w is not None:
                self._geometry_cache[(h, w)] = geo
        return geo

    def compute_output_shape(self, input_shape):
        check_4d(self, input_shape)
        oh, ow, _ = self._geometry(input_shape[1], input_shape[2])
        if (oh is not None and oh <= 0) or (ow is not None and ow <= 0):
            raise ValueError(
                f"Layer '{self.name}' (Conv2D): kernel_size={self.kernel_size} with "
                f"dilation_rate={self.dilation_rate}, strides={self.strides} and "
                f"padding='{self.padding}' does not fit the input of shape "
                f"{tuple(input_shape)}; the output would be {oh}x{ow}. Use a smaller "
                f"kernel or padding='same'.")
        return (input_shape[0], oh, ow, self.filters)

    def build(self, input_shape):
        check_4d(self, input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"Layer '{self.name}' (Conv2D) needs a known number of input "
                             f"channels, received input with shape {tuple(input_shape)}")
        self.compute_output_shape(input_shape)
        kh, kw = self.kernel_size
        self._add_kernel_bias((kh, kw, input_shape[-1], self.filters), self.filters)
        self.built = True  # as Keras: a direct build() call must not be repeated by __call__

    # ------------------------------------------------------------- computation
    # A small reduction runs the direct kernels; otherwise im2col + GEMM in chunks of
    # images on every core (``core.layers.conv_gemm``), then the activation on the
    # whole output (and in backward its gradient first, then the chunks' GEMMs).

    def _direct(self, c):
        """Small reduction: direct kernels instead of im2col + GEMM."""
        kh, kw = self.kernel_size
        pointwise = (kh, kw) == (1, 1) and self.strides == (1, 1)  # no copy to save
        return not pointwise and kh * kw * c <= DIRECT_MAX_K

    def _forward_direct(self, x, oh, ow, pads, slot):
        n, f = x.shape[0], self.filters
        (sh, sw), (dh, dw) = self.strides, self.dilation_rate
        kernel = np.ascontiguousarray(self.kernel.value)
        bias = self.bias.value if self.use_bias else np.zeros(f, x.dtype)
        relu = self.activation is _RELU
        z = aligned.empty((n, oh, ow, f), x.dtype)
        conv_kernels.conv2d_direct_forward(x, kernel, bias, sh, sw, dh, dw, pads[0], pads[2],
                                           relu, z)
        if relu:  # the output's sign is all backward needs
            return z, (x, z, slot, None, "direct_relu")
        y, act_cache = self.activation.forward(z.reshape(-1, f), inplace=True)
        return y.reshape(n, oh, ow, f), (x, act_cache, slot, None, "direct")

    def _backward_direct(self, cache, grad_output, need_input_grad):
        x, act_cache, slot, _, mode = cache
        n, h, w, c = x.shape
        oh, ow, pads = self._geometry(h, w)
        f = self.filters
        (sh, sw), (dh, dw) = self.strides, self.dilation_rate
        dy = np.ascontiguousarray(grad_output, dtype=x.dtype).reshape(n, oh, ow, f)
        relu = mode == "direct_relu"
        if relu:
            y = act_cache
        else:
            dy = np.ascontiguousarray(self.activation.backward(act_cache, dy.reshape(-1, f)),
                                      dtype=x.dtype).reshape(n, oh, ow, f)
            y = dy  # ignored by the kernel
        gk, gb = np.empty(self.kernel.shape, x.dtype), np.empty(f, x.dtype)
        args = (dy, y, relu, sh, sw, dh, dw, pads[0], pads[2])
        conv_kernels.conv2d_direct_backward_filter(x, *args, gk, gb,
                                                   conv_kernels.backward_chunks(n))
        dx = None
        if need_input_grad:
            dx = self._scratch.get("dx", slot, x.shape, x.dtype)[0]
            conv_kernels.conv2d_direct_backward_input(np.ascontiguousarray(self.kernel.value),
                                                      *args, dx)
        self.write_grad(self.kernel, gk)
        if self.use_bias:
            self.write_grad(self.bias, gb)
        return dx

    def forward(self, inputs, training=False):
        x = np.ascontiguousarray(inputs, dtype=self.kernel.dtype)
        n, h, w, c = x.shape
        oh, ow, pads = self._geometry(h, w)
        if self._direct(c):
            return self._forward_direct(x, oh, ow, pads, self._scratch.slot())
        rpi, f = oh * ow, self.filters
        z = aligned.empty((n * rpi, f), x.dtype)
        conv_gemm.forward(self, x, oh, ow, lambda b0, b1, per: z[b0 * rpi:b1 * rpi])
        y, act_cache = self.activation.forward(z, inplace=True)
        return y.reshape(n, oh, ow, f), (x, act_cache, self._scratch.slot(), None, None)

    def backward(self, cache, grad_output, need_input_grad=True):
        if cache[4] is not None:
            return self._backward_direct(cache, grad_output, need_input_grad)
        x, act_cache, slot, _, _ = cache
        n, h, w, _ = x.shape
        oh, ow, _ = self._geometry(h, w)
        rpi, f = oh * ow, self.filters
        dy = np.ascontiguousarray(grad_output, dtype=x.dtype).reshape(-1, f)
        dz = np.ascontiguousarray(self.activation.backward(act_cache, dy), dtype=x.dtype)
        gk, gb, dx = conv_gemm.backward(self, x, oh, ow, slot,
                                        lambda b0, b1, per: dz[b0 * rpi:b1 * rpi],
                                        need_input_grad)
        self.write_grad(self.kernel, gk)
        if self.use_bias:
            self.write_grad(self.bias, gb)
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
