"""``Normalization``: adapt / call / invert give real Keras 3.15.1's numbers."""

import os

import numpy as np
import pytest

from core.layers.preprocessing_normalization import Normalization

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.mark.parametrize("axis,shape", [(-1, (40, 3)), (None, (40, 3)), ((1, 2), (20, 4, 2)),
                                        (1, (30, 5, 2))])
def test_adapt_and_call_match_real_keras(axis, shape):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    data = (rng.normal(5, 3, shape) * np.arange(1, shape[-1] + 1)).astype("float32")
    data[:, ..., 0] = 2.0  # a constant feature: its variance is 0, so eps guards the divide
    mine, theirs = Normalization(axis=axis), keras.layers.Normalization(axis=axis)
    mine.adapt(data)
    theirs.adapt(data)
    probe = rng.normal(4, 6, shape).astype("float32")
    np.testing.assert_allclose(mine(probe), keras.ops.convert_to_numpy(theirs(probe)),
                               rtol=1e-5, atol=1e-4)
    assert [w.name for w in mine.weights] == [w.name for w in theirs.weights]
    for a, b in zip(mine.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    back = Normalization(axis=axis, invert=True)
    back.adapt(data)
    np.testing.assert_allclose(back(mine(probe)), probe, rtol=1e-4, atol=1e-3)


def test_fixed_statistics_and_errors():
    layer = Normalization(mean=[1.0, 2.0], variance=[4.0, 1.0])
    assert layer(np.array([[3.0, 3.0]])).tolist() == [[1.0, 1.0]]
    assert layer.weights == []
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="NaN"):
        Normalization().adapt(np.array([[1.0], [np.nan]]))
