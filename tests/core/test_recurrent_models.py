"""Recurrent layers inside models: a functional model that uses return_state outputs
(several tape outputs of one layer call) trains, and its gradient equals central
differences of the model's loss (float64)."""

import numpy as np

from core.autodiff import Tape
from core.layers import LSTM, Concatenate, Dense, Input
from core.models import Model
from tests.helpers.gradcheck import numeric_gradient, relative_error


def _model(dtype):
    x = Input((5, 3), dtype=dtype)
    y, h, c = LSTM(4, return_state=True, return_sequences=True, dtype=dtype)(x)
    z = Dense(2, dtype=dtype)(Concatenate(dtype=dtype)([h, c]))
    return Model(x, [z, y])


def test_return_state_outputs_get_gradients_through_the_tape():
    model = _model("float64")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 3))
    rz, ry = rng.normal(size=(3, 2)), rng.normal(size=(3, 5, 4))

    def loss():
        z, y = model(x)
        return float(np.sum(z * rz) + np.sum(y * ry))

    with Tape() as tape:
        z, y = model(x, training=True)
    tape.backward([z, y], [rz, ry])
    for v in model.trainable_weights:
        assert relative_error(numeric_gradient(loss, v.value), v.grad) < 1e-6, v.path


def test_fit_lowers_the_loss():
    model = _model("float32")
    model.compile(optimizer="adam", loss=["mse", "mse"])
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 5, 3)).astype("float32")
    ys = [rng.normal(size=(16, 2)).astype("float32") * 0.5, np.zeros((16, 5, 4), "float32")]
    model.optimizer.learning_rate = 0.01
    hist = model.fit(x, ys, epochs=40, batch_size=8, verbose=0).history["loss"]
    assert hist[-1] < 0.8 * hist[0]
