"""core.utils: to_categorical, set_random_seed, normalize (Keras semantics)."""

import random

import numpy as np
import pytest

from core import utils
from core.layers import Dense
from core.models import Sequential


def test_to_categorical_matches_keras():
    out = utils.to_categorical([1, 0, 3])
    assert out.dtype == np.float32 and out.shape == (3, 4)
    np.testing.assert_array_equal(out, np.eye(4, dtype="float32")[[1, 0, 3]])
    assert utils.to_categorical(np.array([[2], [0]]), 5).shape == (2, 5)  # trailing 1 dropped
    assert utils.to_categorical(np.zeros((2, 3), int), 2).shape == (2, 3, 2)
    assert utils.to_categorical([1.0, 2.0]).tolist() == [[0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="label 4 is out of range for num_classes=3"):
        utils.to_categorical([0, 4], num_classes=3)
    with pytest.raises(ValueError, match="non-integer values such as 1.5"):
        utils.to_categorical([0, 1.5])
    with pytest.raises(ValueError, match=">= 0"):
        utils.to_categorical([-1, 2])


def test_set_random_seed_seeds_engine_numpy_and_python():
    utils.set_random_seed(11)
    a = (Sequential([Dense(3, input_shape=(4,))]).get_weights(), np.random.rand(),
         random.random())
    utils.set_random_seed(11)
    b = (Sequential([Dense(3, input_shape=(4,))]).get_weights(), np.random.rand(),
         random.random())
    for wa, wb in zip(a[0], b[0]):
        np.testing.assert_array_equal(wa, wb)
    assert a[1:] == b[1:]
    utils.set_random_seed(12)
    c = Sequential([Dense(3, input_shape=(4,))]).get_weights()
    assert not np.array_equal(a[0][0], c[0])
    with pytest.raises(ValueError, match="seed=-3"):
        utils.set_random_seed(-3)


def test_normalize_unit_l2_rows():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(utils.normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(utils.normalize(x, axis=0, order=1)[:, 1], [1.0, 0.0])


def test_predict_later_batches_match_the_checked_first_batch_path():
    """predict runs batch 0 through every Layer.__call__ check and later batches
    through the layers' forward directly; both must be inference (Dropout off,
    BatchNormalization on its moving statistics) and equal model(x)."""
    from core.layers import BatchNormalization, Dropout

    rng = np.random.default_rng(0)
    model = Sequential([Dense(6, activation="relu", input_shape=(4,)), Dropout(0.5),
                        BatchNormalization(), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = rng.standard_normal((50, 4)).astype("float32")
    model.fit(x, rng.integers(0, 3, 50), epochs=2, batch_size=10, verbose=0)
    got = model.predict(x, batch_size=7, verbose=0)
    np.testing.assert_allclose(got, model(x, training=False), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got, model.predict(x, batch_size=50, verbose=0),
                               rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="expected shape"):
        model.predict(np.zeros((9, 5), "float32"), batch_size=4, verbose=0)
