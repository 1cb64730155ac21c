"""``predict`` over many batches: batches on several threads (``core.models.batch_threads``)
and the NaN/inf check that the first Dense reports (``core.models.predictor.FiniteInputs``).

Each test states which path it takes: ``threads_on`` makes the concurrent path
available as on a 2-core machine (single-threaded BLAS, the runtime's default policy),
``serial`` asks the runtime for two BLAS threads (no batches on threads then), and the
tests assert which really ran, so none of them can pass on the serial path alone.
"""

import threading
import time

import numpy as np
import pytest

from core import runtime
from core.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, Reshape
from core.models import Sequential, batch_threads

pytestmark = pytest.mark.skipif(runtime.blas_threads() is None,
                                reason="needs an OpenBLAS whose thread count can be set")


@pytest.fixture
def threads_on(monkeypatch):
    """The concurrent path as on the 2-core target; counts the runs that took it."""
    monkeypatch.setattr(batch_threads, "cores", lambda: 2)
    runs = []
    real = batch_threads.run

    def counted(*args, **kwargs):
        ran = real(*args, **kwargs)
        runs.append(ran)
        return ran
    monkeypatch.setattr(batch_threads, "run", counted)
    return runs


@pytest.fixture
def serial():
    """``serial()`` switches the runtime to two BLAS threads (restored after the test)."""
    yield lambda: runtime.configure(blas_threads=2)
    runtime.configure(blas_threads=1)


def _mlp(seed=0):
    rng = np.random.default_rng(seed)
    model = Sequential([Flatten(input_shape=(6, 5)), Dense(16, activation="relu"),
                        Dropout(0.3), Dense(4, activation="softmax")])
    for w in model.weights:
        w.assign(rng.standard_normal(w.shape).astype("float32"))
    return model


def _reference(model, x):
    """The MLP's formula in float64, independent of the engine."""
    k1, b1, k2, b2 = (w.value.astype(np.float64) for w in model.weights)
    h = np.maximum(x.reshape(len(x), -1) @ k1 + b1, 0)
    z = h @ k2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_batches_on_threads_equal_the_formula_and_the_serial_run(threads_on, serial):
    model = _mlp()
    x = np.random.default_rng(1).random((1003, 6, 5)).astype("float32")
    got = model.predict(x, batch_size=16, verbose=0)
    assert threads_on == [True]
    np.testing.assert_allclose(got, _reference(model, x), rtol=2e-5, atol=1e-6)
    serial()  # multi-threaded BLAS: batches in turn
    serial = model.predict(x, batch_size=16, verbose=0)
    assert threads_on == [True, False]
    np.testing.assert_allclose(got, serial, rtol=1e-6, atol=1e-7)


def test_batch_end_hooks_arrive_in_order_with_their_outputs(threads_on):
    from core.callbacks import Callback

    class Ends(Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_predict_batch_end(self, batch, logs=None):
            self.seen.append((batch, threading.current_thread(), logs["outputs"].copy()))

    model, ends = _mlp(), Ends()
    x = np.random.default_rng(2).random((300, 6, 5)).astype("float32")
    got = model.predict(x, batch_size=7, callbacks=[ends], verbose=0)
    assert threads_on == [True]
    assert [b for b, _, _ in ends.seen] == list(range(43))
    assert {t for _, t, _ in ends.seen} == {threading.current_thread()}
    np.testing.assert_array_equal(np.concatenate([o for _, _, o in ends.seen]), got)


def test_a_batch_begin_hook_keeps_predict_serial(threads_on):
    from core.callbacks import Callback

    calls = []

    class Both(Callback):
        def on_predict_batch_begin(self, batch, logs=None):
            calls.append(("begin", batch))

        def on_predict_batch_end(self, batch, logs=None):
            calls.append(("end", batch))

    _mlp().predict(np.zeros((40, 6, 5), "float32"), batch_size=8, callbacks=[Both()],
                   verbose=0)
    assert threads_on == []  # never offered: begin must precede its batch's work
    assert calls == [(k, b) for b in range(5) for k in ("begin", "end")]


def test_layers_with_buffers_keep_predict_serial(threads_on):
    model = Sequential([Reshape((4, 4, 1), input_shape=(16,)), Conv2D(2, 3),
                        Flatten(), Dense(3)])
    x = np.random.default_rng(3).random((64, 16)).astype("float32")
    got = model.predict(x, batch_size=8, verbose=0)
    assert threads_on == []
    np.testing.assert_allclose(got, model(x, training=False), rtol=1e-5, atol=1e-6)
    bn = Sequential([Dense(5, input_shape=(16,)), BatchNormalization(), Dense(2)])
    bn.predict(x, batch_size=8, verbose=0)
    assert threads_on == []


def test_an_error_in_a_batch_reaches_the_caller_and_stops_the_rest(threads_on):
    done, where = [], []

    def work(b):
        time.sleep(0.002)  # a batch's BLAS time, with the GIL released
        if b == 5:
            where.append(threading.current_thread())
            raise RuntimeError("batch 5 failed")
        done.append(b)

    with pytest.raises(RuntimeError, match="batch 5 failed"), runtime.engine_call():
        batch_threads.run(100, work)
    assert 0 in done and len(done) < 20  # the others stopped after their current batch
    assert len(where) == 1


def test_run_declines_when_it_cannot_help(threads_on, serial, monkeypatch):
    with runtime.engine_call():
        assert batch_threads.run(50, lambda b: None) is True
        assert batch_threads.run(3, lambda b: None) is False  # 2 batches to share: too few
        monkeypatch.setattr(batch_threads, "cores", lambda: 1)
        assert batch_threads.run(50, lambda b: None) is False
        monkeypatch.setattr(batch_threads, "cores", lambda: 2)
    serial()
    with runtime.engine_call():  # two BLAS threads: batches on threads would oversubscribe
        assert batch_threads.run(50, lambda b: None) is False
    runtime.configure(blas_threads=1)
    assert batch_threads.run(50, lambda b: None) is (runtime.blas_threads() == 1)


# ------------------------------------------------------------ the NaN/inf check
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("concurrent", [True, False])
def test_non_finite_input_in_a_late_batch_names_the_sample(bad, concurrent, threads_on,
                                                           serial):
    """Later batches are vouched for by the first Dense's pre-activations (a NaN or inf
    anywhere in a sample makes its whole row non-finite), before the ReLU that would
    map NaN to 0; the error is fit's, with the first bad sample's index."""
    if not concurrent:
        serial()
    model = _mlp()
    x = np.random.default_rng(4).random((500, 6, 5)).astype("float32")
    x[777 % 500, 3, 2] = bad
    x[431, 0, 0] = bad
    with pytest.raises(ValueError, match=r"x contains NaN or infinite values \(in 2 "
                                         r"sample\(s\), first at index 277\)"):
        model.predict(x, batch_size=32, verbose=0)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_non_finite_weights_give_non_finite_predictions_not_an_error(threads_on):
    """A row flagged by the Dense whose data is clean (here: an inf weight) costs one
    exact check of x, then predict goes on, as Keras returns what the model computes."""
    model = _mlp()
    k = model.weights[0].value.copy()
    k[0, 0] = np.inf
    model.weights[0].assign(k)
    x = np.random.default_rng(5).random((200, 6, 5)).astype("float32") + 0.1
    got = model.predict(x, batch_size=16, verbose=0)
    assert not np.isfinite(got).all()


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_overflow_from_finite_data_is_not_an_input_error(threads_on):
    model = _mlp()
    x = np.full((100, 6, 5), 3e38, "float32")  # finite, but x @ kernel overflows
    got = model.predict(x, batch_size=10, verbose=0)
    assert got.shape == (100, 4) and not np.isfinite(got).all()


def test_models_not_starting_with_dense_check_x_up_front(threads_on):
    model = Sequential([Reshape((4, 4, 1), input_shape=(16,)), Conv2D(2, 3), Flatten(),
                        Dense(3)])
    x = np.ones((64, 16), "float32")
    x[50, 7] = np.nan
    with pytest.raises(ValueError, match="first at index 50"):
        model.predict(x, batch_size=8, verbose=0)


# ------------------------------------------------------------- functional models
def _functional_mlp():
    from core.layers import Input
    from core.models import Model

    seq = _mlp()
    inp = Input((6, 5))
    x = inp
    for layer in seq.layers:
        x = layer(x)
    return Model(inp, x), seq


def test_functional_models_take_the_same_paths(threads_on):
    """The app builds functional models: their later batches run the layers' forward
    directly, on every core, and the first Dense checks the input."""
    model, seq = _functional_mlp()
    x = np.random.default_rng(6).random((700, 6, 5)).astype("float32")
    got = model.predict(x, batch_size=32, verbose=0)
    assert threads_on == [True]
    np.testing.assert_allclose(got, _reference(seq, x), rtol=2e-5, atol=1e-6)
    assert model._input_check_index() == 1  # Flatten, then the Dense
    x[650, 2, 2] = np.nan
    with pytest.raises(ValueError, match=r"\(in 1 sample\(s\), first at index 650\)"):
        model.predict(x, batch_size=32, verbose=0)


def test_functional_branches_and_merges_run_on_threads(threads_on):
    from core.layers import Add, Concatenate, Input
    from core.models import Model

    inp = Input((8,))
    a = Dense(5, activation="tanh")(inp)
    b = Dense(5)(inp)
    merged = Concatenate()([Add()([a, b]), b])
    model = Model(inp, [Dense(2)(merged), a])
    x = np.random.default_rng(7).random((300, 8)).astype("float32")
    got = model.predict(x, batch_size=16, verbose=0)
    assert threads_on == [True]
    want = model(x, training=False)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
    assert model._input_check_index() == 0  # the input feeds a Dense directly


def test_a_subclass_with_its_own_call_is_never_bypassed(threads_on):
    class Doubled(Sequential):
        def call(self, inputs, training=False):
            return 2 * super().call(inputs, training=training)

    model = Doubled([Dense(3, input_shape=(4,))])
    x = np.random.default_rng(8).random((100, 4)).astype("float32")
    got = model.predict(x, batch_size=8, verbose=0)
    np.testing.assert_allclose(got, 2 * (x @ model.weights[0].value + model.weights[1].value),
                               rtol=1e-5)
    assert threads_on == []
