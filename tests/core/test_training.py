"""fit / evaluate / predict / *_on_batch: results, Keras' logs, and refusal of bad input."""

import numpy as np
import pytest

from core import utils
from core.callbacks import Callback, TerminateOnNaN
from core.layers import Activation, Dense, Dropout, Input
from core.models import Model, Sequential


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    y = rng.integers(0, 3, n)
    x = centers[y] + rng.normal(scale=0.7, size=(n, 2))
    return x.astype("float32"), y


def _mlp(dtype=None, seed=0, **kw):
    utils.set_random_seed(seed)
    return Sequential([Dense(16, activation="tanh", input_shape=(2,), dtype=dtype),
                       Dense(3, activation="softmax", dtype=dtype)], **kw)


def _ce(y, p):
    return float(np.mean(-np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1 - 1e-7))))


def test_training_reduces_loss_and_logs_keras_keys():
    x, y = _blobs()
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, epochs=15, batch_size=16, validation_split=0.2, verbose=0)
    assert list(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert hist.epoch == list(range(15)) and model.history is hist
    losses = hist.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert hist.history["val_accuracy"][-1] > 0.85
    assert model.metrics_names == ["loss", "accuracy"]


def test_evaluate_matches_an_independent_crossentropy_and_accuracy():
    x, y = _blobs(seed=1)
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    p = model.predict(x, verbose=0)
    loss, acc = model.evaluate(x, y, batch_size=64, verbose=0)
    assert loss == pytest.approx(_ce(y, p.astype(np.float64)), rel=1e-5)
    assert acc == pytest.approx(float(np.mean(p.argmax(1) == y)))
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss"]
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x, y = _blobs(100)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, epochs=1, batch_size=10, validation_split=0.3, verbose=0)
    val_loss, val_acc = model.evaluate(x[70:], y[70:], verbose=0)
    assert hist.history["val_loss"][0] == pytest.approx(val_loss, rel=1e-6)
    assert hist.history["val_accuracy"][0] == pytest.approx(val_acc)


def _one_sgd_step(model, x, y, fuse=True):
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model._make_step()
    if not fuse:  # force the plain path: d loss / d probs, then the softmax backward
        model._step.outputs[0].fused_layer = None
    model._step.train_step([x], [y])
    return model.get_weights()


@pytest.mark.parametrize("separate_activation", [False, True])
def test_fused_softmax_crossentropy_step_equals_the_unfused_one(separate_activation):
    x, y = _blobs(32, seed=3)
    x = x.astype("float64")

    def make():
        utils.set_random_seed(0)
        last = [Dense(3, dtype="float64"), Activation("softmax", dtype="float64")] \
            if separate_activation else [Dense(3, activation="softmax", dtype="float64")]
        return Sequential([Dense(16, activation="tanh", input_shape=(2,), dtype="float64")]
                          + last)

    fused, plain = make(), make()
    w0 = fused.get_weights()
    wf = _one_sgd_step(fused, x, y)
    wu = _one_sgd_step(plain, x, y, fuse=False)
    assert fused._step.outputs[0].fused_layer is fused.layers[-1]
    for a, b, c in zip(wf, wu, w0):
        assert not np.allclose(a, c)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # The softmax activation is back in place after the step.
    assert fused.layers[-1].activation.name == "softmax"


def test_multi_output_losses_weights_and_logs():
    a = Input((2,))
    h = Dense(8, activation="relu", name="trunk")(a)
    cls = Dense(3, activation="softmax", name="cls")(h)
    reg = Dense(1, name="reg")(h)
    model = Model(a, [cls, reg])
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5], metrics={"cls": ["accuracy"]})
    x, y = _blobs(64)
    target = x[:, :1] * 2.0
    logs = model.evaluate(x, [y, target], verbose=0, return_dict=True)
    assert sorted(logs) == ["cls_accuracy", "cls_loss", "loss", "reg_loss"]
    assert logs["loss"] == pytest.approx(logs["cls_loss"] + 0.5 * logs["reg_loss"], rel=1e-6)
    p_cls, p_reg = model.predict(x, verbose=0)
    assert logs["reg_loss"] == pytest.approx(float(np.mean((p_reg - target) ** 2)), rel=1e-5)
    hist = model.fit(x, [y, target], epochs=3, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_same_seed_gives_identical_weights_and_history():
    x, y = _blobs(200)

    def run():
        utils.set_random_seed(123)
        model = Sequential([Dense(16, activation="relu", input_shape=(2,)), Dropout(0.3),
                            Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        return model.get_weights(), hist.history

    w1, h1 = run()
    w2, h2 = run()
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_predict_and_on_batch_methods():
    x, y = _blobs(70)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    p = model.predict(x, batch_size=32, verbose=0)
    assert p.shape == (70, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p, model(x), rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), p[:5], rtol=1e-6)
    loss, acc = model.train_on_batch(x[:32], y[:32])
    assert np.isfinite(loss) and 0 <= acc <= 1
    logs = model.test_on_batch(x[:32], y[:32], return_dict=True)
    assert sorted(logs) == ["accuracy", "loss"]


def test_python_lists_and_dicts_as_data():
    x, y = _blobs(40)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x.tolist(), [int(v) for v in y], epochs=1, verbose=0)
    assert len(hist.history["loss"]) == 1
    a, b = Input((2,), name="a"), Input((1,), name="b")
    from core.layers import Concatenate
    two = Model([a, b], Dense(3, activation="softmax", name="out")(Concatenate()([a, b])))
    two.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    by_name = two.evaluate({"b": x[:, :1], "a": x}, {"out": y}, verbose=0)
    by_order = two.evaluate([x, x[:, :1]], y, verbose=0)
    assert by_name == by_order
    with pytest.raises(ValueError, match=r"missing data for \['b'\]"):
        two.evaluate({"a": x}, y, verbose=0)
    assert model.fit(x, y, epochs=1, initial_epoch=1, verbose=0) is model.history


def test_stop_training_is_honoured_between_batches():
    x, y = _blobs(100)
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seen = []

    class StopAt3(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)
            if batch == 3:
                self.model.stop_training = True

    hist = model.fit(x, y, epochs=5, batch_size=10, callbacks=[StopAt3()], verbose=0)
    assert seen == [0, 1, 2, 3] and len(hist.history["loss"]) == 1


def test_steps_per_epoch_limits_batches():
    x, y = _blobs(100)
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    count = []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            count.append(batch)

    model.fit(x, y, epochs=2, batch_size=10, steps_per_epoch=3, callbacks=[Count()], verbose=0)
    assert count == [0, 1, 2, 0, 1, 2]


def test_class_weight_equals_the_matching_sample_weight():
    x, y = _blobs(60)
    weights = {0: 2.0, 1: 0.5, 2: 1.0}
    a, b = _mlp(), _mlp()
    for m in (a, b):
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    ha = a.fit(x, y, batch_size=20, epochs=2, shuffle=False, class_weight=weights, verbose=0)
    hb = b.fit(x, y, batch_size=20, epochs=2, shuffle=False, verbose=0,
               sample_weight=np.array([weights[int(k)] for k in y]))
    assert ha.history == hb.history
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_sample_weight_scales_the_loss_like_keras():
    x, y = _blobs(40)
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    plain = model.evaluate(x, y, verbose=0)
    doubled = model.evaluate(x, y, sample_weight=np.full(40, 2.0), verbose=0)
    assert doubled == pytest.approx(2 * plain, rel=1e-6)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_terminate_on_nan_stops_without_applying_the_bad_update():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2)).astype("float32")
    target = rng.normal(size=(30, 1)).astype("float32")
    target[25] = 3e19  # squared error overflows float32 -> inf loss in the 3rd batch
    utils.set_random_seed(5)
    model = Sequential([Dense(1, input_shape=(2,))])
    reference = Sequential([Dense(1, input_shape=(2,))])
    reference.set_weights(model.get_weights())
    for m in (model, reference):
        m.compile(optimizer="sgd", loss="mse")
    hist = model.fit(x, target, batch_size=10, epochs=3, shuffle=False,
                     callbacks=[TerminateOnNaN()], verbose=0)
    assert len(hist.history["loss"]) == 1 and not np.isfinite(hist.history["loss"][0])
    reference.fit(x[:20], target[:20], batch_size=10, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        assert np.all(np.isfinite(a))
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ bad input
@pytest.fixture
def compiled():
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _unchanged(model, before):
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case, pattern", [
    ("shape", r"expected shape \(None, 2\).*\(10, 3\)"),
    ("length", r"x: 10, y: 9"),
    ("nan_x", r"x contains NaN or infinite values.*index 4"),
    ("inf_y", r"y contains NaN or infinite"),
    ("label", r"label 3 is out of range.*3 classes"),
    ("negative_label", r"label -1 is out of range"),
    ("val_label", r"label 7 is out of range"),
])
def test_bad_data_is_refused_before_any_weight_changes(compiled, case, pattern):
    x, y = _blobs(10)
    y = y.copy()
    kw = {}
    if case == "shape":
        x = np.ones((10, 3), "float32")
    elif case == "length":
        y = y[:9]
    elif case == "nan_x":
        x = x.copy()
        x[4, 1] = np.nan
    elif case == "inf_y":
        y = y.astype("float32")
        y[2] = np.inf
    elif case == "label":
        y[-1] = 3  # in the last batch: must still be caught before the first step
    elif case == "negative_label":
        y[5] = -1
    elif case == "val_label":
        kw["validation_data"] = (x, np.full(10, 7))
    before = compiled.get_weights()
    with pytest.raises(ValueError, match=pattern):
        compiled.fit(x, y, batch_size=2, verbose=0, **kw)
    _unchanged(compiled, before)


def test_unknown_names_and_fit_before_compile():
    model = _mlp()
    x, y = _blobs(10)
    with pytest.raises(ValueError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="Unknown loss 'crossentropy_typo'"):
        model.compile(optimizer="adam", loss="crossentropy_typo")
    with pytest.raises(ValueError, match="nadam_typo"):
        model.compile(optimizer="nadam_typo", loss="mse")
    with pytest.raises(ValueError, match="Unknown metric 'f2_typo'"):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy", "f2_typo"])
    unbuilt = Sequential([Dense(3, activation="softmax")])
    unbuilt.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                    metrics=["f2_typo"])
    with pytest.raises(ValueError, match="Unknown metric 'f2_typo'"):
        unbuilt.fit(x, y, verbose=0)
    assert not unbuilt.built or all(np.all(w == 0) for w in unbuilt.get_weights()[1::2])


def test_bad_fit_arguments_are_named():
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _blobs(10)
    with pytest.raises(ValueError, match="batch_size=0"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split=1.5"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="verbose=5"):
        model.fit(x, y, verbose=5)
