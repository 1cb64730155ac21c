"""``.nwproj`` project files: one JSON document, written atomically, read strictly.

Layout (``schema_version`` 1)::

    {"format": "netweaver-project", "schema_version": 1,
     "meta": {...}, "training": {...}, "next_id": 7,
     "nodes": [{"id": "n1", "type": "InputLayer", "name": "input_layer",
                "config": {...}, "pos": [0.0, 0.0]}, ...],
     "edges": [{"src": "n1", "dst": "n2", "dst_port": 0}, ...],
     "history": [{...per-run metrics...}],
     "run_states": {"Run 3": {"network": {...}, "weights": {...}, "last_weights": null}},
     "weights": null | {"encoding": "base64-raw-le", "layers": {"dense": [
                        {"dtype": "float32", "shape": [784, 10], "data": "<b64>"}, ...]}}}

Weights are raw little-endian bytes (``core.graph.project_weights``): nothing is ever
unpickled or evaluated. Loading checks everything (weights fit the network too), so a
bad file raises ``ProjectFileError`` and changes nothing.

>>> save_project(doc, "net.nwproj", weights={"dense": [kernel, bias]})   # doctest: +SKIP
>>> doc, weights = load_project("net.nwproj")                            # doctest: +SKIP
"""

from __future__ import annotations

import copy
import inspect
import json
import math
from pathlib import Path

import numpy as np

from core import safety, safety_writes
from core.graph.calls import parse_call
from core.graph.datatypes import Edge, NodeData
from core.graph.document import GraphDocument
from core.graph.groups import parse_groups
from core.graph.project_weights import encode_weights, read_weights
from core.graph.run_states import encode_run_states, read_run_states
from core.graph.settings import TrainingSettings
from core.layers.spec import check

FORMAT = "netweaver-project"
SCHEMA_VERSION = 1
# what every Keras layer takes (core.layers.base); a model opened from a .keras file
# carries activity_regularizer on any layer, a Flatten too
_BASE_KEYS = {"trainable", "dtype", "activity_regularizer"}


class ProjectFileError(ValueError):
    """A project file that cannot be read or written; the message names the file."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# ------------------------------------------------------------------- to JSON

def _plain(value):
    """JSON-safe copy: numpy scalars/arrays to Python, NaN/inf to null (a run that
    diverged still saves), tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def document_to_dict(doc: GraphDocument) -> dict:
    """The JSON-ready form of ``doc`` (a deep copy: later edits do not change it)."""
    return copy.deepcopy({
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "meta": _plain(doc.meta),
        "training": doc.training.to_dict(),
        "next_id": doc._next_id,
        "nodes": [{"id": n.id, "type": n.type, "name": n.name, "config": n.config,
                   "pos": [float(n.pos[0]), float(n.pos[1])],
                   **({"group": n.group} if n.group else {}),
                   **({"call": n.call} if n.call else {}),  # calls.py: call arguments,
                   **({"shares": n.shares} if n.shares else {})}  # and shared layers
                  for n in doc.nodes.values()],
        **({"groups": doc.groups} if doc.groups else {}),  # nested models (groups.py)
        "edges": [{"src": e.src, "dst": e.dst, "dst_port": e.dst_port} for e in doc.edges],
        "history": _plain(doc.history),
    })


def _atomic_write_text(path: Path, text: str) -> None:
    """Atomic, mode-keeping, symlink-following write (see ``core.safety_writes``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    safety_writes.atomic_write(path, lambda f: f.write(data))


def _write(doc: GraphDocument, path, weights, extra=None) -> None:
    path = Path(path)
    data = document_to_dict(doc)
    data.update(extra or {})
    try:
        data["weights"] = None if weights is None else encode_weights(weights)
        kept = encode_run_states(doc)  # what each recent run needs to be restored
        if kept is not None:
            data["run_states"] = kept
        text = json.dumps(data, indent=1, allow_nan=False)
        _atomic_write_text(path, text)
    except (OSError, ValueError, TypeError) as exc:
        raise ProjectFileError(path, f"cannot be saved: {exc}") from exc


def save_project(doc: GraphDocument, path, weights=None) -> None:
    """Write ``doc`` (and ``weights``, else ``doc.weights``) to ``path`` atomically."""
    weights = doc.weights if weights is None else weights
    _write(doc, path, weights)
    doc.path = str(path)


# ------------------------------------------------------------------ from JSON

def _allowed_keys(cls) -> set:
    keys = {p.name for p in getattr(cls, "params", ())} | _BASE_KEYS
    try:
        sig = inspect.signature(cls.__init__)
        keys |= {n for n, p in sig.parameters.items()
                 if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    except (TypeError, ValueError):
        pass
    return keys - {"name"}


def _parse_nodes(doc: GraphDocument, items) -> list[NodeData]:
    if not isinstance(items, list):
        raise ValueError("'nodes' is not a list")
    nodes, ids, names = [], set(), set()
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"node #{k} is not an object")
        nid, type_name, name = item.get("id"), item.get("type"), item.get("name")
        config, pos = item.get("config"), item.get("pos")
        if not isinstance(nid, str) or not nid or nid in ids:
            raise ValueError(f"node #{k} has a missing or duplicate id {nid!r}")
        if not isinstance(name, str) or not name or "/" in name or name in names:
            raise ValueError(f"node {nid} has a missing, invalid or duplicate name {name!r}")
        if not isinstance(type_name, str):
            raise ValueError(f"node {nid} has no layer type")
        try:
            cls = doc.layer_class(type_name)
        except ValueError as exc:
            raise ValueError(f"node {nid} ('{name}'): {exc}") from None
        if not isinstance(config, dict):
            raise ValueError(f"node {nid} ('{name}') has no config object")
        unknown = sorted(set(config) - _allowed_keys(cls))
        if unknown:
            raise ValueError(f"node {nid} ('{name}'): {type_name} has no argument(s) {unknown}")
        for p in getattr(cls, "params", ()):
            if config.get(p.name) is not None:
                try:
                    check(name, p, config[p.name])
                except ValueError as exc:
                    raise ValueError(f"node {nid}: {exc}") from None
        if not (isinstance(pos, list) and len(pos) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                for v in pos)):
            raise ValueError(f"node {nid} ('{name}') has a bad position {pos!r}")
        full = doc.default_config(type_name)
        full.update(config)
        call = parse_call(item.get("call"), f"node {nid} ('{name}')")
        ids.add(nid)
        names.add(name)
        nodes.append(NodeData(nid, type_name, full, (float(pos[0]), float(pos[1])), name,
                              call=call, shares=item.get("shares", "")))
    by_id = {n.id: n for n in nodes}
    for n in nodes:  # a shared layer's calls: same type and config as the owner's
        if n.shares and not (isinstance(n.shares, str) and n.shares in by_id
                             and n.shares != n.id and not by_id[n.shares].shares
                             and by_id[n.shares].type == n.type
                             and by_id[n.shares].config == n.config):
            raise ValueError(f"node {n.id} ('{n.name}') shares {n.shares!r}, which is not a "
                             f"{n.type} node of the same config that owns its layer")
    return nodes


def _parse_edges(items, ids: set) -> list[Edge]:
    if not isinstance(items, list):
        raise ValueError("'edges' is not a list")
    edges, ports = [], set()
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"edge #{k} is not an object")
        src, dst, port = item.get("src"), item.get("dst"), item.get("dst_port", 0)
        if not isinstance(src, str) or not isinstance(dst, str) or src not in ids or \
                dst not in ids:
            raise ValueError(f"edge #{k} ({src!r} -> {dst!r}) names a node that does not exist")
        if isinstance(port, bool) or not isinstance(port, int) or port < 0:
            raise ValueError(f"edge #{k} has a bad input port {port!r}")
        if (dst, port) in ports:
            raise ValueError(f"edge #{k}: input port {port} of {dst!r} is wired twice")
        ports.add((dst, port))
        edges.append(Edge(src, dst, port))
    return edges


def document_from_dict(data, registry=None, source="<memory>") -> GraphDocument:
    """Check ``data`` completely, then build the document (raises ``ProjectFileError``)."""
    try:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"is not a Netweaver project (no \"format\": \"{FORMAT}\")")
        version = data.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(f"has an invalid schema_version {version!r}")
        if version > SCHEMA_VERSION:
            raise ValueError(f"was written by a newer Netweaver (schema_version {version}); "
                             f"this version reads up to {SCHEMA_VERSION}. Please update.")
        doc = GraphDocument(registry=registry)
        nodes = _parse_nodes(doc, data.get("nodes", []))
        edges = _parse_edges(data.get("edges", []), {n.id for n in nodes})
        member_of = {i.get("id"): i.get("group", "") for i in data.get("nodes", [])}
        groups = parse_groups(data.get("groups"), nodes, member_of)
        for n in nodes:
            n.group = member_of.get(n.id, "")
        training = TrainingSettings.from_dict(data.get("training", {}))
        meta = data.get("meta", {})
        if not isinstance(meta, dict):
            raise ValueError("'meta' is not an object")
        history = data.get("history", [])
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise ValueError("'history' is not a list of objects")
        next_id = data.get("next_id", 1)
        if isinstance(next_id, bool) or not isinstance(next_id, int) or next_id < 1:
            raise ValueError(f"has a bad next_id {next_id!r}")
    except ValueError as exc:
        raise ProjectFileError(source, str(exc)) from None
    for n in nodes:
        doc._insert(n)
    for e in edges:
        doc._link(e)
    doc.meta, doc.training, doc.history = dict(meta), training, list(history)
    doc.groups = groups
    doc._next_id = max(doc._next_id, next_id)
    doc.revalidate_all()
    return doc


MAX_DEPTH = 64  # our own files nest ~8 deep; more cannot be saved again safely


def _read_json(path: Path):
    """The parsed JSON of a project file, refusing non-regular files, files too large
    for memory, NaN/Infinity and nesting past ``MAX_DEPTH`` (all ``ProjectFileError``)."""
    def fail(message):
        return ProjectFileError(path, message.split(": ", 1)[-1] if
                                message.startswith(str(path)) else message)

    try:
        with safety.open_regular(path, ValueError, "project file") as f:
            raw = safety.read_bounded(f, safety.memory_budget() // 8, path, ValueError,
                                      "the project file")
    except (ValueError, OSError) as exc:
        raise ProjectFileError(path, "cannot be read: " + str(fail(str(exc)).problem)) \
            from None
    try:
        return safety.loads_json(raw, MAX_DEPTH)
    except ValueError as exc:
        raise fail(str(exc)) from None


def load_project(path, registry=None) -> tuple[GraphDocument, dict | None]:
    """Read a ``.nwproj``; returns ``(doc, weights)`` (weights: name -> arrays, or None)."""
    path = Path(path)
    data = _read_json(path)
    doc = document_from_dict(data, registry=registry, source=path)
    weights = None
    if data.get("weights") is not None:
        try:
            weights = read_weights(doc, data["weights"])
        except ValueError as exc:
            raise ProjectFileError(path, str(exc)) from None
    try:
        doc.run_states = read_run_states(doc, data.get("run_states"))  # absent: older file
    except ValueError as exc:
        raise ProjectFileError(path, f"{exc}. Nothing was loaded.") from None
    doc.weights = weights
    doc.path = str(path)
    if "recovery_of" in data:
        # An autosave reopens as the project it protects (Save goes back there) only when
        # it is that project's own recovery file: a recorded origin never picks the target.
        from core.graph.recovery import _NOT_RECOVERY, _UNTITLED, _checked_origin
        doc.path = None
        origin = _checked_origin(path, data["recovery_of"])
        if origin is not _NOT_RECOVERY:
            doc.path = origin
            if origin is None:
                doc.recovery_token = path.stem[len(_UNTITLED):]
    return doc, weights


# Autosave files (``core.graph.recovery``) are project files too; their functions stay
# reachable here, where the app and older code look for them.
from core.graph.recovery import (  # noqa: E402
    clear_recovery,
    find_recoveries,
    find_recovery,
    recovery_origin,
    recovery_path,
    state_dir,
    write_recovery,
)

__all__ = ["FORMAT", "SCHEMA_VERSION", "ProjectFileError", "clear_recovery",
           "document_from_dict", "document_to_dict", "find_recoveries", "find_recovery",
           "load_project", "recovery_origin", "recovery_path", "save_project", "state_dir",
           "write_recovery"]
