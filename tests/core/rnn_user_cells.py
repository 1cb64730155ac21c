"""User-written RNN cells, as a Keras 3 user writes them (``keras.Layer`` with
``state_size``, ``build``, ``call(inputs, states)`` in ``keras.ops``), shared by the
custom-cell tests. ``MinimalRNNCell`` is the example of Keras' ``RNN`` docstring plus the
``get_config`` a saved cell needs; ``PeepholeCell`` has two states, a ``training``
argument and its own ``get_initial_state``.
"""

import core as keras
from core import ops


@keras.saving.register_keras_serializable(package="nwtest")
class MinimalRNNCell(keras.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        h = ops.matmul(inputs, self.kernel)
        output = ops.tanh(h + ops.matmul(prev_output, self.recurrent_kernel))
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="nwtest")
class PeepholeCell(keras.Layer):
    """Two states (h, c) of different sizes, output of a third size."""

    def __init__(self, units, carry, **kwargs):
        super().__init__(**kwargs)
        self.units, self.carry = units, carry
        self.state_size = [units, carry]
        self.output_size = units + 1

    def build(self, input_shape):
        d = input_shape[-1]
        self.w = self.add_weight(shape=(d + self.units, self.carry), name="w")
        self.v = self.add_weight(shape=(self.carry, self.units), name="v")
        self.b = self.add_weight(shape=(self.carry,), initializer="zeros", name="b")

    def call(self, inputs, states, training=False):
        h, c = states
        z = ops.matmul(ops.concatenate([inputs, h], axis=-1), self.w) + self.b
        c_new = ops.sigmoid(z) * c + (1.0 - ops.sigmoid(z)) * ops.tanh(z)
        h_new = ops.tanh(ops.matmul(c_new, self.v))
        out = ops.concatenate([h_new, ops.sum(c_new, axis=-1, keepdims=True)], axis=-1)
        return out, [h_new, c_new]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.dtype),
                ops.full((batch_size, self.carry), 0.5, dtype=self.dtype)]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "carry": self.carry}
