"""``GraphDocument``: the network being edited, as plain data plus live validation.

Every edit method is one undo command's *redo* and returns what its inverse needs
(``add_node`` -> id, ``remove_nodes`` -> ``Snapshot`` for ``restore``, ``set_config``
-> old value, ``move_nodes`` -> old positions, ``connect`` -> ``Edge`` for
``disconnect``, ``rename_node`` -> old name). Invalid edits raise ``GraphError`` and
leave the document unchanged. After each edit the changed nodes and their
descendants are re-inferred (see ``validate.py``) and subscribers get a
``GraphEvent``.

>>> doc = GraphDocument()
>>> i = doc.add_node("InputLayer", {"shape": [784]})
>>> d = doc.add_node("Dense", {"units": 10, "activation": "softmax"})
>>> doc.connect(i, d)
Edge(src='n1', dst='n2', dst_port=0)
>>> doc.state(d)
NodeState(output_shape=(None, 10), error=None, param_count=7850)
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from core.backend import to_snake_case
from core.graph import fixes as _fixes
from core.graph.calls import share_set, with_argument
from core.graph.datatypes import (
    Edge,
    GraphError,
    GraphEvent,
    NodeData,
    NodeState,
    Snapshot,
    clone_node,
    copy_json,
    to_json_form,
)
from core.graph.run_history import RunHistoryMixin
from core.graph.settings import TrainingSettings
from core.graph.snapshots import SnapshotMixin
from core.graph.validate import UNKNOWN, ShapeInferer, revalidate
from core.graph.wiring import WiringMixin
from core.layers.spec import check, get_layer_class, registered_layers

_engine_layers_loaded = False


def _load_engine_layers() -> None:
    """Import ``core.layers`` (which registers every layer) once, on first use, so that
    importing the document stays cheap and free of import cycles."""
    global _engine_layers_loaded
    if not _engine_layers_loaded:
        import core.layers  # noqa: F401
        _engine_layers_loaded = True


def default_name(type_name: str) -> str:
    """Keras' base layer name for a class: ``Conv2D`` -> ``conv2d``."""
    return to_snake_case(type_name)


class GraphDocument(WiringMixin, SnapshotMixin, RunHistoryMixin):
    """Nodes, edges, meta, training settings and run history of one project."""

    def __init__(self, registry=None):
        # ``registry``: a ``{type name: class}`` mapping; None means the engine's own.
        self._registry = registry
        self.nodes: dict[str, NodeData] = {}
        self.edges: list[Edge] = []
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.meta: dict = {"name": "Untitled", "description": "", "created": now}
        self.training = TrainingSettings()
        self.history: list[dict] = []  # one dict per finished run: {"epochs": [...], ...}
        self.weights: dict | None = None  # layer name -> list of arrays (Keras order)
        self.run_states: dict = {}  # run name -> network + weights (core.graph.run_states)
        self.path: str | None = None
        self.data_info: tuple | None = None  # (input_shape, num_classes), from the data panel
        self.data_warnings: tuple = ()  # data problems found at import (Problems list)
        self.groups: dict[str, dict] = {}  # nested models (core.graph.groups)
        self._next_id = 1
        self._in: dict[str, list[Edge]] = {}
        self._out: dict[str, list[Edge]] = {}
        self._states: dict[str, NodeState] = {}
        self._inferer = ShapeInferer(self.layer_class)
        self._subscribers: list = []
        self._batch: list | None = None  # [dirty set, touched set] while batching
        self._problems = None

    # ------------------------------------------------------------------ registry
    def layer_class(self, type_name: str) -> type:
        if self._registry is not None:
            try:
                return self._registry[type_name]
            except KeyError:
                raise ValueError(f"Unknown layer type {type_name!r}. Known layers: "
                                 f"{', '.join(sorted(self._registry))}.") from None
        _load_engine_layers()
        return get_layer_class(type_name)

    def layer_types(self) -> dict[str, type]:
        if self._registry is not None:
            return dict(self._registry)
        _load_engine_layers()
        return registered_layers()

    def _param(self, cls, key):
        for p in getattr(cls, "params", ()):
            if p.name == key:
                return p
        return None

    # ------------------------------------------------------------------- queries
    def state(self, node_id: str) -> NodeState:
        if node_id not in self.nodes:
            raise GraphError(f"No node {node_id!r} in the document.")
        return self._states.get(node_id, UNKNOWN)

    def problems(self) -> list:
        if self._problems is None:
            self._problems = _fixes.compute_problems(self)
        return list(self._problems)

    def inputs_of(self, node_id: str) -> list[Edge]:
        """Wires into ``node_id`` in port order."""
        return sorted(self._in.get(node_id, ()), key=lambda e: e.dst_port)

    def outputs_of(self, node_id: str) -> list[Edge]:
        return list(self._out.get(node_id, ()))

    def node_by_name(self, name: str) -> NodeData | None:
        for n in self.nodes.values():
            if n.name == name:
                return n
        return None

    def unique_name(self, base: str) -> str:
        used = {n.name for n in self.nodes.values()}
        if base not in used:
            return base
        i = 1
        while f"{base}_{i}" in used:
            i += 1
        return f"{base}_{i}"

    # ------------------------------------------------------------------ observers
    def subscribe(self, fn):
        """Call ``fn(event)`` after every change; returns a function that unsubscribes."""
        self._subscribers.append(fn)
        return lambda: self.unsubscribe(fn)

    def unsubscribe(self, fn) -> None:
        if fn in self._subscribers:
            self._subscribers.remove(fn)

    def _changed(self, kind: str, node_ids=(), dirty=()) -> None:
        self._problems = None
        if self._batch is not None:
            self._batch[0].update(dirty)
            self._batch[1].update(node_ids)
            return
        changed = revalidate(self, set(dirty)) if dirty else set()
        event = GraphEvent(kind, tuple(node_ids), tuple(sorted(changed)))
        for fn in list(self._subscribers):
            fn(event)

    # ---------------------------------------------------------------- node edits
    def _new_id(self) -> str:
        while f"n{self._next_id}" in self.nodes:
            self._next_id += 1
        nid = f"n{self._next_id}"
        self._next_id += 1
        return nid

    def _check_name(self, name, exclude=None) -> str:
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise GraphError(f"Layer name {name!r} is invalid: use a non-empty name "
                             "without '/'.")
        other = self.node_by_name(name)
        if other is not None and other.id != exclude:
            raise GraphError(f"The name {name!r} is already used by another layer.")
        if name in self.groups:
            raise GraphError(f"The name {name!r} is already used by a nested model.")
        return name

    def _check_pos(self, pos):
        try:
            x, y = (float(pos[0]), float(pos[1]))
        except (TypeError, ValueError, IndexError, KeyError):
            raise GraphError(f"Position {pos!r} is invalid; expected (x, y).") from None
        if len(pos) != 2 or not (math.isfinite(x) and math.isfinite(y)):
            raise GraphError(f"Position {pos!r} is invalid; expected two finite numbers.")
        return (x, y)

    def default_config(self, type_name: str) -> dict:
        cls = self.layer_class(type_name)
        return {p.name: to_json_form(p.default) for p in getattr(cls, "params", ())}

    def add_node(self, type, config=None, pos=(0, 0), node_id=None, name=None) -> str:
        try:
            cls = self.layer_class(type)
        except ValueError as exc:
            raise GraphError(str(exc)) from None
        full = self.default_config(type)
        label = name if name is not None else self.unique_name(default_name(type))
        self._check_name(label)
        draft = NodeData("", type, full, (0.0, 0.0), label)
        for key, value in (config or {}).items():
            if self._param(cls, key) is None:
                raise GraphError(f"{type} has no argument {key!r}; its arguments are "
                                 f"{', '.join(p.name for p in cls.params)}.")
            full[key] = self._validated(draft, key, value)
        if node_id is not None and (not isinstance(node_id, str) or not node_id
                                    or node_id in self.nodes):
            raise GraphError(f"Node id {node_id!r} is invalid or already in use.")
        xy = self._check_pos(pos)
        nid = node_id or self._new_id()
        self._insert(NodeData(nid, type, full, xy, label))
        self._changed("nodes_added", [nid], [nid])
        return nid

    def _insert(self, node: NodeData) -> None:
        self.nodes[node.id] = node
        self._in.setdefault(node.id, [])
        self._out.setdefault(node.id, [])
        m = re.fullmatch(r"n(\d+)", node.id)
        if m:
            self._next_id = max(self._next_id, int(m.group(1)) + 1)

    def remove_nodes(self, ids) -> Snapshot:
        ids = list(dict.fromkeys(ids))
        missing = [i for i in ids if i not in self.nodes]
        if missing:
            raise GraphError(f"No node(s) {missing} in the document.")
        gone = set(ids)
        edges = [e for e in self.edges if e.src in gone or e.dst in gone]
        order = {nid: k for k, nid in enumerate(self.nodes)}
        # Where things were, so that restore puts them back in the same order
        # (document order decides the order of a built model's inputs and outputs).
        where = {"nodes": [order[i] for i in ids],
                 "edges": [self.edges.index(e) for e in edges]}
        snap = Snapshot(tuple(clone_node(self.nodes[i]) for i in ids), tuple(edges),
                        extra=where)
        for e in edges:
            self._unlink(e)
        for i in ids:
            del self.nodes[i]
            self._in.pop(i, None)
            self._out.pop(i, None)
        downstream = {e.dst for e in edges if e.dst not in gone}
        self._changed("nodes_removed", ids, gone | downstream)
        return snap

    def move_nodes(self, positions: dict) -> dict:
        new = {}
        for nid, pos in positions.items():
            if nid not in self.nodes:
                raise GraphError(f"No node {nid!r} in the document.")
            new[nid] = self._check_pos(pos)
        old = {nid: self.nodes[nid].pos for nid in new}
        for nid, xy in new.items():
            self.nodes[nid].pos = xy
        self._changed("nodes_moved", list(new))
        return old

    def set_config(self, node_id: str, key: str, value):
        node = self.nodes.get(node_id)
        if node is None:
            raise GraphError(f"No node {node_id!r} in the document.")
        value = self._validated(node, key, value)
        old = node.config.get(key)
        # Every call of a shared layer is the same layer: one config for them all.
        ids = share_set(self, node_id)
        for nid in ids:
            self.nodes[nid].config[key] = copy_json(value)
        self._changed("config", ids, ids)
        return old

    def set_call_argument(self, node_id: str, key: str, value):
        """Set a recorded call argument (``core.graph.calls``; None removes it) of
        ``node_id``; returns the old value (None when it was not set)."""
        node = self.nodes.get(node_id)
        if node is None:
            raise GraphError(f"No node {node_id!r} in the document.")
        new = with_argument(self, node, key, value)
        old = (node.call or {}).get("kwargs", {}).get(key)
        node.call = new
        self._changed("config", [node_id], [node_id])
        return old

    def _validated(self, node: NodeData, key: str, value):
        """``value`` normalised for ``node.config[key]``, or ``GraphError`` with the reason."""
        cls = self.layer_class(node.type)
        p = self._param(cls, key)
        if p is None and key not in node.config:
            raise GraphError(f"{node.type} '{node.name}' has no argument {key!r}; its "
                             f"arguments are {', '.join(q.name for q in cls.params)}.")
        # None is "not set yet" for an argument without a default (a fresh Dense's
        # units): allowed, so that undo can return to the state the node was added in.
        unset = value is None and p is not None and p.default is None
        try:
            if p is not None and not unset:
                value = check(node.name, p, value)
        except ValueError as exc:
            raise GraphError(str(exc)) from None
        value = to_json_form(value)
        if not unset:
            # Values only the layer itself can judge (activation or initializer names):
            # refuse when the layer rejects the new config and did not reject the old.
            trial = NodeData(node.id, node.type, {**node.config, key: value}, node.pos,
                             node.name)
            reason = self._construct_error(trial)
            other = re.search(r"argument (\w+)=None is invalid", reason or "")
            if other is not None and other.group(1) != key:
                reason = None  # another argument is still unset: that is the node's error
            if reason is not None and reason != self._construct_error(node):
                raise GraphError(reason)
        return value

    def _construct_error(self, node: NodeData) -> str | None:
        try:
            self._inferer.make_layer(node)
        except Exception as exc:  # noqa: BLE001 - the message is what we report
            return str(exc) or type(exc).__name__
        return None

    def rename_node(self, node_id: str, name: str) -> str:
        node = self.nodes.get(node_id)
        if node is None:
            raise GraphError(f"No node {node_id!r} in the document.")
        self._check_name(name, exclude=node_id)
        old, node.name = node.name, name
        self._changed("renamed", [node_id], [node_id])
        return old

    # ------------------------------------------------------ settings and meta
    def set_training(self, **changes) -> dict:
        """Validated update of ``training``; returns the old values for undo."""
        try:
            new = self.training.replaced(**changes)
        except ValueError as exc:
            raise GraphError(str(exc)) from None
        old = {k: getattr(self.training, k) for k in changes}
        self.training = new
        self._changed("training")
        return old

    def set_meta(self, **changes) -> dict:
        for k, v in changes.items():
            if not isinstance(k, str) or not isinstance(v, (str, int, float, bool, type(None))):
                raise GraphError(f"Meta value {k}={v!r} is invalid; expected plain text.")
        old = {k: self.meta.get(k) for k in changes}
        self.meta.update(changes)
        self._changed("meta")
        return old

    def set_data_source(self, dataset: str, **meta) -> tuple[dict, dict]:
        """The data panel's one edit: ``training.dataset`` and the data's meta settings
        together (one undo step); returns ``(old training, old meta)`` for undo."""
        try:
            new = self.training.replaced(dataset=dataset)
        except ValueError as exc:
            raise GraphError(str(exc)) from None
        for k, v in meta.items():
            if not isinstance(v, (str, int, float, bool, type(None))):
                raise GraphError(f"Meta value {k}={v!r} is invalid; expected plain text.")
        old = ({"dataset": self.training.dataset}, {k: self.meta.get(k) for k in meta})
        self.training = new
        for k, v in meta.items():  # None: the entry was absent (undo removes it again)
            if v is None:
                self.meta.pop(k, None)
            else:
                self.meta[k] = v
        self._changed("training")
        return old

    def set_data_info(self, input_shape, num_classes, warnings=()) -> None:
        """What the chosen data set looks like (drives the data-related problems/fixes);
        ``warnings``: the data problems found at import (shown in the Problems list)."""
        shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        classes = None if num_classes is None else int(num_classes)
        self.data_info = None if shape is None and classes is None else (shape, classes)
        self.data_warnings = tuple(str(w) for w in warnings)
        self._changed("training")

    def fix_input_shape_from_data(self, shape, node_id=None):
        """Set the (only, or given) InputLayer's shape to the data set's sample shape."""
        inputs = [n.id for n in self.nodes.values()
                  if getattr(self.layer_class(n.type), "num_inputs", 1) == 0]
        if node_id is None:
            if len(inputs) != 1:
                raise GraphError(f"Expected exactly one InputLayer to set the data shape on, "
                                 f"found {len(inputs)}.")
            node_id = inputs[0]
        elif node_id not in inputs:
            raise GraphError(f"Node {node_id!r} is not an InputLayer.")
        return self.set_config(node_id, "shape", [int(d) for d in shape])

    # ---------------------------------------------------------------- bridges
    def build_model(self):
        from core.graph.build import build_model
        return build_model(self)

    @classmethod
    def from_model(cls, model, registry=None) -> GraphDocument:
        from core.graph.build import document_from_model
        return document_from_model(model, cls(registry=registry))

    def to_dict(self) -> dict:
        from core.graph.project_file import document_to_dict
        return document_to_dict(self)
