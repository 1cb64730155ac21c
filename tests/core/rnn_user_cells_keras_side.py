"""Real Keras 3 half of ``test_rnn_custom_cells.py`` (a subprocess with
KERAS_BACKEND=torch): ``python rnn_user_cells_keras_side.py DIR``.

Defines and registers the same cells as ``rnn_user_cells.py`` (same package and names,
written with ``keras.ops``); for each ``DIR/<name>.keras`` with inputs in
``DIR/<name>.npz`` (``x``), loads the model, writes its predictions to
``DIR/<name>.keras_out.npz`` (``y``) and re-saves it as ``DIR/<name>.resaved.keras``.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402


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
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype),
                ops.full((batch_size, self.carry), 0.5, dtype=self.compute_dtype)]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "carry": self.carry}


def main(folder):
    names = sorted(f[:-6] for f in os.listdir(folder)
                   if f.endswith(".keras") and ".resaved" not in f)
    for name in names:
        model = keras.saving.load_model(os.path.join(folder, name + ".keras"))
        x = np.load(os.path.join(folder, name + ".npz"))["x"]
        y = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
        np.savez(os.path.join(folder, name + ".keras_out.npz"), y=y)
        model.save(os.path.join(folder, name + ".resaved.keras"))
    print("keras", keras.__version__, names)


if __name__ == "__main__":
    main(sys.argv[1])
