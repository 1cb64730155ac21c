"""The custom saving hooks of Keras 3 (keras.io's "Customizing Saving and Serialization"):
a layer's own ``get_build_config``/``build_from_config``, a model's own
``get_compile_config``/``compile_from_config`` (and Keras' warning when only ``compile``
is custom), ``keras.utils``' registry exports and ``keras.Variable(dtype=, shape=)``.
Every file goes both ways with real Keras 3 (PyTorch backend) as the reference.

>>> # pytest tests/core/test_saving_custom_hooks.py
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import core  # noqa: E402

keras = pytest.importorskip("keras")
RNG = np.random.default_rng(7)


def _projection_class(K):
    """A layer whose build() needs an extra argument, so only its own build config can
    rebuild it (the default {"input_shape"} cannot)."""

    class Projection(K.layers.Layer):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape, init_name):
            super().build(input_shape)
            self.seen_shape = tuple(input_shape)
            self.init_name = init_name
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer=init_name)
            self.offset = self.add_weight(shape=(self.units,), initializer=init_name)

        def call(self, inputs):
            return K.ops.matmul(inputs, self.kernel) + self.offset

        def get_config(self):
            return {**super().get_config(), "units": self.units}

        def get_build_config(self):
            return {"input_shape": self.seen_shape, "init_name": self.init_name}

        def build_from_config(self, config):
            self.build(config["input_shape"], config["init_name"])

    return Projection


@pytest.mark.parametrize("writer", ["core", "keras"])
def test_own_build_config_round_trips_with_real_keras(tmp_path, writer):
    src, dst = (core, keras) if writer == "core" else (keras, core)
    layer = _projection_class(src)(units=3)
    layer.build((None, 4), "random_normal")  # built by hand, as such a layer must be
    model = src.Sequential([layer, src.layers.Dense(2)])
    x = RNG.random((5, 4)).astype("float32")
    expected = np.asarray(model.predict(x, verbose=0))
    path = str(tmp_path / "projection.keras")
    model.save(path)
    restored = dst.models.load_model(path, custom_objects={
        "Projection": _projection_class(dst)})
    first = restored.layers[0]
    assert first.built and first.init_name == "random_normal"
    assert tuple(first.seen_shape) == (None, 4)
    np.testing.assert_allclose(np.asarray(restored.predict(x, verbose=0)), expected,
                               rtol=1e-6, atol=1e-6)


def _two_stage_class(K):
    """A subclassed model with its own compile signature and compile-config pair."""

    def halved_sse(y_true, y_pred):
        return K.ops.sum(K.ops.square(y_pred - y_true), axis=1) / 2.0

    class TwoStage(K.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = K.layers.Dense(5, activation="relu")
            self.head = K.layers.Dense(3)

        def call(self, inputs):
            return self.head(self.hidden(inputs))

        def compile(self, optimizer, objective, metrics):
            super().compile(optimizer=optimizer, loss=objective, metrics=metrics)
            self.chosen = {"optimizer": optimizer, "objective": objective,
                           "metrics": metrics}

        def get_compile_config(self):
            return dict(self.chosen)

        def compile_from_config(self, config):
            revive = K.saving.deserialize_keras_object
            self.compile(revive(config["optimizer"]), revive(config["objective"]),
                         revive(config["metrics"]))

    return TwoStage, halved_sse


@pytest.mark.parametrize("writer", ["core", "keras"])
def test_own_compile_config_round_trips_with_real_keras(tmp_path, writer):
    src, dst = (core, keras) if writer == "core" else (keras, core)
    cls, loss_fn = _two_stage_class(src)
    model = cls()
    model.compile("sgd", loss_fn, ["mae"])
    x = RNG.random((8, 4)).astype("float32")
    y = RNG.random((8, 3)).astype("float32")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    expected = np.asarray(model.predict(x, verbose=0))
    path = str(tmp_path / "two_stage.keras")
    model.save(path)  # the function loss must be written as Keras' function config
    dst_cls, dst_fn = _two_stage_class(dst)
    restored = dst.models.load_model(path, custom_objects={
        "TwoStage": dst_cls, "halved_sse": dst_fn})
    # The model's own compile_from_config ran and got its objects back.
    assert restored.chosen["objective"] is dst_fn
    assert restored.chosen["optimizer"] == "sgd"
    assert restored.chosen["metrics"] == ["mae"]
    np.testing.assert_allclose(np.asarray(restored.predict(x, verbose=0)), expected,
                               rtol=1e-6, atol=1e-6)
    restored.fit(x, y, epochs=1, batch_size=4, verbose=0)  # compiled: it trains


def _custom_compile_only(K):
    class OwnCompile(K.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.head = K.layers.Dense(2)

        def call(self, inputs):
            return self.head(inputs)

        def compile(self, learning_rate):
            super().compile(optimizer=K.optimizers.SGD(learning_rate), loss="mse")

    return OwnCompile


def test_custom_compile_without_compile_from_config_warns_like_keras(tmp_path):
    model = _custom_compile_only(core)()
    model.compile(0.1)
    x = RNG.random((4, 3)).astype("float32")
    model.fit(x, RNG.random((4, 2)).astype("float32"), epochs=1, verbose=0)
    expected = np.asarray(model.predict(x, verbose=0))
    path = str(tmp_path / "own_compile.keras")
    model.save(path)
    for K in (core, keras):  # real Keras is the reference: it warns and does not compile
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            restored = K.models.load_model(path, custom_objects={
                "OwnCompile": _custom_compile_only(K)})
        assert any("compile()` was not called" in str(w.message) for w in caught), K
        # Keras flags the model compiled all the same; what matters is no optimizer.
        assert getattr(restored, "optimizer", None) is None, K
        np.testing.assert_allclose(np.asarray(restored.predict(x, verbose=0)), expected,
                                   rtol=1e-6, atol=1e-6)


def test_utils_exports_the_registry_as_keras_does():
    for name in ("register_keras_serializable", "get_custom_objects",
                 "custom_object_scope", "serialize_keras_object",
                 "deserialize_keras_object", "get_registered_name",
                 "get_registered_object", "CustomObjectScope"):
        assert hasattr(keras.utils, name), name  # Keras exports them there
        assert getattr(core.utils, name) is getattr(core.saving, name), name

    def cube(x):
        return x ** 3

    registered = {}
    try:
        for K in (core, keras):
            registered[K] = K.utils.register_keras_serializable(
                package="hooks_test", name="cube")(cube)
        ours = core.utils.serialize_keras_object(registered[core])
        assert ours == keras.utils.serialize_keras_object(registered[keras])
        assert core.utils.deserialize_keras_object(ours) is cube
    finally:
        for K in (core, keras):
            K.utils.get_custom_objects().pop("hooks_test>cube", None)


def test_variable_takes_keras_dtype_and_shape_keywords():
    value = RNG.random(3)  # float64
    for K in (core, keras):
        v = K.Variable(value, name="v", dtype="float32")
        assert str(np.asarray(v).dtype) == "float32", K
        np.testing.assert_allclose(np.asarray(v), value.astype("float32"))
    ours = core.Variable("ones", shape=(2, 3), name="w")
    ref = keras.Variable("ones", shape=(2, 3), name="w")
    assert ours.shape == tuple(ref.shape) and str(ours.dtype) == str(ref.dtype)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))
    with pytest.raises(ValueError, match="needs `shape`"):
        core.Variable("zeros", name="w")
    with pytest.raises(ValueError, match=r"shape=\(4,\)"):
        core.Variable(np.zeros(3), name="w", shape=(4,))
