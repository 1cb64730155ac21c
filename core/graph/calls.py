"""How a graph node calls its layer: recorded call arguments and shared layers.

``NodeData.call`` keeps what a Keras functional node recorded beyond its wiring, in
JSON form (only non-empty keys)::

    {"kwargs": {"use_causal_mask": true},         # non-tensor call arguments
     "layout": [2, ["key"]],                       # positional / keyword tensor slots
     "tensor_kwargs": {"initial_state": 2}}        # trailing wires passed as key=[...]

The node's wires, in port order, are the call's tensors; ``core.layers.node.
call_arguments`` (the one function saving and code export use too) puts them back
where the call had them, so ``mha(x, x, use_causal_mask=True)`` is rebuilt as that
call, not as ``mha([x, x])``.

``NodeData.shares`` names (by node id) the node whose layer this node calls again: a
Keras shared layer is one layer object with several calls, so the canvas shows one
card per call, each with its own wires, and every card of a set builds the same layer
(one set of weights, counted once). Configs of a set are edited together.

>>> call_of({"kwargs": {"use_causal_mask": True}, "layout": [2, []]}, ["q", "v"], True)
(['q', 'v'], {'use_causal_mask': True})
"""

from __future__ import annotations

import json

from core.graph.datatypes import GraphError
from core.layers.node import call_arguments

_IMPLICIT = ("training", "mask")  # the engine supplies these itself at run time


def call_record(node) -> dict:
    """The ``NodeData.call`` of an engine ``Node``; ``GraphError`` naming the layer and
    the argument when a recorded argument is not plain data (a tensor given outside
    the call's tensor slots)."""
    kwargs = {}
    for k, v in node.call_kwargs.items():
        if k in _IMPLICIT or v is None:
            continue
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            raise GraphError(f"Layer '{node.layer.name}' is called with {k}={v!r}, which a "
                             "graph node cannot hold; the file still trains and exports "
                             "outside the editor (core.saving.load_model, netweaver "
                             "export FILE).") from None
        kwargs[k] = v
    out: dict = {}
    if kwargs:
        out["kwargs"] = kwargs
    layout = getattr(node, "call_layout", None)
    if layout is not None:
        out["layout"] = [int(layout[0]), list(layout[1])]
    tk = getattr(node, "tensor_kwargs", None)
    if tk:
        out["tensor_kwargs"] = {str(k): int(v) for k, v in tk.items()}
    return out


def call_of(call: dict, items, many: bool):
    """``(args, kwargs)`` to call a layer with ``items`` (one per wire, port order)."""
    if not call:  # drawn on the canvas: a merge layer takes its wires as one list
        return ([list(items)] if many else [items[0]]), {}
    layout = call.get("layout")
    return call_arguments(items, many or bool(call.get("tensor_kwargs")),
                          call.get("kwargs"), tuple(layout) if layout else None,
                          call.get("tensor_kwargs"))


def extra_inputs(call: dict) -> int:
    """Wires beyond a one-input layer's own (an RNN's ``initial_state`` tensors)."""
    return sum((call or {}).get("tensor_kwargs", {}).values())


def describe_call(call: dict) -> str:
    """The recorded call in words for the inspector, or "" when there is none.

    >>> describe_call({"kwargs": {"use_causal_mask": True}, "layout": [2, ["key"]]})
    'called with use_causal_mask=True; wires: 2 positional, then key'
    """
    call = call or {}
    parts = [f"{k}={v!r}" for k, v in call.get("kwargs", {}).items()]
    text = f"called with {', '.join(parts)}" if parts else ""
    layout = call.get("layout")
    slots = []
    if layout:
        slots = [f"{layout[0]} positional"] + [n for n in layout[1] if n]
    for k, n in call.get("tensor_kwargs", {}).items():
        slots = slots or ["1 input"]
        slots.append(f"{k} ({n})")
    if len(slots) > 1:
        text += ("; " if text else "") + "wires: " + ", then ".join(slots)
    return text


def with_argument(doc, node, key: str, value) -> dict:
    """``node.call`` with the call argument ``key`` set to ``value`` (None: removed);
    ``GraphError`` when the layer's call takes no such argument or ``value`` is not
    plain data."""
    import inspect

    from core.layers.base import Layer
    cls = doc.layer_class(node.type)
    fn = cls.call if getattr(cls, "call", None) is not Layer.call else cls.forward
    params = inspect.signature(fn).parameters
    if key in _IMPLICIT or key not in params or \
            params[key].kind not in (params[key].POSITIONAL_OR_KEYWORD, params[key].KEYWORD_ONLY):
        raise GraphError(f"{node.type} '{node.name}' has no call argument {key!r}.")
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise GraphError(f"Call argument {key}={value!r} of '{node.name}' is not plain "
                         "data.") from None
    kwargs = dict((node.call or {}).get("kwargs", {}))
    if value is None:
        kwargs.pop(key, None)
    else:
        kwargs[key] = value
    out = {k: v for k, v in (node.call or {}).items() if k != "kwargs"}
    return {**out, "kwargs": kwargs} if kwargs else out


def parse_call(value, where: str) -> dict:
    """A checked ``call`` entry of a project file; ``ValueError`` naming ``where``."""
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - {"kwargs", "layout", "tensor_kwargs"}:
        raise ValueError(f"{where}: 'call' must be an object with kwargs, layout, "
                         "tensor_kwargs")
    out = {}
    kw = value.get("kwargs", {})
    if not isinstance(kw, dict) or not all(isinstance(k, str) for k in kw) or \
            any(k in _IMPLICIT for k in kw):
        raise ValueError(f"{where}: call kwargs must be an object of named arguments")
    if kw:
        out["kwargs"] = kw
    layout = value.get("layout")
    if layout is not None:
        if not (isinstance(layout, list) and len(layout) == 2 and isinstance(layout[0], int)
                and layout[0] >= 0 and isinstance(layout[1], list)
                and all(n is None or isinstance(n, str) for n in layout[1])):
            raise ValueError(f"{where}: call layout must be [positional count, [names]]")
        out["layout"] = [layout[0], list(layout[1])]
    tk = value.get("tensor_kwargs", {})
    if not isinstance(tk, dict) or not all(
            isinstance(k, str) and isinstance(n, int) and 0 < n <= 16 for k, n in tk.items()):
        raise ValueError(f"{where}: call tensor_kwargs must map names to 1..16")
    if tk:
        out["tensor_kwargs"] = dict(tk)
    return out


# ------------------------------------------------------------------ shared layers
def owner(doc, node_id: str) -> str:
    """The node whose layer ``node_id`` calls: itself unless it shares a present node
    of its own type (an owner deleted, or replaced by another kind, leaves a card that
    makes its own layer again)."""
    node = doc.nodes[node_id]
    s = node.shares
    if s and s != node_id and s in doc.nodes and doc.nodes[s].type == node.type:
        return s
    return node_id


def share_set(doc, node_id: str) -> list[str]:
    """Every node calling the same layer as ``node_id`` (itself included), owner first."""
    o = owner(doc, node_id)
    return [o] + [n for n in doc.nodes if n != o and owner(doc, n) == o]


def secondary_calls(doc, ids) -> set:
    """Nodes naming one of ``ids`` (present or just removed) as the owner of their
    layer: their state depends on it."""
    ids = set(ids)
    return {n for n, d in doc.nodes.items() if d.shares and d.shares in ids and n not in ids}


def check_shared(doc, node_id: str, state, owner_state):
    """``state`` of a node calling another node's layer: an error when this call would
    build weights of other shapes than the owner's, else 0 own parameters (the owner
    counts and holds them)."""
    from dataclasses import replace
    if state.error is not None:
        return state
    if owner_state is None or owner_state.error is not None:
        return replace(state, param_count=0, weight_shapes=())
    if owner_state.weight_shapes and state.weight_shapes != owner_state.weight_shapes:
        node, own = doc.nodes[node_id], doc.nodes[owner(doc, node_id)]
        mine = [s for _, s in state.weight_shapes]
        theirs = [s for _, s in owner_state.weight_shapes]
        return replace(state, output_shape=None, param_count=None, error=(
            f"'{node.name}' calls the layer of '{own.name}' again, but its input would "
            f"need weights of shapes {mine}; the layer's are {theirs}."))
    return replace(state, param_count=0, weight_shapes=())
