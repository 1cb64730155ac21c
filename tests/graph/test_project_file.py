"""``.nwproj`` save/load, strict reading, atomic writing, autosave recovery."""

import json
import os

import numpy as np
import pytest

from core.graph import GraphDocument
from core.graph import project_file as pf
from core.graph.project_file import ProjectFileError, load_project, save_project
from tests.graph.helpers import chain


def _sample_doc():
    doc = GraphDocument()
    i, c, f, d = chain(doc, [("InputLayer", {"shape": [8, 8, 1]}),
                             ("Conv2D", {"filters": 4, "kernel_size": 3, "activation": "relu"}),
                             ("Flatten", None), ("Dense", {"units": 3})])
    doc.move_nodes({i: (10, 0), c: (10, 120.5), f: (10, 240), d: (10, 360)})
    doc.rename_node(d, "logits")
    doc.set_meta(name="Tiny", description="for tests")
    doc.set_training(epochs=2, seed=7, dataset="/tmp/some data.csv")
    doc.history.append({"epochs": [{"loss": 1.5, "accuracy": 0.25}], "stopped": False})
    return doc


def test_save_load_identical(tmp_path):
    doc = _sample_doc()
    path = tmp_path / "net.nwproj"
    save_project(doc, path)
    assert doc.path == str(path)
    loaded, weights = load_project(path)
    assert weights is None
    assert loaded.to_dict() == doc.to_dict()
    assert all(loaded.state(n) == doc.state(n) for n in doc.nodes)
    data = json.loads(path.read_text())
    assert data["format"] == "netweaver-project" and data["schema_version"] == 1
    # saving the loaded document gives the same bytes: nothing drifts on a round trip
    save_project(loaded, tmp_path / "again.nwproj")
    assert (tmp_path / "again.nwproj").read_text() == path.read_text()


def test_a_model_opened_from_keras_saves_and_loads(tmp_path):
    """What every Keras layer takes, as an opened ``.keras`` file carries it (an activity
    regularizer on a Flatten), saves and loads again (it was refused when read back)."""
    from pathlib import Path

    from core.graph.open_model import open_model_file

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "keras3" / "seq_activity.keras"
    doc = open_model_file(fixture)[0]
    carried = {n: dict(node.config) for n, node in doc.nodes.items()
               if "activity_regularizer" in node.config}
    assert carried  # the fixture's point
    save_project(doc, tmp_path / "net.nwproj")
    loaded, _ = load_project(tmp_path / "net.nwproj")
    assert {n: loaded.nodes[n].config for n in carried} == carried
    built = loaded.build_model()
    assert all(built.get_layer(loaded.nodes[n].name).activity_regularizer is not None
               for n in carried)


def test_weights_round_trip_exactly(tmp_path):
    doc = _sample_doc()
    rng = np.random.default_rng(0)
    weights = {"conv2d": [rng.standard_normal((3, 3, 1, 4)).astype("float32"),
                          np.zeros(4, "float32")],
               "logits": [rng.standard_normal((144, 3)), np.arange(3, dtype="int64")]}
    save_project(doc, tmp_path / "w.nwproj", weights=weights)
    _, back = load_project(tmp_path / "w.nwproj")
    assert list(back) == ["conv2d", "logits"]
    for name in weights:
        for a, b in zip(weights[name], back[name]):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def _write(tmp_path, data, name="bad.nwproj"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(schema_version=2), "newer Netweaver (schema_version 2)"),
    (lambda d: d.update(format="other"), "is not a Netweaver project"),
    (lambda d: d.update(schema_version="1"), "invalid schema_version"),
    (lambda d: d["nodes"][1].update(type="Conv9D"), "Unknown layer type 'Conv9D'"),
    (lambda d: d["nodes"][1]["config"].update(filters=-1), "filters=-1 is invalid"),
    (lambda d: d["nodes"][1]["config"].update(bogus=1), "has no argument(s) ['bogus']"),
    (lambda d: d["nodes"][1].update(name="input_layer"), "duplicate name"),
    (lambda d: d["nodes"][1].update(id="n1"), "duplicate id"),
    (lambda d: d["nodes"][1].update(pos=[0, "x"]), "bad position"),
    (lambda d: d["edges"].append({"src": "n1", "dst": "n77"}), "does not exist"),
    (lambda d: d["edges"].append({"src": "n1", "dst": "n2", "dst_port": 0}), "wired twice"),
    (lambda d: d["training"].update(epochs=0), "epochs=0 is invalid"),
    (lambda d: d["training"].update(colour="red"), "Unknown training setting"),
    (lambda d: d.update(history={"a": 1}), "'history' is not a list"),
    (lambda d: d.update(weights={"encoding": "pickle", "layers": {}}), "unreadable weights"),
    (lambda d: d.update(weights={"encoding": "base64-raw-le", "layers": {"x": [
        {"dtype": "float32", "shape": [2, 2], "data": "AAAA"}]}}), "has 3 bytes, expected 16"),
    (lambda d: d.update(weights={"encoding": "base64-raw-le", "layers": {"x": [
        {"dtype": "object", "shape": [1], "data": ""}]}}), "bad dtype"),
])
def test_bad_files_raise_naming_file_and_problem(tmp_path, mutate, message):
    doc = _sample_doc()
    save_project(doc, tmp_path / "good.nwproj")
    data = json.loads((tmp_path / "good.nwproj").read_text())
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ProjectFileError) as exc:
        load_project(path)
    assert str(path) in str(exc.value)
    assert message in str(exc.value)


def test_corrupt_and_missing_files(tmp_path):
    with pytest.raises(ProjectFileError, match="is not valid JSON"):
        load_project(_write(tmp_path, '{"format": "netweaver-project", '))
    with pytest.raises(ProjectFileError, match="cannot be read"):
        load_project(tmp_path / "missing.nwproj")
    raw = tmp_path / "binary.nwproj"
    raw.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProjectFileError, match="cannot be read|not valid JSON"):
        load_project(raw)


def test_save_is_atomic(tmp_path, monkeypatch):
    doc = _sample_doc()
    path = tmp_path / "net.nwproj"
    save_project(doc, path)
    good = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    doc.set_config("n4", "units", 9)
    with pytest.raises(ProjectFileError, match="disk full"):
        save_project(doc, path)
    assert path.read_bytes() == good  # the old file is intact
    assert os.listdir(tmp_path) == ["net.nwproj"]  # and no temp file is left behind


def test_unserialisable_weights_refused_before_writing(tmp_path):
    doc = _sample_doc()
    with pytest.raises(ProjectFileError, match="unsupported dtype"):
        save_project(doc, tmp_path / "x.nwproj", weights={"a": [np.array(["s"])]})
    assert not (tmp_path / "x.nwproj").exists()


def test_recovery_cycle(tmp_path):
    assert pf.find_recovery() is None
    doc = _sample_doc()
    p = pf.write_recovery(doc)
    assert p == pf.recovery_path(None, doc)
    assert str(p).startswith(os.environ["NETWEAVER_STATE_DIR"])
    assert pf.find_recovery() == p and pf.recovery_origin(p) is None
    restored, _ = load_project(p)
    assert restored.path is None
    assert restored.to_dict() == doc.to_dict()
    pf.clear_recovery(None, doc)
    assert pf.find_recovery() is None

    save_project(doc, tmp_path / "mine.nwproj")
    p2 = pf.write_recovery(doc)
    assert p2 == pf.recovery_path(tmp_path / "mine.nwproj") != pf.recovery_path(None, doc)
    assert doc.path == str(tmp_path / "mine.nwproj")  # autosave does not re-home the doc
    assert pf.recovery_origin(p2) == str(tmp_path / "mine.nwproj")
    reopened, _ = load_project(p2)
    assert reopened.path == str(tmp_path / "mine.nwproj")  # Save goes to the real file
    pf.clear_recovery(tmp_path / "mine.nwproj")
    assert pf.find_recovery() is None
    pf.clear_recovery(tmp_path / "never.nwproj")  # clearing nothing is fine


def test_history_with_numpy_numbers_and_nan_saves(tmp_path):
    doc = _sample_doc()
    doc.history.append({"epochs": [{"loss": np.float32(0.5), "accuracy": np.float64(0.75)},
                                   {"loss": float("nan")}], "nan_at": (2, np.int64(7))})
    save_project(doc, tmp_path / "h.nwproj")
    loaded, _ = load_project(tmp_path / "h.nwproj")
    assert loaded.history[-1] == {"epochs": [{"loss": 0.5, "accuracy": 0.75}, {"loss": None}],
                                  "nan_at": [2, 7]}
    assert loaded.to_dict() == doc.to_dict()
