"""``serialize_keras_object`` / ``deserialize_keras_object`` in Keras 3's exact format, and
every ``get`` resolving registered custom objects by name and by dict.

The formats are compared with what real Keras 3 writes for the same objects (a
subprocess with ``KERAS_BACKEND=torch``; skipped when Keras is not importable).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core import (
    activations,
    constraints,
    initializers,
    losses,
    metrics,
    ops,
    optimizers,
    regularizers,
)
from core.saving import (
    SerializationError,
    deserialize_keras_object,
    get_custom_objects,
    register_keras_serializable,
    serialize_keras_object,
)

_KERAS_SIDE = r"""
import json, numpy as np, keras
from keras.saving import serialize_keras_object as s
@keras.saving.register_keras_serializable(package="T")
def t_fn(a, b):
    return a
@keras.saving.register_keras_serializable(package="T")
class TLoss(keras.losses.Loss):
    def call(self, y, p):
        return keras.ops.mean(keras.ops.square(y - p), axis=-1)
class Unreg(keras.losses.Loss):
    def call(self, y, p):
        return y
out = {
    "builtin_fn": s(keras.losses.mean_squared_error), "custom_fn": s(t_fn),
    "custom_loss": s(TLoss(name="t_loss")), "unregistered": s(Unreg(name="unreg")),
    "mse": s(keras.losses.MeanSquaredError()), "array": s(np.arange(3)),
    "scalar": s(np.float32(2.0)), "tuple": list(s((1, 2))),
    "nested": s({"a": keras.initializers.Zeros(), "b": [keras.regularizers.L2(0.5)]}),
    "precision": s(keras.metrics.Precision(name="precision")),
    "slice": s(slice(1, None, 2)), "max_norm": s(keras.constraints.MaxNorm(2.0)),
}
print("JSON" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def keras_formats():
    import importlib.util

    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    env = dict(os.environ, KERAS_BACKEND="torch")
    proc = subprocess.run([sys.executable, "-c", _KERAS_SIDE], capture_output=True,
                          text=True, env=env, timeout=300, cwd="/tmp")
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")), None)
    if line is None:
        pytest.skip(f"real Keras failed: {proc.stderr[-400:]}")
    return json.loads(line[4:])


@pytest.fixture
def registered():
    """T>t_fn and T>TLoss registered here as on the Keras side; removed afterwards."""
    before = dict(get_custom_objects())

    @register_keras_serializable(package="T")
    def t_fn(a, b):
        return a

    @register_keras_serializable(package="T")
    class TLoss(losses.Loss):
        def call(self, y, p):
            return ops.mean(ops.square(y - p), axis=-1)

    yield t_fn, TLoss
    get_custom_objects().clear()
    get_custom_objects().update(before)


def test_formats_equal_real_keras(keras_formats, registered):
    t_fn, t_loss = registered

    class Unreg(losses.Loss):
        def call(self, y, p):
            return y

    Unreg.__module__ = "__main__"
    t_loss.__module__ = "__main__"
    ours = {
        "builtin_fn": serialize_keras_object(losses.mean_squared_error),
        "custom_fn": serialize_keras_object(t_fn),
        "custom_loss": serialize_keras_object(t_loss(name="t_loss")),
        "unregistered": serialize_keras_object(Unreg(name="unreg")),
        "mse": serialize_keras_object(losses.MeanSquaredError()),
        "array": serialize_keras_object(np.arange(3)),
        "scalar": serialize_keras_object(np.float32(2.0)),
        "tuple": list(serialize_keras_object((1, 2))),
        "nested": serialize_keras_object({"a": initializers.Zeros(),
                                          "b": [regularizers.L2(0.5)]}),
        "precision": serialize_keras_object(metrics.Precision(name="precision")),
        "slice": serialize_keras_object(slice(1, None, 2)),
        "max_norm": serialize_keras_object(constraints.MaxNorm(2.0)),
    }
    ours = json.loads(json.dumps(ours))
    for key, theirs in keras_formats.items():
        if key == "precision":  # Keras' config has its float32 dtype too: same keys
            assert ours[key]["module"] == theirs["module"]
            assert ours[key]["class_name"] == theirs["class_name"]
            assert set(ours[key]["config"]) == set(theirs["config"])
            continue
        assert ours[key] == theirs, key


def test_round_trips(registered):
    t_fn, t_loss = registered
    for obj in (losses.MeanSquaredError(), metrics.Precision(thresholds=[0.3, 0.7]),
                optimizers.Adam(0.01), initializers.RandomNormal(stddev=0.3),
                regularizers.L1L2(0.1, 0.2), constraints.MaxNorm(3.0), t_loss(name="x")):
        back = deserialize_keras_object(json.loads(json.dumps(serialize_keras_object(obj))))
        assert type(back) is type(obj)
        assert back.get_config() == obj.get_config()
    assert deserialize_keras_object(serialize_keras_object(t_fn)) is t_fn
    arr = deserialize_keras_object(serialize_keras_object(np.arange(4.0).reshape(2, 2)))
    assert arr.dtype == np.float64 and arr.tolist() == [[0, 1], [2, 3]]
    assert deserialize_keras_object(serialize_keras_object(slice(1, None, 2))) == \
        slice(1, None, 2)


def test_every_get_resolves_registered_objects_by_name_and_dict():
    before = dict(get_custom_objects())
    try:
        @register_keras_serializable(package="G")
        class MyInit(initializers.Initializer):
            def __init__(self, value=2.0):
                self.value = value

            def __call__(self, shape, dtype=None):
                return np.full(shape, self.value, dtype or "float32")

            def get_config(self):
                return {"value": self.value}

        @register_keras_serializable(package="G")
        class MyReg(regularizers.Regularizer):
            def __call__(self, x):
                return ops.sum(ops.abs(x)) * 0.5

            def get_config(self):
                return {}

        @register_keras_serializable(package="G")
        class MyCon(constraints.Constraint):
            def __call__(self, w):
                return np.clip(w, -1, 1)

        @register_keras_serializable(package="G")
        class MyMetric(metrics.Metric):
            def __init__(self, name="my_metric", **kw):
                super().__init__(name=name, **kw)
                self.total = self.add_variable(shape=(), initializer="zeros", name="total")

            def update_state(self, y_true, y_pred, sample_weight=None):
                self.total.assign_add(np.sum(y_pred))

            def result(self):
                return self.total.value

        @register_keras_serializable(package="G")
        class MySGD(optimizers.SGD):
            pass

        @register_keras_serializable(package="G")
        def my_act(x):
            return ops.square(x)

        @register_keras_serializable(package="G")
        def my_loss(y_true, y_pred):
            return ops.mean(ops.abs(y_true - y_pred), axis=-1)

        for module, obj, cls in ((initializers, MyInit(3.0), MyInit),
                                 (regularizers, MyReg(), MyReg),
                                 (constraints, MyCon(), MyCon),
                                 (metrics, MyMetric(), MyMetric),
                                 (optimizers, MySGD(learning_rate=0.5), MySGD)):
            assert type(module.get(f"G>{cls.__name__}")) is cls
            cfg = json.loads(json.dumps(module.serialize(obj)))
            assert cfg["registered_name"] == f"G>{cls.__name__}"
            assert type(module.get(cfg)) is cls
        assert optimizers.get(optimizers.serialize(MySGD(learning_rate=0.5))).get_config()[
            "learning_rate"] == pytest.approx(0.5)
        assert initializers.get({"module": None, "class_name": "MyInit", "config": {
            "value": 7.0}, "registered_name": "G>MyInit"})((2,)).tolist() == [7.0, 7.0]
        act = activations.get("G>my_act")
        assert act.fn is my_act and activations.get(activations.serialize(act)).fn is my_act
        loss = losses.get("G>my_loss")
        assert loss.fn is my_loss
        assert losses.get(serialize_keras_object(my_loss)).fn is my_loss
        # A registered regularizer's gradient is that of its ops: 0.5 * sign(x).
        from core.ops.function_grad import record_function
        _, backward = record_function(MyReg(), [np.array([-2.0, 3.0])])
        assert backward(1.0)[0].tolist() == [-0.5, 0.5]
    finally:
        get_custom_objects().clear()
        get_custom_objects().update(before)


def test_custom_objects_argument_and_unknown_names():
    class Local(losses.Loss):
        def call(self, y, p):
            return ops.mean(ops.square(y - p), axis=-1)

    cfg = {"module": None, "class_name": "Local", "config": {"name": "local"},
           "registered_name": "Local"}
    with pytest.raises(ValueError, match=r"Could not locate class 'Local'.*"
                                         r"register_keras_serializable"):
        losses.deserialize(cfg)
    with pytest.raises(TypeError):  # Keras raises TypeError here; ours is both
        deserialize_keras_object(cfg)
    assert type(losses.deserialize(cfg, custom_objects={"Local": Local})) is Local
    # A module named in a file is never imported: an unregistered name stays unknown.
    with pytest.raises(SerializationError, match="never imported"):
        deserialize_keras_object({"module": "os", "class_name": "system",
                                  "config": {}, "registered_name": None})


def test_get_config_and_from_config_failures_name_the_class():
    class Broken(metrics.Metric):
        def __init__(self, factor, name="broken", **kw):
            super().__init__(name=name, **kw)
            self.factor = factor

        def get_config(self):
            raise RuntimeError("factor is not stored")

    with pytest.raises(SerializationError, match=r"Cannot serialize Broken: its "
                                                 r"get_config\(\) raised RuntimeError: "
                                                 r"factor is not stored"):
        serialize_keras_object(Broken(2.0))

    class NoArgs(metrics.Metric):  # get_config misses the required __init__ argument
        def __init__(self, factor, name="no_args", **kw):
            super().__init__(name=name, **kw)

    cfg = {"module": None, "class_name": "NoArgs", "config": {"name": "no_args"},
           "registered_name": "NoArgs"}
    with pytest.raises(SerializationError, match=r"NoArgs could not be deserialized: "
                                                 r"NoArgs.from_config\(config\) raised "
                                                 r"TypeError.*factor"):
        deserialize_keras_object(cfg, custom_objects={"NoArgs": NoArgs})
