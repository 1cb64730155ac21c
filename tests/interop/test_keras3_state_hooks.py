"""The custom-state hooks of Keras saving, against real Keras 3.15.1 (PyTorch backend).

keras.io's "Customizing Saving and Serialization": a ``keras.Variable`` assigned to a
layer attribute is one of its weights (Keras' tracker); ``save_own_variables`` /
``load_own_variables`` fill and read the layer's ``vars`` group of
``model.weights.h5``; ``save_assets`` / ``load_assets`` write and read the layer's
folder under the archive's ``assets/``. The layers are ``define_state_hooks`` of
``tests/fixtures/keras3/custom_objects_src.py``, the very same code for Keras and for
us; ``custom/custom_variable.keras`` and ``custom/custom_assets.keras`` were written by
real Keras (``make_custom_fixtures.py``), and files written here are read back by real
Keras in this process.

>>> # pytest tests/interop/test_keras3_state_hooks.py
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import sys  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import core  # noqa: E402
from core.saving import ModelFileError, get_custom_objects  # noqa: E402
from tests.helpers.h5_items import h5_items  # noqa: E402
from tests.interop.test_keras3_custom import _check_against_keras, _data  # noqa: E402

keras = pytest.importorskip("keras")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"
CUSTOM = FIXTURES / "custom"
VOCAB = "the cat sat\non the <unk> mat\n"


def _define(K):
    sys.path.insert(0, str(FIXTURES))
    try:
        from custom_objects_src import define_state_hooks
    finally:
        sys.path.remove(str(FIXTURES))
    return define_state_hooks(K)


@pytest.fixture
def hooks():
    before = dict(get_custom_objects())
    keras_before = dict(keras.saving.get_custom_objects())
    core.backend.clear_session()
    yield {core: _define(core), keras: _define(keras)}
    for registry, old in ((get_custom_objects(), before),
                          (keras.saving.get_custom_objects(), keras_before)):
        registry.clear()
        registry.update(old)


def _layout(weights: bytes) -> dict:
    """``{path: (shape, dtype, attrs)}`` of every group and dataset (values aside)."""
    return {path: (shape, dtype, attrs) for path, shape, dtype, attrs, _ in h5_items(weights)}


def _variable_model(K, classes):
    model = K.Sequential([K.Input((6,)), K.layers.Dense(8, activation="relu"),
                          classes[K][0](2)])
    model.compile(optimizer=K.optimizers.Adam(0.01), loss="mse")
    return model


def _assets_model(K, classes, vocab=VOCAB):
    model = K.Sequential([K.Input((6,)), K.layers.Dense(8, activation="relu"),
                          classes[K][1](2, vocab=vocab)])
    model.compile(optimizer=K.optimizers.SGD(0.05), loss="mae")
    return model


def test_variable_attributes_are_weights_in_keras_order(hooks):
    names = {}
    for K in (core, keras):
        layer = hooks[K][0](3)
        layer.build((None, 4))
        names[K] = ([v.name for v in layer.weights],
                    [v.name for v in layer.trainable_weights],
                    [v.name for v in layer.non_trainable_weights])
    assert names[core] == names[keras]
    assert names[core][0] == ["offset", "kernel", "bias", "gain"]

    class Holder(core.layers.Layer):  # a plain Layer: trainable and not, and a list
        def __init__(self):
            super().__init__()
            self.a = core.Variable(np.zeros(2, "float32"), name="a")
            self.b = core.Variable(np.zeros(2, "float32"), name="b", trainable=False)
            self.pair = [core.Variable(np.ones(1, "float32"), name="c")]
            self.again = self.a  # one variable, tracked once

    holder = Holder()
    assert [v.name for v in holder.weights] == ["a", "c", "b"]
    assert [v.name for v in holder.trainable_weights] == ["a", "c"]


def test_keras_file_with_own_variables_loads_and_trains(hooks):
    model = core.saving.load_model(CUSTOM / "custom_variable.keras")
    last = model.layers[-1]
    # gain came back through the layer's own load_own_variables ("gain_x2" / 2).
    np.testing.assert_allclose(last.gain.numpy(), 1.5)
    _check_against_keras(model, _data("custom_variable"))


@pytest.mark.parametrize("writer", ["core", "keras"])
def test_own_variables_round_trip_with_real_keras(hooks, tmp_path, writer):
    src, dst = (core, keras) if writer == "core" else (keras, core)
    model = _variable_model(src, hooks)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(8, 6)).astype("float32"), rng.normal(size=(8, 2))
    model.fit(x, y.astype("float32"), epochs=2, batch_size=4, verbose=0)
    model.layers[-1].gain.assign(np.array([0.5, 2.0], "float32"))
    path = str(tmp_path / "stateful.keras")
    model.save(path)
    restored = dst.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(restored.layers[-1].gain), [0.5, 2.0])
    np.testing.assert_allclose(np.asarray(restored.predict(x, verbose=0)),
                               np.asarray(model.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    with zipfile.ZipFile(path) as zf:
        weights = zf.read("model.weights.h5")
    vars_group = "layers/stateful_dense/vars"
    items = _layout(weights)
    # Dense's save_own_variables writes kernel and bias only; the override adds two.
    assert sorted(k for k in items if k.startswith(vars_group + "/")) == [
        f"{vars_group}/{k}" for k in ("0", "1", "gain_x2", "offset")]


def _plain_state_class(K):
    """A plain Layer with Variable attributes made in __init__ and build and weights
    from add_weight: the default hooks store all of them, in the tracker's order."""

    class PlainState(K.layers.Layer):
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.scale = K.Variable(np.full((units,), 2.0), name="scale", dtype="float32")

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          name="kernel")
            self.seen = K.Variable(np.zeros(()), name="seen", dtype="float32",
                                   trainable=False)
            self.shift = self.add_weight(shape=(self.units,), initializer="ones",
                                         name="shift")

        def call(self, inputs):
            return K.ops.matmul(inputs, self.kernel) * self.scale + self.shift

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return PlainState


@pytest.mark.parametrize("writer", ["core", "keras"])
def test_default_hooks_write_the_same_file_as_keras(tmp_path, writer):
    """Default save_own_variables: groups, datasets, shapes, dtypes and attributes as
    real Keras writes them, and the other side loads the file with the same values."""
    layouts, models = {}, {}
    x = np.random.default_rng(5).normal(size=(4, 3)).astype("float32")
    for K in (core, keras):
        cls = _plain_state_class(K)
        # Named: the vars groups carry the layer names, which auto-naming would vary.
        model = K.Sequential([K.Input((3,)), cls(2, name="state"),
                              K.layers.Dense(1, name="head")], name="plain")
        model.compile(optimizer=K.optimizers.Adam(name="adam"), loss="mse")
        model.fit(x, np.zeros((4, 1), "float32"), verbose=0)
        model.save(str(tmp_path / f"{K.__name__}.keras"))
        with zipfile.ZipFile(tmp_path / f"{K.__name__}.keras") as zf:
            layouts[K] = (zf.namelist(), _layout(zf.read("model.weights.h5")))
        models[K] = model
    assert layouts[core][0] == layouts[keras][0]
    assert layouts[core][1] == layouts[keras][1]
    assert [v.name for v in models[core].weights] == [v.name for v in models[keras].weights]
    src, dst = (core, keras) if writer == "core" else (keras, core)
    restored = dst.saving.load_model(str(tmp_path / f"{src.__name__}.keras"),
                                     custom_objects={"PlainState": _plain_state_class(dst)})
    for ours, theirs in zip(restored.weights, models[src].weights):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def _guide_layer_class(K):
    class GuideLayer(K.layers.Dense):
        def __init__(self, units, **kwargs):
            super().__init__(units, **kwargs)
            self.my_variable = K.Variable(np.ones((units,)), name="my_variable",
                                          dtype="float32")

        def save_own_variables(self, store):
            super().save_own_variables(store)
            store["variables"] = np.asarray(self.my_variable)

        def load_own_variables(self, store):
            self.my_variable.assign(store["variables"])
            for i, v in enumerate(self.weights):
                v.assign(store[f"{i}"])

    return GuideLayer


def test_guide_pattern_fails_as_in_keras(hooks, tmp_path):
    """The guide's LayerWithCustomVariable loads ``self.weights`` by index, but Dense
    stores only kernel and bias: real Keras 3.15.1 fails on its own file, and so do we
    (the same shape mismatch), rather than loading something Keras cannot."""
    errors = {}
    for K in (core, keras):
        GuideLayer = _guide_layer_class(K)
        model = K.Sequential([K.Input((10,)), GuideLayer(1)])
        model.save(str(tmp_path / "guide.keras"))
        with pytest.raises(ValueError) as info:
            K.saving.load_model(str(tmp_path / "guide.keras"),
                                custom_objects={"GuideLayer": GuideLayer})
        errors[K] = str(info.value)
    assert "(10, 1)" in errors[core] and "(1,)" in errors[core]
    assert "variable.shape=(1,)" in errors[keras]


def test_failing_load_own_variables_leaves_the_model_unchanged(hooks, tmp_path):
    model = _variable_model(core, hooks)
    model.build((None, 6))
    model.save_weights(tmp_path / "w.weights.h5")
    other = _variable_model(core, hooks)
    other.build((None, 6))
    before = [w.numpy() for w in other.weights]

    def broken(store):
        other.layers[-1].kernel.assign(np.asarray(store["0"]))  # assigns, then fails
        raise ValueError("cannot read my state")

    other.layers[-1].load_own_variables = broken
    with pytest.raises(ModelFileError, match="cannot read my state"):
        other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(before, other.weights):
        np.testing.assert_array_equal(a, b.numpy())


def test_keras_file_with_assets_loads(hooks):
    model = core.saving.load_model(CUSTOM / "custom_assets.keras")
    assert model.layers[-1].vocab == VOCAB  # only the assets/ file holds it
    _check_against_keras(model, _data("custom_assets"))


@pytest.mark.parametrize("writer", ["core", "keras"])
def test_assets_round_trip_with_real_keras(hooks, tmp_path, writer):
    src, dst = (core, keras) if writer == "core" else (keras, core)
    model = _assets_model(src, hooks, vocab="one\ntwo <unk>\n")
    model.build((None, 6))
    path = str(tmp_path / "vocab.keras")
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        text = zf.read("assets/layers/vocab_dense/vocabulary.txt").decode()
    assert names[:3] == ["metadata.json", "config.json", "model.weights.h5"]
    assert names[3:] == ["assets/layers/vocab_dense/vocabulary.txt"]
    assert text == "one\ntwo <unk>\n"
    restored = dst.saving.load_model(path)
    assert restored.layers[-1].vocab == "one\ntwo <unk>\n"


def test_folder_save_keeps_assets(hooks, tmp_path):
    model = _assets_model(core, hooks)
    model.build((None, 6))
    folder = tmp_path / "as_folder"
    core.saving.save_model(model, str(folder) + ".keras", zipped=False)
    saved = Path(str(folder) + ".keras")
    assert (saved / "assets" / "layers" / "vocab_dense" / "vocabulary.txt").read_text() \
        == VOCAB
    assert core.saving.load_model(saved).layers[-1].vocab == VOCAB


def _probe_class(K, calls: list):
    class Probe(K.layers.Dense):
        def load_assets(self, dir_path):
            calls.append(dir_path is None)

    return Probe


def test_load_assets_gets_what_keras_passes(hooks, tmp_path):
    """A layer with load_assets but no folder in the file gets None; the model (path
    "") always gets the assets folder; no hook runs on a three-member archive."""
    seen = {}
    for K in (core, keras):
        Probe = _probe_class(K, seen.setdefault(K, []))
        model = K.Sequential([K.Input((6,)), Probe(2)])
        model.save(str(tmp_path / "plain.keras"))
        K.saving.load_model(str(tmp_path / "plain.keras"),
                            custom_objects={"Probe": Probe})
        assert seen[K] == []  # three members: Keras opens no asset store
        withvocab = K.Sequential([K.Input((6,)), Probe(2), hooks[K][1](2, vocab="v")])
        withvocab.save(str(tmp_path / "mixed.keras"))
        K.saving.load_model(str(tmp_path / "mixed.keras"),
                            custom_objects={"Probe": Probe})
    assert seen[core] == seen[keras] == [True]
