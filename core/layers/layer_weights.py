"""A layer's weights, losses and gradients: the ``Layer`` mixin behind ``add_weight``.

Sub-layers and ``Variable``s assigned as attributes are tracked (Keras' auto-tracking);
``weights`` lists the layer's own trainable then non-trainable variables, then its
sub-layers' (Keras' order); ``losses`` are the latest call's ``add_loss`` values and the
trainable weights' regularization penalties; ``write_grad``/``write_grad_matmul`` put a
step's gradient into each variable's buffer (summing over a shared layer's calls).

>>> from core.layers import Dense
>>> d = Dense(2)
>>> d.build((None, 3))
>>> d.count_params(), [w.name for w in d.trainable_weights]
(8, ['kernel', 'bias'])
"""

from __future__ import annotations

import weakref

import numpy as np

from core import backend, runtime, safety
from core.autodiff import current_grad_step
from core.variables import Variable, write_variable_grad


class LayerWeights:
    """Weights, losses and gradient buffers of a ``Layer`` (``core.layers.base``)."""

    # ----------------------------------------------------------------- weights
    def __setattr__(self, key, value):
        # Track sub-layers assigned as attributes (composite layers, subclassed models).
        tracking = "_tracked_layers" in self.__dict__
        if isinstance(value, LayerWeights) and key != "_outer" and tracking:
            if value is not self and value not in self._tracked_layers:
                self._tracked_layers.append(value)
        elif isinstance(value, (list, tuple)) and tracking:
            for v in value:
                if isinstance(v, LayerWeights) and v is not self and v not in self._tracked_layers:
                    self._tracked_layers.append(v)
        if "_non_trainable_variables" in self.__dict__:  # and Variables, as Keras' tracker
            self._track_attribute(key, value)
        object.__setattr__(self, key, value)

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._tracked_layers:
            layer.trainable = value

    def add_weight(self, shape, initializer="glorot_uniform", dtype=None, trainable=True,
                   name=None, regularizer=None, constraint=None) -> Variable:
        from core import constraints, initializers, regularizers

        init = initializers.get(initializer)
        dtype = backend.standardize_dtype(dtype or self.dtype)
        # The one place weights are allocated: a config's absurd size is refused here,
        # naming the layer and the figure, before the initializer tries.
        safety.check_weight(self.name, name or "variable", shape, dtype)
        value = np.asarray(init(tuple(shape), dtype=dtype), dtype=dtype)
        var = Variable(value, name=name or "variable", trainable=trainable,
                       path=f"{self.name}/{name or 'variable'}")
        var.owner = weakref.ref(self)
        var.regularizer, = self._get_each(regularizers, regularizer=regularizer)
        var.constraint, = self._get_each(constraints, constraint=constraint)
        (self._trainable_variables if trainable else self._non_trainable_variables).append(var)
        return var

    def add_loss(self, loss) -> None:
        """Keras' ``add_loss``, called inside ``call``: a loss tensor (built with
        ``core.ops`` from the layer's inputs or weights, so it has a gradient) that
        ``fit``/``evaluate`` add, summed, to the step's loss. Each call of the layer
        replaces the losses of its previous call.

        >>> from core import ops
        >>> from core.layers import Layer
        >>> class Penalized(Layer):
        ...     def call(self, x):
        ...         self.add_loss(1e-3 * ops.sum(x ** 2))
        ...         return x
        """
        values = list(loss) if isinstance(loss, (list, tuple)) else [loss]
        for value in values:
            if not hasattr(value, "shape") and not isinstance(value, (int, float)):
                raise ValueError("`add_loss()` can only be called from inside `build()` or "
                                 f"`call()`, on a tensor input. Received invalid value: "
                                 f"{value!r}")
        self.__dict__.setdefault("_added_losses", []).extend(values)
        for value in values:
            backend.add_loss_value(value)

    def _call_losses(self) -> list:
        """``add_loss`` values of this layer's and its sub-layers' latest calls."""
        out = list(self.__dict__.get("_added_losses", ()))
        for layer in self._tracked_layers:
            out.extend(layer._call_losses())
        return out

    @property
    def losses(self) -> list:
        """As Keras' ``layer.losses``: the ``add_loss`` values of the latest call (this
        layer's and sub-layers'), then the regularization penalties of the trainable
        weights; training adds their sum to the loss."""
        # Called on the variable itself: under a tape (a ``compute_loss`` override) each
        # penalty is an op on it, so its gradient reaches the weight.
        return self._call_losses() + [v.regularizer(v) for v in self.trainable_weights
                                      if v.regularizer is not None]

    def _own_trainable_variables(self) -> list[Variable]:
        return self._trainable_variables if self._trainable else []

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self._trainable:
            return []
        out = list(self._trainable_variables)
        for layer in self._tracked_layers:
            out.extend(w for w in layer.trainable_weights if w not in out)
        return out

    @property
    def non_trainable_weights(self) -> list[Variable]:
        if self._trainable:
            out = list(self._non_trainable_variables)
        else:
            out = self._trainable_variables + self._non_trainable_variables
        for layer in self._tracked_layers:
            out.extend(w for w in layer.non_trainable_weights if w not in out)
        return out

    @property
    def weights(self) -> list[Variable]:
        """Keras order: own trainable, own non-trainable, then sub-layers'."""
        out = self._trainable_variables + self._non_trainable_variables
        for layer in self._tracked_layers:
            out.extend(w for w in layer.weights if w not in out)
        return out

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self) -> list[np.ndarray]:
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        params = self.weights
        if len(params) != len(weights):
            raise ValueError(
                f"Layer '{self.name}' expects {len(params)} weight arrays "
                f"({[p.shape for p in params]}), but received {len(weights)}."
            )
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if p.shape != w.shape:
                raise ValueError(
                    f"Layer '{self.name}' weight '{p.name}' has shape {p.shape}, "
                    f"but the provided array has shape {w.shape}."
                )
        for p, w in zip(params, weights):
            p.assign(w)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' has not been built yet, so it has no weights to count. "
                "Call it on an input or build it first."
            )
        return int(sum(w.size for w in self.weights))

    # ---------------------------------------------------------------- gradients
    def write_grad(self, var: Variable, g) -> None:
        """Store ``g`` as ``var``'s gradient for this step (adds on a shared layer's reuse)."""
        write_variable_grad(var, g)

    def write_grad_matmul(self, var: Variable, a: np.ndarray, b: np.ndarray) -> None:
        """``var.grad = a @ b`` computed straight into the buffer when possible."""
        buf = var.grad_buffer()
        step = current_grad_step()
        if var.grad_step == step or a.dtype != buf.dtype or b.dtype != buf.dtype:
            self.write_grad(var, runtime.matmul(a, b))
        else:
            runtime.matmul(a, b, out=buf)
            var.grad_step = step
