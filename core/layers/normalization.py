"""``BatchNormalization`` (Keras 3 semantics) on fused numba kernels.

Weights in Keras order: ``gamma`` (if ``scale``), ``beta`` (if ``center``) —
trainable — then ``moving_mean``, ``moving_variance`` (non-trainable).
Training (``training=True`` and the layer trainable) normalises with the batch
mean and biased variance and updates
``moving = moving * momentum + batch * (1 - momentum)``; otherwise the moving
statistics are used. As in Keras, a non-trainable BatchNormalization layer
always runs in inference mode. Any rank and any ``axis`` (channels last is the
fast path: no transpose).

>>> import numpy as np
>>> bn = BatchNormalization()
>>> y = bn(np.random.default_rng(0).normal(3, 2, (64, 4)).astype("float32"), training=True)
>>> bool(abs(y.mean()) < 1e-5)
True
>>> [w.name for w in bn.weights]
['gamma', 'beta', 'moving_mean', 'moving_variance']
"""

from __future__ import annotations

import numpy as np

from core import constraints, initializers, regularizers
from core.kernels import norm as norm_kernels
from core.layers.base import Layer
from core.layers.scratch import ScratchBuffers
from core.layers.spec import Param, penalty_params, register_layer


@register_layer
class BatchNormalization(Layer):
    call_takes_mask = True
    group = "Normalization"
    supports_masking = True  # passes the mask on (Keras' masked moments are not done)
    params = (
        Param("axis", "int", -1, doc="The features axis to normalise (-1: last)."),
        Param("momentum", "float", 0.99, min=0.0, max=1.0,
              doc="Momentum of the moving mean/variance."),
        Param("epsilon", "float", 1e-3, min=0.0, min_exclusive=True,
              doc="Added to the variance to avoid dividing by zero."),
        Param("center", "bool", True, doc="Learn an offset beta."),
        Param("scale", "bool", True, doc="Learn a scale gamma."),
        Param("beta_initializer", "initializer", "zeros", advanced=True),
        Param("gamma_initializer", "initializer", "ones", advanced=True),
        Param("moving_mean_initializer", "initializer", "zeros", advanced=True),
        Param("moving_variance_initializer", "initializer", "ones", advanced=True),
    ) + penalty_params("beta", "gamma")

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, renorm=False,
                 renorm_clipping=None, renorm_momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        self.axis = self._check("axis", axis)
        self.momentum = self._check("momentum", momentum)
        self.epsilon = self._check("epsilon", epsilon)
        self.center = self._check("center", center)
        self.scale = self._check("scale", scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer, self.gamma_regularizer = self._get_each(
            regularizers, beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer)
        self.beta_constraint, self.gamma_constraint = self._get_each(
            constraints, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if synchronized:
            raise ValueError(f"Layer '{self.name}': synchronized=True is only supported with "
                             f"the TensorFlow backend (received synchronized={synchronized!r}).")
        self.synchronized = False
        # Keras 3.15 writes the batch-renormalization arguments into every config.
        if renorm or renorm_clipping is not None:
            raise ValueError(f"Layer '{self.name}': batch renormalization (renorm=True) is "
                             f"not supported yet (received renorm={renorm!r}, "
                             f"renorm_clipping={renorm_clipping!r}).")
        self.renorm = False
        self.renorm_clipping = None
        self.renorm_momentum = renorm_momentum
        self._scratch = ScratchBuffers()
        self._ones = self._zeros = None

    # ------------------------------------------------------------------ shapes
    def _axis_index(self, input_shape) -> int:
        rank = len(input_shape)
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(
                f"Layer '{self.name}' (BatchNormalization): axis={self.axis} is invalid for an "
                f"input of shape {tuple(input_shape)}; it must name a non-batch axis "
                f"(1..{rank - 1} or -{rank - 1}..-1).")
        return self.axis % rank

    def compute_output_shape(self, input_shape):
        self._axis_index(input_shape)
        return tuple(input_shape)

    def build(self, input_shape):
        ax = self._axis_index(input_shape)
        c = input_shape[ax]
        if c is None:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization) needs a known size "
                             f"on axis {self.axis}, received input with shape "
                             f"{tuple(input_shape)}")
        shape = (c,)
        self.gamma = (self.add_weight(shape, self.gamma_initializer, name="gamma",
                                      regularizer=self.gamma_regularizer,
                                      constraint=self.gamma_constraint)
                      if self.scale else None)
        self.beta = (self.add_weight(shape, self.beta_initializer, name="beta",
                                     regularizer=self.beta_regularizer,
                                     constraint=self.beta_constraint)
                     if self.center else None)
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer,
                                           name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               name="moving_variance", trainable=False)
        dtype = self.moving_mean.dtype
        self._ones, self._zeros = np.ones(shape, dtype), np.zeros(shape, dtype)
        self.built = True  # as Keras: a direct build() call must not be repeated by __call__

    # ------------------------------------------------------------- computation
    def _gamma_beta(self):
        gamma = self.gamma.value if self.gamma is not None else self._ones
        beta = self.beta.value if self.beta is not None else self._zeros
        return gamma, beta

    def _to_rows(self, a, ax):
        """(M, C) C-contiguous view/copy with the normalised axis last."""
        if ax != a.ndim - 1:
            a = np.moveaxis(a, ax, -1)
        a = np.ascontiguousarray(a, dtype=self.moving_mean.dtype)
        return a.reshape(-1, a.shape[-1]), a.shape

    def forward(self, inputs, training=False):
        ax = self._axis_index(inputs.shape)
        x2, moved_shape = self._to_rows(inputs, ax)
        c = x2.shape[1]
        gamma, beta = self._gamma_beta()
        y2 = np.empty_like(x2)
        inv_std = np.empty(c, np.float64)
        use_batch = bool(training) and self.trainable
        if use_batch:
            mean, var = np.empty(c, np.float64), np.empty(c, np.float64)
            norm_kernels.batch_norm_train_forward(x2, gamma, beta, self.epsilon, y2,
                                                  mean, var, inv_std)
            m = self.momentum
            for stat, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
                np.copyto(stat.value, stat.value * m + batch * (1.0 - m), casting="unsafe")
        else:
            norm_kernels.batch_norm_infer_forward(
                x2, gamma, beta, self.moving_mean.value, self.moving_variance.value,
                self.epsilon, y2, inv_std)
            mean = self.moving_mean.value.astype(np.float64)
        y = y2.reshape(moved_shape)
        if ax != inputs.ndim - 1:
            y = np.ascontiguousarray(np.moveaxis(y, -1, ax))
        return y, (x2, mean, inv_std, use_batch, ax, moved_shape, self._scratch.slot())

    def backward(self, cache, grad_output, need_input_grad=True):
        x2, mean, inv_std, use_batch, ax, moved_shape, slot = cache
        dy2, _ = self._to_rows(grad_output, ax)
        c = x2.shape[1]
        gamma, _ = self._gamma_beta()
        dgamma, dbeta = np.empty(c, np.float64), np.empty(c, np.float64)
        if need_input_grad:
            dx2, _ = self._scratch.get("dx", slot, x2.shape, x2.dtype)
        else:
            dx2 = np.empty((0, c), x2.dtype)
        norm_kernels.batch_norm_backward(x2, dy2, gamma, mean, inv_std, use_batch, dx2,
                                         dgamma, dbeta, bool(need_input_grad))
        if self.gamma is not None:
            self.write_grad(self.gamma, dgamma)
        if self.beta is not None:
            self.write_grad(self.beta, dbeta)
        if not need_input_grad:
            return None
        dx = dx2.reshape(moved_shape)
        if ax != len(moved_shape) - 1:
            dx = np.ascontiguousarray(np.moveaxis(dx, -1, ax))
        return dx

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(
                self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        })
        return config
