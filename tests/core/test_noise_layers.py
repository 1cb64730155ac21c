"""Training behaviour of the random regularization layers, which the shared layer test
can only check at inference (each training call draws new noise): the noise's
statistics against Keras' definitions, channel sharing, seeding, and the tape gradient
against the derivative of the very draw the call made (y = x + n: 1; y = x * n: n).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.layers import GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D
from core.utils import set_random_seed
from tests.helpers.gradcheck import analytic_gradients

X = np.random.default_rng(0).uniform(0.5, 1.5, (64, 50, 40))  # no zeros: y / x is defined


def test_gaussian_noise_adds_n_0_stddev_while_training():
    y = GaussianNoise(0.2, dtype="float64")(X, training=True)
    noise = y - X
    assert abs(noise.mean()) < 0.005 and abs(noise.std() - 0.2) < 0.005
    assert y.dtype == np.float64


def test_gaussian_dropout_multiplies_by_n_1_rate_over_1_minus_rate():
    y = GaussianDropout(0.3, dtype="float64")(X, training=True)
    noise = y / X
    assert abs(noise.mean() - 1.0) < 0.005
    assert abs(noise.std() - math.sqrt(0.3 / 0.7)) < 0.005


@pytest.mark.parametrize("layer, x, shared_axes", [
    (SpatialDropout1D(0.4, dtype="float64"), X, (1,)),
    (SpatialDropout2D(0.4, dtype="float64"), X[:, :10, :10, None].repeat(30, axis=3), (1, 2)),
    (SpatialDropout2D(0.4, data_format="channels_first", dtype="float64"),
     X[:, :30, :10, None].repeat(10, axis=3), (2, 3)),
])
def test_spatial_dropout_drops_whole_channels_scaled_by_1_over_keep(layer, x, shared_axes):
    factor = layer(x, training=True) / x
    assert np.allclose(factor, factor.max(axis=shared_axes, keepdims=True))  # one per map
    values = set(np.round(np.unique(factor), 12))
    assert values <= {0.0, round(1 / 0.6, 12)}
    assert abs((factor.min(axis=shared_axes) == 0).mean() - 0.4) < 0.05


@pytest.mark.parametrize("make", [lambda: GaussianNoise(0.5, dtype="float64"),
                                  lambda: GaussianDropout(0.5, dtype="float64"),
                                  lambda: SpatialDropout1D(0.5, dtype="float64")])
def test_the_training_gradient_is_the_derivative_of_the_draw_made(make):
    layer, x = make(), X[:3, :4, :5].copy()
    set_random_seed(11)
    (gx,), _, (r,) = analytic_gradients(layer, x, training=True)
    set_random_seed(11)  # the same draw again, to read it off the output
    y = make()(x, training=True)
    slope = np.ones_like(x) if isinstance(layer, GaussianNoise) else y / x
    np.testing.assert_allclose(gx, r * slope, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls, arg", [(GaussianNoise, 0.3), (GaussianDropout, 0.3),
                                      (SpatialDropout1D, 0.3)])
def test_a_seed_makes_the_draws_reproducible_and_new_each_call(cls, arg):
    a, b = cls(arg, seed=5), cls(arg, seed=5)
    x = X[:4].astype("float32")
    first = a(x, training=True)
    np.testing.assert_array_equal(first, b(x, training=True))
    assert not np.array_equal(first, a(x, training=True))


@pytest.mark.parametrize("bad", [
    lambda: GaussianNoise(1.5), lambda: GaussianNoise(-0.1), lambda: GaussianDropout(2.0),
    lambda: SpatialDropout1D(1.0), lambda: SpatialDropout2D(0.2, data_format="nhwc")])
def test_bad_arguments_name_the_layer(bad):
    with pytest.raises(ValueError, match="Layer '"):
        bad()


def test_spatial_dropout_refuses_the_wrong_rank_naming_layer_and_shape():
    with pytest.raises(ValueError, match=r"spatial_dropout2d.*ndim=4.*\(None, 5, 3\)"):
        SpatialDropout2D(0.2)(np.ones((2, 5, 3), "float32"))


def test_gaussian_dropout_rate_1_is_accepted_as_keras_but_training_says_why_not():
    layer = GaussianDropout(1.0)
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(layer(x), x)  # inference: the identity
    with pytest.raises(ValueError, match=r"'gaussian_dropout.*rate=1.*infinite"):
        layer(x, training=True)
