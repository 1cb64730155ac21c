"""Hostile ``.nwproj`` files: one clear ``ProjectFileError``, never RecursionError,
TypeError or OverflowError, and nothing opens that could not be saved again."""

from __future__ import annotations

import json

import pytest

from core.graph import GraphDocument
from core.graph import project_file as pf
from core.graph.project_file import ProjectFileError


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWEAVER_STATE_DIR", str(tmp_path / "state"))


def _base():
    doc = GraphDocument()
    a = doc.add_node("InputLayer", config={"shape": [4]})
    b = doc.add_node("Dense", config={"units": 3})
    doc.connect(a, b)
    return pf.document_to_dict(doc)


def _write(tmp_path, data, name="p.nwproj", raw=None):
    p = tmp_path / name
    p.write_text(raw if raw is not None else json.dumps(data))
    return p


def test_deeply_nested_json_is_a_project_file_error(tmp_path):
    p = _write(tmp_path, None, raw='{"format": "netweaver-project", "meta": ' +
               "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ProjectFileError, match="nests deeper"):
        pf.load_project(p)


def test_metadata_nesting_that_could_not_be_saved_is_refused_at_open(tmp_path):
    data = _base()
    deep = {}
    cur = deep
    for _ in range(700):
        cur["k"] = {}
        cur = cur["k"]
    data["meta"] = {"notes": deep}
    with pytest.raises(ProjectFileError, match="nests deeper"):
        pf.load_project(_write(tmp_path, data))


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_inf_in_configs_are_refused(tmp_path, bad):
    text = json.dumps(_base()).replace('"units": 3', f'"units": 3, "bias_regularizer": {bad}')
    with pytest.raises(ProjectFileError, match="finite"):
        pf.load_project(_write(tmp_path, None, raw=text))


@pytest.mark.parametrize("ident", [["n1"], {"id": "n1"}, 7, None])
def test_edges_with_non_string_ids_are_a_clear_error(tmp_path, ident):
    data = _base()
    data["edges"][0]["src"] = ident
    with pytest.raises(ProjectFileError, match="names a node that does not exist"):
        pf.load_project(_write(tmp_path, data))


@pytest.mark.parametrize("key,value", [("seed", 10**30), ("epochs", 10**30),
                                       ("batch_size", 10**30)])
def test_huge_training_numbers_are_refused(tmp_path, key, value):
    data = _base()
    data["training"][key] = value
    with pytest.raises(ProjectFileError, match=key):
        pf.load_project(_write(tmp_path, data))


def test_everything_that_opens_saves_again(tmp_path):
    doc, _ = pf.load_project(_write(tmp_path, _base()))
    pf.save_project(doc, tmp_path / "again.nwproj")
    pf.write_recovery(doc)


@pytest.mark.timeout(300)
def test_a_5000_node_chain_builds_without_recursion():
    import numpy as np

    from core.graph import build

    doc = GraphDocument()
    prev = doc.add_node("InputLayer", config={"shape": [4]})
    for _ in range(5000):
        node = doc.add_node("Activation", config={"activation": "relu"})
        doc.connect(prev, node)
        prev = node
    model = build.build_model(doc)
    assert len(model.layers) == 5001
    out = model.predict(np.ones((2, 4), "float32"), verbose=0)
    np.testing.assert_array_equal(out, np.ones((2, 4)))
