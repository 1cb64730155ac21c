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

from core import activations, runtime
from core.kernels import conv as conv_kernels
from core.layers.base import Layer
from core.layers.kernel_bias import KernelBias
from core.layers.scratch import ScratchBuffers
from core.layers.spec import KERNEL_BIAS_PARAMS, Param, register_layer

# Bytes of column + output rows per block of images. Measured on the shared 2-core
# box: L2-sized blocks (1-4 MB) lose, because every block alternates numba and
# OpenBLAS thread pools and each hand-over costs more under load than the memory
# traffic it saves. So blocks only bound memory for big images; a batch of
# MNIST/CIFAR-sized images is one block and keeps its columns for backward.
BLOCK_BYTES = 64 << 20

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
    # Work goes in blocks of whole images (``BLOCK_BYTES``): im2col -> GEMM ->
    # activation per block, and in backward activation-gradient -> dW GEMM -> dX
    # GEMM -> col2im likewise. With several blocks, backward re-runs im2col per
    # block instead of keeping a column matrix of hundreds of MB.

    def _pointwise(self):
        """1x1 kernel, stride 1: the input rows already *are* the column matrix."""
        return self.kernel_size == (1, 1) and self.strides == (1, 1)

    def _blocks(self, n, rows_per_image, width):
        """Image ranges ``(b0, b1)`` of about ``BLOCK_BYTES`` of column + output rows."""
        per_image = rows_per_image * width * self.kernel.value.itemsize
        step = max(1, min(n, BLOCK_BYTES // max(per_image, 1)))
        return [(b0, min(n, b0 + step)) for b0 in range(0, n, step)], step

    def _columns(self, x, b0, b1, buf, pads, rows_per_image):
        """Column rows of images b0..b1 (a view of ``x`` for pointwise kernels)."""
        if self._pointwise():
            return x[b0:b1].reshape(-1, x.shape[3])
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.strides, self.dilation_rate
        rows = buf[:(b1 - b0) * rows_per_image]
        conv_kernels.im2col(x[b0:b1], kh, kw, sh, sw, dh, dw, *pads, rows)
        return rows

    def _direct(self, c):
        """Small reduction: direct kernels instead of im2col + GEMM."""
        kh, kw = self.kernel_size
        return not self._pointwise() and kh * kw * c <= DIRECT_MAX_K

    def _forward_direct(self, x, oh, ow, pads, slot):
        n, f = x.shape[0], self.filters
        (sh, sw), (dh, dw) = self.strides, self.dilation_rate
        kernel = np.ascontiguousarray(self.kernel.value)
        bias = self.bias.value if self.use_bias else np.zeros(f, x.dtype)
        relu = self.activation is _RELU
        z = np.empty((n, oh, ow, f), x.dtype)
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

    def _weight_matrix(self, k):
        """(k [+1], filters): the kernel, plus the bias as last row when it rides in the
        GEMM on the ones column of the column matrix."""
        w2 = self.kernel.value.reshape(k, self.filters)
        if not self.use_bias or self._pointwise():
            return w2
        wb, _ = self._scratch.get("weights", 0, (k + 1, self.filters), w2.dtype)
        wb[:k] = w2
        wb[k] = self.bias.value
        return wb

    def _col_buffer(self, name, slot, step, rows_per_image, width, dtype, ones_at=None):
        buf, fresh = self._scratch.get(name, slot, (step * rows_per_image, width), dtype)
        if fresh and ones_at is not None:
            buf[:, ones_at] = 1.0
        return buf

    def forward(self, inputs, training=False):
        x = np.ascontiguousarray(inputs, dtype=self.kernel.dtype)
        n, h, w, c = x.shape
        oh, ow, pads = self._geometry(h, w)
        if self._direct(c):
            return self._forward_direct(x, oh, ow, pads, self._scratch.slot())
        kh, kw = self.kernel_size
        k, f, rpi = kh * kw * c, self.filters, oh * ow
        w2 = self._weight_matrix(k)
        kb = w2.shape[0]
        blocks, step = self._blocks(n, rpi, kb + f)
        slot = self._scratch.slot()
        # One block: keep its column matrix for backward (per call slot). Several:
        # one shared block buffer, and backward recomputes the columns per block.
        keep = len(blocks) == 1 and not self._pointwise()
        cols = None if self._pointwise() else self._col_buffer(
            "cols", slot if keep else "block", step, rpi, kb, x.dtype,
            ones_at=k if kb > k else None)
        z = np.empty((n * rpi, f), x.dtype)
        y = z  # activations that keep their input for backward return a new array
        act_caches = []
        for b0, b1 in blocks:
            r0, r1 = b0 * rpi, b1 * rpi
            zb = z[r0:r1]
            runtime.matmul(self._columns(x, b0, b1, cols, pads, rpi), w2, out=zb)
            if self.use_bias and self._pointwise():
                zb += self.bias.value
            yb, cache = self.activation.forward(zb, inplace=True)
            if yb is not zb:
                if y is z:
                    y = np.empty_like(z)
                    y[:r0] = z[:r0]  # earlier blocks were activated in place
                y[r0:r1] = yb
            elif y is not z:
                y[r0:r1] = zb
            act_caches.append(cache)
        return y.reshape(n, oh, ow, f), (x, act_caches, slot, cols if keep else None, None)

    def backward(self, cache, grad_output, need_input_grad=True):
        if cache[4] is not None:
            return self._backward_direct(cache, grad_output, need_input_grad)
        x, act_caches, slot, kept_cols, _ = cache
        n, h, w, c = x.shape
        oh, ow, pads = self._geometry(h, w)
        kh, kw = self.kernel_size
        k, f, rpi = kh * kw * c, self.filters, oh * ow
        kb = k + 1 if self.use_bias and not self._pointwise() else k
        blocks, step = self._blocks(n, rpi, kb + f)
        dy = np.ascontiguousarray(grad_output, dtype=x.dtype).reshape(-1, f)
        w2 = self.kernel.value.reshape(k, f)
        pointwise = self._pointwise()
        cols = None if pointwise or kept_cols is not None else self._col_buffer(
            "cols", "block", step, rpi, kb, x.dtype, ones_at=k if kb > k else None)
        if need_input_grad:
            dx, _ = self._scratch.get("dx", slot, x.shape, x.dtype)
            dcols = None if pointwise else self._col_buffer(
                "dcols", "block", step, rpi, k, x.dtype)
        gw = np.zeros((kb, f), np.float64 if x.dtype == np.float64 else x.dtype)
        db = np.zeros(f, gw.dtype) if self.use_bias and pointwise else None
        for (b0, b1), act_cache in zip(blocks, act_caches):
            r0, r1 = b0 * rpi, b1 * rpi
            dz = self.activation.backward(act_cache, dy[r0:r1])
            colsb = kept_cols if kept_cols is not None else \
                self._columns(x, b0, b1, cols, pads, rpi)
            gw += runtime.matmul(colsb.T, dz)    # kernel rows, then the bias row (ones column)
            if db is not None:
                db += dz.sum(axis=0)
            if need_input_grad:
                if pointwise:
                    runtime.matmul(dz, w2.T, out=dx[b0:b1].reshape(-1, c))
                else:
                    dcb = dcols[:r1 - r0]
                    runtime.matmul(dz, w2.T, out=dcb)
                    (sh, sw), (dh, dw) = self.strides, self.dilation_rate
                    conv_kernels.col2im(dcb, kh, kw, sh, sw, dh, dw, *pads, dx[b0:b1])
        self.write_grad(self.kernel, gw[:k].reshape(self.kernel.shape))
        if self.use_bias:
            self.write_grad(self.bias, gw[k] if db is None else db)
        return dx if need_input_grad else None

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
