"""``import core as keras``: the names Keras 3 users reach for at the top level."""

import subprocess
import sys

import numpy as np
import pytest

import core as keras


def test_top_level_classes_are_the_engine_classes():
    from core.layers import Input, Layer
    from core.losses import Loss
    from core.metrics import Metric
    from core.models import Model, Sequential
    from core.optimizers import Optimizer
    from core.variables import Variable
    assert keras.Input is Input and keras.Layer is Layer and keras.Loss is Loss
    assert keras.Metric is Metric and keras.Model is Model and keras.Sequential is Sequential
    assert keras.Optimizer is Optimizer and keras.Variable is Variable
    assert keras.version() == keras.__version__
    with pytest.raises(AttributeError, match="no_such"):
        _ = keras.no_such


def test_import_core_stays_lazy():
    code = "import core, sys; print(any(m.startswith('core.layers') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_config_functions():
    assert keras.config.floatx() == "float32"
    assert keras.config.image_data_format() == "channels_last"
    assert keras.config.backend() == "numpy"
    old = keras.config.epsilon()
    try:
        keras.config.set_epsilon(1e-5)
        assert keras.config.epsilon() == 1e-5
    finally:
        keras.config.set_epsilon(old)
    with pytest.raises(ValueError, match="channels_first"):
        keras.config.set_image_data_format("channels_first")


def test_functional_merge_helpers_match_layers():
    a = np.arange(6, dtype="float32").reshape(2, 3)
    b = np.full((2, 3), 2.0, "float32")
    L = keras.layers
    np.testing.assert_allclose(L.add([a, b]), a + b)
    np.testing.assert_allclose(L.subtract([a, b]), a - b)
    np.testing.assert_allclose(L.multiply([a, b]), a * b)
    np.testing.assert_allclose(L.average([a, b]), (a + b) / 2)
    np.testing.assert_allclose(L.maximum([a, b]), np.maximum(a, b))
    np.testing.assert_allclose(L.minimum([a, b]), np.minimum(a, b))
    np.testing.assert_allclose(L.concatenate([a, b], axis=0), np.concatenate([a, b], 0))
    x = keras.Input((3,))
    y = L.concatenate([L.Dense(2)(x), L.Dense(4)(x)])
    assert y.shape == (None, 6)
    model = keras.Model(x, y)
    assert model.predict(a, verbose=0).shape == (2, 6)


def test_random_functions_shapes_seeds_and_ranges():
    R = keras.random
    a = R.normal((50, 4), seed=3)
    assert a.shape == (50, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(a, R.normal((50, 4), seed=3))
    u = R.uniform((1000,), 2.0, 3.0, seed=0)
    assert u.min() >= 2.0 and u.max() < 3.0
    t = R.truncated_normal((5000,), mean=1.0, stddev=0.5, seed=0)
    assert np.abs(t - 1.0).max() <= 1.0 + 1e-6
    i = R.randint((1000,), 0, 5, seed=0)
    assert i.dtype == np.int32 and set(np.unique(i)) == {0, 1, 2, 3, 4}
    x = np.ones((200, 10), "float32")
    d = R.dropout(x, 0.5, seed=0)
    assert set(np.unique(d)) <= {0.0, 2.0} and 0.3 < (d == 0).mean() < 0.7
    d2 = R.dropout(x, 0.5, noise_shape=(1, 10), seed=0)
    assert (d2 == d2[0]).all()
    s = R.shuffle(np.arange(10), seed=0)
    assert sorted(s.tolist()) == list(range(10)) and s.tolist() != list(range(10))
    sg = R.SeedGenerator(7)
    first, second = R.normal((3,), seed=sg), R.normal((3,), seed=sg)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, R.normal((3,), seed=R.SeedGenerator(7)))
    with pytest.raises(ValueError, match="seed"):
        R.normal((2,), seed="x")
