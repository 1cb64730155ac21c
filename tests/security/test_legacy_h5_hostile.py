"""Hostile legacy ``.h5`` model files: each is refused with one ``ModelFileError`` that
names the file and the problem, and nothing outside the file is ever read."""

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from core.saving import ModelFileError, load_model

GOOD = Path(__file__).resolve().parents[1] / "fixtures" / "keras3" / "legacy" / "legacy_mlp.h5"


def _copy(tmp_path, edit=None, name="m.h5"):
    p = tmp_path / name
    shutil.copy(GOOD, p)
    if edit is not None:
        with h5py.File(p, "a") as f:
            edit(f)
    return p


def _names(f):
    """The dataset names of layer ``dense`` (text or bytes, as h5py returns them)."""
    return [n.decode() if isinstance(n, bytes) else n
            for n in f["model_weights/dense"].attrs["weight_names"]]


def _refused(path, *words):
    with pytest.raises(ModelFileError) as e:
        load_model(path)
    msg = str(e.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_the_good_file_loads(tmp_path):
    assert load_model(_copy(tmp_path)).name == "mlp"


def test_external_link_to_another_file_is_not_followed(tmp_path):
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as f:
        f.create_dataset("kernel", data=np.ones((8, 12), np.float32))

    def edit(f):
        names = _names(f)
        del f[f"model_weights/dense/{names[0]}"]
        f[f"model_weights/dense/{names[0]}"] = h5py.ExternalLink(str(outside), "kernel")
    _refused(_copy(tmp_path, edit), "ExternalLink")


def test_soft_link_is_refused(tmp_path):
    def edit(f):
        names = _names(f)
        del f[f"model_weights/dense/{names[1]}"]
        f[f"model_weights/dense/{names[1]}"] = h5py.SoftLink("/model_weights/dense_1")
    _refused(_copy(tmp_path, edit), "SoftLink")


def test_dataset_stored_outside_the_file_is_refused(tmp_path):
    raw = tmp_path / "raw.bin"
    np.ones((8, 12), np.float32).tofile(raw)

    def edit(f):
        names = _names(f)
        del f[f"model_weights/dense/{names[0]}"]
        f["model_weights/dense"].create_dataset(names[0], shape=(8, 12), dtype="f4",
                                                external=[(str(raw), 0, h5py.h5f.UNLIMITED)])
    _refused(_copy(tmp_path, edit), "outside the file")


def test_wrong_shape_names_the_layer_and_both_shapes(tmp_path):
    def edit(f):
        names = _names(f)
        del f[f"model_weights/dense/{names[0]}"]
        f["model_weights/dense"].create_dataset(names[0], data=np.ones((8, 3), np.float32))
    _refused(_copy(tmp_path, edit), "'dense'", "(8, 3)", "(8, 12)")


def test_text_dataset_is_refused(tmp_path):
    def edit(f):
        names = _names(f)
        del f[f"model_weights/dense/{names[1]}"]
        f["model_weights/dense"].create_dataset(names[1], data=np.array([b"x"] * 12))
    _refused(_copy(tmp_path, edit), "not numbers")


def test_deep_json_and_nan_are_refused(tmp_path):
    deep = "[" * 5000 + "]" * 5000
    _refused(_copy(tmp_path, lambda f: f.attrs.__setitem__("model_config", deep)),
             "model_config")
    cfg = json.loads(h5py.File(GOOD)["/"].attrs["model_config"])
    text = json.dumps(cfg).replace('"rate": 0.2', '"rate": NaN')
    assert "NaN" in text
    _refused(_copy(tmp_path, lambda f: f.attrs.__setitem__("model_config", text), "n.h5"),
             "NaN")


def test_code_and_foreign_modules_in_the_config_are_refused(tmp_path):
    cfg = json.loads(h5py.File(GOOD)["/"].attrs["model_config"])
    cfg["config"]["layers"][1]["config"]["activation"] = {
        "class_name": "__lambda__", "config": {"code": "print(1)"}}
    _refused(_copy(tmp_path, lambda f: f.attrs.__setitem__("model_config", json.dumps(cfg))),
             "code")
    cfg = json.loads(h5py.File(GOOD)["/"].attrs["model_config"])
    cfg["config"]["layers"][1]["module"] = "os"
    _refused(_copy(tmp_path, lambda f: f.attrs.__setitem__("model_config", json.dumps(cfg)),
                   "os.h5"), "'os'")


def test_weights_only_file_and_non_hdf5_bytes(tmp_path):
    weights_only = tmp_path / "w.h5"
    with h5py.File(weights_only, "w") as f:
        f.create_group("model_weights")
    _refused(weights_only, "model_config")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"PK\x03\x04 not hdf5")
    _refused(junk, "not an HDF5 file")


def test_keras1_file_says_which_versions_we_read(tmp_path):
    msg = _refused(_copy(tmp_path, lambda f: f.attrs.__setitem__("keras_version", "1.2.2")),
                   "Keras 1.2.2")
    assert "Keras 2" in msg and "Keras 3" in msg


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    _refused(fifo, "FIFO")


def test_layer_count_mismatch(tmp_path):
    _refused(_copy(tmp_path, lambda f: f["model_weights"].attrs.__setitem__(
        "layer_names", np.array([b"dense"], dtype=object))), "layers with weights")


def test_failed_save_leaves_nothing_and_keeps_the_old_file(tmp_path, monkeypatch):
    from core.saving import legacy_h5
    model = load_model(GOOD)
    target = tmp_path / "keep.h5"
    target.write_bytes(b"old")
    calls = []

    def fail_late(group, variables, prefix):  # the third layer's weights: half written
        calls.append(prefix)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(group, variables, prefix)
    real = legacy_h5._write_subset
    monkeypatch.setattr(legacy_h5, "_write_subset", fail_late)
    with pytest.raises(OSError, match="disk full"):
        model.save(str(target))
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.h5"]
