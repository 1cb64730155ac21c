"""``ReduceLROnPlateau`` against the trajectories real Keras 3.15.1 gives for the same
monitored values (recorded from ``keras.callbacks.ReduceLROnPlateau`` on the torch
backend), and inside ``fit``."""

import numpy as np
import pytest

from core.callbacks import ReduceLROnPlateau
from core.layers import Dense
from core.models import Sequential
from core.optimizers import SGD

# (logs["learning_rate"] seen at the epoch's end, the optimizer's rate after it), per epoch.
KERAS_MIN = [(1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (1.0, 0.5), (0.5, 0.5), (0.5, 0.25),
             (0.25, 0.25), (0.25, 0.25), (0.25, 0.125), (0.125, 0.125), (0.125, 0.1),
             (0.1, 0.1), (0.1, 0.1)]
KERAS_MAX = [(1.0, 1.0), (1.0, 1.0), (1.0, 0.1), (0.1, 0.01), (0.01, 0.01), (0.01, 0.005),
             (0.005, 0.005), (0.005, 0.005), (0.005, 0.005)]


def _run(values, monitor, **kwargs):
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer=SGD(learning_rate=1.0), loss="mse")
    cb = ReduceLROnPlateau(monitor=monitor, **kwargs)
    cb.set_model(model)
    cb.on_train_begin()
    out = []
    for epoch, v in enumerate(values):
        logs = {monitor: v}
        cb.on_epoch_end(epoch, logs)
        out.append((round(logs["learning_rate"], 6), round(model.optimizer.learning_rate, 6)))
    return out


def test_trajectories_equal_keras():
    assert _run([1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9],
                "val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.1,
                min_delta=0.01) == KERAS_MIN
    assert _run([0.5, 0.6, 0.6, 0.6, 0.65, 0.65, 0.65, 0.65, 0.7], "val_accuracy", mode="max",
                factor=0.1, patience=1, min_lr=0.005) == KERAS_MAX


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(TypeError, match="unrecognized"):
        ReduceLROnPlateau(patiance=3)
    assert ReduceLROnPlateau(epsilon=0.5).min_delta == -0.5  # Keras' old name; 'min' mode


def test_in_fit_the_rate_drops_and_history_records_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0]], "float32")).astype("float32")
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer=SGD(learning_rate=0.5), loss="mse")
    # No epoch improves the loss by 1e3, so every 2nd epoch after the first halves the
    # rate; the logs show the rate the epoch ran with, as Keras' do.
    cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=1e3)
    hist = model.fit(x, y, epochs=6, batch_size=16, verbose=0, callbacks=[cb])
    assert hist.history["learning_rate"] == pytest.approx([0.5, 0.5, 0.5, 0.25, 0.25, 0.125])
    assert model.optimizer.learning_rate == pytest.approx(0.125)


def test_a_scheduled_learning_rate_cannot_be_reduced_as_in_keras():
    from core.optimizers import schedules

    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer=SGD(learning_rate=schedules.ExponentialDecay(0.1, 2, 0.5)),
                  loss="mse")
    cb = ReduceLROnPlateau(monitor="loss", patience=1)
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 1.0})
    with pytest.raises(TypeError, match="not settable"):
        cb.on_epoch_end(1, {"loss": 1.0})
