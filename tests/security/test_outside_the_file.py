"""Nothing read from outside the file the user chose, nothing written where they did not."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from core import backend
from core.graph import GraphDocument
from core.graph import project_file as pf
from core.saving import ModelFileError, load_model, load_weights, save_model, save_weights
from tests.security.helpers import edit_h5, members, small_model, write_zip


@pytest.fixture(autouse=True)
def _fresh():
    backend.clear_session()


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.keras"
    save_model(small_model(), path)
    return path


def _other_file(tmp_path, parts):
    """A second h5 file holding a full copy of the weights, all set to 7."""
    other = tmp_path / "elsewhere.h5"
    import io
    with h5py.File(io.BytesIO(parts["model.weights.h5"]), "r") as src, \
            h5py.File(other, "w") as dst:
        src.copy("layers", dst)
        def seven(_name, obj):
            if isinstance(obj, h5py.Dataset):
                obj[...] = 7
        dst["layers"].visititems(seven)
    return other


@pytest.mark.parametrize("where", ["layers", "layers/dense", "layers/dense/vars"])
def test_external_link_to_a_group_is_refused(tmp_path, saved, where):
    parts = members(saved)
    other = _other_file(tmp_path, parts)

    def link(f):
        del f[where]
        f[where] = h5py.ExternalLink(str(other), where)

    bad = write_zip(tmp_path / "ext.keras", edit_h5(parts, link))
    with pytest.raises(ModelFileError, match="link.*outside|outside.*link"):
        load_model(bad)


def test_soft_link_is_refused(tmp_path, saved):
    parts = members(saved)

    def link(f):
        f.create_group("stash")
        f.move("layers/dense/vars", "stash/vars")
        f["layers/dense/vars"] = h5py.SoftLink("/stash/vars")

    bad = write_zip(tmp_path / "soft.keras", edit_h5(parts, link))
    with pytest.raises(ModelFileError, match="link.*outside|outside.*link"):
        load_model(bad)


def test_virtual_dataset_is_refused(tmp_path, saved):
    parts = members(saved)
    other = _other_file(tmp_path, parts)

    def virtual(f):
        shape = f["layers/dense/vars/0"].shape
        layout = h5py.VirtualLayout(shape=shape, dtype="float32")
        layout[...] = h5py.VirtualSource(str(other), "layers/dense/vars/0", shape=shape)
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_virtual_dataset("0", layout)

    bad = write_zip(tmp_path / "vds.keras", edit_h5(parts, virtual))
    with pytest.raises(ModelFileError, match="outside"):
        load_model(bad)


def test_virtual_dataset_anywhere_in_the_file_is_refused(tmp_path, saved):
    """Also where no weight is read from: the file is refused as a whole, not only the
    datasets the loader happens to open."""
    parts = members(saved)
    other = _other_file(tmp_path, parts)

    def extra(f):
        layout = h5py.VirtualLayout(shape=(3, 4), dtype="float32")
        layout[...] = h5py.VirtualSource(str(other), "layers/dense/vars/0", shape=(3, 4))
        f.create_virtual_dataset("notes", layout)

    bad = write_zip(tmp_path / "vds2.keras", edit_h5(parts, extra))
    with pytest.raises(ModelFileError, match="'notes' stores its data outside"):
        load_model(bad)


def test_external_link_in_weights_h5_file_is_refused(tmp_path):
    model = small_model()
    path = tmp_path / "m.weights.h5"
    save_weights(model, path)
    other = tmp_path / "other.h5"
    with h5py.File(path, "r") as src, h5py.File(other, "w") as dst:
        src.copy("layers", dst)
        dst["layers/dense/vars/0"][...] = 7
    with h5py.File(path, "a") as f:
        del f["layers/dense"]
        f["layers/dense"] = h5py.ExternalLink(str(other), "layers/dense")
    before = [np.array(w.value) for w in model.weights]
    with pytest.raises(ModelFileError, match="link.*outside|outside.*link"):
        load_weights(model, path)
    assert all(np.array_equal(a, w.value) for a, w in zip(before, model.weights))


# ------------------------------------------------------------------ recovery origin

def _recovery_claiming(tmp_path, monkeypatch, origin):
    monkeypatch.setenv("NETWEAVER_STATE_DIR", str(tmp_path / "state"))
    doc = GraphDocument()
    doc.add_node("InputLayer", config={"shape": [4]})
    rec = pf.write_recovery(doc)
    data = json.loads(rec.read_text())
    data["recovery_of"] = str(origin)
    rec.write_text(json.dumps(data))
    return rec


def test_recovery_origin_elsewhere_is_not_adopted(tmp_path, monkeypatch):
    victim = tmp_path / "notes.txt"
    victim.write_text("precious")
    rec = _recovery_claiming(tmp_path, monkeypatch, victim)
    doc, _ = pf.load_project(rec)
    assert doc.path != str(victim)
    assert pf.recovery_origin(rec) is None  # the start-up offer does not name it either


def test_recovery_origin_matching_its_own_file_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWEAVER_STATE_DIR", str(tmp_path / "state"))
    project = tmp_path / "net.nwproj"
    doc = GraphDocument()
    doc.add_node("InputLayer", config={"shape": [4]})
    pf.save_project(doc, project)
    rec = pf.write_recovery(doc)
    loaded, _ = pf.load_project(rec)
    assert loaded.path == str(project)
    assert pf.recovery_origin(rec) == str(project)


def test_recovery_origin_of_a_non_project_is_refused(tmp_path, monkeypatch):
    """Even a recovery whose name matches cannot make Save target a non-.nwproj file."""
    victim = tmp_path / "notes.txt"
    victim.write_text("precious")
    monkeypatch.setenv("NETWEAVER_STATE_DIR", str(tmp_path / "state"))
    doc = GraphDocument()
    doc.add_node("InputLayer", config={"shape": [4]})
    doc.path = str(victim)
    rec = pf.write_recovery(doc)
    loaded, _ = pf.load_project(rec)
    assert loaded.path is None
    assert victim.read_text() == "precious"
