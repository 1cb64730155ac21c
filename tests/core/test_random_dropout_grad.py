"""``keras.random.dropout`` inside a user layer's ``call`` passes the gradient on (the
MyDropout layer of keras.io's "Introduction to Keras for engineers"): a fixed seed
gives a fixed mask, so float64 finite differences check the gradient.

>>> # pytest tests/core/test_random_dropout_grad.py
"""

import warnings

import numpy as np

import core
from tests.helpers.op_check import check_op


def test_dropout_gradient_matches_finite_differences():
    x = np.random.default_rng(0).normal(size=(6, 5))
    check_op(lambda t: core.random.dropout(t, 0.3, seed=11), [x])
    check_op(lambda t: core.random.dropout(t, 0.5, noise_shape=(1, 5), seed=2), [x])
    out = core.random.dropout(x.astype("float32"), 0.25, seed=4)
    assert out.dtype == np.float32 and type(out) is np.ndarray  # no tape: plain numpy
    kept = out != 0
    np.testing.assert_allclose(out[kept], x.astype("float32")[kept] / 0.75, rtol=1e-6)


class _SeededDropout(core.layers.Layer):
    def __init__(self, rate):
        super().__init__()
        self.rate = rate
        self.seed_generator = core.random.SeedGenerator(1337)

    def call(self, inputs):
        return core.random.dropout(inputs, self.rate, seed=self.seed_generator)


class _Net(core.Model):
    def __init__(self):
        super().__init__()
        self.first = core.layers.Dense(4)
        self.drop = _SeededDropout(0.5)
        self.last = core.layers.Dense(3)

    def call(self, x):
        return self.last(self.drop(self.first(x)))


def test_weights_before_a_user_dropout_layer_train():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 6)).astype("float32"), rng.integers(0, 3, 16)
    model = _Net()
    model.compile(optimizer="sgd",
                  loss=core.losses.SparseCategoricalCrossentropy(from_logits=True))
    model(x[:1])
    before = [w.copy() for w in model.first.get_weights()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Gradients do not exist" would fail here
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.first.get_weights()))


def test_the_dropout_layer_mask_comes_from_the_full_range_draw_of_its_generator():
    """The layer's one seed per call is the generator's next full-range uint64 (the raw
    draw, the value ``integers(0, 2**64 - 1, endpoint=True)`` gives): a seeded layer's
    masks stay what they were when it drew with ``integers``."""
    from core.kernels import dropout as dropout_kernels

    x = np.random.default_rng(3).normal(size=(8, 16)).astype("float32")
    layer = core.layers.Dropout(0.4, seed=9)
    got = [np.asarray(layer(x, training=True)) for _ in range(2)]
    gen = np.random.default_rng(9)
    for out in got:
        seed = gen.integers(0, np.iinfo(np.uint64).max, dtype=np.uint64, endpoint=True)
        y, mask = np.empty_like(x), np.empty_like(x)
        dropout_kernels.dropout_forward(x.reshape(-1), 0.4, seed, y.reshape(-1),
                                        mask.reshape(-1))
        np.testing.assert_array_equal(out, y)
    assert not np.array_equal(got[0], got[1])
