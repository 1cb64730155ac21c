"""The one custom-object registry: register_keras_serializable, scopes, and loading."""

import numpy as np
import pytest

import core as keras
from core.layers import Dense
from core.models import Model
from core.saving import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_layer,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    load_model,
    register_keras_serializable,
    save_model,
)


@register_keras_serializable(package="NwTest")
class RegisteredNet(Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = Dense(units, activation="relu")
        self.out = Dense(2)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class UnregisteredNet(RegisteredNet):
    pass


def test_registry_names_and_lookup_order():
    assert get_registered_name(RegisteredNet) == "NwTest>RegisteredNet"
    assert get_custom_objects()["NwTest>RegisteredNet"] is RegisteredNet
    assert get_registered_object("NwTest>RegisteredNet") is RegisteredNet
    assert get_registered_object("Nope") is None
    assert get_registered_name(UnregisteredNet) == "UnregisteredNet"
    assert keras.saving.register_keras_serializable is register_keras_serializable

    def fn(x):
        return x

    with custom_object_scope({"fn": fn}):
        assert get_registered_object("fn") is fn
        with CustomObjectScope({"other": len}):
            assert get_registered_object("fn") is fn and get_registered_object("other") is len
        assert get_registered_object("other") is None
    assert get_registered_object("fn") is None
    assert get_registered_object("fn", custom_objects={"fn": fn}) is fn


def test_register_rejects_class_without_get_config_and_name_clash():
    with pytest.raises(ValueError, match="get_config"):
        register_keras_serializable()(type("NoConfig", (), {}))

    @register_keras_serializable(package="NwTest", name="clash")
    def first(x):
        return x

    try:
        with pytest.raises(ValueError, match="already been registered"):
            register_keras_serializable(package="NwTest", name="clash")(len)
    finally:
        del get_custom_objects()["NwTest>clash"]


def test_registered_model_round_trips_without_custom_objects(tmp_path):
    x = np.random.default_rng(0).random((3, 5), dtype=np.float32)
    net = RegisteredNet(3)
    y = net.predict(x, verbose=0)
    save_model(net, tmp_path / "reg.keras")
    restored = load_model(tmp_path / "reg.keras")
    assert type(restored) is RegisteredNet and restored.units == 3
    np.testing.assert_array_equal(restored.predict(x, verbose=0), y)


def test_unregistered_class_error_names_class_and_how_to_register(tmp_path):
    net = UnregisteredNet(3)
    net.predict(np.zeros((1, 5), np.float32), verbose=0)
    save_model(net, tmp_path / "unreg.keras")
    with pytest.raises(ValueError, match="UnregisteredNet") as info:
        load_model(tmp_path / "unreg.keras")
    assert "register_keras_serializable" in str(info.value)
    assert "custom_objects" in str(info.value)
    restored = load_model(tmp_path / "unreg.keras",
                          custom_objects={"UnregisteredNet": UnregisteredNet})
    assert restored.units == 3
    with custom_object_scope({"UnregisteredNet": UnregisteredNet}):
        assert type(load_model(tmp_path / "unreg.keras")) is UnregisteredNet
    with pytest.raises(ValueError, match="register_keras_serializable"):
        deserialize_layer({"module": "keras.layers", "class_name": "NoSuchLayer",
                           "config": {}})


def test_to_json_model_from_json_and_from_config_custom_objects():
    from core.models import Sequential, model_from_json
    from core.saving import serialize_layer

    class Scale(keras.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = Sequential([keras.Input((3,)), Dense(2)])
    again = model_from_json(model.to_json())
    assert type(again) is Sequential and again.layers[-1].units == 2
    with pytest.raises(ValueError, match="model_from_json"):
        model_from_json("{not json")
    config = serialize_layer(RegisteredNet(3))
    config["class_name"] = "UnregisteredNet"
    config["registered_name"] = "UnregisteredNet"
    with pytest.raises(ValueError, match="register_keras_serializable"):
        model_from_json(__import__("json").dumps(config))
    restored = model_from_json(__import__("json").dumps(config),
                               custom_objects={"UnregisteredNet": UnregisteredNet})
    assert type(restored) is UnregisteredNet
    seq_cfg = {"name": "s", "layers": [
        {"module": None, "class_name": "Scale", "config": {"factor": 3.0},
         "registered_name": "Scale"}]}
    with pytest.raises(ValueError, match="Scale"):
        Sequential.from_config(seq_cfg)
    seq = Sequential.from_config(seq_cfg, custom_objects={"Scale": Scale})
    assert seq.layers[0].factor == 3.0
