"""Custom losses as Keras users write them train: a plain ``def my_loss(y_true, y_pred)``
of ``core.ops`` and a ``keras.losses.Loss`` subclass with ``call``. Their gradients
(the VJPs of the ops) are checked against central finite differences in float64 and
against PyTorch autograd; one training step equals the built-in loss's step.
"""

from __future__ import annotations

import numpy as np
import pytest

import core as keras
from core import losses, ops
from core.saving import get_custom_objects, register_keras_serializable
from tests.helpers.gradcheck import numeric_gradient, relative_error

try:
    import torch
except Exception:  # pragma: no cover
    torch = None

rng = np.random.default_rng(11)


def log_cosh_mix(y_true, y_pred):
    """Not a built-in: exercises log, exp, abs, where and a mean over the last axis."""
    d = y_pred - y_true
    soft = ops.log((ops.exp(d) + ops.exp(-d)) * 0.5)
    big = ops.where(ops.abs(d) > 1.0, ops.abs(d), soft)
    return ops.mean(big + 0.1 * ops.square(y_pred), axis=-1)


def torch_log_cosh_mix(t, p):
    d = p - t
    soft = torch.log((torch.exp(d) + torch.exp(-d)) * 0.5)
    big = torch.where(d.abs() > 1.0, d.abs(), soft)
    return (big + 0.1 * p ** 2).mean(dim=-1)


class CustomMSE(keras.losses.Loss):
    """keras.io, *Training & evaluation with the built-in methods*."""

    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor

    def get_config(self):
        return {"regularization_factor": self.regularization_factor, "name": self.name}


def torch_custom_mse(t, p):
    return ((t - p) ** 2).mean(-1) + 0.1 * ((0.5 - p) ** 2).mean(-1)


CASES = [("function", lambda: losses.get(log_cosh_mix), torch_log_cosh_mix),
         ("subclass", lambda: CustomMSE(), torch_custom_mse)]


@pytest.mark.parametrize("kind,make,torch_fn", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_vs_finite_differences_and_torch(kind, make, torch_fn, weighted):
    loss = make()
    y_true = rng.normal(size=(6, 3))
    y_pred = rng.normal(size=(6, 3)) * 1.5
    sw = rng.random(6) if weighted else None
    value, grad = loss.value_and_grad(y_true, y_pred, sample_weight=sw)
    assert grad.shape == y_pred.shape and grad.dtype == np.float64
    assert value == pytest.approx(loss(y_true, y_pred, sample_weight=sw), rel=1e-12)
    p = y_pred.copy()
    num = numeric_gradient(lambda: loss(y_true, p, sample_weight=sw), p)
    assert relative_error(num, grad) < 1e-7
    if torch is not None:
        p = torch.tensor(y_pred, requires_grad=True)
        per = torch_fn(torch.tensor(y_true), p)
        if sw is not None:
            per = per * torch.tensor(sw)
        total = per.sum() / per.numel()  # sum_over_batch_size
        total.backward()
        assert value == pytest.approx(total.item(), rel=1e-12)
        np.testing.assert_allclose(grad, p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_reductions_follow_keras():
    y_true, y_pred = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    per = np.asarray(losses.LossFunctionWrapper(log_cosh_mix, reduction=None)(y_true, y_pred))
    assert per.shape == (4,)
    total = losses.LossFunctionWrapper(log_cosh_mix, reduction="sum")
    assert total(y_true, y_pred) == pytest.approx(per.sum())
    value, grad = total.value_and_grad(y_true, y_pred)
    p = y_pred.copy()
    num = numeric_gradient(lambda: total(y_true, p), p)
    assert relative_error(num, grad) < 1e-7


def _pair(loss_a, loss_b):
    """Two identical models, one step each with a different (but equal) loss."""
    keras.utils.set_random_seed(5)
    x = rng.random((16, 4)).astype("float32")
    y = rng.random((16, 2)).astype("float32")
    models = []
    for loss in (loss_a, loss_b):
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="tanh"),
                              keras.layers.Dense(2)])
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
        models.append(m)
    models[1].set_weights(models[0].get_weights())
    logs = [m.train_on_batch(x, y) for m in models]
    return models, logs


def test_function_loss_step_equals_builtin_step():
    def my_mse(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    (a, b), (la, lb) = _pair("mse", my_mse)
    assert float(np.ravel(la)[0]) == pytest.approx(float(np.ravel(lb)[0]), rel=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-7)


def test_subclass_loss_trains():
    keras.utils.set_random_seed(6)
    x = rng.random((64, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 2))).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=CustomMSE())
    hist = model.fit(x, y, epochs=30, batch_size=16, verbose=0).history["loss"]
    assert hist[-1] < 0.5 * hist[0]


def test_numpy_loss_without_ops_is_refused_not_silently_zero():
    def numpy_loss(y_true, y_pred):
        return np.mean(np.square(np.asarray(y_true) - np.asarray(y_pred)), axis=-1)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=numpy_loss)
    with pytest.raises(ValueError, match=r"numpy_loss.*does not depend on y_pred through "
                                         r"core\.ops"):
        model.fit(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"), verbose=0)


def test_registered_custom_losses_save_and_load(tmp_path):
    before = dict(get_custom_objects())
    try:
        @register_keras_serializable(package="LossTest")
        def my_mae(y_true, y_pred):
            return ops.mean(ops.abs(y_true - y_pred), axis=-1)

        registered_cls = register_keras_serializable(package="LossTest")(CustomMSE)
        x = rng.random((8, 3)).astype("float32")
        y = rng.random((8, 1)).astype("float32")
        for loss in (my_mae, registered_cls(0.3)):
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss=loss)
            model.fit(x, y, epochs=1, verbose=0)
            model.save(tmp_path / "m.keras")
            back = keras.saving.load_model(tmp_path / "m.keras")
            assert back.evaluate(x, y, verbose=0) == pytest.approx(
                model.evaluate(x, y, verbose=0), rel=1e-6)
            la, lb = model.train_on_batch(x, y), back.train_on_batch(x, y)
            assert float(np.ravel(la)[0]) == pytest.approx(float(np.ravel(lb)[0]), rel=1e-6)
    finally:
        get_custom_objects().clear()
        get_custom_objects().update(before)
