"""``add_loss`` in a custom layer's ``call`` (with compiled losses and alone, ``fit(x)``
without targets), weight regularization, and a ``Model.compute_loss`` override
(keras.io's "Customizing what happens in fit()"), each against real Keras 3 (PyTorch
backend) on the same model, weights and batches: History and trained weights agree."""

import os

import numpy as np
import pytest

import core

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

rng = np.random.default_rng(2)
X = rng.normal(size=(16, 4)).astype("float32")
Y = rng.normal(size=(16, 3)).astype("float32")


def penalty_layer(K):
    class ActivityPenalty(K.layers.Layer):
        """keras.io's subclassing guide: a layer adding a loss from its inputs."""

        def __init__(self, rate=0.05, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * K.ops.sum(K.ops.square(inputs)))
            return inputs
    return ActivityPenalty


def mse_model_class(K, use_super):
    class CustomModel(K.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            if use_super:
                return 0.5 * super().compute_loss(x, y, y_pred, sample_weight, training)
            return K.ops.mean((y_pred - y) ** 2) + 0.1 * K.ops.mean(K.ops.abs(y_pred))
    return CustomModel


def build(K, kind):
    inputs = K.Input((4,), name="x")
    reg = K.regularizers.L2(0.01) if kind == "regularized" else None
    h = K.layers.Dense(5, activation="tanh", kernel_regularizer=reg, name="h")(inputs)
    if kind.startswith("add_loss"):
        h = penalty_layer(K)(name="penalty")(h)
    out = K.layers.Dense(3, name="out")(h)
    if kind.startswith("compute_loss"):
        return mse_model_class(K, kind.endswith("super"))(inputs, out)
    return K.Model(inputs, out)


@pytest.mark.parametrize("kind", ["add_loss", "add_loss_only", "regularized",
                                  "compute_loss", "compute_loss_super"])
def test_added_losses_train_as_keras(kind):
    results = []
    for K in (keras, core):
        model = build(K, kind)
        if K is keras:
            start = model.get_weights()
        else:
            model.set_weights(start)
        loss = None if kind == "add_loss_only" else "mse"
        model.compile(optimizer=K.optimizers.SGD(0.1), loss=loss,
                      metrics=None if loss is None else ["mae"])
        y = None if kind == "add_loss_only" else Y
        hist = model.fit(X, y, batch_size=8, epochs=3, verbose=0, shuffle=False).history
        results.append((model, hist, model.evaluate(X, y, verbose=0, return_dict=True)))
    (ref, k_hist, k_eval), (model, hist, ev) = results
    assert sorted(hist) == sorted(k_hist)
    for key in k_hist:
        np.testing.assert_allclose(hist[key], k_hist[key], rtol=5e-5, err_msg=key)
    for key in k_eval:
        np.testing.assert_allclose(ev[key], k_eval[key], rtol=5e-5, err_msg=key)
    for ours, theirs in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-4, atol=1e-6)


def test_layer_losses_are_the_latest_calls_then_weight_penalties():
    model = build(core, "add_loss")
    model(X)
    first = [float(v) for v in model.losses]
    model(X[:4])  # a new call replaces the added loss
    assert len(model.losses) == 1
    assert float(model.losses[0]) < first[0]
    reg = build(core, "regularized")
    np.testing.assert_allclose(
        float(reg.losses[0]), 0.01 * np.sum(reg.get_layer("h").kernel.value ** 2), rtol=1e-6)


def test_nothing_to_minimize_is_refused_with_keras_message():
    model = build(core, "plain")
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(X, verbose=0)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="needs targets y"):
        model.fit(X, verbose=0)
    with pytest.raises(ValueError, match="only be called from inside"):
        core.layers.Layer().add_loss("not a tensor")
