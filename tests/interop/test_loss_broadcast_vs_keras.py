"""Keras' regression losses broadcast targets against predictions; ours do the same.

``keras.losses.mean_squared_error`` (and ``mean_absolute_error``, ``huber``) run
``squeeze_or_expand_to_same_rank`` and then ``y_true - y_pred``, which the backend
broadcasts: targets (8, 10) against a (8, 1) output compare each target with the one
prediction (the "Customizing Saving" guide trains exactly that). Checked against real
Keras 3.15.1 on the PyTorch backend: values, per-sample values, and the gradient
w.r.t. y_pred from torch autograd (plus central differences in float64 for ours); the
shapes Keras refuses are refused here too, and ``fit`` takes the same step.

>>> # pytest tests/interop/test_loss_broadcast_vs_keras.py
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import core  # noqa: E402
from core import losses  # noqa: E402

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
RNG = np.random.default_rng(11)

CLASSES = ["MeanSquaredError", "MeanAbsoluteError", "Huber"]
# (y_true shape, y_pred shape): broadcasting, rank squeeze/expand, and the plain case.
SHAPES = [((8, 10), (8, 1)), ((8,), (8, 1)), ((8, 1), (8,)), ((8, 10), (8, 10)),
          ((8, 3, 1), (8, 3)), ((10,), (8, 10)), ((8, 1), (8, 4)), ((2, 5, 3), (2, 1, 3))]


def _keras_value_and_grad(cls, t, p, **kw):
    """Keras' reduced loss and its gradient w.r.t. y_pred (torch autograd)."""
    yp = torch.tensor(p, requires_grad=True)
    value = getattr(keras.losses, cls)(**kw)(torch.tensor(t), yp)
    value.backward()
    return float(value.detach()), yp.grad.numpy()


def _central_grad(loss, t, p, h=1e-6):
    p = p.astype(np.float64)
    g = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        g[i] = (loss(t, up) - loss(t, down)) / (2 * h)
    return g


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("true_shape,pred_shape", SHAPES)
def test_values_and_gradients_match_keras(cls, true_shape, pred_shape):
    t = RNG.normal(size=true_shape).astype("float32")
    p = RNG.normal(size=pred_shape).astype("float32")
    ours = getattr(losses, cls)()
    value, grad = ours.value_and_grad(t, p)
    k_value, k_grad = _keras_value_and_grad(cls, t, p)
    assert value == pytest.approx(k_value, rel=1e-5)
    assert grad.shape == p.shape
    np.testing.assert_allclose(grad, k_grad, rtol=1e-4, atol=1e-6)
    per = getattr(losses, cls)(reduction=None)(t, p)
    k_per = keras.ops.convert_to_numpy(getattr(keras.losses, cls)(reduction=None)(t, p))
    assert per.shape == k_per.shape
    np.testing.assert_allclose(per, k_per, rtol=1e-5, atol=1e-6)
    ours64 = getattr(losses, cls)(dtype="float64")
    t64 = t.astype(np.float64)
    fd = _central_grad(lambda a, b: ours64(a, b), t64, p.astype(np.float64))
    np.testing.assert_allclose(ours64.value_and_grad(t64, p.astype(np.float64))[1], fd,
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fn", ["mean_squared_error", "mean_absolute_error", "huber"])
def test_function_forms_broadcast_as_keras(fn):
    t = RNG.normal(size=(8, 10)).astype("float32")
    p = RNG.normal(size=(8, 1)).astype("float32")
    np.testing.assert_allclose(getattr(losses, fn)(t, p),
                               keras.ops.convert_to_numpy(getattr(keras.losses, fn)(t, p)),
                               rtol=1e-5, atol=1e-6)


def test_shapes_keras_refuses_are_refused():
    t = RNG.normal(size=(8, 10)).astype("float32")
    p = RNG.normal(size=(8, 3)).astype("float32")
    with pytest.raises(RuntimeError, match="must match the size"):  # torch's error
        keras.losses.MeanSquaredError()(t, p)
    with pytest.raises(ValueError, match=r"y_true.shape=\(8, 10\).*y_pred.shape=\(8, 3\)"
                                         r".*cannot be broadcast"):
        losses.MeanSquaredError()(t, p)
    # The crossentropies do not broadcast in Keras either.
    probs = np.full((8, 1), 0.5, "float32")
    with pytest.raises(ValueError):
        keras.losses.BinaryCrossentropy()(np.ones((8, 10), "float32"), probs)
    with pytest.raises(ValueError, match="needs them equal"):
        losses.BinaryCrossentropy()(np.ones((8, 10), "float32"), probs)


def test_fit_takes_keras_step_with_broadcast_targets():
    """Dense(1) trained on (8, 10) targets: same loss and same weights after one SGD
    step as real Keras from the same start; (8, 3) targets too (they broadcast)."""
    x = RNG.random((8, 10)).astype("float32")
    for width in (10, 3):
        y = RNG.random((8, width)).astype("float32")
        kernel = RNG.normal(size=(10, 1)).astype("float32")
        bias = np.array([0.1], "float32")
        results = []
        for K in (core, keras):
            model = K.Sequential([K.Input((10,)), K.layers.Dense(1)])
            model.set_weights([kernel, bias])
            model.compile(optimizer=K.optimizers.SGD(0.1), loss="mean_squared_error")
            loss = float(np.ravel(model.train_on_batch(x, y))[0])
            results.append((loss, [np.asarray(w) for w in model.get_weights()]))
        (ours, our_w), (theirs, their_w) = results
        assert ours == pytest.approx(theirs, rel=1e-5)
        for a, b in zip(our_w, their_w):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fit_refuses_targets_keras_cannot_use():
    model = core.Sequential([core.Input((10,)), core.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"targets of shape \(4, 3\).*\(None, 2\)"):
        model.fit(np.zeros((4, 10), "float32"), np.zeros((4, 3), "float32"), verbose=0)
