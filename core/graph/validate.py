"""Shape inference and error finding for the graph document, incrementally.

Each node's output shape comes from the engine itself: a fresh layer is built from
the node's config (with the node's name, so messages name it) and called on a
symbolic ``KerasTensor`` of the inferred input shape, which runs the layer's own
``build``, input checks and ``compute_output_shape``. Results are cached by
(type, name, config, input shapes), so an edit only pays for nodes whose inputs or
config really changed. Weights made during inference are uninitialised
(``np.empty``): no memory is touched for big kernels and the initializers' random
stream is not advanced, so inference never changes what a seeded training run does.
A weight the real build could not allocate (``core.safety.check_weight``) is an error
on its node.

>>> from core.graph import GraphDocument
>>> doc = GraphDocument()
>>> i = doc.add_node("InputLayer", {"shape": [4]})
>>> doc.state(i).output_shape
(None, 4)
"""

from __future__ import annotations

import inspect
import json

import numpy as np

from core import safety
from core.graph.calls import call_of, check_shared, extra_inputs, owner, secondary_calls
from core.graph.cycles import strongly_connected
from core.graph.datatypes import NodeData, NodeState
from core.layers.node import KerasTensor
from core.variables import Variable

_CACHE_LIMIT = 20000
UNKNOWN = NodeState(None, None, None)


def _shadow_add_weight(layer):
    """An ``add_weight`` for inference only: right shapes, no initializer draws."""

    def add_weight(shape, initializer="glorot_uniform", dtype=None, trainable=True,
                   name=None, regularizer=None, constraint=None, **_ignored):
        dt = np.dtype(dtype or layer.dtype)
        # Nothing is touched here, but the real build would be: say so on the node now.
        safety.check_weight(layer.name, name or "variable", shape, dt)
        var = Variable(np.empty(tuple(int(d) for d in shape), dtype=dt),
                       name=name or "variable", trainable=trainable,
                       path=f"{layer.name}/{name or 'variable'}")
        target = layer._trainable_variables if trainable else layer._non_trainable_variables
        target.append(var)
        return var

    return add_weight


def input_layer_shape(layer) -> tuple:
    """The batch shape an ``InputLayer``-like layer (``num_inputs == 0``) produces."""
    for attr in ("batch_shape", "_batch_shape"):
        shape = getattr(layer, attr, None)
        if shape is not None:
            return tuple(shape)
    out = getattr(layer, "output", None)
    if out is not None and hasattr(out, "shape"):
        return tuple(out.shape)
    raise ValueError(f"Layer '{layer.name}' does not report the shape it produces.")


def _describe(exc: Exception, node: NodeData) -> str:
    if isinstance(exc, (ValueError, TypeError)) and str(exc):
        return str(exc)
    return f"{node.type} '{node.name}' failed: {type(exc).__name__}: {exc}"


class ShapeInferer:
    """Infers one node's ``NodeState`` from its config and input shapes, with a cache."""

    def __init__(self, layer_class):
        self._layer_class = layer_class
        self._cache: dict[tuple, NodeState] = {}
        self.misses = 0

    def make_layer(self, node: NodeData):
        """A fresh layer for ``node`` (raises ``ValueError``/``TypeError`` on bad config)."""
        cls = self._layer_class(node.type)
        return cls(name=node.name, **node.config)

    def infer(self, node: NodeData, input_shapes, input_masks=None) -> NodeState:
        """``input_masks``: per input, the name of the layer whose mask it carries."""
        key = (node.type, node.name, json.dumps(node.config, sort_keys=True, default=repr),
               _freeze(input_shapes), tuple(input_masks or ()),
               json.dumps(node.call, sort_keys=True, default=repr))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        self.misses += 1
        state = self._infer_uncached(node, input_shapes, input_masks)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = state
        return state

    def _infer_uncached(self, node: NodeData, input_shapes, input_masks=None) -> NodeState:
        try:
            layer = self.make_layer(node)
        except Exception as exc:  # noqa: BLE001 - any failure is shown on the node
            return NodeState(None, _describe(exc, node), None)
        layer.add_weight = _shadow_add_weight(layer)
        try:
            if input_shapes is None:
                out_shape = input_layer_shape(layer)
            else:
                if isinstance(input_shapes, list):
                    tensors = [KerasTensor(s, layer.dtype) for s in input_shapes]
                else:
                    tensors = KerasTensor(input_shapes, layer.dtype)
                if node.call:  # called as recorded (core.graph.calls)
                    many = getattr(type(layer), "num_inputs", 1) == "many"
                    args, kwargs = call_of(node.call, tensors if isinstance(tensors, list)
                                           else [tensors], many)
                    out = layer(*args, **kwargs)
                else:
                    out = layer(tensors)
                if isinstance(out, (list, tuple)):
                    return NodeState(None, f"{node.type} '{node.name}' has several outputs; "
                                           "the editor supports one output per layer.", None)
                out_shape = tuple(out.shape)
        except Exception as exc:  # noqa: BLE001
            return NodeState(None, _describe(exc, node), None)
        try:
            count = layer.count_params() if layer.built else 0
        except Exception:  # noqa: BLE001 - a count is nice to have, not required
            count = None
        shapes = tuple((w.name, tuple(w.shape)) for w in layer.weights) if layer.built else ()
        mask = output_mask(layer, tensors if input_shapes is not None else None,
                           list(input_masks or ()))
        return NodeState(tuple(out_shape), None, count, shapes, mask)


def output_mask(layer, tensors, masks: list):
    """The name of the layer whose Keras mask rides on ``layer``'s output, or None
    (the rule is ``core.layers.masks.output_carries_mask``)."""
    from core.layers.masks import output_carries_mask
    creates = getattr(layer, "_creates_masks", None)
    if creates is not None and creates():
        return layer.name
    origin = next((m for m in masks if m), None)
    if origin is None:
        return None
    return origin if output_carries_mask(layer, tensors, [bool(m) for m in masks]) else None


def _freeze(shapes):
    if shapes is None:
        return None
    if isinstance(shapes, list):
        return ("list",) + tuple(tuple(s) for s in shapes)
    return tuple(shapes)


# --------------------------------------------------------------------------- graph pass

def descendants(out_edges: dict, start) -> set:
    """``start`` and every node reachable from it along wires."""
    seen = set(start)
    stack = list(start)
    while stack:
        n = stack.pop()
        for e in out_edges.get(n, ()):
            if e.dst not in seen:
                seen.add(e.dst)
                stack.append(e.dst)
    return seen


def revalidate(doc, dirty) -> set:
    """Re-infer ``dirty`` nodes and everything downstream; return ids whose state changed.

    ``doc`` provides ``nodes``, ``_in``/``_out`` (edges by node), ``_states`` and
    ``_inferer``. Removed nodes in ``dirty`` are dropped from the states.
    """
    states = doc._states
    changed = set()
    for n in [n for n in dirty if n not in doc.nodes]:
        if states.pop(n, None) is not None:
            changed.add(n)
    live = [n for n in dirty if n in doc.nodes]
    # Later calls of a shared layer are checked against its owner's weights.
    affected = descendants(doc._out, live + sorted(secondary_calls(doc, dirty)))
    affected |= descendants(doc._out, sorted(secondary_calls(doc, affected) - affected))
    # Kahn's order inside the affected set; what is left over sits in or after a cycle.
    indeg = {n: sum(1 for e in doc._in.get(n, ()) if e.src in affected) for n in affected}
    ready = sorted(n for n, d in indeg.items() if d == 0)
    order = []
    while ready:
        n = ready.pop()
        order.append(n)
        for e in doc._out.get(n, ()):
            if e.dst in indeg:
                indeg[e.dst] -= 1
                if indeg[e.dst] == 0:
                    ready.append(e.dst)
    new_states = {}
    for n in order:
        new_states[n] = _node_state(doc, n, new_states)
    leftover = affected - set(order)
    if leftover:
        in_cycle = {}
        for comp in strongly_connected(leftover, lambda v: [e.dst for e in doc._out.get(v, ())]):
            names = [doc.nodes[c].name for c in comp]
            for c in comp:
                in_cycle[c] = " -> ".join(names + names[:1])
        for n in leftover:
            name = doc.nodes[n].name
            if n in in_cycle:
                msg = f"'{name}' is part of a cycle ({in_cycle[n]}); remove one of these wires."
            else:
                msg = f"'{name}' receives its input from a cycle."
            new_states[n] = NodeState(None, msg, None)
    for n, s in new_states.items():
        if states.get(n) != s:
            changed.add(n)
        states[n] = s
    # A later call ordered before its owner was checked against the owner's old state.
    pos = {n: k for k, n in enumerate(order)}
    late = [n for n in order if owner(doc, n) != n and pos.get(owner(doc, n), -1) > pos[n]]
    if late:
        changed |= revalidate(doc, late)
    return changed


def _node_state(doc, n: str, fresh: dict) -> NodeState:
    node = doc.nodes[n]
    try:
        cls = doc.layer_class(node.type)
    except ValueError as exc:
        return NodeState(None, str(exc), None)
    edges = sorted(doc._in.get(n, ()), key=lambda e: e.dst_port)
    want = getattr(cls, "num_inputs", 1)
    if want == 0:
        if edges:
            return NodeState(None, f"{node.type} '{node.name}' takes no input, but "
                                   f"{len(edges)} wire(s) lead into it.", None)
        return doc._inferer.infer(node, None)
    if not edges:
        return NodeState(None, f"'{node.name}' has no input.", None)
    extra = extra_inputs(node.call)
    if want != "many" and extra and len(edges) != 1 + extra:
        kinds = ", ".join(f"{n} {k}" for k, n in node.call["tensor_kwargs"].items())
        return NodeState(None, f"{node.type} '{node.name}' is called with its input and "
                               f"{kinds} wire(s) ({1 + extra} in all), but {len(edges)} "
                               "lead into it.", None)
    if want != "many" and len(edges) > 1 + extra:
        srcs = ", ".join(f"'{doc.nodes[e.src].name}'" for e in edges)
        return NodeState(None, f"{node.type} '{node.name}' takes one input but {len(edges)} "
                               f"wires lead into it (from {srcs}); merge them with a "
                               "Concatenate or Add layer.", None)
    shapes, masks = [], []
    for e in edges:
        s = fresh.get(e.src) or doc._states.get(e.src) or UNKNOWN
        if s.output_shape is None:
            return UNKNOWN  # the upstream problem is reported where it starts
        shapes.append(s.output_shape)
        masks.append(s.mask)
    state = doc._inferer.infer(node, shapes if want == "many" or extra else shapes[0], masks)
    own = owner(doc, n)
    if own != n:  # a shared layer's later call: the owner builds (and counts) the weights
        state = check_shared(doc, n, state, fresh.get(own) or doc._states.get(own))
    return state


def wire_mask(doc, src: str, dst: str) -> str | None:
    """A sentence about the Keras mask on the wire ``src -> dst``, or None when the
    wire carries no mask: who made it and what ``dst`` does with it.

    >>> wire_mask(doc, "n2", "n4")                     # doctest: +SKIP
    "Carries the mask made by 'embedding'; 'lstm' uses it."
    """
    origin = doc.state(src).mask
    if origin is None or dst not in doc.nodes:
        return None
    node = doc.nodes[dst]
    try:
        from core.layers.base import Layer
        cls = doc.layer_class(node.type)
        fn = cls.call if getattr(cls, "call", None) is not Layer.call else cls.forward
        uses = "mask" in inspect.signature(fn).parameters
    except (ValueError, TypeError, AttributeError):
        uses = False
    keeps = doc.state(dst).mask == origin
    what = ("uses it and passes it on" if uses and keeps else "uses it" if uses else
            "passes it on" if keeps else "drops it")
    return f"Carries the mask made by '{origin}'; '{node.name}' {what}."
