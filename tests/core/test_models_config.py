"""Model config round trips, clone_model and save/load through core.saving."""

import json

import numpy as np
import pytest

from core.layers import Concatenate, Dense, Input
from core.models import Functional, Model, Sequential, clone_model, load_model


def _multi():
    a, b = Input((4,), name="a"), Input((3,), name="b")
    shared = Dense(4, activation="relu", name="shared")
    o1 = Dense(2, activation="softmax", name="o1")(
        Concatenate(name="cat")([shared(a), shared(Dense(4, name="proj")(b))]))
    o2 = Dense(1, name="o2")(shared(a))
    return Model([a, b], [o1, o2], name="multi")


def _x():
    rng = np.random.default_rng(0)
    return [rng.normal(size=(5, 4)).astype("float32"), rng.normal(size=(5, 3)).astype("float32")]


def test_functional_config_json_roundtrip_keeps_graph_and_shared_layers():
    model = _multi()
    config = json.loads(json.dumps(model.get_config()))
    clone = Model.from_config(config)
    assert isinstance(clone, Functional) and clone.name == "multi"
    assert sorted(ly.name for ly in clone.layers) == sorted(ly.name for ly in model.layers)
    assert len(clone.trainable_weights) == len(model.trainable_weights) == 8
    clone.set_weights(model.get_weights())
    for a, b in zip(clone(_x()), model(_x())):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_sequential_config_roundtrip_and_clone_model():
    model = Sequential([Dense(3, activation="relu", input_shape=(2,)), Dense(1)], name="s")
    again = Sequential.from_config(json.loads(json.dumps(model.get_config())))
    assert again.built and again.count_params() == model.count_params() == 13
    clone = clone_model(model)
    assert isinstance(clone, Sequential) and clone.count_params() == 13
    # Fresh weights, same architecture (Keras' clone_model).
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])


def test_save_and_load_a_trained_multi_output_model(tmp_path):
    model = _multi()
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"],
                  metrics={"o1": ["accuracy"]})
    x = _x()
    y = [np.array([0, 1, 0, 1, 1]), np.ones((5, 1), "float32")]
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "multi.keras"
    model.save(str(path))
    loaded = load_model(str(path))
    for a, b in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert loaded.compiled and loaded.optimizer.iterations == model.optimizer.iterations
    logs_a = loaded.evaluate(x, y, verbose=0, return_dict=True)
    logs_b = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs_a == pytest.approx(logs_b)
    with pytest.raises(ValueError, match="overwrite=False"):
        model.save(str(path), overwrite=False)
