"""``Conv2DTranspose`` (NHWC, Keras 3.15.1 semantics) as one GEMM + ``col2im``.

A transposed convolution is the input-gradient of a convolution: read the Keras
kernel (kh, kw, filters, in_channels) as a ``Conv2D`` kernel (kh, kw, in=filters,
out=in_channels) of a convolution that maps the *output* y back onto the input x.
Forward is then ``col2im(x @ W.T)`` and backward is ``im2col(dy)`` followed by two
GEMMs, on the same numba ``im2col``/``col2im`` kernels Conv2D uses
(``core.kernels.conv``); for a narrow column matrix (``DIRECT_MAX_K``) Conv2D's direct
kernels run instead, with forward and backward-input swapped.

Geometry is Keras' (``compute_conv_transpose_padding_args_for_jax``, which the torch
backend reproduces by cropping): every input pixel i scatters its window onto the
"full" output at ``i * stride + tap * dilation``; the layer output is that full
output cropped by ``crop`` pixels at the start and cut (or zero-extended, for
``output_padding``) at the end. Output size per axis: 'valid' gives
``(i - 1) * s + k_eff + output_padding`` (default ``max(k_eff, s) - k_eff``),
'same' gives ``i * s``, or ``(i - 1) * s + k_eff % 2 + output_padding`` when
``output_padding`` is set. Only ``data_format='channels_last'``.

>>> import numpy as np
>>> up = Conv2DTranspose(4, 3, strides=2, padding="same")
>>> up(np.zeros((2, 7, 7, 8), "float32")).shape
(2, 14, 14, 4)
>>> Conv2DTranspose(1, 3).compute_output_shape((None, 5, 6, 2))
(None, 7, 8, 1)
"""

from __future__ import annotations

import numpy as np

from core import activations
from core.kernels import conv as conv_kernels
from core.layers.base import Layer
from core.layers.convolutional import check_4d, check_channels_last
from core.layers.kernel_bias import KernelBias
from core.layers.spec import KERNEL_BIAS_PARAMS, Param, register_layer

# Bytes of column rows per block of images: bounds the (rows, kh*kw*filters) work
# matrix for big images; MNIST/CIFAR-sized batches are one block.
BLOCK_BYTES = 64 << 20

# Largest kh*kw*filters (the column width) that runs Conv2D's direct kernels with the
# roles swapped instead of GEMM + col2im: a skinny GEMM is memory-bound and the column
# matrix is pure overhead. Measured (forward, separate processes, 2-core box under
# load) for a 1-filter 3x3 decoder output layer, 64x24x24x16 input: 4-8 ms direct vs
# 15-25 ms GEMM + col2im; for 16 filters (K=144) on 64x14x14x32: 31-47 vs 18-26 ms.
DIRECT_MAX_K = 27


def transpose_axis(size, k, stride, dilation, padding, output_padding):
    """``(out, crop)`` of one spatial axis, as Keras computes it (``size`` may be None).

    ``crop`` is how many pixels of the full scatter output are cut at the start.

    >>> transpose_axis(7, 3, 2, 1, "same", None)
    (14, 0)
    >>> transpose_axis(7, 3, 2, 1, "valid", 1)
    (16, 0)
    """
    k_eff = (k - 1) * dilation + 1
    if padding == "valid":
        extra = max(k_eff, stride) - k_eff if output_padding is None else output_padding
        left = k_eff - 1
        right = k_eff - 1 + extra
    else:
        pad_len = (stride + k_eff - 2 if output_padding is None
                   else k_eff + k_eff % 2 - 2 + output_padding)
        left = min(pad_len // 2 + pad_len % 2, k_eff - 1)
        right = pad_len - left
    if size is None:
        return None, k_eff - 1 - left
    return (size - 1) * stride + left + right - k_eff + 2, k_eff - 1 - left


def conv_view_pads(size, out, crop, k, stride, dilation):
    """``(before, after)`` padding of the convolution that maps ``out`` back to ``size``:
    ``before = crop``; ``after`` is the smallest >= 0 that still gives ``size`` windows
    (Keras' end padding is always < stride, so the floor in the window count absorbs it)."""
    k_eff = (k - 1) * dilation + 1
    return crop, max(0, (size - 1) * stride + k_eff - out - crop)


@register_layer
class Conv2DTranspose(KernelBias, Layer):
    group = "Convolution"
    params = (
        Param("filters", "int", None, min=1, doc="Number of output channels."),
        Param("kernel_size", "tuple", None, min=1, length=2, doc="Window height and width."),
        Param("strides", "tuple", (1, 1), min=1, length=2,
              doc="Upsampling step: each input pixel moves this far in the output."),
        Param("padding", "choice", "valid", choices=("valid", "same"),
              doc="'valid': output = (input - 1) * stride + kernel; 'same': input * stride."),
        Param("output_padding", "tuple", None, min=0, length=2, optional=True, advanced=True,
              doc="Extra rows/columns at the end of the output; each < strides."),
        Param("dilation_rate", "tuple", (1, 1), min=1, length=2, advanced=True,
              doc="Spacing between kernel taps (cannot combine with strides > 1)."),
        Param("activation", "activation", None, optional=True, doc="Activation function."),
        Param("use_bias", "bool", True, doc="Whether to add a bias vector."),
    ) + KERNEL_BIAS_PARAMS

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = self._check("filters", filters)
        self.kernel_size = self._check("kernel_size", kernel_size)
        self.strides = self._check("strides", strides)
        self.padding = self._check("padding", padding)
        self.output_padding = self._check("output_padding", output_padding)
        self.dilation_rate = self._check("dilation_rate", dilation_rate)
        self.data_format = check_channels_last(self, data_format)
        if self.output_padding is not None and any(
                op >= s for op, s in zip(self.output_padding, self.strides)):
            raise ValueError(
                f"Layer '{self.name}': output_padding must be strictly less than strides "
                f"in every dimension (received output_padding={self.output_padding}, "
                f"strides={self.strides}).")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"Layer '{self.name}': strides > 1 cannot be combined with dilation_rate > 1 "
                f"(received strides={self.strides}, dilation_rate={self.dilation_rate}).")
        self.activation = activations.get(activation)
        self._init_kernel_bias(use_bias, kernel_initializer, bias_initializer,
                               kernel_regularizer, bias_regularizer,
                               kernel_constraint, bias_constraint)

    # ------------------------------------------------------------------ shapes
    def _axis(self, i, size):
        op = None if self.output_padding is None else self.output_padding[i]
        return transpose_axis(size, self.kernel_size[i], self.strides[i],
                              self.dilation_rate[i], self.padding, op)

    def _geometry(self, h, w):
        """``(oh, ow, (top, bottom, left, right))``: output size and the pads of the
        convolution view (output -> input)."""
        (oh, ct), (ow, cl) = self._axis(0, h), self._axis(1, w)
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        pads = (conv_view_pads(h, oh, ct, kh, sh, dh) + conv_view_pads(w, ow, cl, kw, sw, dw))
        # The numba kernels do not bounds-check: the convolution view must give back
        # exactly h x w windows, or im2col/col2im would touch memory past the arrays.
        if h is not None and w is not None and (
                conv_kernels.conv_output_size(oh, kh, sh, dh, pads[0], pads[1]) != h
                or conv_kernels.conv_output_size(ow, kw, sw, dw, pads[2], pads[3]) != w):
            raise AssertionError(f"Layer '{self.name}': inconsistent transposed-conv "
                                 f"geometry for input {h}x{w}: {oh}x{ow}, pads {pads}")
        return oh, ow, pads

    def compute_output_shape(self, input_shape):
        check_4d(self, input_shape)
        oh, _ = self._axis(0, input_shape[1])
        ow, _ = self._axis(1, input_shape[2])
        if (oh is not None and oh <= 0) or (ow is not None and ow <= 0):
            raise ValueError(
                f"Layer '{self.name}' (Conv2DTranspose): kernel_size={self.kernel_size}, "
                f"strides={self.strides}, padding='{self.padding}' and output_padding="
                f"{self.output_padding} give an empty output ({oh}x{ow}) for the input of "
                f"shape {tuple(input_shape)}.")
        return (input_shape[0], oh, ow, self.filters)

    def build(self, input_shape):
        check_4d(self, input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"Layer '{self.name}' (Conv2DTranspose) needs a known number of "
                             f"input channels, received input with shape "
                             f"{tuple(input_shape)}")
        self.compute_output_shape(input_shape)
        kh, kw = self.kernel_size
        # Keras' layout: (kh, kw, filters, in_channels), then bias (filters,).
        self._add_kernel_bias((kh, kw, self.filters, input_shape[-1]), self.filters)

    # ------------------------------------------------------------- computation
    def _blocks(self, n, rows_per_image, width, itemsize):
        step = max(1, min(n, BLOCK_BYTES // max(rows_per_image * width * itemsize, 1)))
        return [(b0, min(n, b0 + step)) for b0 in range(0, n, step)]

    def _direct(self):
        kh, kw = self.kernel_size
        return kh * kw * self.filters <= DIRECT_MAX_K

    def forward(self, inputs, training=False):
        x = np.ascontiguousarray(inputs, dtype=self.kernel.dtype)
        n, h, w, c = x.shape
        oh, ow, pads = self._geometry(h, w)
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        f = self.filters
        if self._direct():
            # the transposed conv *is* the input gradient of the convolution view
            z = np.empty((n, oh, ow, f), x.dtype)
            conv_kernels.conv2d_direct_backward_input(
                np.ascontiguousarray(self.kernel.value), x, x, False, sh, sw, dh, dw,
                pads[0], pads[2], z)
            if self.use_bias:
                z += self.bias.value
            y, act_cache = self.activation.forward(z.reshape(-1, f), inplace=True)
            return y.reshape(n, oh, ow, f), (x, act_cache)
        w2t = self.kernel.value.reshape(kh * kw * f, c).T  # (C, kh*kw*F)
        z = np.empty((n, oh, ow, f), x.dtype)
        for b0, b1 in self._blocks(n, h * w, kh * kw * f, x.itemsize):
            cols = x[b0:b1].reshape(-1, c) @ w2t
            conv_kernels.col2im(cols, kh, kw, sh, sw, dh, dw, *pads, z[b0:b1])
        if self.use_bias:
            z += self.bias.value
        y, act_cache = self.activation.forward(z.reshape(-1, f), inplace=True)
        return y.reshape(n, oh, ow, f), (x, act_cache)

    def backward(self, cache, grad_output, need_input_grad=True):
        x, act_cache = cache
        n, h, w, c = x.shape
        oh, ow, pads = self._geometry(h, w)
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        f, k = self.filters, kh * kw * self.filters
        dy = np.ascontiguousarray(grad_output, dtype=x.dtype).reshape(-1, f)
        dz = np.ascontiguousarray(self.activation.backward(act_cache, dy), dtype=x.dtype)
        dz4 = dz.reshape(n, oh, ow, f)
        if self._direct():
            return self._backward_direct(x, dz, dz4, pads, need_input_grad)
        w2 = self.kernel.value.reshape(k, c)
        gw = np.zeros((k, c), x.dtype)
        dx = np.empty((n, h, w, c), x.dtype) if need_input_grad else None
        for b0, b1 in self._blocks(n, h * w, k, x.itemsize):
            cols = np.empty(((b1 - b0) * h * w, k), x.dtype)
            conv_kernels.im2col(dz4[b0:b1], kh, kw, sh, sw, dh, dw, *pads, cols)
            gw += cols.T @ x[b0:b1].reshape(-1, c)
            if need_input_grad:
                np.matmul(cols, w2, out=dx[b0:b1].reshape(-1, c))
        self.write_grad(self.kernel, gw.reshape(self.kernel.shape))
        if self.use_bias:
            self.write_grad(self.bias, dz.sum(axis=0))
        return dx

    def _backward_direct(self, x, dz, dz4, pads, need_input_grad):
        """Conv2D's direct kernels with the roles swapped: dz is the convolution's
        input, x its output gradient."""
        (sh, sw), (dh, dw) = self.strides, self.dilation_rate
        c = x.shape[3]
        gk = np.empty(self.kernel.shape, x.dtype)
        conv_kernels.conv2d_direct_backward_filter(
            dz4, x, x, False, sh, sw, dh, dw, pads[0], pads[2], gk, np.empty(c, x.dtype),
            conv_kernels.backward_chunks(x.shape[0]))
        dx = None
        if need_input_grad:
            dx = np.empty(x.shape, x.dtype)
            conv_kernels.conv2d_direct_forward(dz4, np.ascontiguousarray(self.kernel.value),
                                               np.zeros(c, x.dtype), sh, sw, dh, dw,
                                               pads[0], pads[2], False, dx)
        self.write_grad(self.kernel, gk)
        if self.use_bias:
            self.write_grad(self.bias, dz.sum(axis=0))
        return dx

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            **self.kernel_bias_config(with_activity=True),
        })
        return config
