"""``UpSampling2D`` (NHWC, Keras 3.15.1 semantics): repeat rows and columns
(``interpolation='nearest'``) or resize bilinearly (``'bilinear'``).

Bilinear is Keras' ``ops.image.resize`` without antialiasing (which only matters when
shrinking): half-pixel centres, source coordinate ``(o + 0.5) / size - 0.5`` clamped
to the image, as TF, JAX and ``torch.nn.Upsample(align_corners=False)`` do. It is
separable, so it runs as two small dense interpolation matrices (one per axis)
applied with BLAS, and backward applies their transposes. ``'bicubic'``,
``'lanczos3'`` and ``'lanczos5'`` (which Keras' backends do not agree on) raise
``ValueError``. Only ``data_format='channels_last'``.

>>> import numpy as np
>>> x = np.arange(4, dtype="float32").reshape(1, 2, 2, 1)
>>> UpSampling2D()(x)[0, :, :, 0].tolist()
[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [2.0, 2.0, 3.0, 3.0], [2.0, 2.0, 3.0, 3.0]]
>>> UpSampling2D(interpolation="bilinear")(x)[0, 0, :, 0].tolist()
[0.0, 0.25, 0.75, 1.0]
"""

from __future__ import annotations

import numpy as np

from core.layers.base import Layer
from core.layers.convolutional import check_4d, check_channels_last
from core.layers.spec import Param, register_layer

_SUPPORTED = ("nearest", "bilinear")


def bilinear_matrix(size, factor, dtype):
    """(size * factor, size) matrix ``A`` with ``A @ v`` = v resized by ``factor``
    (half-pixel centres, clamped at the edges).

    >>> bilinear_matrix(2, 2, "float64").tolist()
    [[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]]
    """
    out = size * factor
    src = np.clip((np.arange(out) + 0.5) / factor - 0.5, 0.0, size - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, size - 1)
    frac = src - lo
    a = np.zeros((out, size), np.float64)
    rows = np.arange(out)
    np.add.at(a, (rows, lo), 1.0 - frac)
    np.add.at(a, (rows, hi), frac)
    return a.astype(dtype)


@register_layer
class UpSampling2D(Layer):
    group = "Reshaping"
    reentrant_inference = True
    params = (
        Param("size", "tuple", (2, 2), min=1, length=2,
              doc="Upsampling factors for rows and columns."),
        Param("interpolation", "choice", "nearest",
              choices=("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5"),
              doc="'nearest': repeat rows and columns; 'bilinear': linear "
                  "interpolation (bicubic and lanczos are not supported here)."),
    )

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = self._check("size", size)
        self.data_format = check_channels_last(self, data_format)
        self.interpolation = self._check("interpolation", interpolation)
        if self.interpolation not in _SUPPORTED:
            raise ValueError(
                f"Layer '{self.name}': interpolation={self.interpolation!r} is not "
                f"supported; only 'nearest' and 'bilinear' are (Keras' backends disagree "
                f"on the others).")

    def compute_output_shape(self, input_shape):
        check_4d(self, input_shape)
        n, h, w, c = input_shape
        sh, sw = self.size
        return (n, None if h is None else h * sh, None if w is None else w * sw, c)

    def build(self, input_shape):
        check_4d(self, input_shape)

    def _matrices(self, h, w, dtype):
        return bilinear_matrix(h, self.size[0], dtype), bilinear_matrix(w, self.size[1], dtype)

    def forward(self, inputs, training=False):
        x = np.asarray(inputs)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(self.dtype)
        n, h, w, c = x.shape
        sh, sw = self.size
        if self.interpolation == "nearest":
            y = np.broadcast_to(x[:, :, None, :, None, :], (n, h, sh, w, sw, c))
            return y.reshape(n, h * sh, w * sw, c), x.shape
        ah, aw = self._matrices(h, w, x.dtype)
        rows = np.matmul(ah, x.reshape(n, h, w * c))  # (n, H, w*c)
        y = np.matmul(aw, rows.reshape(n * h * sh, w, c))  # (n*H, W, c)
        return y.reshape(n, h * sh, w * sw, c), x.shape

    def backward(self, cache, grad_output, need_input_grad=True):
        if not need_input_grad:
            return None
        n, h, w, c = cache
        sh, sw = self.size
        g = np.asarray(grad_output)
        if self.interpolation == "nearest":
            return g.reshape(n, h, sh, w, sw, c).sum(axis=(2, 4))
        ah, aw = self._matrices(h, w, g.dtype)
        gc = np.matmul(aw.T, g.reshape(n * h * sh, w * sw, c))  # (n*H, w, c)
        return np.matmul(ah.T, gc.reshape(n, h * sh, w * c)).reshape(n, h, w, c)

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format,
                       "interpolation": self.interpolation})
        return config
