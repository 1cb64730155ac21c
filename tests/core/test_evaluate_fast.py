"""``evaluate`` and fit's validation on predict's fast path (``core.models.evaluate_fast``)
give the logs of the step-by-step test loop, and of an independent float64 formula."""

import numpy as np
import pytest

from core import layers, runtime, utils
from core.callbacks import LambdaCallback
from core.layers import Dense, Dropout, Flatten
from core.models import Functional, Sequential, batch_threads, evaluate_fast


@pytest.fixture
def spy(monkeypatch):
    """Counts the evaluations that took the fast path, and those whose batches ran on
    threads; ``spy.off()`` makes evaluate use the step-by-step loop (the reference)."""
    class Spy:
        fast, threaded = [], []

        def off(self):
            monkeypatch.setattr(evaluate_fast, "applies", lambda model, xs: False)
    real_loop, real_run = evaluate_fast.test_loop, batch_threads.run

    def loop(*args):
        Spy.fast.append(True)
        return real_loop(*args)

    def run(*args, **kwargs):
        ran = real_run(*args, **kwargs)
        Spy.threaded.append(ran)
        return ran
    monkeypatch.setattr(evaluate_fast, "test_loop", loop)
    monkeypatch.setattr(batch_threads, "run", run)
    monkeypatch.setattr(batch_threads, "cores", lambda: 2)
    return Spy()


def _mlp():
    model = Sequential([Flatten(input_shape=(4, 3)), Dense(16, activation="relu"),
                        Dropout(0.5), Dense(5, activation="softmax")])
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.standard_normal(w.shape).astype("float32") * 0.5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], weighted_metrics=None)
    return model


def _data(n=1001):
    rng = np.random.default_rng(1)
    return (rng.random((n, 4, 3), dtype=np.float32), rng.integers(0, 5, n),
            rng.random(n).astype("float32") + 0.5)


def _formula(model, x, y, w):
    """Sample-weighted crossentropy and accuracy in float64, outside the engine."""
    k1, b1, k2, b2 = (v.value.astype(np.float64) for v in model.weights)
    z = np.maximum(x.reshape(len(x), -1) @ k1 + b1, 0) @ k2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    nll = -np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0))
    return np.sum(nll * w) / len(y), np.mean(p.argmax(1) == y)


@pytest.mark.parametrize("threads", [True, False])
def test_evaluate_matches_the_loop_and_the_formula(spy, threads):
    if not threads:
        runtime.configure(blas_threads=2)  # batches in turn
    try:
        model = _mlp()
        x, y, w = _data()
        fast = model.evaluate(x, y, sample_weight=w, batch_size=64, verbose=0,
                              return_dict=True)
        assert spy.fast == [True]
        if runtime.blas_threads() is not None:
            assert spy.threaded == [threads]
        spy.off()
        loop = model.evaluate(x, y, sample_weight=w, batch_size=64, verbose=0,
                              return_dict=True)
    finally:
        runtime.configure(blas_threads=1)
    assert spy.fast == [True]  # the second call took the loop
    assert fast.keys() == loop.keys()
    for k in loop:
        np.testing.assert_allclose(fast[k], loop[k], rtol=1e-6, err_msg=k)
    # Keras' sample-weighted loss: per-batch weighted sums over the batch size, averaged
    # by samples, which for one formula over all samples is sum(w * nll) / n.
    loss, acc = _formula(model, x, y, w)
    np.testing.assert_allclose(fast["loss"], loss, rtol=1e-5)
    np.testing.assert_allclose(fast["accuracy"], acc, rtol=1e-6)


def test_batch_end_hooks_see_the_running_logs_in_order(spy):
    model = _mlp()
    x, y, _ = _data(300)
    fast_logs, loop_logs = [], []
    model.evaluate(x, y, batch_size=32, verbose=0, callbacks=[LambdaCallback(
        on_test_batch_end=lambda b, logs: fast_logs.append((b, logs["loss"])))])
    spy.off()
    model.evaluate(x, y, batch_size=32, verbose=0, callbacks=[LambdaCallback(
        on_test_batch_end=lambda b, logs: loop_logs.append((b, logs["loss"])))])
    assert [b for b, _ in fast_logs] == list(range(10))
    np.testing.assert_allclose(fast_logs, loop_logs, rtol=1e-6)


def test_multi_output_with_sample_weights_matches_the_loop(spy):
    inp = layers.Input((6,))
    h = Dense(8, activation="tanh")(inp)
    a = Dense(3, activation="softmax", name="cls")(h)
    b = Dense(2, name="reg")(h)
    model = Functional(inp, [a, b])
    model.compile(optimizer="sgd", loss={"cls": "sparse_categorical_crossentropy",
                                         "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5},
                  metrics={"cls": ["accuracy"], "reg": ["mae"]})
    rng = np.random.default_rng(2)
    x = rng.random((257, 6), dtype=np.float32)
    ys = [rng.integers(0, 3, 257), rng.random((257, 2), dtype=np.float32)]
    sw = [rng.random(257).astype("float32"), np.ones(257, "float32")]
    fast = model.evaluate(x, ys, sample_weight=sw, batch_size=16, verbose=0,
                          return_dict=True)
    assert spy.fast == [True]
    spy.off()
    loop = model.evaluate(x, ys, sample_weight=sw, batch_size=16, verbose=0,
                          return_dict=True)
    assert fast.keys() == loop.keys() and len(loop) == 5
    for k in loop:
        np.testing.assert_allclose(fast[k], loop[k], rtol=1e-6, err_msg=k)


def test_validation_takes_the_fast_path_with_the_same_logs(spy):
    x, y, _ = _data(640)
    utils.set_random_seed(3)  # the same dropout masks in both trainings
    model = _mlp()
    fast = model.fit(x, y, batch_size=64, epochs=1, validation_split=0.25, shuffle=False,
                     verbose=0).history
    assert spy.fast == [True]
    spy.off()
    utils.set_random_seed(3)
    model = _mlp()
    loop = model.fit(x, y, batch_size=64, epochs=1, validation_split=0.25, shuffle=False,
                     verbose=0).history
    for k in ("val_loss", "val_accuracy"):
        np.testing.assert_allclose(fast[k], loop[k], rtol=1e-6, err_msg=k)


def test_an_activity_regularizer_keeps_the_loop(spy):
    model = Sequential([Dense(4, activation="relu", activity_regularizer="l2",
                              input_shape=(3,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((40, 3), "float32"), np.zeros((40, 1), "float32")
    model.evaluate(x, y, batch_size=8, verbose=0)
    assert spy.fast == []


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("first", [True, False])
def test_non_finite_x_is_refused_as_fit_refuses_it(spy, bad, first):
    """evaluate defers the NaN/inf check of x to the fast path's first Dense (as predict
    does) or, for the first batch, to an exact check of that batch; either way the
    error is fit's, naming the first bad sample of all of x."""
    model = _mlp()
    x, y, _ = _data()
    x[3 if first else 700, 1, 2] = bad
    x[900, 0, 0] = bad
    first_bad = 3 if first else 700
    with pytest.raises(ValueError, match=rf"x contains NaN or infinite values \(in 2 "
                                         rf"sample\(s\), first at index {first_bad}\)"):
        model.evaluate(x, y, batch_size=64, verbose=0)
    assert spy.fast == [True]
    with pytest.raises(ValueError, match=r"x contains NaN or infinite values"):
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)


def _scorings(monkeypatch):
    """Sizes of the groups of samples the fast path scored (losses computed) at once."""
    from core.models.step import CompiledStep
    sizes, real = [], CompiledStep._losses

    def losses(self, ys, preds, *args, **kwargs):
        sizes.append(len(preds[0]))
        return real(self, ys, preds, *args, **kwargs)
    monkeypatch.setattr(CompiledStep, "_losses", losses)
    return sizes


def test_batches_are_scored_in_groups_with_the_loops_logs(spy, monkeypatch):
    monkeypatch.setattr(evaluate_fast, "MERGE_ROWS", 300)
    sizes = _scorings(monkeypatch)
    model = _mlp()
    x, y, w = _data()
    fast = model.evaluate(x, y, sample_weight=w, batch_size=64, verbose=0,
                          return_dict=True)
    # the one-sample probe, then groups of whole batches up to 300 samples, in order
    assert sizes == [1, 320, 320, 320, 41] and spy.threaded == [True]
    spy.off()
    loop = model.evaluate(x, y, sample_weight=w, batch_size=64, verbose=0,
                          return_dict=True)
    for k in loop:
        np.testing.assert_allclose(fast[k], loop[k], rtol=1e-6, err_msg=k)


@pytest.mark.parametrize("case", ["sum", "user_metric", "ignore_class"])
def test_batch_dependent_scores_keep_one_scoring_per_batch(spy, monkeypatch, case):
    """A summed loss, a user's metric fn (it may return one value a batch) and an
    ignored class (each batch averages over its own kept labels) depend on the batching:
    scored batch by batch, as the loop scores them."""
    from core import losses, metrics
    sizes = _scorings(monkeypatch)
    model = _mlp()
    loss = {"sum": losses.SparseCategoricalCrossentropy(reduction="sum"),
            "ignore_class": losses.SparseCategoricalCrossentropy(ignore_class=0)}.get(
        case, "sparse_categorical_crossentropy")
    extra = [metrics.MeanMetricWrapper(lambda t, p: np.max(p), name="top")] \
        if case == "user_metric" else []
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy", *extra])
    x, y, _ = _data(640)
    fast = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    assert sizes == [1] + [64] * 10
    spy.off()
    loop = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    for k in loop:
        np.testing.assert_allclose(fast[k], loop[k], rtol=1e-6, err_msg=k)
