"""``fit``/``evaluate``/``predict`` on batch sources — ``core.utils.PyDataset``, Python
generators with ``steps_per_epoch``, a PyTorch ``DataLoader`` — and ``sample_weight`` /
``class_weight``, each checked against real Keras 3 (PyTorch backend) on the same model,
weights and batches: the History values and the trained weights must agree."""

import os
import warnings

import numpy as np
import pytest

import core

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

rng = np.random.default_rng(11)
X = rng.normal(size=(24, 4)).astype("float32")
Y = rng.integers(0, 3, 24)
SW = rng.uniform(0.1, 2.0, 24).astype("float32")
CLASS_WEIGHT = {0: 0.5, 1: 2.0, 2: 1.3}


def mlp(K):
    inputs = K.Input((4,), name="x")
    h = K.layers.Dense(6, activation="tanh", name="h")(inputs)
    model = K.Model(inputs, K.layers.Dense(3, activation="softmax", name="out")(h))
    model.compile(optimizer=K.optimizers.SGD(0.2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def pydataset(K, with_weights=False, workers=1):
    class Batches(K.utils.PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.epochs_ended = 0

        def __len__(self):
            return 3

        def __getitem__(self, i):
            s = slice(i * 8, (i + 1) * 8)
            return (X[s], Y[s], SW[s]) if with_weights else (X[s], Y[s])

        def on_epoch_end(self):
            self.epochs_ended += 1
    return Batches(workers=workers, use_multiprocessing=False)


def forever(with_weights=False):
    while True:
        for s in range(0, 24, 8):
            yield (X[s:s + 8], Y[s:s + 8], SW[s:s + 8]) if with_weights else \
                (X[s:s + 8], Y[s:s + 8])


def loader():
    data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    return torch.utils.data.DataLoader(data, batch_size=8, shuffle=False)


def both(make_data, **fit_kw):
    """Fit real Keras and ours from the same initial weights on ``make_data(K)``."""
    results = []
    for K in (keras, core):
        model = mlp(K)
        if K is keras:
            start = model.get_weights()
        else:
            model.set_weights(start)
        history = model.fit(make_data(K), epochs=3, verbose=0, shuffle=False, **fit_kw)
        results.append((model, history.history))
    (ref, k_hist), (model, hist) = results
    assert sorted(hist) == sorted(k_hist)
    for key in k_hist:
        np.testing.assert_allclose(hist[key], k_hist[key], rtol=2e-5, atol=1e-6, err_msg=key)
    for ours, theirs in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-4, atol=1e-6)
    return model, hist


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "sample_weight"])
def test_pydataset_trains_as_keras(weighted):
    model, _ = both(lambda K: pydataset(K, weighted))
    data = pydataset(core, workers=2)  # accepted; fetched in-process, in order
    assert (data.workers, data.use_multiprocessing, data.max_queue_size) == (2, False, 10)
    model.fit(data, epochs=2, verbose=0)
    assert data.epochs_ended == 2


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "sample_weight"])
def test_generator_with_steps_per_epoch_trains_as_keras(weighted):
    both(lambda K: forever(weighted), steps_per_epoch=2)  # batches run on across epochs


def test_torch_dataloader_trains_as_keras_and_as_the_arrays():
    model, _ = both(lambda K: loader())
    fresh = mlp(core)
    fresh.set_weights(model.get_weights())
    np.testing.assert_allclose(fresh.evaluate(loader(), verbose=0),
                               fresh.evaluate(X, Y, batch_size=8, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(fresh.predict(loader(), verbose=0),
                               fresh.predict(X, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("weighting", ["sample_weight", "class_weight"])
def test_array_weighting_formula_matches_keras(weighting):
    kw = {"sample_weight": SW} if weighting == "sample_weight" else \
        {"class_weight": CLASS_WEIGHT}
    both(lambda K: X, y=Y, batch_size=8, **kw)


def test_class_weight_on_a_pydataset_matches_keras():
    both(lambda K: pydataset(K), class_weight=CLASS_WEIGHT)


def test_class_weight_of_one_hot_and_binary_targets_is_keras_formula():
    from keras.src.trainers.data_adapters import data_adapter_utils

    from core.models.data_adapter import class_sample_weights
    class_weight_to_sample_weights = data_adapter_utils.class_weight_to_sample_weights
    one_hot = np.eye(3, dtype="float32")[Y]
    binary = (rng.uniform(size=(24, 1)) > 0.5).astype("float32") * 0.9  # rounds to 0/1
    for y in (one_hot, binary, Y):
        np.testing.assert_allclose(
            class_sample_weights([y], CLASS_WEIGHT, None, "float32"),
            class_weight_to_sample_weights(y, CLASS_WEIGHT))


@pytest.mark.parametrize("source", ["pydataset", "generator", "loader"])
def test_validation_data_as_a_batch_source_equals_evaluate(source):
    model = mlp(core)
    val = {"pydataset": lambda: pydataset(core), "loader": loader,
           "generator": lambda: forever()}[source]
    hist = model.fit(X, Y, batch_size=8, epochs=2, verbose=0, validation_data=val(),
                     validation_steps=3 if source == "generator" else None)
    logs = model.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
    assert hist.history["val_loss"][-1] == pytest.approx(logs["loss"], rel=1e-6)
    assert hist.history["val_accuracy"][-1] == pytest.approx(logs["accuracy"])


def test_a_finite_generator_runs_out_with_keras_warning():
    model = mlp(core)
    finite = (b for _, b in zip(range(4), forever()))
    with pytest.warns(UserWarning, match="ran out of data"):
        hist = model.fit(finite, steps_per_epoch=3, epochs=5, verbose=0)
    assert len(hist.history["loss"]) == 2  # 3 batches, then 1 and the source is dry


def test_a_generator_without_steps_is_one_pass_per_epoch():
    model = mlp(core)
    seen = []

    def once():
        for s in range(0, 24, 8):
            seen.append(s)
            yield X[s:s + 8], Y[s:s + 8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(once(), epochs=1, verbose=0)
    assert seen == [0, 8, 16]


def test_batch_source_arguments_keras_refuses():
    model = mlp(core)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(pydataset(core), Y, verbose=0)
    with pytest.raises(ValueError, match="class_weight` is not supported for Python gen"):
        model.fit(forever(), steps_per_epoch=1, class_weight=CLASS_WEIGHT, verbose=0)
    with pytest.raises(ValueError, match="validation_split` is only supported"):
        model.fit(loader(), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="cannot `class_weight` and `sample_weight`"):
        model.fit(X, Y, sample_weight=SW, class_weight=CLASS_WEIGHT, verbose=0)
    bad = iter([(X[:8], Y[:8], SW[:8], SW[:8])])
    with pytest.raises(ValueError, match="tuple of 4 elements"):
        model.fit(bad, verbose=0)
    with pytest.raises(ValueError, match="needs targets y"):
        model.fit(iter([X[:8]]), verbose=0)


def test_pydataset_shuffle_visits_every_batch_once_per_epoch():
    class Logged(core.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.asked = []

        def __len__(self):
            return 3

        def __getitem__(self, i):
            self.asked.append(i)
            return X[i * 8:(i + 1) * 8], Y[i * 8:(i + 1) * 8]
    data = Logged()
    mlp(core).fit(data, epochs=4, verbose=0)  # shuffle=True: batch order shuffled
    epochs = [sorted(data.asked[k:k + 3]) for k in range(0, 12, 3)]
    assert epochs == [[0, 1, 2]] * 4


def test_a_used_up_validation_generator_is_named():
    once = ((X[s:s + 8], Y[s:s + 8]) for s in range(0, 24, 8))
    with pytest.raises(ValueError, match="evaluation data gave no batches"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mlp(core).fit(X, Y, epochs=2, verbose=0, validation_data=once)
