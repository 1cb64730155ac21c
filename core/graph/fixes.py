"""The problems list and its one-click fixes.

``compute_problems(doc)`` turns node states and a few whole-graph checks into
``Problem``s; where the repair is obvious it attaches ``Fix``es. Every fix runs
inside ``doc.batch()``, so it is one document operation: take ``doc.snapshot()``
before ``fix.apply(doc)`` and ``doc.restore_state(snapshot)`` undoes it.

``merge_fixes(doc, src, dst)`` is offered when ``can_connect`` refuses a second wire
into a single-input layer: it rewires both sources into a new Concatenate/Add.

>>> problems = doc.problems()                    # doctest: +SKIP
>>> problems[0].fixes[0].label                   # doctest: +SKIP
"Insert Flatten before 'dense'"
>>> problems[0].fixes[0].apply(doc)              # doctest: +SKIP
"""

from __future__ import annotations

from core.graph.datatypes import Fix, Problem

_CLASSIFIER_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")
GAP = 120.0  # vertical distance between layers on the canvas


def _num_inputs(doc, node) -> object:
    try:
        return getattr(doc.layer_class(node.type), "num_inputs", 1)
    except ValueError:
        return None


def _has_type(doc, name: str) -> bool:
    try:
        doc.layer_class(name)
        return True
    except ValueError:
        return False


def _insert_between(doc, edge, type_name: str, config=None) -> str:
    """Put a new ``type_name`` node on ``edge`` (src -> new -> dst), as one operation."""
    src, dst = doc.nodes[edge.src], doc.nodes[edge.dst]
    y = (src.pos[1] + dst.pos[1]) / 2 if dst.pos[1] - src.pos[1] >= 2 * GAP \
        else src.pos[1] + GAP
    pos = ((src.pos[0] + dst.pos[0]) / 2, y)
    with doc.batch():
        doc.disconnect(edge)
        new = doc.add_node(type_name, config, pos=pos)
        doc.connect(edge.src, new)
        doc.connect(new, edge.dst, edge.dst_port)
        _make_room(doc, new, edge.dst)
    return new


def _make_room(doc, new_id, dst_id) -> None:
    """Shift the inserted node's descendants down when they would overlap it."""
    from core.graph.validate import descendants
    shift = doc.nodes[new_id].pos[1] + GAP - doc.nodes[dst_id].pos[1]
    if shift <= GAP * 0.1:
        return
    below = descendants(doc._out, [dst_id])
    doc.move_nodes({n: (doc.nodes[n].pos[0], doc.nodes[n].pos[1] + shift) for n in below})


def flatten_fix(doc, edge) -> Fix:
    dst = doc.nodes[edge.dst]
    return Fix(f"Insert Flatten before '{dst.name}'",
               lambda d: _insert_between(d, edge, "Flatten"))


def merge_fixes(doc, src: str, dst: str) -> tuple[Fix, ...]:
    """Fixes for a refused second wire ``src -> dst`` into a single-input layer."""
    if src not in doc.nodes or dst not in doc.nodes:
        return ()
    taken = doc.inputs_of(dst)
    if len(taken) != 1 or _num_inputs(doc, doc.nodes[dst]) != 1:
        return ()
    out = []
    for merge in ("Concatenate", "Add"):
        if not _has_type(doc, merge):
            continue
        if merge == "Add":
            a, b = doc.state(taken[0].src).output_shape, doc.state(src).output_shape
            if a is None or a != b:
                continue  # Add needs equal shapes; offering it would only make an error
        out.append(Fix(f"Merge both into '{doc.nodes[dst].name}' with {merge}",
                       lambda d, m=merge: _merge_into(d, src, dst, m)))
    return tuple(out)


def _merge_into(doc, src: str, dst: str, merge_type: str) -> str:
    old = doc.inputs_of(dst)[0]
    d = doc.nodes[dst]
    with doc.batch():
        doc.disconnect(old)
        m = doc.add_node(merge_type, pos=(d.pos[0], d.pos[1]))
        doc.connect(old.src, m)
        doc.connect(src, m)
        doc.connect(m, dst, 0)
        _make_room(doc, m, dst)
    return m


def _set_units(doc, node_id, units) -> None:
    with doc.batch():
        doc.set_config(node_id, "units", units)


def _wire_extra_inputs_fixes(doc, node) -> tuple[Fix, ...]:
    """Loaded files may hold two wires into a single input: offer to merge them."""
    edges = doc.inputs_of(node.id)
    out = []
    for merge in ("Concatenate", "Add"):
        if _has_type(doc, merge):
            def apply(d, m=merge, nid=node.id):
                ins = d.inputs_of(nid)
                n = d.nodes[nid]
                with d.batch():
                    for e in ins:
                        d.disconnect(e)
                    new = d.add_node(m, pos=(n.pos[0], n.pos[1]))
                    for e in ins:
                        d.connect(e.src, new)
                    d.connect(new, nid, 0)
                    _make_room(d, new, nid)
            out.append(Fix(f"Merge the {len(edges)} inputs of '{node.name}' with {merge}",
                           apply))
    return tuple(out)


def compute_problems(doc) -> list[Problem]:
    problems: list[Problem] = []
    inputs = [n for n in doc.nodes.values() if _num_inputs(doc, n) == 0]
    if doc.nodes and not inputs:
        problems.append(Problem(None, "The network has no InputLayer: add one at the top."))
    for nid in sorted(doc.nodes, key=_id_order):
        node, state = doc.nodes[nid], doc.state(nid)
        n_in = _num_inputs(doc, node)
        if state.error is not None:
            fixes = ()
            if n_in == 1 and len(doc.inputs_of(nid)) > 1:
                fixes = _wire_extra_inputs_fixes(doc, node)
            problems.append(Problem(nid, state.error, fixes))
            continue
        problems.extend(_warnings(doc, node, state))
    problems.extend(_data_problems(doc, inputs))
    if not any(p.severity == "error" for p in problems):  # only once the graph is sound
        from core.graph.training_rules import training_problems

        problems.extend(training_problems(doc))
    return problems


def _warnings(doc, node, state):
    """Valid Keras that is rarely meant: Dense on a >2-D input acts on the last axis."""
    if node.type != "Dense":
        return ()
    edges = doc.inputs_of(node.id)
    if len(edges) != 1:
        return ()
    shape = doc.state(edges[0].src).output_shape
    if shape is None or len(shape) <= 2 or not _has_type(doc, "Flatten"):
        return ()
    return (Problem(node.id, f"Dense '{node.name}' receives a {len(shape)}-D input {shape}: it "
                             f"will act on the last axis only and output {state.output_shape}."
                             " Insert a Flatten to classify whole samples.",
                    (flatten_fix(doc, edges[0]),), "warning"),)


def _data_problems(doc, inputs):
    # What the data panel found wrong with the data itself (imbalance, missing values...).
    out = [Problem(None, w, (), "warning") for w in getattr(doc, "data_warnings", ())]
    if doc.data_info is None:
        return out
    shape, classes = doc.data_info
    if shape is not None and len(inputs) == 1:
        node = inputs[0]
        have = doc.state(node.id).output_shape
        if have is not None and tuple(have[1:]) != tuple(shape):
            out.append(Problem(node.id, f"'{node.name}' has shape {tuple(have[1:])} but the "
                                        f"data set's samples have shape {tuple(shape)}.",
                               (Fix(f"Set the input shape to {tuple(shape)}",
                                    lambda d, s=shape, i=node.id: _fix_shape(d, s, i)),)))
    sinks = [n for n in doc.nodes.values() if not doc.outputs_of(n.id)]
    if (classes is not None and len(sinks) == 1 and sinks[0].type == "Dense"
            and doc.training.loss in _CLASSIFIER_LOSSES
            and sinks[0].config.get("units") != classes):
        last = sinks[0]
        out.append(Problem(last.id, f"The output layer '{last.name}' has "
                                    f"{last.config.get('units')} units but the data set has "
                                    f"{classes} classes.",
                           (Fix(f"Set units of '{last.name}' to {classes}",
                                lambda d, i=last.id, c=classes: _set_units(d, i, c)),)))
    return out


def _fix_shape(doc, shape, node_id):
    with doc.batch():
        doc.fix_input_shape_from_data(shape, node_id)


def _id_order(nid: str):
    return (0, int(nid[1:])) if nid[:1] == "n" and nid[1:].isdigit() else (1, nid)

