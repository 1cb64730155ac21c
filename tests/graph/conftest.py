"""Fixtures for the graph document tests: the engine's layers, an isolated state dir."""

import json

import pytest

import core.layers  # noqa: F401 - registers the engine's layers
from core.graph import GraphDocument
from core.graph.project_file import document_from_dict, document_to_dict
from core.layers.spec import registered_layers


@pytest.fixture(autouse=True)
def _isolated_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWEAVER_STATE_DIR", str(tmp_path / "state"))


def require_layers(*names):
    missing = [n for n in names if n not in registered_layers()]
    if missing:
        pytest.skip(f"engine layers not available yet: {missing}")


def require_models():
    try:
        from core.models import Model  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"core.models not available yet ({exc})")


def json_trip(doc):
    """The document after a save/load through JSON text (no file)."""
    return document_from_dict(json.loads(json.dumps(document_to_dict(doc))))


def chain(doc, specs, start=None):
    ids, prev = [], start
    for type_name, config in specs:
        nid = doc.add_node(type_name, config)
        if prev is not None:
            doc.connect(prev, nid)
        ids.append(nid)
        prev = nid
    return ids


@pytest.fixture
def doc():
    return GraphDocument()
