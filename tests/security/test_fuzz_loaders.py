"""Hypothesis fuzz: mutated valid files (their bytes, and the values inside a ``.keras``
config) for every loader raise only the documented error types (``ModelFileError``,
``ProjectFileError``, ``ValueError`` for data sets), and random document edit sequences
keep a document that saves and reloads. 2,800 cases in CI."""

from __future__ import annotations

import gzip
import json
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core import backend
from core.datasets import load_csv, load_npz, read_idx
from core.graph import GraphDocument
from core.graph import project_file as pf
from core.saving import ModelFileError, load_model, load_weights, save_model, save_weights
from tests.security.helpers import small_model

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
FAST = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                database=None)
_TMP = Path(tempfile.mkdtemp(prefix="nw-fuzz-"))


def _seed_files():
    backend.clear_session()
    model = small_model()
    model.compile(optimizer="adam", loss="mse")
    save_model(model, _TMP / "seed.keras")
    save_weights(model, _TMP / "seed.weights.h5")
    doc = GraphDocument()
    a = doc.add_node("InputLayer", config={"shape": [4]})
    b = doc.add_node("Dense", config={"units": 3})
    doc.connect(a, b)
    pf.save_project(doc, _TMP / "seed.nwproj")
    # A second project with weights, so mutations also reach the weights block and the
    # check that they fit the network.
    pf.save_project(doc, _TMP / "seedw.nwproj", weights={
        doc.nodes[b].name: [np.arange(12, dtype="float32").reshape(4, 3),
                            np.zeros(3, "float32")]})
    np.savez(_TMP / "seed.npz", x=np.arange(12, dtype="float32").reshape(4, 3),
             y=np.arange(4))
    csv = b"a,b,label\n1,2,0\n3,4,1\n5,6,0\n"
    idx = b"\0\0\x08\x01" + struct.pack(">I", 6) + bytes(range(6))
    return {"keras": (_TMP / "seed.keras").read_bytes(),
            "h5": (_TMP / "seed.weights.h5").read_bytes(),
            "nwproj": (_TMP / "seed.nwproj").read_bytes(),
            "nwprojw": (_TMP / "seedw.nwproj").read_bytes(),
            "npz": (_TMP / "seed.npz").read_bytes(), "csv": csv, "csvgz": gzip.compress(csv),
            "idx": idx, "idxgz": gzip.compress(idx)}


SEEDS = _seed_files()
COUNTS: dict[str, int] = {}


@st.composite
def mutated(draw, seed: bytes):
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "dup"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "dup":
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 32))]
    return bytes(data)


def _run(kind, suffix, data, call, allowed):
    """Load ``data``; only ``allowed`` may be raised. Counts cases loaded and refused."""
    counts = COUNTS.setdefault(kind, {"cases": 0, "loaded": 0, "refused": 0})
    counts["cases"] += 1
    path = _TMP / f"case{suffix}"
    path.write_bytes(data)
    backend.clear_session()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call(path)
        except allowed:
            counts["refused"] += 1
            return
    counts["loaded"] += 1


@settings(FAST, max_examples=250)
@given(mutated(SEEDS["keras"]))
def test_fuzz_keras(data):
    _run("keras", ".keras", data, load_model, ModelFileError)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4),
                                                                          c, max_size=3),
                     max_leaves=8)


def _json_nodes(obj, path=()):
    """Every (path, value) inside a parsed JSON document, depth first."""
    yield path, obj
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, list) else ()
    for k, v in items:
        yield from _json_nodes(v, path + (k,))


def _keras_config():
    import zipfile
    with zipfile.ZipFile(_TMP / "seed.keras") as zf:
        return zf.read("config.json")


KERAS_CONFIG = _keras_config()
KERAS_PATHS = [p for p, _ in _json_nodes(json.loads(KERAS_CONFIG)) if p]


@settings(FAST, max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(KERAS_PATHS), _JSON),
                min_size=1, max_size=4))
def test_fuzz_keras_config_values(edits):
    """Values *inside* a well-formed config.json replaced by other JSON (a list for a
    dict, null for an initializer, strings for numbers): only ModelFileError."""
    import io
    import zipfile
    config = json.loads(KERAS_CONFIG)
    for path, value in edits:
        target = config
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this place
    bio = io.BytesIO()
    with zipfile.ZipFile(_TMP / "seed.keras") as src, zipfile.ZipFile(bio, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, json.dumps(config) if name == "config.json" else src.read(name))
    _run("keras-config", ".keras", bio.getvalue(), load_model, ModelFileError)


@settings(FAST, max_examples=250)
@given(mutated(SEEDS["h5"]))
def test_fuzz_weights_h5(data):
    model = small_model()
    _run("h5", ".weights.h5", data, lambda p: load_weights(model, p), ModelFileError)


@settings(FAST, max_examples=500)
@given(st.sampled_from(["nwproj", "nwprojw"]).flatmap(lambda k: mutated(SEEDS[k])))
def test_fuzz_nwproj(data):
    _run("nwproj", ".nwproj", data, pf.load_project, pf.ProjectFileError)


# A case hypothesis found (2026-12-03): a zip entry claiming "version 6.4", for which
# zipfile raises NotImplementedError instead of BadZipFile.
ZIP_VERSION_64 = (
    b'PK\x03\x04-\x00\x00\x00\x00\x00\x00\x00!\x00\x16r\xdc\xa1\xff\xff\xff\xff\xff\xff'
    b'\xff\xff\x05\x00\x14\x00x.npy\x01\x00\x10\x00\xb0\x00\x00\x00\x00\x00\x00\x00\xb0'
    b"\x00\x00\x00\x00\x00\x00\x00\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order"
    b"': False, 'shape': (4, 3), }                                                     "
    b'     \n\x00\x00\x00\x00\x00\x00\x80?\x00\x00\x00@\x00\x00@@\x00\x00\x80@\x00\x00'
    b'\xa0@\x00\x00\xc0@\x00\x00\xe0@\x00\x00\x00A\x00\x00\x10A\x00\x00 A\x00\x000APK'
    b'\x03\x04-\x00\x00\x00\x00\x00\x00\x00!\x00\xc3\xc3\xda\xd1\xff\xff\xff\xff\xff'
    b'\xff\xff\xff\x05\x00\x14\x00y.npy\x01\x00\x10\x00\xa0\x00\x00\x00\x00\x00\x00\x00'
    b"\xa0\x00\x00\x00\x00\x00\x00\x00\x93NUMPY\x01\x00v\x00{'descr': '<i8', 'fortran_o"
    b"rder': False, 'shape': (4,), }                                                   "
    b'         \n\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02'
    b'\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00PK\x01\x02-\x03@\x00'
    b'\x00\x00\x00\x00\x00\x00!\x00\x16r\xdc\xa1\xb0\x00\x00\x00\xb0\x00\x00\x00\x05'
    b'\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00x.npyPK\x01'
    b'\x02-\x03-\x00\x00\x00\x00\x00\x00\x00!\x00\xc3\xc3\xda\xd1\xa0\x00\x00\x00\xa0'
    b'\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\xe7\x00\x00'
    b'\x00y.npyPK\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00f\x00\x00\x00\xbe\x01\x00\x00'
    b'\x00\x00'
)


@settings(FAST, max_examples=400)
@given(mutated(SEEDS["npz"]))
@example(ZIP_VERSION_64)
def test_fuzz_npz(data):
    _run("npz", ".npz", data, load_npz, ValueError)


@settings(FAST, max_examples=400)
@given(st.sampled_from(["csv", "csvgz"]).flatmap(
    lambda k: mutated(SEEDS[k])))
def test_fuzz_csv(data):
    _run("csv", ".csv", data, load_csv, ValueError)


@settings(FAST, max_examples=400)
@given(st.sampled_from(["idx", "idxgz"]).flatmap(lambda k: mutated(SEEDS[k])))
def test_fuzz_idx(data):
    _run("idx", ".idx", data, read_idx, ValueError)


@settings(FAST, max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(["node", "edge", "src", "dst", "config", "meta",
                                           "training", "drop"]),
                          st.integers(0, 5), _JSON), max_size=6))
def test_fuzz_project_document_edits(edits):
    """Random edits of a valid project's JSON: a clear error or a document that saves."""
    counts = COUNTS.setdefault("nwproj-edits", {"cases": 0, "loaded": 0, "refused": 0})
    counts["cases"] += 1
    data = json.loads(SEEDS["nwproj"])
    for what, i, value in edits:
        nodes, edges = data.setdefault("nodes", []), data.setdefault("edges", [])
        if what == "node" and nodes:
            nodes[i % len(nodes)][["id", "type", "name", "pos"][i % 4]] = value
        elif what in ("src", "dst") and edges:
            edges[i % len(edges)][what] = value
        elif what == "edge":
            edges.append({"src": value, "dst": "n2", "dst_port": i})
        elif what == "config" and nodes:
            nodes[i % len(nodes)].setdefault("config", {})["units"] = value
        elif what in ("meta", "training"):
            data[what] = value if i % 2 else {"x": value}
        elif what == "drop" and nodes:
            nodes.pop(i % len(nodes))
    try:
        text = json.dumps(data, allow_nan=True)
    except (TypeError, ValueError):
        return
    path = _TMP / "edit.nwproj"
    path.write_text(text)
    try:
        doc, _ = pf.load_project(path)
    except pf.ProjectFileError:
        counts["refused"] += 1
        return
    counts["loaded"] += 1
    pf.save_project(doc, _TMP / "edit-again.nwproj")  # what opens must save again


def test_report_counts():
    """Not a check: prints how many cases each loader saw (``pytest -s``)."""
    print("fuzz cases:", COUNTS, "total", sum(c["cases"] for c in COUNTS.values()))
    assert all(c["cases"] == c["loaded"] + c["refused"] for c in COUNTS.values())
