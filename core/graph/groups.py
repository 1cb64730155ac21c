"""Nested models in the document: group nodes.

A Sequential or functional model used as a layer is kept as a *group*: its layers are
ordinary document nodes whose ``NodeData.group`` is the nested model's name, and
``doc.groups[name]`` says what kind of model it is::

    {"class_name": "Sequential" | "Functional", "parent": "" | outer group name,
     "input_names": [names of the nested model's Input layers]}

Wires run between the leaf nodes (a wire into a group ends at the inner layer that
takes it), so inference, validation and editing see one flat graph, while
``build_scope`` rebuilds the nesting: each group becomes a real ``Sequential`` or
``Model`` called as one layer of its parent, so a saved ``.keras`` holds the same
nested models Keras wrote. A group's inputs are the outside nodes wired into it (in
document order), its outputs the members wired out of it or that end the network.

>>> doc.groups["encoder"] = {"class_name": "Sequential", "parent": "", "input_names": []}
...                                                      # doctest: +SKIP
>>> members(doc, "encoder")                              # doctest: +SKIP
['n2', 'n3']
"""

from __future__ import annotations

from core.graph.datatypes import GraphError

GROUP_CLASSES = ("Sequential", "Functional")


def chain(doc, node_id: str) -> list[str]:
    """The groups ``node_id`` sits in, innermost first (``[]`` at the top level)."""
    out, g = [], doc.nodes[node_id].group
    while g:
        if g in out or g not in doc.groups:
            break  # a broken record: treat the rest as the top level
        out.append(g)
        g = doc.groups[g].get("parent", "")
    return out


def members(doc, group: str) -> list[str]:
    """Every node inside ``group`` (nested groups included), in document order."""
    return [n for n in doc.nodes if group in chain(doc, n)]


def live_groups(doc) -> list[str]:
    """Groups that still hold a node, outermost first."""
    alive = {g for n in doc.nodes for g in chain(doc, n)}
    return sorted(alive, key=lambda g: (_depth(doc, g), g))


def _depth(doc, g) -> int:
    d, seen = 0, set()
    while g and g not in seen and g in doc.groups:
        seen.add(g)
        g = doc.groups[g].get("parent", "")
        d += 1
    return d


def boundary(doc, group: str):
    """``(sources, outputs)`` of ``group``: outside node ids wired in, in first-use
    order, and members whose output leaves the group or ends the network."""
    inside = set(members(doc, group))
    sources = []
    for n in doc.nodes:
        if n in inside:
            for e in doc.inputs_of(n):
                if e.src not in inside and e.src not in sources:
                    sources.append(e.src)
    outputs = [n for n in doc.nodes if n in inside and (
        not doc.outputs_of(n) or any(e.dst not in inside for e in doc.outputs_of(n)))]
    return sources, outputs


def _unit(doc, node_id: str, scope: str):
    """What ``node_id`` is at ``scope``'s level: itself, or the child group holding it."""
    groups = chain(doc, node_id)
    if scope:
        groups = groups[:groups.index(scope)] if scope in groups else groups
    return ("g", groups[-1]) if groups else ("n", node_id)


def build_scope(doc, scope: str, env: dict, make_layer, order: list[str], built: dict):
    """Call every unit (node or child group) of ``scope`` in wiring order, filling
    ``env`` (node id -> tensor); ``env`` holds the tensors of the scope's sources.
    Returns the layers of the scope in call order (a Sequential's layer list)."""
    from core.layers import Input
    from core.models import Model, Sequential

    inside = set(members(doc, scope)) if scope else set(doc.nodes)
    units, seen = [], set()
    for n in order:  # ``order``: a topological order of all nodes
        if n in inside:
            u = _unit(doc, n, scope)
            if u not in seen:
                seen.add(u)
                units.append(u)
    # A group unit may need a tensor made after its first member's turn: delay it
    # until every source is known (the document has no cycles, so this ends).
    layers, pending = [], list(units)
    while pending:
        progressed = False
        for u in list(pending):
            if u[0] == "n":
                ins = [e.src for e in doc.inputs_of(u[1])]
            else:
                ins = boundary(doc, u[1])[0]
            if not all(s in env for s in ins):
                continue
            pending.remove(u)
            progressed = True
            if u[0] == "n":
                layer = make_layer(doc.nodes[u[1]])
                built[u[1]] = layer
                want = getattr(type(layer), "num_inputs", 1)
                if want == 0:
                    env[u[1]] = layer.output
                    continue
                xs = [env[s] for s in ins]
                env[u[1]] = layer(xs if want == "many" else xs[0])
                layers.append(layer)
                continue
            g = u[1]
            info = doc.groups[g]
            sources, outputs = boundary(doc, g)
            names = list(info.get("input_names") or [])
            inner = {}
            for k, s in enumerate(sources):
                shape = doc.state(s).output_shape
                kw = {"name": names[k]} if k < len(names) else {}
                inner[s] = Input(batch_shape=tuple(shape), **kw)
            sub = build_scope(doc, g, inner, make_layer, order, built)
            if info.get("class_name") == "Sequential":
                if len(sources) != 1 or len(outputs) != 1:
                    raise GraphError(f"Nested Sequential '{g}' must take one input and give "
                                     f"one output; it has {len(sources)} and {len(outputs)}.")
                model = Sequential([Input(batch_shape=tuple(doc.state(sources[0]).output_shape),
                                          **({"name": names[0]} if names else {}))] + sub,
                                   name=g)
            else:
                ins_t = [inner[s] for s in sources]
                outs_t = [env_t for env_t in (inner[o] for o in outputs)]
                model = Model(ins_t[0] if len(ins_t) == 1 else ins_t,
                              outs_t[0] if len(outs_t) == 1 else outs_t, name=g)
            built[("g", g)] = model
            xs = [env[s] for s in sources]
            res = model(xs[0] if len(xs) == 1 else xs)
            res = list(res) if isinstance(res, (list, tuple)) else [res]
            for o, t in zip(outputs, res):
                env[o] = t
            layers.append(model)
        if not progressed:
            raise GraphError("Nested models wired into each other in a loop: "
                             f"{', '.join(str(u[1]) for u in pending)}.")
    return layers


def leaf_layers(model) -> list:
    """Every non-model layer of ``model``, nested models opened up, in model order."""
    from core.models import Model
    out = []
    for layer in model.layers:
        out.extend(leaf_layers(layer) if isinstance(layer, Model) else [layer])
    return out


def parse_groups(value, nodes, member_of) -> dict:
    """The checked ``groups`` object of a project file; ``member_of``: node id -> its
    ``"group"`` entry. Raises ``ValueError`` naming what is wrong."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValueError("'groups' is not an object")
    names = {n.name for n in nodes}
    out = {}
    for g, info in value.items():
        if not isinstance(info, dict) or info.get("class_name") not in GROUP_CLASSES:
            raise ValueError(f"group {g!r} is not a Sequential or Functional record")
        parent, inputs = info.get("parent", ""), info.get("input_names", [])
        if not isinstance(parent, str) or (parent and parent not in value) or g in names:
            raise ValueError(f"group {g!r} has a bad parent {parent!r} or clashes with a "
                             "layer name")
        if not isinstance(inputs, list) or not all(isinstance(s, str) for s in inputs):
            raise ValueError(f"group {g!r} has bad input_names {inputs!r}")
        out[g] = {"class_name": info["class_name"], "parent": parent,
                  "input_names": list(inputs)}
    for nid, g in member_of.items():
        if not isinstance(g, str) or (g and g not in out):
            raise ValueError(f"node {nid} names an unknown group {g!r}")
    return out
