"""Helpers for the graph document tests."""

import json

import pytest

from core.graph.project_file import document_from_dict, document_to_dict
from core.layers.spec import registered_layers


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
