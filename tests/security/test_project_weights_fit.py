"""``.nwproj`` weights that do not fit the network: refused naming the layer, the
weight and both shapes (the file stays as it was), never loaded in part and dropped
in silence; weights that fit still load exactly."""

from __future__ import annotations

import numpy as np
import pytest

from core.graph import GraphDocument
from core.graph import project_file as pf
from core.graph.project_file import ProjectFileError


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWEAVER_STATE_DIR", str(tmp_path / "state"))


def _doc():
    doc = GraphDocument()
    a = doc.add_node("InputLayer", config={"shape": [4]})
    b = doc.add_node("Dense", config={"units": 3})
    c = doc.add_node("Dense", config={"units": 2})
    doc.connect(a, b)
    doc.connect(b, c)
    return doc, doc.nodes[b].name, doc.nodes[c].name


def _good(first, second):
    rng = np.random.default_rng(0)
    return {first: [rng.normal(size=(4, 3)).astype("float32"), np.zeros(3, "float32")],
            second: [rng.normal(size=(3, 2)).astype("float32"), np.ones(2, "float32")]}


def _saved(tmp_path, weights):
    doc, *_ = _doc()
    p = tmp_path / "p.nwproj"
    pf.save_project(doc, p, weights=weights)
    return p


def test_weights_that_fit_load_exactly_and_build_into_the_model(tmp_path):
    _, first, second = _doc()
    weights = _good(first, second)
    doc, back = pf.load_project(_saved(tmp_path, weights))
    model = doc.build_model()
    for name, arrays in weights.items():
        for a, b in zip(arrays, model.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert set(back) == set(weights)


def test_a_kernel_of_the_wrong_shape_names_layer_weight_and_both_shapes(tmp_path):
    _, first, second = _doc()
    weights = _good(first, second)
    weights[second][0] = np.zeros((3, 5), "float32")
    p = _saved(tmp_path, weights)
    before = p.read_bytes()
    with pytest.raises(ProjectFileError) as info:
        pf.load_project(p)
    msg = str(info.value)
    assert str(p) in msg and f"layer '{second}' weight 'kernel'" in msg, msg
    assert "(3, 2) in the network" in msg and "file holds shape (3, 5)" in msg, msg
    assert p.read_bytes() == before


def test_weights_for_a_layer_the_network_lacks_are_refused(tmp_path):
    _, first, second = _doc()
    weights = _good(first, second)
    weights["ghost"] = [np.zeros(2, "float32")]
    with pytest.raises(ProjectFileError, match="layer 'ghost', which the network does not"):
        pf.load_project(_saved(tmp_path, weights))


def test_a_missing_bias_is_refused(tmp_path):
    _, first, second = _doc()
    weights = _good(first, second)
    weights[first] = weights[first][:1]
    with pytest.raises(ProjectFileError, match=f"layer '{first}' has 2 weights.*holds 1"):
        pf.load_project(_saved(tmp_path, weights))


def test_a_layer_left_out_of_the_weights_is_refused(tmp_path):
    _, first, second = _doc()
    weights = _good(first, second)
    del weights[first]
    with pytest.raises(ProjectFileError, match=f"nothing for layer '{first}'"):
        pf.load_project(_saved(tmp_path, weights))


def test_recovery_with_unfit_weights_is_not_offered(tmp_path):
    """An autosave whose weights do not fit is skipped like any unreadable one."""
    doc, first, second = _doc()
    weights = _good(first, second)
    weights[first][1] = np.zeros(7, "float32")
    pf.write_recovery(doc, weights=weights)
    assert pf.find_recoveries() == []
