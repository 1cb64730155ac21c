"""The kernel-and-bias arguments that ``Dense``, ``Conv1D`` and ``Conv2D`` share.

Keras gives these layers the same seven arguments (``use_bias`` and an initializer,
regularizer and constraint for each weight) and writes them in the same order in
``get_config``; one mixin keeps that in one place.

>>> from core.layers import Dense
>>> Dense(3).kernel_bias_config()["bias_initializer"]["class_name"]
'Zeros'
"""

from __future__ import annotations

from core import constraints, initializers, regularizers


def set_kernel_bias_objects(layer, kernel_initializer, bias_initializer, kernel_regularizer,
                            bias_regularizer, kernel_constraint, bias_constraint) -> None:
    """The six initializer/regularizer/constraint attributes of a kernel and its bias
    (also ``EinsumDense``'s, which has ``bias_axes`` instead of ``use_bias``)."""
    layer.kernel_initializer = initializers.get(kernel_initializer)
    layer.bias_initializer = initializers.get(bias_initializer)
    layer.kernel_regularizer, layer.bias_regularizer = layer._get_each(
        regularizers, kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer)
    layer.kernel_constraint, layer.bias_constraint = layer._get_each(
        constraints, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)


class KernelBias:
    """Mixin for a Layer with a ``kernel`` and an optional ``bias`` (see module doc)."""

    def _init_kernel_bias(self, use_bias, kernel_initializer, bias_initializer,
                          kernel_regularizer, bias_regularizer,
                          kernel_constraint, bias_constraint) -> None:
        self.use_bias = self._check("use_bias", use_bias)
        set_kernel_bias_objects(self, kernel_initializer, bias_initializer,
                                kernel_regularizer, bias_regularizer,
                                kernel_constraint, bias_constraint)

    def _add_kernel_bias(self, kernel_shape: tuple, units: int) -> None:
        """Create ``kernel`` then ``bias`` (Keras' order), or ``bias = None``."""
        self.kernel = self.add_weight(tuple(kernel_shape), initializer=self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = (self.add_weight((units,), initializer=self.bias_initializer, name="bias",
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)

    def kernel_bias_config(self, with_activity: bool = False) -> dict:
        """The config entries from ``use_bias`` on, in Keras' order; the convolutions
        write ``activity_regularizer`` between the regularizers and the constraints."""
        config = {
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }
        if with_activity:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        config["kernel_constraint"] = constraints.serialize(self.kernel_constraint)
        config["bias_constraint"] = constraints.serialize(self.bias_constraint)
        return config
