"""Calling an activation is differentiable, as in Keras: ``keras.activations.get(name)(x)``
and ``keras.activations.relu(x)`` inside a user layer's ``call`` pass the gradient on
(keras.io's "Introduction to Keras for engineers" writes ``self.activation(x)`` in a
custom Dense). Gradients against float64 finite differences and PyTorch autograd.

>>> # pytest tests/core/test_activation_calls_grad.py
"""

import warnings

import numpy as np
import pytest

import core
from tests.helpers.op_check import check_op

torch = pytest.importorskip("torch")
F = torch.nn.functional

CASES = {
    "linear": lambda t: t,
    "relu": torch.relu,
    "softmax": lambda t: torch.softmax(t, -1),
    "log_softmax": lambda t: torch.log_softmax(t, -1),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,  # keras.activations.gelu: approximate=False
    "softplus": F.softplus,
    "silu": F.silu,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_activation_object_call_records_its_gradient(name):
    x = np.random.default_rng(3).normal(size=(4, 5))
    errors = check_op(core.activations.get(name), [x], torch_fn=CASES[name])
    assert errors  # FD, Variable and torch comparisons all ran


def test_activation_functions_record_with_their_arguments():
    x = np.random.default_rng(4).normal(size=(3, 6))
    check_op(lambda t: core.activations.relu(t, negative_slope=0.1, max_value=1.0), [x],
             torch_fn=lambda t: torch.clamp(F.leaky_relu(t, 0.1), max=1.0))
    check_op(lambda t: core.activations.leaky_relu(t), [x],
             torch_fn=lambda t: F.leaky_relu(t, 0.2))  # Keras' default slope


class _OpsDense(core.layers.Layer):
    """A user Dense: ops.matmul, then the activation object from activations.get."""

    def __init__(self, units, activation=None):
        super().__init__()
        self.units = units
        self.activation = core.activations.get(activation)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units))
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return self.activation(core.ops.matmul(inputs, self.w) + self.b)


@pytest.mark.parametrize("activation", ["softmax", "relu", None])
def test_user_layer_with_activation_trains_like_builtin_dense(activation):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 6)).astype("float32")
    y = rng.integers(0, 3, 16)
    from_logits = activation != "softmax"
    models = []
    for make in (lambda: _OpsDense(3, activation),
                 lambda: core.layers.Dense(3, activation=activation)):
        model = core.Sequential([core.Input((6,)), core.layers.Dense(4), make()])
        models.append(model)
    models[0].set_weights(models[1].get_weights())  # same order: kernel, bias per layer
    for model in models:
        model.compile(optimizer=core.optimizers.SGD(0.5), loss=core.losses.
                      SparseCategoricalCrossentropy(from_logits=from_logits))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "Gradients do not exist" would fail here
            model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for ours, builtin in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(ours, builtin, rtol=1e-5, atol=1e-6)
