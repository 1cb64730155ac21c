"""``Normalization`` (Keras 3's preprocessing layer): ``(x - mean) / max(sqrt(var), eps)``.

``adapt(data)`` computes the mean and the (biased) variance of ``data`` over every axis
except ``axis`` (default the last: one mean and variance per feature), as Keras'
numpy-array path does; ``mean=`` / ``variance=`` fix them instead; ``invert=True`` maps
normalised values back. ``eps`` is ``core.backend.epsilon()`` (1e-7, as Keras). Weights
as Keras (adapted form only): ``mean``, ``variance``, ``count``, all non-trainable.

The app normalises a CSV's numeric features with this layer adapted on the training
rows only (``core.datasets.table_data``), so validation and test rows never leak into
the statistics. It is not in the canvas palette (the app applies it to the data).

>>> import numpy as np
>>> layer = Normalization()
>>> layer.adapt(np.array([[1.0, 10.0], [3.0, 30.0]]))
>>> layer(np.array([[2.0, 50.0]])).round(3).tolist()
[[0.0, 3.0]]
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.layers.base import Layer
from core.variables import Variable


class Normalization(Layer):
    group = "Normalization"
    params = ()

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        if (mean is not None) != (variance is not None):
            raise ValueError("When setting values directly, both `mean` and `variance` must "
                             f"be set. Received: mean={mean} and variance={variance}")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.mean = self.variance = None

    def build(self, input_shape):
        shape = tuple(input_shape)
        ndim = len(shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError("All `axis` values must be in the range [-ndim, ndim). "
                             f"Received inputs with ndim={ndim}, while axis={self.axis}")
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep:
            if shape[d] is None:
                raise ValueError("All `axis` values to be kept must have a known shape. "
                                 f"Received axis={self.axis}, inputs.shape={shape}, with "
                                 f"unknown axis at index {d}")
        self._reduce = tuple(d for d in range(ndim) if d not in self._keep)
        self._broadcast = [shape[d] if d in self._keep else 1 for d in range(ndim)]
        stat_shape = tuple(shape[d] for d in self._keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(stat_shape, "zeros", trainable=False, name="mean")
            self.adapt_variance = self.add_weight(stat_shape, "ones", trainable=False,
                                                  name="variance")
            # Keras keeps an int "count" only so old files load; initializers make floats.
            self.count = Variable(np.zeros((), np.int64), name="count", trainable=False,
                                  path=f"{self.name}/count")  # tracked on assignment
            self.built = True
            self.finalize_state()
        else:
            self.mean = np.broadcast_to(np.asarray(self.input_mean, self.dtype),
                                        self._broadcast).copy()
            self.variance = np.broadcast_to(np.asarray(self.input_variance, self.dtype),
                                            self._broadcast).copy()
        self.built = True

    def adapt(self, data):
        """Mean and variance of ``data`` (an array of samples) per kept axis position."""
        data = np.asarray(data, dtype=np.float64)
        if not np.all(np.isfinite(data)):
            raise ValueError(f"Layer '{self.name}': cannot adapt to data holding NaN or "
                             "infinite values.")
        if data.ndim == 1:
            data = data[:, None]
        if not self.built:
            self.build((None,) + data.shape[1:])
        else:
            for d in self._keep:
                if d and data.shape[d] != self._broadcast[d]:
                    raise ValueError(f"Layer '{self.name}' was built for shape "
                                     f"{tuple(self._broadcast)} but adapt received data of "
                                     f"shape {data.shape}.")
        self.adapt_mean.assign(np.mean(data, axis=self._reduce).astype(self.dtype))
        self.adapt_variance.assign(np.var(data, axis=self._reduce).astype(self.dtype))
        self.finalize_state()

    def finalize_state(self):
        if self.input_mean is not None or not self.built:
            return
        self.mean = np.reshape(self.adapt_mean.numpy(), self._broadcast).astype(self.dtype)
        self.variance = np.reshape(self.adapt_variance.numpy(), self._broadcast).astype(
            self.dtype)

    def _scale(self):
        return np.maximum(np.sqrt(self.variance), np.asarray(backend.epsilon(), self.dtype))

    def forward(self, inputs, training=False):
        if self.mean is None:
            raise ValueError("You must call `.build(input_shape)` on the layer before using "
                             "it.")
        x = np.asarray(inputs, dtype=self.dtype)
        if self.invert:
            return self.mean + x * self._scale(), None
        return (x - self.mean) / self._scale(), None

    def backward(self, cache, grad_outputs, need_input_grad=True):
        if not need_input_grad:
            return None
        return grad_outputs * self._scale() if self.invert else grad_outputs / self._scale()

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "invert": self.invert,
                       "mean": np.array(self.input_mean).tolist(),
                       "variance": np.array(self.input_variance).tolist()})
        return config
