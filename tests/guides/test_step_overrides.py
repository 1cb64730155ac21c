"""``Model.train_step`` / ``test_step`` / ``predict_step`` as Keras 3 documents them:
fit, evaluate, predict and the ``*_on_batch`` methods call a user's override with the
batch packed as ``(x,)`` / ``(x, y)`` / ``(x, y, sample_weight)``; without one they
keep the built-in loop. Only backend-agnostic overrides (``keras.ops``, ``self(x)``,
``compute_loss``, metrics' ``update_state``, ``super().train_step``).

References: the built-in loop on transformed data, and numpy.
"""

from __future__ import annotations

import numpy as np

import core as keras
from core.models.train_step import overridden


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 3)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")


def _layers():
    return [keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]


class DoubledInputs(keras.Sequential):
    """Preprocesses each batch, then trains with the built-in step."""

    calls = 0

    def train_step(self, data):
        type(self).calls += 1
        x, y = data
        return super().train_step((x * 2.0, y))


def test_the_built_in_models_do_not_override_a_step():
    x, _ = _data()
    for model in (keras.Sequential(_layers()), keras.Model(*_functional())):
        assert not any(overridden(model, n) for n in ("train_step", "test_step",
                                                      "predict_step"))


def _functional():
    i = keras.Input((3,))
    return i, keras.layers.Dense(1)(keras.layers.Dense(4, activation="tanh")(i))


def test_train_step_override_is_called_per_batch_and_super_trains_as_built_in():
    x, y = _data()
    keras.utils.set_random_seed(1)
    custom = DoubledInputs(_layers())
    keras.utils.set_random_seed(1)
    plain = keras.Sequential(_layers())
    for m in (custom, plain):
        m.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    DoubledInputs.calls = 0
    h1 = custom.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    h2 = plain.fit(x * 2.0, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert DoubledInputs.calls == 8
    for a, b in zip(custom.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    for key in ("loss", "mae"):
        np.testing.assert_allclose(h1.history[key], h2.history[key], rtol=1e-6)
    logs = custom.train_on_batch(x[:8], y[:8], return_dict=True)
    assert DoubledInputs.calls == 9 and set(logs) == {"loss", "mae"}


class GuideTestStep(keras.Sequential):
    """The test_step of Keras 3's "customizing what happens in fit" guide."""

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_guide_test_step_gives_the_numpy_loss_and_metric():
    x, y = _data()
    model = GuideTestStep(_layers())
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    logs = model.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
    pred = np.float64(model.predict(x, verbose=0))
    np.testing.assert_allclose(logs["loss"], np.mean((pred - y) ** 2), rtol=1e-5)
    np.testing.assert_allclose(logs["mae"], np.mean(np.abs(pred - y)), rtol=1e-5)
    again = model.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
    assert again == logs  # the metrics are reset for each evaluation


class OwnMetrics(keras.Sequential):
    """Metrics kept by the model itself (``metrics`` property), as the guide shows."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(keras.ops.mean((y_pred - y) ** 2))
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}


def test_own_metrics_are_reset_between_evaluations_and_batches_averaged():
    x, y = _data()
    model = OwnMetrics(_layers())
    model.compile(optimizer="sgd", loss="mse")
    first = model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    pred = np.float64(model.predict(x, verbose=0))
    per_batch = [np.mean((pred[s:s + 8] - y[s:s + 8]) ** 2) for s in range(0, 32, 8)]
    np.testing.assert_allclose(first["loss"], np.mean(per_batch), rtol=1e-5)
    np.testing.assert_allclose(first["mae"], np.mean(np.abs(pred - y)), rtol=1e-5)
    assert model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0) == first


class ArgmaxPredict(keras.Sequential):
    def predict_step(self, data):
        (x,) = data
        return keras.ops.argmax(self(x, training=False), axis=-1)


def test_predict_step_override_shapes_the_predictions():
    x, _ = _data()
    model = ArgmaxPredict([keras.Input((3,)), keras.layers.Dense(5)])
    got = model.predict(x, batch_size=8, verbose=0)
    kernel, bias = model.get_weights()
    np.testing.assert_array_equal(got, np.argmax(x @ kernel + bias, axis=-1))
