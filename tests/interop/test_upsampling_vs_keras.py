"""Conv2DTranspose and UpSampling2D against real Keras 3 (torch backend), in process.

Per case: the same layer in Keras with our weights predicts the same (float32,
1e-5), with the same weight names/shapes and config (as JSON). Then an autoencoder
saved by us loads in Keras and predicts the same, and Keras' own file loads here.
Skipped when Keras is not importable.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from core import backend  # noqa: E402
from core.layers import get_layer_class  # noqa: E402

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch",
                                reason="compares with Keras on the torch backend")

CASES = [
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "activation": "relu"}, (2, 5, 4, 2)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
     (2, 4, 5, 3)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"},
     (2, 3, 3, 2)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 2, "strides": 3}, (1, 3, 3, 2)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1},
     (2, 3, 4, 2)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 4, "strides": 3, "padding": "same",
                         "output_padding": (2, 1)}, (1, 3, 4, 2)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "dilation_rate": (2, 1),
                         "padding": "same", "use_bias": False}, (1, 5, 4, 3)),
    ("UpSampling2D", {}, (2, 3, 4, 2)),
    ("UpSampling2D", {"size": (3, 2), "interpolation": "bilinear"}, (2, 3, 4, 2)),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}, (1, 1, 5, 3)),
]


@pytest.fixture(autouse=True)
def _fresh():
    backend.clear_session()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_layer_matches_keras(case):
    name, kwargs, shape = case
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    ours = get_layer_class(name)(**kwargs, name="layer")
    ours(x)
    rng = np.random.default_rng(5)
    for w in ours.weights:
        w.assign(rng.normal(size=w.shape).astype("float32"))
    theirs = getattr(keras.layers, name)(**kwargs, name="layer")
    theirs.build(shape)
    assert [(w.name, tuple(w.shape)) for w in theirs.weights] == \
        [(w.name, w.shape) for w in ours.weights]
    theirs.set_weights(ours.get_weights())
    want = keras.ops.convert_to_numpy(theirs(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(ours(x), want, rtol=1e-5, atol=1e-5)
    assert tuple(theirs.compute_output_shape((None,) + shape[1:])) == \
        ours.compute_output_shape((None,) + shape[1:])
    from core.layers import serialize

    mine = json.loads(json.dumps(serialize(ours)["config"]))
    keras_config = json.loads(json.dumps(keras.layers.serialize(theirs)["config"]))
    assert list(mine) == list(keras_config)
    assert mine == keras_config


def _autoencoder():
    from core.layers import Conv2D, Conv2DTranspose, Input, MaxPooling2D, UpSampling2D
    from core.models import Model

    inp = Input((8, 8, 1), name="img")
    x = Conv2D(4, 3, activation="relu", padding="same")(inp)
    x = MaxPooling2D(2)(x)
    x = Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")(x)
    x = UpSampling2D(1, interpolation="bilinear")(x)
    x = Conv2DTranspose(2, 3, activation="relu")(x)
    x = UpSampling2D(2)(x)
    return Model(inp, Conv2D(1, 3)(x))


def test_keras_loads_our_autoencoder_and_back(tmp_path):
    from core.models import load_model

    model = _autoencoder()
    rng = np.random.default_rng(2)
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, size=w.shape).astype("float32"))
    x = rng.normal(size=(3, 8, 8, 1)).astype("float32")
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(x)), want, rtol=1e-5,
                               atol=1e-5)
    theirs.save(tmp_path / "theirs.keras")
    again = load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)
    assert [type(a).__name__ for a in again.layers] == [type(a).__name__ for a in model.layers]


def test_keras_legacy_h5_of_the_autoencoder_loads_and_predicts_the_same(tmp_path):
    """Keras' legacy ``.h5`` writer (Keras 2 layout) carries both layers too."""
    from core.models import load_model

    ours = _autoencoder()
    rng = np.random.default_rng(3)
    for w in ours.weights:
        w.assign(rng.normal(0, 0.5, size=w.shape).astype("float32"))
    ours.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.h5")
    x = rng.normal(size=(2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(load_model(tmp_path / "theirs.h5").predict(x, verbose=0),
                               ours.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_exported_keras_script_builds_the_autoencoder_in_keras(tmp_path):
    import runpy

    from core.export.keras_code import export_keras_code

    ours = _autoencoder()
    rng = np.random.default_rng(4)
    for w in ours.weights:
        w.assign(rng.normal(0, 0.5, size=w.shape).astype("float32"))
    script = export_keras_code(ours, tmp_path / "model.py", weights=True)
    theirs = runpy.run_path(str(script), run_name="netweaver_test")["model"]
    x = rng.normal(size=(2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(x)),
                               ours.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    assert [type(a).__name__ for a in theirs.layers] == [type(a).__name__ for a in ours.layers]
