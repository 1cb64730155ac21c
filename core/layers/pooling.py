"""2-D pooling layers in NHWC (Keras 3 semantics): ``MaxPooling2D``,
``AveragePooling2D``, ``GlobalAveragePooling2D``, ``GlobalMaxPooling2D``.

``strides=None`` means ``strides = pool_size``. 'same' pads the odd pixel after
(bottom/right) as TF; average pooling divides by the number of valid
(non-padded) elements of each window. Only ``data_format='channels_last'``.

>>> import numpy as np
>>> MaxPooling2D()(np.zeros((1, 5, 5, 3), "float32")).shape
(1, 2, 2, 3)
>>> AveragePooling2D(3, strides=2, padding="same").compute_output_shape((None, 5, 5, 3))
(None, 3, 3, 3)
"""

from __future__ import annotations

import numpy as np

from core.kernels import pool as pool_kernels
from core.layers.base import Layer
from core.layers.convolutional import check_4d, check_channels_last, spatial_padding
from core.layers.scratch import ScratchBuffers
from core.layers.spec import Param, register_layer


class _Pooling2D(Layer):
    """Shared argument handling, shapes and config of the windowed 2-D pools."""

    built_at_init = True  # Keras builds it in __init__: no build_config in its file
    group = "Pooling"
    params = (
        Param("pool_size", "tuple", (2, 2), min=1, length=2, doc="Window height and width."),
        Param("strides", "tuple", None, min=1, length=2, optional=True,
              doc="Step of the window; None means pool_size."),
        Param("padding", "choice", "valid", choices=("valid", "same"),
              doc="'valid': no padding; 'same': output = ceil(input / stride)."),
    )

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.pool_size = self._check("pool_size", pool_size)
        strides = self._check("strides", strides)
        self.strides = self.pool_size if strides is None else strides
        self.padding = self._check("padding", padding)
        self.data_format = check_channels_last(self, data_format)
        self._scratch = ScratchBuffers()

    def _geometry(self, h, w):
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        pt, pb, oh = spatial_padding(self.name, self.padding, h, ph, sh)
        pl, pr, ow = spatial_padding(self.name, self.padding, w, pw, sw)
        return oh, ow, (pt, pb, pl, pr)

    def compute_output_shape(self, input_shape):
        check_4d(self, input_shape)
        oh, ow, _ = self._geometry(input_shape[1], input_shape[2])
        if (oh is not None and oh <= 0) or (ow is not None and ow <= 0):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}): pool_size={self.pool_size} "
                f"with strides={self.strides} and padding='{self.padding}' does not fit "
                f"the input of shape {tuple(input_shape)}; the output would be {oh}x{ow}. "
                f"Use a smaller pool or padding='same'.")
        return (input_shape[0], oh, ow, input_shape[3])

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def _prepare(self, inputs):
        x = np.ascontiguousarray(inputs)
        n, h, w, c = x.shape
        oh, ow, pads = self._geometry(h, w)
        return x, np.empty((n, oh, ow, c), x.dtype), pads

    def get_config(self):
        config = super().get_config()
        config.update({
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": self.data_format,
        })
        return config


@register_layer
class MaxPooling2D(_Pooling2D):
    """Max over each window; backward routes the gradient to the (first) maximum."""

    def forward(self, inputs, training=False):
        x, y, pads = self._prepare(inputs)
        slot = self._scratch.slot()
        argmax, _ = self._scratch.get("argmax", slot, y.shape, np.int32)
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        pool_kernels.max_pool2d(x, ph, pw, sh, sw, *pads, y, argmax)
        return y, (x.shape, x.dtype, argmax, slot)

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        x_shape, dtype, argmax, slot = cache
        dy = np.ascontiguousarray(grad_output, dtype=dtype)
        dx, _ = self._scratch.get("dx", slot, x_shape, dtype)
        pool_kernels.max_pool2d_backward(dy, argmax, dx)
        return dx


@register_layer
class AveragePooling2D(_Pooling2D):
    """Mean over each window (valid elements only for 'same' borders)."""

    def forward(self, inputs, training=False):
        x, y, pads = self._prepare(inputs)
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        pool_kernels.avg_pool2d(x, ph, pw, sh, sw, *pads, y)
        return y, (x.shape, x.dtype, pads, self._scratch.slot())

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        x_shape, dtype, pads, slot = cache
        dy = np.ascontiguousarray(grad_output, dtype=dtype)
        dx, _ = self._scratch.get("dx", slot, x_shape, dtype)
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        pool_kernels.avg_pool2d_backward(dy, ph, pw, sh, sw, *pads, dx)
        return dx


class _GlobalPooling2D(Layer):
    built_at_init = True  # Keras builds it in __init__: no build_config in its file
    group = "Pooling"
    params = (
        Param("keepdims", "bool", False, doc="Keep the spatial axes as size 1."),
    )

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_channels_last(self, data_format)
        self.keepdims = self._check("keepdims", keepdims)

    def compute_output_shape(self, input_shape):
        check_4d(self, input_shape)
        if self.keepdims:
            return (input_shape[0], 1, 1, input_shape[3])
        return (input_shape[0], input_shape[3])

    def build(self, input_shape):
        check_4d(self, input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


@register_layer
class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width."""

    def forward(self, inputs, training=False):
        y = inputs.mean(axis=(1, 2), keepdims=self.keepdims, dtype=inputs.dtype)
        return y, inputs.shape

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        n, h, w, c = cache
        g = np.asarray(grad_output).reshape(n, 1, 1, c) / (h * w)
        return np.broadcast_to(g, cache).copy()


@register_layer
class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over height and width; ties share the gradient equally (TF's reduce_max)."""

    def forward(self, inputs, training=False):
        y = inputs.max(axis=(1, 2), keepdims=True)
        out = y if self.keepdims else y.reshape(y.shape[0], y.shape[3])
        return out, (inputs, y)

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        x, y = cache
        n, _, _, c = x.shape
        mask = x == y
        count = mask.sum(axis=(1, 2), keepdims=True)
        g = np.asarray(grad_output, dtype=x.dtype).reshape(n, 1, 1, c) / count
        return np.multiply(mask, g, dtype=x.dtype)
