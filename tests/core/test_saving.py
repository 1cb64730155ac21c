"""``.keras`` round trips: identical predictions, Keras' file layout, resumed training."""

import io
import json
import re
import zipfile

import h5py
import numpy as np
import pytest

from core import backend
from core.layers import (
    Add,
    BatchNormalization,
    Concatenate,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    MaxPooling2D,
)
from core.models import Model, Sequential
from core.saving import (
    deserialize_layer,
    load_model,
    load_weights,
    save_model,
    save_weights,
    serialize_layer,
)


@pytest.fixture(autouse=True)
def _fresh_names():
    backend.clear_session()
    yield
    backend.clear_session()


def _h5_tree(path):
    """{h5 path: shape} of every dataset, plus the groups (shape None), of a .keras file."""
    with zipfile.ZipFile(path) as zf:
        data = zf.read("model.weights.h5")
    out = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(
            name, obj.shape if isinstance(obj, h5py.Dataset) else None))
        if "vars" in f:
            out["vars"] = None
        arrays = {name: f[name][()] for name, shp in out.items() if shp is not None}
    return out, arrays


def _mlp():
    return Sequential([Input((6,)), Dense(5, activation="relu"), Dense(3, activation="softmax")])


def test_sequential_round_trip_predictions_and_config(tmp_path):
    model = _mlp()
    x = np.random.default_rng(0).random((7, 6), dtype=np.float32)
    path = tmp_path / "m.keras"
    save_model(model, path)
    restored = load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [ly.name for ly in restored.layers] == ["dense", "dense_1"]

    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        meta = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
    assert set(meta) == {"keras_version", "date_saved"}
    assert re.fullmatch(r"3\.\d+\.\d+", meta["keras_version"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d", meta["date_saved"])
    assert (config["module"], config["class_name"], config["registered_name"]) == \
        ("keras", "Sequential", None)
    assert config["build_config"] == {"input_shape": [None, 6]}
    inner = config["config"]
    assert inner["name"] == "sequential" and inner["trainable"] is True
    assert inner["build_input_shape"] == [None, 6]
    first, dense = inner["layers"][0], inner["layers"][1]
    assert first == {"module": "keras.layers", "class_name": "InputLayer",
                     "config": {"batch_shape": [None, 6], "dtype": "float32", "sparse": False,
                                "ragged": False, "name": "input_layer", "optional": False},
                     "registered_name": None}
    assert (dense["module"], dense["class_name"], dense["registered_name"]) == \
        ("keras.layers", "Dense", None)
    assert dense["build_config"] == {"input_shape": [None, 6]}
    assert dense["config"]["units"] == 5 and dense["config"]["activation"] == "relu"
    assert dense["config"]["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert config["compile_config"] == {}  # never compiled: Keras 3.15.1 writes {}


def test_sequential_h5_layout_path_by_path(tmp_path):
    model = _mlp()
    save_model(model, tmp_path / "m.keras")
    tree, arrays = _h5_tree(tmp_path / "m.keras")
    assert tree == {
        "vars": None, "layers": None,
        "layers/dense": None, "layers/dense/vars": None,
        "layers/dense/vars/0": (6, 5), "layers/dense/vars/1": (5,),
        "layers/dense_1": None, "layers/dense_1/vars": None,
        "layers/dense_1/vars/0": (5, 3), "layers/dense_1/vars/1": (3,),
    }
    np.testing.assert_array_equal(arrays["layers/dense_1/vars/0"], model.layers[1].kernel.value)
    np.testing.assert_array_equal(arrays["layers/dense/vars/1"], model.layers[0].bias.value)


def _conv_model(dropout=True):
    return Sequential([
        Input((8, 8, 2)), Conv2D(4, 3, padding="same", activation="relu"),
        BatchNormalization(), MaxPooling2D(), Conv2D(3, 3), Flatten(),
        Dropout(0.1 if dropout else 0.0), Dense(3, activation="softmax"),
    ])


def _conv_data(n=32):
    rng = np.random.default_rng(1)
    return rng.random((n, 8, 8, 2), dtype=np.float32), rng.integers(0, 3, n)


def test_conv_bn_trained_round_trip_layout_and_optimizer_state(tmp_path):
    model = _conv_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = _conv_data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "cnn.keras"
    model.save(path)
    tree, arrays = _h5_tree(path)
    layer_paths = sorted(p for p, s in tree.items() if s is not None and p.startswith("layers/"))
    assert layer_paths == [
        "layers/batch_normalization/vars/0", "layers/batch_normalization/vars/1",
        "layers/batch_normalization/vars/2", "layers/batch_normalization/vars/3",
        "layers/conv2d/vars/0", "layers/conv2d/vars/1",
        "layers/conv2d_1/vars/0", "layers/conv2d_1/vars/1",
        "layers/dense/vars/0", "layers/dense/vars/1",
    ]
    for empty in ("layers/max_pooling2d/vars", "layers/flatten/vars", "layers/dropout/vars"):
        assert tree[empty] is None
    assert tree["layers/conv2d/vars/0"] == (3, 3, 2, 4)
    bn = model.layers[1]
    # Keras' order: gamma, beta (trainable) then moving_mean, moving_variance.
    for i, w in enumerate(bn.weights):
        np.testing.assert_array_equal(arrays[f"layers/batch_normalization/vars/{i}"], w.value)
    opt_vars = model.optimizer.variables
    assert sorted(p for p in tree if p.startswith("optimizer/vars/")) == \
        sorted(f"optimizer/vars/{i}" for i in range(len(opt_vars)))
    assert int(arrays["optimizer/vars/0"]) == 4  # iterations first: 32 samples / 8
    for i, v in enumerate(opt_vars):
        np.testing.assert_array_equal(arrays[f"optimizer/vars/{i}"], v.value)

    restored = load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert restored.optimizer.iterations == 4
    for a, b in zip(restored.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.value, b.value)
    with zipfile.ZipFile(path) as zf:
        cc = json.loads(zf.read("config.json"))["compile_config"]
    assert cc["loss"] == "sparse_categorical_crossentropy" and cc["metrics"] == ["accuracy"]
    assert (cc["optimizer"]["module"], cc["optimizer"]["class_name"]) == \
        ("keras.optimizers", "Adam")
    assert cc["optimizer"]["config"]["epsilon"] == pytest.approx(1e-7)


def test_resumed_training_matches_uninterrupted(tmp_path):
    x, y = _conv_data(48)

    def fresh():
        backend.clear_session()
        m = _conv_model(dropout=False)  # dropout masks come from a global RNG stream
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return m

    straight = fresh()
    init = straight.get_weights()
    straight.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)

    first = fresh()
    first.set_weights(init)
    first.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    first.save(tmp_path / "half.keras")
    resumed = load_model(tmp_path / "half.keras")
    resumed.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 9
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)

    # Without the optimizer state the third epoch differs: the check above can fail.
    plain = load_model(tmp_path / "half.keras", compile=False)
    plain.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    plain.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    assert max(np.abs(a - b).max() for a, b in zip(plain.get_weights(),
                                                   straight.get_weights())) > 1e-4


def _functional():
    a, b = Input((4,), name="a"), Input((3,), name="b")
    shared = Dense(4, activation="tanh", name="shared")
    left = shared(a)
    right = Dense(4, name="proj")(b)
    again = shared(Dense(4, name="pre")(a))  # second call of the shared layer
    summed = Add(name="add")([left, right, again])
    merged = Concatenate(name="cat")([summed, right])
    out = Dense(2, activation="softmax", name="out")(merged)
    return Model([a, b], out, name="two_inputs")


def test_functional_multi_input_round_trip_and_keras_config(tmp_path):
    model = _functional()
    rng = np.random.default_rng(2)
    xs = [rng.random((5, 4), dtype=np.float32), rng.random((5, 3), dtype=np.float32)]
    save_model(model, tmp_path / "f.keras")
    restored = load_model(tmp_path / "f.keras")
    np.testing.assert_array_equal(restored.predict(xs, verbose=0), model.predict(xs, verbose=0))

    with zipfile.ZipFile(tmp_path / "f.keras") as zf:
        config = json.loads(zf.read("config.json"))
    assert (config["module"], config["class_name"], config["registered_name"]) == \
        ("keras.src.models.functional", "Functional", "Functional")
    inner = config["config"]
    assert inner["name"] == "two_inputs"
    assert inner["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    # A lone output tensor is written flat, as Keras 3.15.1 does (tree.map_structure).
    assert inner["output_layers"] == ["out", 0, 0]
    by_name = {ly["name"]: ly for ly in inner["layers"]}
    assert by_name["a"]["inbound_nodes"] == []
    shared_nodes = by_name["shared"]["inbound_nodes"]
    assert len(shared_nodes) == 2
    assert shared_nodes[0] == {"args": [{"class_name": "__keras_tensor__", "config": {
        "shape": [None, 4], "dtype": "float32", "keras_history": ["a", 0, 0]}}], "kwargs": {}}
    assert shared_nodes[1]["args"][0]["config"]["keras_history"] == ["pre", 0, 0]
    add_args = by_name["add"]["inbound_nodes"][0]["args"]
    assert len(add_args) == 1 and [t["config"]["keras_history"] for t in add_args[0]] == \
        [["shared", 0, 0], ["proj", 0, 0], ["shared", 1, 0]]
    tree, _ = _h5_tree(tmp_path / "f.keras")
    layer_groups = sorted(p[len("layers/"):-len("/vars")] for p in tree
                          if p.startswith("layers/") and p.endswith("/vars"))
    # Keras names h5 groups by class with a counter, in model.layers order.
    assert layer_groups == sorted(["input_layer", "input_layer_1", "dense", "dense_1",
                                   "dense_2", "dense_3", "add", "concatenate"])
    names = [ly.name for ly in model.layers]
    dense_order = [n for n in names if n in ("shared", "proj", "pre", "out")]
    kernel_of = {ly.name: ly.kernel.value for ly in model.layers if hasattr(ly, "kernel")}
    _, arrays = _h5_tree(tmp_path / "f.keras")
    for i, name in enumerate(dense_order):
        key = "layers/dense" + (f"_{i}" if i else "") + "/vars/0"
        np.testing.assert_array_equal(arrays[key], kernel_of[name])


def test_serialize_layer_keras_form_and_unknown_class():
    d = Dense(3, name="d")
    d(Input((5,)))
    cfg = serialize_layer(d)
    assert set(cfg) == {"module", "class_name", "config", "registered_name", "build_config"}
    assert cfg["build_config"] == {"input_shape": [None, 5]}
    again = deserialize_layer(json.loads(json.dumps(cfg)))
    assert again.built and again.kernel.shape == (5, 3) and again.name == "d"
    with pytest.raises(ValueError, match="'NoSuchLayer'"):
        deserialize_layer({"module": "keras.layers", "class_name": "NoSuchLayer",
                           "config": {}})
    with pytest.raises(ValueError, match="module 'os'"):
        deserialize_layer({"module": "os", "class_name": "system", "config": {}})


def test_save_and_load_weights_file(tmp_path):
    model = _conv_model()
    path = tmp_path / "w.weights.h5"
    save_weights(model, path)
    other = _conv_model()
    assert any(np.abs(a - b).max() > 0 for a, b in zip(other.get_weights(),
                                                        model.get_weights()))
    load_weights(other, path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.save_weights(tmp_path / "m.weights.h5")  # the Model method goes through us
    with h5py.File(tmp_path / "m.weights.h5", "r") as f:
        assert "layers/conv2d_1/vars/1" in f and "vars" in f
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        save_weights(model, tmp_path / "w.h5")


class TwoLayer(Model):
    """A subclassed model: its h5 paths follow attribute names, as in Keras."""

    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = Dense(units, activation="relu")
        self.out = Dense(2)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_subclassed_and_nested_models(tmp_path):
    x = np.random.default_rng(5).random((3, 4), dtype=np.float32)
    sub = TwoLayer(5)
    y = sub.predict(x, verbose=0)
    save_model(sub, tmp_path / "sub.keras")
    tree, _ = _h5_tree(tmp_path / "sub.keras")
    # Keras walks dir(): 'hidden' first, then the 'layers' list (dense seen, dense_1 new).
    assert sorted(p for p, s in tree.items() if s is not None) == [
        "hidden/vars/0", "hidden/vars/1", "layers/dense_1/vars/0", "layers/dense_1/vars/1"]
    restored = load_model(tmp_path / "sub.keras", custom_objects={"TwoLayer": TwoLayer})
    assert restored.units == 5
    np.testing.assert_array_equal(restored.predict(x, verbose=0), y)

    inner = Sequential([Input((4,)), Dense(3)])
    inp = Input((4,))
    outer = Model(inp, Add()([inner(inp), Dense(3)(inp)]))
    save_model(outer, tmp_path / "nested.keras")
    tree, _ = _h5_tree(tmp_path / "nested.keras")
    assert tree["layers/sequential/layers/dense/vars/0"] == (4, 3)
    np.testing.assert_array_equal(load_model(tmp_path / "nested.keras").predict(x, verbose=0),
                                  outer.predict(x, verbose=0))


def test_compile_config_objects_round_trip(tmp_path):
    from core import losses, metrics, optimizers

    model = Sequential([Input((3,)), Dense(4, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss=losses.SparseCategoricalCrossentropy(),
                  metrics=[metrics.SparseCategoricalAccuracy(), "accuracy"])
    x = np.random.default_rng(6).random((16, 3), dtype=np.float32)
    y = np.arange(16) % 4
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    save_model(model, tmp_path / "objs.keras")
    with zipfile.ZipFile(tmp_path / "objs.keras") as zf:
        cc = json.loads(zf.read("config.json"))["compile_config"]
    assert cc["optimizer"]["class_name"] == "SGD" and cc["optimizer"]["config"]["momentum"] == 0.9
    assert cc["loss"]["module"] == "keras.losses"
    assert cc["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    assert cc["metrics"][0]["class_name"] == "SparseCategoricalAccuracy"
    assert cc["metrics"][1] == "accuracy"
    restored = load_model(tmp_path / "objs.keras")
    assert type(restored.optimizer).__name__ == "SGD" and restored.optimizer.iterations == 4
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    logs = restored.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history
    assert sorted(logs) == ["accuracy", "loss", "sparse_categorical_accuracy"]
    for a, b in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
