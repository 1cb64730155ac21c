"""The subclassing guide's VAE pattern: a ``keras.Model`` subclass with its own
constructor arguments (``VAE(784, 64, 32)``, no inputs/outputs), encoder and decoder
sub-layers holding Dense layers, a KL term through ``add_loss``; it builds on its
first call, tracks the nested layers' weights and trains with ``fit(x, x)`` or, with
only the added loss, ``fit(x)``.

Reference: one SGD step (learning rate 1) moves every weight by minus the float64
central-finite-difference gradient of the same loss written in numpy.
"""

from __future__ import annotations

import numpy as np
import pytest

import core as keras
from core import layers, ops


class Encoder(layers.Layer):
    def __init__(self, latent_dim, intermediate_dim, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_mean(x), self.dense_log_var(x)


class Decoder(layers.Layer):
    def __init__(self, original_dim, intermediate_dim, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        return self.dense_output(self.dense_proj(inputs))


class AutoEncoder(keras.Model):
    """The guide's VAE with z = z_mean (no sampling noise), so the loss is a function
    of the weights that finite differences can check."""

    def __init__(self, original_dim, intermediate_dim=4, latent_dim=2, name="autoencoder",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.encoder = Encoder(latent_dim, intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var = self.encoder(inputs)
        self.add_loss(-0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1))
        return self.decoder(z_mean)


def _numpy_loss(ws, x, with_mse=True):
    k1, b1, km, bm, kv, bv, k2, b2, k3, b3 = ws
    h = np.maximum(x @ k1 + b1, 0)
    mean, logvar = h @ km + bm, h @ kv + bv
    rec = 1 / (1 + np.exp(-(np.maximum(mean @ k2 + b2, 0) @ k3 + b3)))
    kl = -0.5 * np.mean(logvar - mean ** 2 - np.exp(logvar) + 1)
    return (np.mean((x - rec) ** 2) if with_mse else 0.0) + kl


def _fd_grads(ws, x, with_mse, eps=1e-6):
    grads = []
    for i, w in enumerate(ws):
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            up, down = [v.copy() for v in ws], [v.copy() for v in ws]
            up[i][idx] += eps
            down[i][idx] -= eps
            g[idx] = (_numpy_loss(up, x, with_mse) - _numpy_loss(down, x, with_mse)) / (2 * eps)
        grads.append(g)
    return grads


def _x():
    return np.random.default_rng(3).uniform(size=(8, 5)).astype("float32")


def test_builds_on_first_call_and_tracks_the_nested_weights():
    model = AutoEncoder(5)
    assert not model.built
    assert model(_x()).shape == (8, 5)
    shapes = [tuple(w.shape) for w in model.trainable_weights]
    assert shapes == [(5, 4), (4,), (4, 2), (2,), (4, 2), (2,), (2, 4), (4,), (4, 5), (5,)]
    assert [ly.name for ly in model.layers] == ["encoder", "decoder"]
    assert len(model.losses) == 1


@pytest.mark.parametrize("with_y", [True, False])
def test_one_step_matches_the_finite_difference_gradient(with_y):
    keras.utils.set_random_seed(0)
    model = AutoEncoder(5)
    x = _x()
    model(x)
    if with_y:  # the guide: compiled MSE plus the added KL term, fit(x_train, x_train)
        model.compile(keras.optimizers.SGD(learning_rate=1.0),
                      loss=keras.losses.MeanSquaredError())
    else:  # only the added loss: compile(optimizer), fit(x)
        model.compile(keras.optimizers.SGD(learning_rate=1.0))
    ws = [np.float64(w.value) for w in model.trainable_weights]
    want_loss = _numpy_loss(ws, np.float64(x), with_y)
    grads = _fd_grads(ws, np.float64(x), with_y)
    history = model.fit(x, x if with_y else None, batch_size=8, epochs=1, shuffle=False,
                        verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], want_loss, rtol=1e-5)
    for w, w0, g in zip(model.trainable_weights, ws, grads):
        np.testing.assert_allclose(w.value, w0 - g, rtol=1e-3, atol=2e-6, err_msg=w.path)


def test_the_guides_constructor_arguments_do_not_make_a_functional_model():
    model = AutoEncoder(5, 4, 2)  # three positional arguments, as VAE(784, 64, 32)
    assert type(model) is AutoEncoder
    inputs = keras.Input((5,))
    functional = keras.Model(inputs, layers.Dense(2)(inputs))
    assert type(functional).__name__ == "Functional"
