"""``core.graph.open_model``: what cannot be opened is named, and a file from a newer
Keras says which version wrote it and which we read."""

import json
import zipfile
from pathlib import Path

import pytest

from core.graph.datatypes import GraphError
from core.graph.open_model import inline_nested, is_model_file, open_model_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"


def _edited(tmp_path, name, edit_config=None, version=None):
    src = FIXTURES / f"{name}.keras"
    out = tmp_path / f"{name}.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "config.json" and edit_config:
                cfg = json.loads(data)
                edit_config(cfg)
                data = json.dumps(cfg).encode()
            if item == "metadata.json" and version:
                meta = json.loads(data)
                meta["keras_version"] = version
                data = json.dumps(meta).encode()
            zout.writestr(item, data)
    return out


def _rename_class(cfg, old, new):
    for layer in cfg["config"]["layers"]:
        if layer["class_name"] == old:
            layer["class_name"] = new


def test_unknown_layers_are_all_named(tmp_path):
    path = _edited(tmp_path, "seq_mlp", lambda c: _rename_class(c, "Dropout", "FancyDrop"))
    with pytest.raises(GraphError) as e:
        open_model_file(path)
    msg = str(e.value)
    assert "FancyDrop" in msg and "seq_mlp.keras" in msg and "dropout" in msg
    assert "written by Keras" not in msg  # same version as ours: nothing to say


def test_newer_keras_version_is_named_with_ours(tmp_path):
    path = _edited(tmp_path, "seq_mlp", lambda c: _rename_class(c, "Dense", "DenseV4"),
                   version="4.1.0")
    with pytest.raises(GraphError) as e:
        open_model_file(path)
    assert "Keras 4.1.0" in str(e.value) and "3.15.1" in str(e.value)
    assert "DenseV4" in str(e.value)


def test_nested_models_flatten_with_same_predictions():
    import numpy as np

    from core.saving import load_model
    model = load_model(FIXTURES / "nested_objects.keras")
    flat, names = inline_nested(model)
    assert names == ["inner_seq", "inner_func"]
    assert not any(hasattr(ly, "layers") for ly in flat.layers)
    assert flat.count_params() == model.count_params()
    x = np.load(FIXTURES / "nested_objects.npz")["x_0"]
    np.testing.assert_allclose(flat.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_compile_settings_reach_the_project():
    doc, notes = open_model_file(FIXTURES / "seq_optimizer_options.keras")
    assert doc.training.optimizer == "rmsprop" and doc.training.metrics == ["mae", "mse"]
    assert abs(doc.training.learning_rate - 0.02) < 1e-6
    assert any("centered" in n and "momentum" in n for n in notes)  # named, not dropped


def test_model_suffixes():
    assert is_model_file("a.keras") and is_model_file("B.H5") and is_model_file("c.hdf5")
    assert not is_model_file("p.nwproj") and not is_model_file("x.npz")


def test_the_supported_first_layers_of_a_sequential_open_with_their_weights(tmp_path):
    import numpy as np

    from core.graph.open_model import UnsupportedLayersError
    from core.saving import load_model

    def replace_fourth(cfg):  # Input, Dense, Dense, Dense, <Dense -> FancyDense>, ...
        layers = [ly for ly in cfg["config"]["layers"] if ly["class_name"] != "InputLayer"]
        layers[3]["class_name"] = "FancyDense"
    path = _edited(tmp_path, "seq_mlp", replace_fourth)
    with pytest.raises(UnsupportedLayersError) as e:
        open_model_file(path)
    assert e.value.first_known == 3 and "first 3 layers" in str(e.value)
    doc, notes = open_model_file(path, first_layers=3)
    assert len(doc.nodes) == 4 and any("first 3 layers" in n for n in notes)
    full = load_model(FIXTURES / "seq_mlp.keras")
    part = doc.build_model()
    for layer in part.layers[1:]:  # the trained weights of the layers that were kept
        for a, b in zip(layer.get_weights(), full.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_first_layers_of_a_legacy_h5(tmp_path):
    import json
    import shutil

    import h5py
    import numpy as np

    from core.graph.open_model import UnsupportedLayersError
    from core.saving import load_model
    src = FIXTURES / "legacy" / "legacy_frozen.h5"
    path = tmp_path / "f.h5"
    shutil.copy(src, path)
    with h5py.File(path, "a") as f:
        cfg = json.loads(f.attrs["model_config"])
        cfg["config"]["layers"][4]["class_name"] = "FancyDense"  # frozen_dense
        f.attrs["model_config"] = json.dumps(cfg)
    with pytest.raises(UnsupportedLayersError) as e:
        open_model_file(path)
    assert e.value.first_known == 3  # dense_a, bn, activation
    doc, _ = open_model_file(path, first_layers=3)
    full = load_model(src)
    bn = doc.build_model().get_layer("bn")
    for a, b in zip(bn.get_weights(), full.get_layer("bn").get_weights()):
        np.testing.assert_array_equal(a, b)  # gamma, beta and the moving statistics
