"""BatchNormalization: Keras formulas written out, moving statistics, gradients, config."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.autodiff import Tape
from core.layers.normalization import BatchNormalization
from tests.helpers.gradcheck import check_layer_gradients


def _keras_bn(x, gamma, beta, mean, var, eps, axis=-1):
    shape = [1] * x.ndim
    shape[axis] = -1
    r = [np.reshape(a, shape) for a in (gamma, beta, mean, var)]
    return (x - r[2]) / np.sqrt(r[3] + eps) * r[0] + r[1]


@pytest.mark.parametrize("shape", [(16, 5), (4, 6, 7, 3)])
def test_training_uses_batch_stats_and_updates_moving_stats(shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3 + 2).astype("float32")
    bn = BatchNormalization(momentum=0.9)
    bn.build((None,) + shape[1:])
    c = shape[-1]
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    bn.gamma.assign(gamma)
    bn.beta.assign(beta)
    y = bn(x, training=True)
    axes = tuple(range(x.ndim - 1))
    xd = x.astype(np.float64)
    mean, var = xd.mean(axis=axes), xd.var(axis=axes)  # biased variance (Keras 3)
    np.testing.assert_allclose(y, _keras_bn(xd, gamma, beta, mean, var, 1e-3),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.value, 0 * 0.9 + mean * 0.1, rtol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.value, 1 * 0.9 + var * 0.1, rtol=1e-6)
    # Inference: the moving statistics, nothing updated.
    before = [w.numpy() for w in bn.weights]
    y_inf = bn(x, training=False)
    np.testing.assert_allclose(
        y_inf, _keras_bn(xd, gamma, beta, bn.moving_mean.value, bn.moving_variance.value,
                         1e-3), rtol=1e-5, atol=1e-5)
    assert all(np.array_equal(a, w.value) for a, w in zip(before, bn.weights))


def test_non_trainable_layer_runs_in_inference_mode():
    x = np.random.default_rng(1).standard_normal((8, 3)).astype("float32") + 5
    bn = BatchNormalization(trainable=False)
    y = bn(x, training=True)
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3), rtol=1e-6)
    assert np.all(bn.moving_mean.value == 0) and np.all(bn.moving_variance.value == 1)
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4


def test_weights_order_and_optional_gamma_beta():
    bn = BatchNormalization()
    bn.build((None, 4, 4, 6))
    assert [(w.name, w.shape, w.trainable) for w in bn.weights] == [
        ("gamma", (6,), True), ("beta", (6,), True),
        ("moving_mean", (6,), False), ("moving_variance", (6,), False)]
    assert bn.gamma.value.tolist() == [1.0] * 6 and bn.beta.value.tolist() == [0.0] * 6
    plain = BatchNormalization(center=False, scale=False)
    plain.build((None, 3))
    assert [w.name for w in plain.weights] == ["moving_mean", "moving_variance"]
    x = np.random.default_rng(2).standard_normal((10, 3)).astype("float32")
    y = plain(x, training=True)
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape,kwargs", [
    ((6, 4), {}),
    ((3, 4, 5, 3), {}),
    ((3, 4, 5, 3), {"axis": 1}),
    ((5, 3, 4), {"center": False}),
    ((5, 3, 4), {"scale": False, "epsilon": 0.1}),
])
def test_gradients_match_finite_differences(training, shape, kwargs):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape) * 2 + 1
    bn = BatchNormalization(dtype="float64", **kwargs)
    bn.build((None,) + shape[1:])
    if bn.gamma is not None:
        bn.gamma.assign(rng.uniform(0.5, 1.5, bn.gamma.shape))
    bn.moving_mean.assign(rng.standard_normal(bn.moving_mean.shape))
    bn.moving_variance.assign(rng.uniform(0.5, 2, bn.moving_variance.shape))
    check_layer_gradients(bn, x, training=training)


def test_backward_without_input_grad():
    bn = BatchNormalization()
    x = np.random.default_rng(4).standard_normal((8, 3)).astype("float32")
    with Tape() as tape:
        y = bn(x, training=True)
    tape.backward(y, np.ones_like(y))
    np.testing.assert_allclose(bn.beta.grad, np.full(3, 8.0))
    np.testing.assert_allclose(bn.gamma.grad, np.zeros(3), atol=1e-5)  # sum(x_hat) == 0


def test_config_keys_defaults_and_round_trip():
    bn = BatchNormalization(name="bn")
    cfg = bn.get_config()
    assert {"name", "trainable", "dtype", "axis", "momentum", "epsilon", "center", "scale",
            "beta_initializer", "gamma_initializer", "moving_mean_initializer",
            "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
            "beta_constraint", "gamma_constraint", "synchronized"} <= set(cfg)
    assert (cfg["axis"], cfg["momentum"], cfg["epsilon"]) == (-1, 0.99, 1e-3)
    assert cfg["center"] is True and cfg["scale"] is True and cfg["synchronized"] is False
    assert cfg["gamma_initializer"]["class_name"] == "Ones"
    again = BatchNormalization.from_config(json.loads(json.dumps(cfg)))
    assert json.dumps(again.get_config(), sort_keys=True) == json.dumps(cfg, sort_keys=True)
    assert BatchNormalization.group == "Normalization"


@pytest.mark.parametrize("kwargs,match", [
    (dict(momentum=1.5), "momentum=1.5"),
    (dict(epsilon=0.0), "epsilon=0.0"),
    (dict(axis="x"), "axis='x'"),
    (dict(synchronized=True), "synchronized"),
    (dict(gamma_regularizer="orthogonal_regularizer"), "gamma_regularizer"),
])
def test_invalid_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BatchNormalization(name="bad_bn", **kwargs)


def test_axis_out_of_range_names_layer_and_shape():
    bn = BatchNormalization(axis=3, name="bn_axis")
    with pytest.raises(ValueError, match=r"bn_axis.*axis=3.*\(None, 5, 4\)"):
        bn.compute_output_shape((None, 5, 4))
    with pytest.raises(ValueError, match="bn_axis"):
        bn(np.zeros((2, 5, 4), "float32"))
    assert not bn.built and bn.weights == []
    assert BatchNormalization(axis=1).compute_output_shape((None, 5, 4)) == (None, 5, 4)
