"""Initializers: Keras formulas (limits, stddevs, fans), statistics, determinism,
Keras 3 serialization and error messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import initializers as I
from core import random as nw_random


@pytest.mark.parametrize("shape, fans", [
    ((), (1, 1)), ((7,), (7, 7)), ((30, 20), (30, 20)),
    ((3, 3, 8, 16), (72, 144)),  # conv: receptive field 9
    ((5, 4, 2), (20, 10)),
])
def test_compute_fans(shape, fans):
    assert I.compute_fans(shape) == fans


UNIFORM = [  # (name, limit as a function of fan_in, fan_out) -- Keras docstrings
    ("glorot_uniform", lambda fi, fo: math.sqrt(6 / (fi + fo))),
    ("he_uniform", lambda fi, fo: math.sqrt(6 / fi)),
    ("lecun_uniform", lambda fi, fo: math.sqrt(3 / fi)),
]
NORMAL = [  # (name, target stddev after truncation)
    ("glorot_normal", lambda fi, fo: math.sqrt(2 / (fi + fo))),
    ("he_normal", lambda fi, fo: math.sqrt(2 / fi)),
    ("lecun_normal", lambda fi, fo: math.sqrt(1 / fi)),
]


@pytest.mark.parametrize("name, limit", UNIFORM)
@pytest.mark.parametrize("shape", [(300, 200), (3, 3, 32, 64)])
def test_uniform_variance_scaling(name, limit, shape):
    nw_random.set_seed(0)
    w = I.get(name)(shape, dtype="float32")
    lim = limit(*I.compute_fans(shape))
    assert w.dtype == np.float32 and w.shape == shape
    assert np.abs(w).max() <= lim
    assert np.abs(w).max() > 0.99 * lim  # fills the whole interval
    assert abs(w.std() - lim / math.sqrt(3)) < 0.02 * lim
    assert abs(w.mean()) < 0.01 * lim


@pytest.mark.parametrize("name, std", NORMAL)
@pytest.mark.parametrize("shape", [(300, 200), (3, 3, 32, 64)])
def test_truncated_normal_variance_scaling(name, std, shape):
    nw_random.set_seed(1)
    w = I.get(name)(shape, dtype="float64")
    s = std(*I.compute_fans(shape))
    raw = s / 0.87962566103423978  # Keras' pre-truncation stddev
    assert np.abs(w).max() <= 2 * raw  # truncated at two (raw) standard deviations
    assert np.abs(w).max() > 1.95 * raw
    assert abs(w.std() - s) < 0.02 * s  # the correction restores the target stddev


def test_random_initializers_statistics():
    nw_random.set_seed(2)
    w = I.RandomNormal(mean=1.0, stddev=0.5)((200, 300))
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.std() - 0.5) < 0.01
    u = I.RandomUniform(minval=-2.0, maxval=3.0)((200, 300))
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.03
    t = I.TruncatedNormal(mean=0.0, stddev=1.0)((200, 300))
    assert np.abs(t).max() <= 2.0
    # std of a unit normal truncated to [-2, 2] is Keras' constant
    assert abs(t.std() - 0.87962566103423978) < 0.01
    v = I.VarianceScaling(scale=2.0, mode="fan_out", distribution="untruncated_normal")(
        (400, 100))
    assert abs(v.std() - math.sqrt(2.0 / 100)) < 0.005
    assert np.abs(v).max() > 2 * math.sqrt(2.0 / 100)  # not truncated


def test_constant_initializers():
    assert (I.get("zeros")((2, 3)) == 0).all() and I.get("zeros")((2,)).dtype == np.float32
    assert (I.get("ones")((4,), dtype="float64") == 1).all()
    assert (I.Constant(2.5)((2, 2)) == 2.5).all()
    np.testing.assert_array_equal(I.Identity(gain=2.0)((2, 3)), 2 * np.eye(2, 3))


def test_orthogonal():
    w = I.get("orthogonal")((30, 10), dtype="float64")
    np.testing.assert_allclose(w.T @ w, np.eye(10), atol=1e-10)
    w = I.OrthogonalInitializer(gain=3.0)((10, 30), dtype="float64")
    np.testing.assert_allclose(w @ w.T, 9 * np.eye(10), atol=1e-9)
    assert I.get("orthogonal")((3, 3, 4, 8)).shape == (3, 3, 4, 8)


def test_set_seed_makes_draws_repeat():
    nw_random.set_seed(123)
    a = [I.get(n)((5, 4)) for n in ("glorot_uniform", "he_normal", "random_normal")]
    nw_random.set_seed(123)
    b = [I.get(n)((5, 4)) for n in ("glorot_uniform", "he_normal", "random_normal")]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    nw_random.set_seed(124)
    assert not np.array_equal(I.get("glorot_uniform")((5, 4)), a[0])


def test_seeded_initializer_repeats_itself():
    init = I.GlorotUniform(seed=7)
    np.testing.assert_array_equal(init((4, 4)), init((4, 4)))
    assert not np.array_equal(init((4, 4)), I.GlorotUniform(seed=8)((4, 4)))


def test_dense_weights_repeat_under_set_seed():
    from core.layers.dense import Dense

    nw_random.set_seed(5)
    d1 = Dense(4)
    d1.build((None, 3))
    nw_random.set_seed(5)
    d2 = Dense(4)
    d2.build((None, 3))
    np.testing.assert_array_equal(d1.kernel.value, d2.kernel.value)


ALL = [I.Zeros(), I.Ones(), I.Constant(0.3), I.Identity(1.5), I.RandomNormal(0.1, 0.2, seed=3),
       I.TruncatedNormal(stddev=0.1), I.RandomUniform(-1.0, 1.0),
       I.VarianceScaling(0.5, "fan_avg", "uniform", seed=1), I.GlorotUniform(),
       I.GlorotNormal(seed=4), I.HeUniform(), I.HeNormal(), I.LecunUniform(), I.LecunNormal(),
       I.OrthogonalInitializer(gain=2.0)]


@pytest.mark.parametrize("init", ALL, ids=repr)
def test_serialize_roundtrip(init):
    d = I.serialize(init)
    assert set(d) == {"module", "class_name", "config", "registered_name"}
    assert d["module"] == "keras.initializers" and d["registered_name"] is None
    # Keras 3.15 writes OrthogonalInitializer under its public alias (LSTM configs show it).
    want = "Orthogonal" if type(init) is I.OrthogonalInitializer else type(init).__name__
    assert d["class_name"] == want
    back = I.deserialize(d)
    assert type(back) is type(init) and back.get_config() == init.get_config()


def test_keras_config_forms():
    assert I.serialize("glorot_uniform") == {
        "module": "keras.initializers", "class_name": "GlorotUniform",
        "config": {"seed": None, "input_axes": None, "output_axes": None},
        "registered_name": None}
    assert I.serialize(I.RandomNormal())["config"] == {"seed": None, "mean": 0.0,
                                                       "stddev": 0.05}
    assert I.serialize(I.VarianceScaling())["config"] == {
        "seed": None, "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal",
        "input_axes": None, "output_axes": None}
    assert I.serialize("zeros")["config"] == {}
    # Keras 2 form without module, and class names as identifiers
    assert isinstance(I.get({"class_name": "HeNormal", "config": {"seed": 1}}), I.HeNormal)
    assert isinstance(I.get("GlorotUniform"), I.GlorotUniform)
    for alias, cls in (("uniform", I.RandomUniform), ("normal", I.RandomNormal),
                       ("one", I.Ones), ("zero", I.Zeros), ("Orthogonal", I.Orthogonal)):
        assert isinstance(I.get(alias), cls)
    assert I.VarianceScaling(distribution="normal").distribution == "truncated_normal"


def test_bad_arguments_raise_value_error_naming_them():
    with pytest.raises(ValueError, match="glorot_unifrom.*known initializers.*glorot_uniform"):
        I.get("glorot_unifrom")
    with pytest.raises(ValueError, match=r"scale=-1"):
        I.VarianceScaling(scale=-1)
    with pytest.raises(ValueError, match="mode='fan_sum'"):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution='cauchy'"):
        I.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="seed='x'"):
        I.GlorotUniform(seed="x")
    with pytest.raises(ValueError, match="Identity.*shape=\\(2, 2, 2\\)"):
        I.Identity()((2, 2, 2))
    with pytest.raises(ValueError, match="Nope"):
        I.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError):
        I.get(3.5)


def test_available_lists_snake_case_names_that_resolve():
    names = I.available()
    assert names == sorted(names) and "glorot_uniform" in names and "orthogonal" in names
    assert all(n == n.lower() for n in names)
    for n in names:
        assert isinstance(I.get(n), I.Initializer)


def test_fan_axes_as_keras():
    # Keras 3.15's compute_fans: with both axis lists, the products of those axes.
    assert I.compute_fans((3, 4, 5), input_axes=[0, 1], output_axes=[2]) == (12, 5)
    assert I.compute_fans((3, 4, 5), input_axes=[0]) == (4 * 3, 5 * 3)  # one list: ignored
    w = I.GlorotUniform(seed=1, input_axes=[0, 1], output_axes=[2])((3, 4, 5))
    limit = (6.0 / (12 + 5)) ** 0.5
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.8 * limit
    assert I.get(I.serialize(I.HeNormal(input_axes=[0], output_axes=[1]))).input_axes == [0]
    with pytest.raises(ValueError, match="input_axes"):
        I.VarianceScaling(input_axes="01")
