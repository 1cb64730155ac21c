"""Run weight helpers (``core.session.run_weights``): a nested model restores from the
app's by-top-level-layer copies and from the command line's by-leaf-layer copies."""

import numpy as np

from core import layers as L
from core.graph.build import model_weights
from core.models import Model, Sequential
from core.session.run_weights import restore_weights, weights_by_layer


def _nested():
    inner = Sequential([L.Input((4,)), L.Dense(3, name="d1"), L.Dense(2, name="d2")],
                       name="block")
    x = L.Input((4,))
    return Model(x, L.Dense(1, name="head")(inner(x)))


def test_nested_model_restores_from_top_level_and_from_leaf_copies():
    src, x = _nested(), np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    want = src.predict(x, verbose=0)
    for saved in (weights_by_layer(src), model_weights(src)):
        dst = _nested()
        assert not np.allclose(dst.predict(x, verbose=0), want)
        assert restore_weights(dst, saved)
        np.testing.assert_array_equal(dst.predict(x, verbose=0), want)


def test_a_copy_that_does_not_fit_changes_nothing():
    src, dst = _nested(), _nested()
    saved = model_weights(src)
    saved["d2"] = [np.zeros((3, 5), "float32"), np.zeros(5, "float32")]  # wrong shapes
    before = [w.numpy().copy() for w in dst.weights]
    assert not restore_weights(dst, saved)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, dst.weights))
