"""1-D pooling over (batch, steps, channels), Keras 3 semantics: ``MaxPooling1D``,
``AveragePooling1D``, ``GlobalMaxPooling1D``, ``GlobalAveragePooling1D``.

Max pooling runs the 1-D kernels of ``core.kernels.conv1d`` (winners and dx in
buffers reused every step); average pooling the 2-D ones (``core.kernels.pool``) on
the sequence seen as a 1 x L image. ``strides=None`` means ``strides = pool_size``;
'same' average pooling divides by the valid (non-padded) steps of each window.
The global pools take a mask (``core.layers.masks``, e.g. from
``Embedding(mask_zero=True)``): the average is over unmasked steps only (Keras);
``GlobalMaxPooling1D`` ignores it, as Keras 3's does.

>>> import numpy as np
>>> MaxPooling1D()(np.zeros((1, 5, 3), "float32")).shape
(1, 2, 3)
>>> x = np.array([[[1.0], [3.0], [9.0]]], "float32")
>>> GlobalAveragePooling1D()(x, mask=np.array([[True, True, False]])).tolist()
[[2.0]]
"""

from __future__ import annotations

import numpy as np

from core.kernels import conv1d as conv1d_kernels
from core.kernels import pool as pool_kernels
from core.layers.base import Layer
from core.layers.conv1d import check_3d, padding_1d
from core.layers.convolutional import check_channels_last
from core.layers.scratch import ScratchBuffers
from core.layers.spec import Param, register_layer


class _Pooling1D(Layer):
    built_at_init = True  # Keras builds it in __init__: no build_config in its file
    group = "Sequence"
    params = (
        Param("pool_size", "tuple", (2,), min=1, length=1, doc="Window length."),
        Param("strides", "tuple", None, min=1, length=1, optional=True,
              doc="Step of the window; None means pool_size."),
        Param("padding", "choice", "valid", choices=("valid", "same"),
              doc="'valid': no padding; 'same': output = ceil(steps / stride)."),
    )

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = self._check("pool_size", pool_size)
        strides = self._check("strides", strides)
        self.strides = self.pool_size if strides is None else strides
        self.padding = self._check("padding", padding)
        self.data_format = check_channels_last(self, data_format)

    def _geometry(self, steps):
        return padding_1d(self.padding, steps, self.pool_size[0], self.strides[0])

    def compute_output_shape(self, input_shape):
        check_3d(self, input_shape)
        _, _, out = self._geometry(input_shape[1])
        if out is not None and out <= 0:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}): pool_size={self.pool_size} "
                f"with strides={self.strides} and padding='{self.padding}' does not fit "
                f"the input of shape {tuple(input_shape)}; the output would have {out} "
                f"steps. Use a smaller pool or padding='same'.")
        return (input_shape[0], out, input_shape[2])

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def _prepare(self, inputs):
        x = np.ascontiguousarray(inputs)
        n, steps, c = x.shape
        left, right, out = self._geometry(steps)
        pads = (0, 0, left, right)
        return x.reshape(n, 1, steps, c), np.empty((n, 1, out, c), x.dtype), pads

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding,
                       "strides": self.strides, "data_format": self.data_format})
        return config


@register_layer
class MaxPooling1D(_Pooling1D):
    """Max over each window; backward routes the gradient to the (first) maximum."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)
        self._scratch = ScratchBuffers()  # winners and dx, reused every step

    def forward(self, inputs, training=False):
        x = np.ascontiguousarray(inputs)
        n, steps, c = x.shape
        left, _, out = self._geometry(steps)
        slot = self._scratch.slot()
        y = np.empty((n, out, c), x.dtype)
        argmax, _ = self._scratch.get("argmax", slot, y.shape, np.int32)
        conv1d_kernels.max_pool1d(x, self.pool_size[0], self.strides[0], left, y, argmax)
        return y, (x.shape, argmax, slot, left)

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        x_shape, argmax, slot, left = cache
        dy = np.ascontiguousarray(grad_output)
        dx, _ = self._scratch.get("dx", slot, x_shape, dy.dtype)
        conv1d_kernels.max_pool1d_backward(dy, argmax, self.pool_size[0], self.strides[0],
                                           left, dx)
        return dx


@register_layer
class AveragePooling1D(_Pooling1D):
    """Mean over each window (valid steps only at 'same' borders)."""

    def forward(self, inputs, training=False):
        x4, y4, pads = self._prepare(inputs)
        pool_kernels.avg_pool2d(x4, 1, self.pool_size[0], 1, self.strides[0], *pads, y4)
        return y4.reshape(y4.shape[0], y4.shape[2], y4.shape[3]), (x4.shape, pads)

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        x_shape, pads = cache
        n, _, out, c = x_shape[0], 1, grad_output.shape[1], x_shape[3]
        dy = np.ascontiguousarray(grad_output).reshape(n, 1, out, c)
        dx = np.empty(x_shape, dy.dtype)
        pool_kernels.avg_pool2d_backward(dy, 1, self.pool_size[0], 1, self.strides[0],
                                         *pads, dx)
        return dx.reshape(x_shape[0], x_shape[2], x_shape[3])


class _GlobalPooling1D(Layer):
    built_at_init = True  # Keras builds it in __init__: no build_config in its file
    group = "Sequence"
    params = (Param("keepdims", "bool", False, doc="Keep the steps axis (length 1)."),)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_channels_last(self, data_format)
        self.keepdims = self._check("keepdims", keepdims)

    def compute_output_shape(self, input_shape):
        check_3d(self, input_shape)
        if self.keepdims:
            return (input_shape[0], 1, input_shape[2])
        return (input_shape[0], input_shape[2])

    def build(self, input_shape):
        check_3d(self, input_shape)

    def compute_mask(self, inputs, mask=None):
        return None  # the steps axis is gone

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


@register_layer
class GlobalMaxPooling1D(_GlobalPooling1D):
    """Max over the steps; backward routes the gradient to the (first) maximum."""

    def forward(self, inputs, training=False):
        idx = np.argmax(inputs, axis=1)  # (N, C): first maximum, as max pooling
        y = np.take_along_axis(inputs, idx[:, None, :], axis=1)
        return (y if self.keepdims else y[:, 0, :]), (inputs.shape, idx)

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        shape, idx = cache
        dx = np.zeros(shape, grad_output.dtype)
        np.put_along_axis(dx, idx[:, None, :], grad_output.reshape(shape[0], 1, shape[2]),
                          axis=1)
        return dx


@register_layer
class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps; with a mask, over the unmasked steps (Keras 3)."""

    supports_masking = True
    call_takes_mask = True

    def forward(self, inputs, training=False, mask=None):
        if mask is None:
            x = np.asarray(inputs)
            if x.dtype.kind == "f":  # a batched (steps,) @ (steps, C): 6x faster than mean
                y = np.matmul(np.full(x.shape[1], 1.0 / x.shape[1], x.dtype), x)[:, None]
            else:
                y = x.mean(axis=1, keepdims=True)
            weights = None
        else:
            m = np.asarray(mask, bool)
            if m.shape != inputs.shape[:2]:
                raise ValueError(
                    f"Layer '{self.name}' (GlobalAveragePooling1D): mask of shape {m.shape} "
                    f"does not match the input's (batch, steps) {inputs.shape[:2]}")
            # Keras divides by the count of unmasked steps (an all-masked row gives nan).
            with np.errstate(invalid="ignore", divide="ignore"):
                weights = (m / m.sum(axis=1, keepdims=True)).astype(inputs.dtype)
            y = np.einsum("nt,ntc->nc", weights, np.where(m[..., None], inputs, 0))[:, None]
        return (y if self.keepdims else y[:, 0, :]), (inputs.shape, weights)

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        shape, weights = cache
        g = grad_output.reshape(shape[0], 1, shape[2])
        if weights is None:
            return np.broadcast_to(g / shape[1], shape).astype(grad_output.dtype)
        return weights[..., None] * g
