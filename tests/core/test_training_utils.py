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


def test_blas_thread_override_during_fit_is_restored(monkeypatch):
    from core.callbacks import LambdaCallback
    from core.models.blas_threads import blas_threads, training_blas_threads
    monkeypatch.setenv("NETWEAVER_BLAS_THREADS", "1")
    before = blas_threads()
    if before is None:
        pytest.skip("no controllable OpenBLAS in this numpy build")
    seen = []
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0,
              callbacks=[LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(
                  blas_threads()))])
    assert seen == [1]
    assert blas_threads() == before
    with training_blas_threads():
        with training_blas_threads():
            assert blas_threads() == 1
        assert blas_threads() == 1
    assert blas_threads() == before
    monkeypatch.delenv("NETWEAVER_BLAS_THREADS")
    with training_blas_threads():  # no override: the count is left alone
        assert blas_threads() == before


def test_blas_threads_follow_the_largest_matrix_product(monkeypatch):
    """Small products get one BLAS thread during fit/predict/on_batch; large ones keep
    the count; NETWEAVER_BLAS_THREADS wins over both."""
    from core.callbacks import LambdaCallback
    from core.layers import Conv2D, Flatten
    from core.models.blas_threads import SMALL_MATMUL, blas_threads, largest_matmul
    monkeypatch.delenv("NETWEAVER_BLAS_THREADS", raising=False)
    mlp = Sequential([Flatten(input_shape=(28, 28)), Dense(128), Dense(10)])
    assert largest_matmul(mlp, 32) == 32 * 784 * 128
    cnn = Sequential([Conv2D(32, 3, input_shape=(28, 28, 1)), Flatten(), Dense(128)])
    assert largest_matmul(cnn, 128) == 128 * 26 * 26 * 32 * 128  # the Dense: 5408 x 128
    assert largest_matmul(Sequential([Flatten()]), 32) is None  # unbuilt, no kernel
    before = blas_threads()
    if before is None:
        pytest.skip("no controllable OpenBLAS in this numpy build")
    seen = []
    spy = LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(blas_threads()))
    mlp.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((64, 28, 28), "float32"), np.zeros((64, 10), "float32")
    mlp.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[spy])
    assert set(seen) == {1}
    assert blas_threads() == before
    big = 2 * SMALL_MATMUL // (784 * 128) + 1  # a batch whose product is above the line
    seen.clear()
    mlp.fit(x[:1].repeat(big, 0), y[:1].repeat(big, 0), batch_size=big, verbose=0,
            callbacks=[spy])
    assert seen == [before]
    monkeypatch.setenv("NETWEAVER_BLAS_THREADS", "3")
    seen.clear()
    mlp.fit(x, y, batch_size=32, verbose=0, callbacks=[spy])
    assert set(seen) == {3}
    assert blas_threads() == before


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
