"""``LayerNormalization`` (Keras 3): normalise each sample over ``axis`` (default the
last), then scale by ``gamma`` and shift by ``beta``; same in training and inference.

Weights as Keras: ``gamma`` (when ``scale`` or ``rms_scaling``), then ``beta`` (when
``center`` and not ``rms_scaling``), each shaped like the normalised axes. The
normalised axes are moved last and flattened, so the numba kernels
(``core.kernels.layer_norm``) see a (rows, features) matrix. ``rms_scaling=True``
follows Keras 3's deprecated formula ``x / sqrt(var + eps) * gamma`` (see the kernel).

>>> import numpy as np
>>> ln = LayerNormalization()
>>> y = ln(np.array([[1.0, 2.0, 3.0]]))
>>> np.round(y.astype(float), 3).tolist()
[[-1.224, 0.0, 1.224]]
"""

from __future__ import annotations

import numpy as np

from core import constraints, initializers, regularizers
from core.kernels import layer_norm as ln_kernels
from core.layers.base import Layer
from core.layers.spec import Param, penalty_params, register_layer


@register_layer
class LayerNormalization(Layer):
    group = "Normalization"
    supports_masking = True
    params = (
        Param("axis", "axis", -1, doc="Axis (or list of axes) to normalise over."),
        Param("epsilon", "float", 1e-3, min=0.0, min_exclusive=True, advanced=True,
              doc="Added to the variance to avoid dividing by zero."),
        Param("center", "bool", True, doc="Add the learned offset beta."),
        Param("scale", "bool", True, doc="Multiply by the learned scale gamma."),
        Param("rms_scaling", "bool", False, advanced=True,
              doc="Keras' deprecated variance scaling without centring (implies gamma only)."),
        Param("beta_initializer", "initializer", "zeros", advanced=True),
        Param("gamma_initializer", "initializer", "ones", advanced=True),
    ) + penalty_params("beta", "gamma")

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = self._check("axis", axis)
        self.epsilon = self._check("epsilon", epsilon)
        self.center = self._check("center", center)
        self.scale = self._check("scale", scale)
        self.rms_scaling = self._check("rms_scaling", rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer, self.gamma_regularizer = self._get_each(
            regularizers, beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer)
        self.beta_constraint, self.gamma_constraint = self._get_each(
            constraints, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)

    def _axes(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        out = sorted(a + ndim if a < 0 else a for a in axes)
        if any(a < 1 or a >= ndim for a in out) or len(set(out)) != len(out):
            raise ValueError(f"Layer '{self.name}' (LayerNormalization): axis={self.axis} is "
                             f"invalid for an input of rank {ndim}.")
        return out

    def build(self, input_shape):
        axes = self._axes(len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(f"Layer '{self.name}' (LayerNormalization) needs known sizes on "
                             f"axis {self.axis}, received input with shape {tuple(input_shape)}")
        # Keras 3 stores the axis as a sorted list once built (and saves it so).
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        self.gamma = (self.add_weight(shape, initializer=self.gamma_initializer, name="gamma",
                                      regularizer=self.gamma_regularizer,
                                      constraint=self.gamma_constraint)
                      if self.scale or self.rms_scaling else None)
        self.beta = (self.add_weight(shape, initializer=self.beta_initializer, name="beta",
                                     regularizer=self.beta_regularizer,
                                     constraint=self.beta_constraint)
                     if self.center and not self.rms_scaling else None)

    def _to_rows(self, x):
        """(rows matrix, axes order used, shape of the moved array)."""
        axes = self._axes(x.ndim)
        rest = [a for a in range(x.ndim) if a not in axes]
        order = rest + axes
        moved = x if order == list(range(x.ndim)) else np.transpose(x, order)
        d = int(np.prod([x.shape[a] for a in axes]))
        return np.ascontiguousarray(moved).reshape(-1, d), order, moved.shape

    @staticmethod
    def _from_rows(a2, order, moved_shape):
        a = a2.reshape(moved_shape)
        if order == list(range(len(order))):
            return a
        return np.transpose(a, np.argsort(order))

    def forward(self, inputs, training=False):
        x2, order, moved_shape = self._to_rows(inputs)
        d = x2.shape[1]
        gamma = (self.gamma.value.reshape(-1).astype(x2.dtype, copy=False)
                 if self.gamma is not None else np.ones(d, x2.dtype))
        beta = (self.beta.value.reshape(-1).astype(x2.dtype, copy=False)
                if self.beta is not None else np.zeros(d, x2.dtype))
        y2 = np.empty_like(x2)
        mean, inv = np.empty(x2.shape[0]), np.empty(x2.shape[0])
        ln_kernels.layer_norm_forward(x2, gamma, beta, self.epsilon, self.rms_scaling,
                                      y2, mean, inv)
        return self._from_rows(y2, order, moved_shape), (x2, gamma, mean, inv, order,
                                                         moved_shape)

    def backward(self, cache, grad_output, need_input_grad=True):
        x2, gamma, mean, inv, order, moved_shape = cache
        g = grad_output if order == list(range(len(order))) else np.transpose(grad_output, order)
        dy2 = np.ascontiguousarray(g, x2.dtype).reshape(x2.shape)
        d = x2.shape[1]
        dx2 = np.empty_like(x2) if need_input_grad else np.empty((0, d), x2.dtype)
        dgamma, dbeta = np.empty(d), np.empty(d)
        ln_kernels.layer_norm_backward(x2, dy2, gamma, mean, inv, self.rms_scaling, dx2,
                                       dgamma, dbeta, need_input_grad)
        if self.gamma is not None:
            self.write_grad(self.gamma, dgamma.reshape(self.gamma.shape))
        if self.beta is not None:
            self.write_grad(self.beta, dbeta.reshape(self.beta.shape))
        return self._from_rows(dx2, order, moved_shape) if need_input_grad else None

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        })
        return config
