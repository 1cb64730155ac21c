"""The plain records the graph document is made of (no behaviour, no Qt).

``NodeData`` and ``Edge`` are the document's data; ``NodeState``, ``Problem`` and
``Fix`` are the results of validation; ``Snapshot`` is what an undo command keeps;
``GraphEvent`` is what observers receive.

>>> e = Edge("n1", "n2", 0)
>>> e
Edge(src='n1', dst='n2', dst_port=0)
>>> NodeState((None, 10), None, 1290).ok
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class GraphError(ValueError):
    """An edit the document refuses (the message is the reason, fit for a status bar),
    or ``build_model`` on a document that still has errors."""


@dataclass
class NodeData:
    """One layer on the canvas.

    ``type`` is the registry class name (``"Conv2D"``), ``config`` holds the layer's
    Keras constructor arguments in JSON form (lists, not tuples), ``name`` is the Keras
    layer name (unique in the document), ``pos`` the canvas position of its top-left,
    ``group`` the name of the nested model it belongs to ("" = the outer model; see
    ``core.graph.groups``); ``call`` the recorded call arguments and ``shares`` the id
    of the node whose layer this node calls again (see ``core.graph.calls``).
    """

    id: str
    type: str
    config: dict
    pos: tuple[float, float] = (0.0, 0.0)
    name: str = ""
    group: str = ""
    call: dict = field(default_factory=dict)
    shares: str = ""


def copy_json(value):
    """A deep copy of plain JSON-like data (dicts, lists, scalars); several times faster
    than ``copy.deepcopy``, which matters for 300-node snapshots."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if isinstance(value, tuple):
        return tuple(copy_json(v) for v in value)
    return value


def to_json_form(value):
    """Tuples become lists (recursively) so a config equals itself after a JSON trip.

    >>> to_json_form({"kernel_size": (3, 3), 1: [(2,)]})
    {'kernel_size': [3, 3], '1': [[2]]}
    """
    if isinstance(value, (list, tuple)):
        return [to_json_form(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_form(v) for k, v in value.items()}
    return value


def clone_node(node: NodeData) -> NodeData:
    return NodeData(node.id, node.type, copy_json(node.config), node.pos, node.name,
                    node.group, copy_json(node.call), node.shares)


@dataclass(frozen=True)
class Edge:
    """A wire from ``src``'s only output to input ``dst_port`` of ``dst``.

    For merge layers the ports only order the inputs (gaps are allowed, so that
    ``disconnect`` followed by ``connect`` with the same port restores the order).
    """

    src: str
    dst: str
    dst_port: int = 0


@dataclass(frozen=True)
class NodeState:
    """What validation found for one node.

    ``output_shape`` includes the batch dimension as ``None`` (``None`` when unknown);
    ``error`` is a sentence or ``None``; ``param_count`` is ``None`` when unknown;
    ``weight_shapes`` is ``((weight name, shape), ...)`` in Keras order, as built;
    ``mask`` is the name of the layer whose Keras mask rides on this output (Embedding
    with mask_zero, Masking, propagated by layers that keep it), or ``None``.
    """

    output_shape: tuple | None
    error: str | None
    param_count: int | None
    weight_shapes: tuple = field(default=(), repr=False)
    mask: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Fix:
    """A one-click repair. ``apply(doc)`` performs it as a single document operation;
    ``doc.snapshot()`` taken before and ``doc.restore_state(s)`` undo it."""

    label: str
    apply: Callable[[Any], None] = field(compare=False)


@dataclass(frozen=True)
class Problem:
    """A message for the problems list. ``severity`` is ``"error"`` (blocks training)
    or ``"warning"`` (valid Keras, but probably not what was meant)."""

    node_id: str | None
    message: str
    fixes: tuple[Fix, ...] = ()
    severity: str = "error"


@dataclass(frozen=True)
class Snapshot:
    """Nodes and edges taken out of the document (by ``remove_nodes``) or the whole
    document state (``doc.snapshot()``, then ``full=True``)."""

    nodes: tuple[NodeData, ...]
    edges: tuple[Edge, ...]
    full: bool = False
    extra: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class GraphEvent:
    """Sent to subscribers after an edit, once node states are up to date.

    ``kind``: ``nodes_added``, ``nodes_removed``, ``nodes_moved``, ``config``,
    ``edges``, ``renamed``, ``training``, ``meta``, ``run`` (a finished run entered the
    history, ``add_run``) or ``reset``. ``node_ids``: the
    nodes the edit touched; ``changed_states``: every node whose ``NodeState`` changed
    (downstream nodes included), so a view can refresh exactly those.
    """

    kind: str
    node_ids: tuple[str, ...] = ()
    changed_states: tuple[str, ...] = ()
