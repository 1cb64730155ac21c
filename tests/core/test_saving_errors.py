"""Bad ``.keras`` / ``.weights.h5`` files: one ``ModelFileError`` naming the file and the
problem, nothing executed, nothing half-written, the model untouched."""

import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

from core import backend
from core.layers import Dense, Input, Layer
from core.models import Model, Sequential
from core.saving import ModelFileError, keras_format, load_model, load_weights, save_model


@pytest.fixture(autouse=True)
def _fresh_names():
    backend.clear_session()


def _model(hidden=4):
    return Sequential([Input((3,)), Dense(hidden, activation="relu"), Dense(2)])


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.keras"
    save_model(_model(), path)
    return path


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _replace_h5(members, edit):
    bio = io.BytesIO(members["model.weights.h5"])
    with h5py.File(bio, "a") as f:
        edit(f)
    members = dict(members)
    members["model.weights.h5"] = bio.getvalue()
    return members


def _load_fails(path, *words):
    with pytest.raises(ModelFileError) as e:
        load_model(path)
    msg = str(e.value)
    assert os.path.basename(str(path)) in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_not_a_zip_and_truncated(tmp_path, saved):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"definitely not a zip archive")
    _load_fails(junk, "not a valid .keras file")
    cut = tmp_path / "cut.keras"
    cut.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    _load_fails(cut, "not a valid .keras file")
    _load_fails(tmp_path / "missing.keras", "file not found")


def test_missing_member(tmp_path, saved):
    members = _members(saved)
    del members["model.weights.h5"]
    _load_fails(_write_zip(tmp_path / "nowts.keras", members), "no model.weights.h5")
    members = _members(saved)
    del members["config.json"]
    _load_fails(_write_zip(tmp_path / "nocfg.keras", members), "no config.json")


@pytest.mark.parametrize("bad_name", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil",
                                      "dir\\..\\evil"])
def test_escaping_member_names(tmp_path, saved, bad_name):
    members = _members(saved)
    members[bad_name] = b"x"
    _load_fails(_write_zip(tmp_path / "escape.keras", members), "unsafe member name")


def test_member_count_and_size_limits(tmp_path, saved, monkeypatch):
    members = _members(saved)
    for i in range(20):
        members[f"assets/f{i}"] = b""
    path = _write_zip(tmp_path / "many.keras", members)
    monkeypatch.setattr(keras_format, "MAX_MEMBERS", 10)
    _load_fails(path, "23 members")
    monkeypatch.setattr(keras_format, "MAX_MEMBERS", 10_000)
    # A zip bomb: a small file that inflates hugely.
    bomb = dict(_members(saved))
    bomb["assets/zeros"] = b"\0" * 5_000_000
    bomb_path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n, d in bomb.items():
            zf.writestr(n, d)
    assert bomb_path.stat().st_size < 100_000
    monkeypatch.setattr(keras_format, "MAX_TOTAL_BYTES", 1_000_000)
    _load_fails(bomb_path, "inflate", "refusing")


def test_corrupt_json_and_h5(tmp_path, saved):
    members = _members(saved)
    members["config.json"] = b"{not json"
    _load_fails(_write_zip(tmp_path / "json.keras", members), "config.json is not valid JSON")
    members = _members(saved)
    members["model.weights.h5"] = b"\x89HDF\r\n" + b"\0" * 100
    _load_fails(_write_zip(tmp_path / "h5.keras", members), "not a readable HDF5")


def test_wrong_weight_shape_and_count(tmp_path, saved):
    def reshape(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((5, 4), "float32")
    path = _write_zip(tmp_path / "shape.keras", _replace_h5(_members(saved), reshape))
    _load_fails(path, "layer 'dense' expects weight 0 ('kernel') of shape (3, 4), "
                      "file has (5, 4)")

    def drop(f):
        del f["layers/dense_1/vars/1"]
    path = _write_zip(tmp_path / "count.keras", _replace_h5(_members(saved), drop))
    _load_fails(path, "layer 'dense_1' expects 2 weights ['kernel', 'bias'], file has 1")


def test_h5_links_to_other_files_are_refused(tmp_path, saved):
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["data"] = np.zeros((3, 4), "float32")

    def link(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink(str(outside), "/data")
    path = _write_zip(tmp_path / "link.keras", _replace_h5(_members(saved), link))
    _load_fails(path, "ExternalLink")


def test_unknown_class_and_foreign_module_and_code(tmp_path, saved):
    members = _members(saved)
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["class_name"] = "Teleporter"
    members["config.json"] = json.dumps(config).encode()
    _load_fails(_write_zip(tmp_path / "unknown.keras", members), "'Teleporter'")

    config = json.loads(_members(saved)["config.json"])
    config["config"]["layers"][1].update(module="os", class_name="system")
    members["config.json"] = json.dumps(config).encode()
    _load_fails(_write_zip(tmp_path / "os.keras", members), "module 'os'")

    config = json.loads(_members(saved)["config.json"])
    config["config"]["layers"][1]["config"]["activation"] = {
        "class_name": "__lambda__", "config": {"value": ["print('pwned')", None, None]}}
    members["config.json"] = json.dumps(config).encode()
    # Keras' safe_mode refusal, before anything is built (safe_mode=True by default).
    _load_fails(_write_zip(tmp_path / "lambda.keras", members), "safe_mode=False")


def test_load_weights_mismatch_leaves_model_unchanged(tmp_path):
    src = _model(hidden=5)
    src.save_weights(tmp_path / "five.weights.h5")
    target = _model(hidden=4)
    before = target.get_weights()
    with pytest.raises(ModelFileError, match=r"five\.weights\.h5: layer 'dense_\d+' expects "
                                             r"weight 0 \('kernel'\) of shape \(3, 4\)"):
        load_weights(target, tmp_path / "five.weights.h5")
    for a, b in zip(target.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    # A bigger model's file: the extra layer is reported, not silently ignored.
    big = Sequential([Input((3,)), Dense(4), Dense(2), Dense(2)])
    big.save_weights(tmp_path / "big.weights.h5")
    with pytest.raises(ModelFileError, match=r"layers/dense_2"):
        load_weights(_model(), tmp_path / "big.weights.h5")
    (tmp_path / "junk.weights.h5").write_bytes(b"nope")
    with pytest.raises(ModelFileError, match="junk.weights.h5"):
        load_weights(target, tmp_path / "junk.weights.h5")


def test_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, saved, monkeypatch):
    original = saved.read_bytes()

    def boom(model):
        raise RuntimeError("disk full")
    monkeypatch.setattr(keras_format, "_weights_bytes", boom)
    with pytest.raises(RuntimeError):
        save_model(_model(), saved)
    assert saved.read_bytes() == original
    monkeypatch.undo()

    real_writestr = zipfile.ZipFile.writestr

    def half(self, name, data, *a, **k):
        if name == "model.weights.h5":
            raise OSError("interrupted")
        return real_writestr(self, name, data, *a, **k)
    monkeypatch.setattr(zipfile.ZipFile, "writestr", half)
    with pytest.raises(OSError):
        save_model(_model(), saved)
    assert saved.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.keras"]
    with pytest.raises(ValueError, match="overwrite=False"):
        save_model(_model(), saved, overwrite=False)


def test_unzipped_folder_round_trip(tmp_path):
    model = _model()
    path = tmp_path / "folder.keras"
    save_model(model, path, zipped=False)
    assert sorted(os.listdir(path)) == ["config.json", "metadata.json", "model.weights.h5"]
    save_model(model, path, zipped=False)  # overwrite an existing folder
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))


class Scaled(Layer):
    """A user layer: not registered, so it must come through custom_objects."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def forward(self, inputs, training=False):
        return inputs * self.factor, None

    def backward(self, cache, grad_output, need_input_grad=True):
        return grad_output * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_custom_layer_needs_custom_objects(tmp_path):
    inp = Input((3,))
    model = Model(inp, Dense(2)(Scaled(3.0)(inp)))
    save_model(model, tmp_path / "custom.keras")
    _load_fails(tmp_path / "custom.keras", "'Scaled'", "custom_objects")
    restored = load_model(tmp_path / "custom.keras", custom_objects={"Scaled": Scaled})
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert restored.layers[1].factor == 3.0
