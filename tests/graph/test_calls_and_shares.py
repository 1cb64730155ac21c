"""Call arguments and shared layers on graph nodes (``core.graph.calls``), on the real
Keras 3.15.1 fixtures: ``func_attention`` (``use_causal_mask=True``, ``(query, value,
key=...)``), ``func_rnn_state`` (``LSTM(x, initial_state=[h, c])``) and ``func_shared``
(one Dense on two inputs, another applied to its own output). Each opens with the
file's predictions, survives a project save/load, and exports a model whose
predictions equal the file's; for the shared layers, real Keras loads the export
(one layer, several calls) with the same predictions."""

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.graph.datatypes import GraphError
from core.graph.open_model import open_model_file
from core.graph.project_file import load_project, save_project
from core.saving import load_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"
CALLS = ("func_attention", "func_rnn_state", "func_shared")


def _inputs(stem):
    data = np.load(FIXTURES / f"{stem}.npz")
    xs = [data[k] for k in sorted(data.files) if re.fullmatch(r"x_\d+", k)]
    return xs if len(xs) > 1 else xs[0], data["pred_0"]


def _node(doc, name):
    return doc.nodes[doc.node_by_name(name).id]


@pytest.mark.parametrize("stem", CALLS)
def test_open_save_load_export_keep_predictions(tmp_path, stem):
    doc, _ = open_model_file(FIXTURES / f"{stem}.keras")
    x, keras_pred = _inputs(stem)
    # keras_pred: what Keras 3.15.1 itself predicted when it wrote the fixture
    np.testing.assert_allclose(doc.build_model().predict(x, verbose=0), keras_pred,
                               rtol=1e-5, atol=1e-6)
    save_project(doc, tmp_path / "p.nwproj", weights=doc.weights)
    again, weights = load_project(tmp_path / "p.nwproj")
    assert [(n.name, n.call, n.shares) for n in again.nodes.values()] == \
        [(n.name, n.call, n.shares) for n in doc.nodes.values()]
    again.weights = weights
    model = again.build_model()
    model.save(tmp_path / "out.keras")
    np.testing.assert_allclose(load_model(tmp_path / "out.keras").predict(x, verbose=0),
                               keras_pred, rtol=1e-5, atol=1e-6)


def test_call_arguments_live_on_the_node():
    doc, _ = open_model_file(FIXTURES / "func_attention.keras")
    assert _node(doc, "self_attention").call == {"kwargs": {"use_causal_mask": True},
                                                 "layout": [2, []]}
    assert _node(doc, "cross_attention").call == {"layout": [2, ["key"]]}
    doc2, _ = open_model_file(FIXTURES / "func_rnn_state.keras")
    lstm = _node(doc2, "lstm")
    assert lstm.call == {"tensor_kwargs": {"initial_state": 2}}
    assert [doc2.nodes[e.src].name for e in doc2.inputs_of(lstm.id)] == \
        ["sequence", "start_h", "start_c"]
    # Without the causal mask the rebuilt model would compute something else.
    x, keras_pred = _inputs("func_attention")
    doc.nodes[doc.node_by_name("self_attention").id].call = {"layout": [2, []]}
    doc.revalidate_all()
    assert not np.allclose(doc.build_model().predict(x, verbose=0), keras_pred, atol=1e-4)


def test_shared_layer_is_one_layer_with_a_card_per_call():
    doc, _ = open_model_file(FIXTURES / "func_shared.keras")
    enc, enc2 = _node(doc, "shared_encoder"), _node(doc, "shared_encoder (call 2)")
    assert enc2.shares == enc.id and not enc.shares
    assert [doc.nodes[e.src].name for e in doc.inputs_of(enc.id)] == ["left"]
    assert [doc.nodes[e.src].name for e in doc.inputs_of(enc2.id)] == ["right"]
    twice2 = _node(doc, "applied_twice (call 2)")  # takes its own first call's output
    assert [doc.nodes[e.src].name for e in doc.inputs_of(twice2.id)] == ["applied_twice"]
    # The weights count once, as in Keras' summary (76 trainable parameters).
    assert doc.state(enc.id).param_count == 35 and doc.state(enc2.id).param_count == 0
    assert sum(doc.state(n).param_count for n in doc.nodes) == 76
    model = doc.build_model()
    assert model.count_params() == 76
    shared = model.get_layer("shared_encoder")
    assert len(shared._inbound_nodes) == 2
    assert sorted(ly.name for ly in model.layers if ly.weights) == \
        ["applied_twice", "dense", "shared_encoder"]


def test_editing_a_shared_layer_edits_every_call_and_bad_wiring_is_named():
    doc, _ = open_model_file(FIXTURES / "func_shared.keras")
    enc, enc2 = doc.node_by_name("shared_encoder").id, \
        doc.node_by_name("shared_encoder (call 2)").id
    old = doc.set_config(enc2, "units", 7)
    assert old == 5 and doc.nodes[enc].config["units"] == 7 == doc.nodes[enc2].config["units"]
    # applied_twice now takes 7 features on its first call and its own 5 on the second:
    # one layer cannot be both, and the card of the second call says so.
    err = doc.state(doc.node_by_name("applied_twice (call 2)").id).error
    assert "[(5, 5), (5,)]" in err and "[(7, 5), (5,)]" in err and "'applied_twice'" in err
    doc.set_config(enc, "units", 5)
    assert doc.build_model().get_layer("shared_encoder").units == 5
    # A later call fed an input of another width would need other weights: refused,
    # naming both cards and both weight shapes.
    inp = doc.add_node("InputLayer", {"shape": [4]})
    doc.disconnect(next(e for e in doc.inputs_of(enc2)))
    doc.connect(inp, enc2)
    err = doc.state(enc2).error
    assert "shared_encoder (call 2)" in err and "'shared_encoder'" in err
    assert "(4, 5)" in err and "(6, 5)" in err
    with pytest.raises(GraphError):
        doc.build_model()


def test_shared_layer_export_loads_in_real_keras(tmp_path):
    import importlib.util
    if importlib.util.find_spec("keras") is None:
        pytest.skip("real Keras is not installed")
    doc, _ = open_model_file(FIXTURES / "func_shared.keras")
    doc.build_model().save(tmp_path / "shared.keras")
    x, keras_pred = _inputs("func_shared")
    np.savez(tmp_path / "x.npz", *x)
    script = (
        "import os, sys, json; os.environ['KERAS_BACKEND'] = 'torch'\n"
        "import keras, numpy as np\n"
        "m = keras.saving.load_model(sys.argv[1] + '/shared.keras')\n"
        "d = np.load(sys.argv[1] + '/x.npz'); xs = [d[k] for k in sorted(d.files)]\n"
        "np.save(sys.argv[1] + '/pred.npy', m.predict(xs, verbose=0))\n"
        "print(json.dumps([len(m.get_layer('shared_encoder')._inbound_nodes),\n"
        "                  m.count_params()]))\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                         text=True, timeout=600, env={**os.environ, "KERAS_BACKEND": "torch"})
    assert out.returncode == 0, out.stderr
    calls, params = json.loads(out.stdout.strip().splitlines()[-1])
    assert calls == 2 and params == 76
    np.testing.assert_allclose(np.load(tmp_path / "pred.npy"), keras_pred, rtol=1e-5,
                               atol=1e-6)


def _edited(tmp_path, stem, edit):
    out = tmp_path / f"{stem}.keras"
    with zipfile.ZipFile(FIXTURES / f"{stem}.keras") as zin, \
            zipfile.ZipFile(out, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "config.json":
                cfg = json.loads(data)
                edit(cfg)
                data = json.dumps(cfg).encode()
            zout.writestr(item, data)
    return out


def test_unsupported_layer_in_a_functional_model_offers_the_connected_part(tmp_path):
    from core.graph.open_model import UnsupportedLayersError

    def rename(cfg):
        for layer in cfg["config"]["layers"]:
            if layer["name"] == "applied_twice":
                layer["class_name"] = "FancyDense"
    path = _edited(tmp_path, "func_shared", rename)
    with pytest.raises(UnsupportedLayersError) as e:
        open_model_file(path)
    msg = str(e.value)
    assert "'applied_twice' (FancyDense)" in msg and "func_shared.keras" in msg
    # Left: the shared encoder (two calls) and the Subtract that reads both.
    assert e.value.part == 2 and "2 layers that do not depend on them" in msg
    doc, notes = open_model_file(path, supported_part=True)
    assert sorted(n.name for n in doc.nodes.values()) == \
        ["left", "right", "shared_encoder", "shared_encoder (call 2)", "subtract"]
    assert any("'applied_twice'" in n for n in notes)
    full = load_model(FIXTURES / "func_shared.keras")
    part = doc.build_model()
    for a, b in zip(part.get_layer("shared_encoder").get_weights(),
                    full.get_layer("shared_encoder").get_weights()):
        np.testing.assert_array_equal(a, b)  # its trained weights came along


def test_a_bad_call_entry_in_a_project_is_named(tmp_path):
    doc, _ = open_model_file(FIXTURES / "func_shared.keras")
    path = tmp_path / "p.nwproj"
    save_project(doc, path)
    data = json.loads(path.read_text())
    node = next(n for n in data["nodes"] if n.get("shares"))
    node["shares"] = "n999"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"shares 'n999'"):
        load_project(path)
    node["shares"] = ""
    node["call"] = {"layout": "everything"}
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="call layout"):
        load_project(path)


def test_connected_part_of_a_legacy_h5_functional_model(tmp_path):
    """Concatenate unsupported: both branches before it open, each end an output, with
    the file's weights matched by layer name."""
    import shutil

    import h5py

    from core.graph.open_model import UnsupportedLayersError
    src = FIXTURES / "legacy" / "legacy_cnn_functional.h5"
    path = tmp_path / "f.h5"
    shutil.copy(src, path)
    with h5py.File(path, "a") as f:
        cfg = json.loads(f.attrs["model_config"])
        for layer in cfg["config"]["layers"]:
            if layer["class_name"] == "Concatenate":
                layer["class_name"] = "FancyConcat"
        f.attrs["model_config"] = json.dumps(cfg)
    with pytest.raises(UnsupportedLayersError) as e:
        open_model_file(path)
    assert e.value.part == 4 and "'concatenate' (FancyConcat)" in str(e.value)
    doc, _ = open_model_file(path, supported_part=True)
    assert sorted(n.name for n in doc.nodes.values()) == \
        ["conv2d", "dense_2", "flatten", "img", "max_pooling2d", "meta"]
    part, full = doc.build_model(), load_model(src)
    assert len(part.outputs) == 2
    for name in ("conv2d", "dense_2"):
        for a, b in zip(part.get_layer(name).get_weights(),
                        full.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_a_nested_model_called_twice_opens_as_shared_layers(tmp_path):
    """One group cannot stand in two places: its layers open as shared layers (a card
    per call), with a note, and the export predicts as the file."""
    from core.layers import Concatenate, Dense, Input
    from core.models import Model, Sequential
    inner = Sequential([Input((4,)), Dense(3, name="inner_dense")], name="inner")
    a, b = Input((4,), name="a"), Input((4,), name="b")
    model = Model([a, b], Dense(1, name="head")(Concatenate()([inner(a), inner(b)])))
    model.save(tmp_path / "twice.keras")
    doc, notes = open_model_file(tmp_path / "twice.keras")
    assert not doc.groups and any("called more than once" in n and "inner" in n
                                  for n in notes)
    second = doc.node_by_name("inner_dense (call 2)")
    assert second.shares == doc.node_by_name("inner_dense").id
    x = [np.ones((2, 4), np.float32), np.linspace(0, 1, 8, dtype=np.float32).reshape(2, 4)]
    doc.build_model().save(tmp_path / "out.keras")
    np.testing.assert_allclose(load_model(tmp_path / "out.keras").predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-6)


def test_an_initial_state_wire_taken_away_is_named():
    doc, _ = open_model_file(FIXTURES / "func_rnn_state.keras")
    lstm = doc.node_by_name("lstm").id
    doc.disconnect(doc.inputs_of(lstm)[-1])
    err = doc.state(lstm).error
    assert "'lstm'" in err and "2 initial_state" in err and "3 in all" in err \
        and "but 2 lead" in err


def test_deleting_the_owner_leaves_a_layer_of_its_own_and_undo_links_again():
    doc, _ = open_model_file(FIXTURES / "func_shared.keras")
    enc, enc2 = doc.node_by_name("shared_encoder").id, \
        doc.node_by_name("shared_encoder (call 2)").id
    snap = doc.remove_nodes([enc])
    assert doc.state(enc2).param_count == 35 and doc.state(enc2).ok  # its own weights now
    doc.restore(snap)
    assert doc.state(enc2).param_count == 0 and doc.state(enc).param_count == 35
    assert doc.build_model().count_params() == 76


def test_set_call_argument_refuses_what_the_call_does_not_take():
    doc, _ = open_model_file(FIXTURES / "func_attention.keras")
    nid = doc.node_by_name("self_attention").id
    with pytest.raises(GraphError, match="no call argument 'causal'"):
        doc.set_call_argument(nid, "causal", True)
    with pytest.raises(GraphError, match="no call argument 'training'"):
        doc.set_call_argument(nid, "training", True)
    assert doc.set_call_argument(nid, "use_causal_mask", None) is True
    assert doc.nodes[nid].call == {"layout": [2, []]}  # removed, the layout stays
