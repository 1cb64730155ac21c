"""Wiring that is valid Keras but almost never meant (no Qt; the Problems panel shows these).

* a merge layer (Concatenate, Add, ...) with one input merges nothing: usually the second
  wire was forgotten. Fix: take the merge out (its input goes straight on).
* several outputs where one was meant: a layer left unconnected becomes a second model
  output (Keras then wants a loss and targets for each). Fix: delete the dangling layer.
* a Flatten (or Reshape) left as the output under a classification loss: the last layer
  outputs every feature, not one score per class. Fix: add a Dense classifier after it.

>>> from core.graph import GraphDocument
>>> doc = GraphDocument()
>>> i = doc.add_node("InputLayer", {"shape": [4]})
>>> c = doc.add_node("Concatenate")
>>> _ = doc.connect(i, c)
>>> [p.message[:44] for p in structure_problems(doc)]
["'concatenate' merges a single input: it pass"]
"""

from __future__ import annotations

from core.graph.datatypes import Fix, Problem

CLASSIFIER_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy",
                     "binary_crossentropy")
SHAPE_ONLY = ("Flatten", "Reshape", "Permute", "RepeatVector")


def structure_problems(doc) -> list[Problem]:
    return [*_one_input_merges(doc), *_dangling_outputs(doc), *_shape_layer_last(doc)]


def _kind(doc, node):
    try:
        return getattr(doc.layer_class(node.type), "num_inputs", 1)
    except ValueError:
        return None


def _sinks(doc):
    return [n for n in doc.nodes.values() if not doc.outputs_of(n.id)]


# ------------------------------------------------------------- one-input merge
def _one_input_merges(doc):
    out = []
    for node in doc.nodes.values():
        if _kind(doc, node) != "many" or len(doc.inputs_of(node.id)) != 1:
            continue
        src = doc.nodes[doc.inputs_of(node.id)[0].src]
        out.append(Problem(
            node.id,
            f"'{node.name}' merges a single input: it passes '{src.name}' through unchanged. "
            f"Wire a second layer into it, or remove it.",
            (Fix(f"Remove '{node.name}' (wire '{src.name}' straight on)",
                 lambda d, i=node.id: _bypass(d, i)),),
            "warning"))
    return out


def _bypass(doc, node_id) -> None:
    src = doc.inputs_of(node_id)[0].src
    downstream = [(e.dst, e.dst_port) for e in doc.outputs_of(node_id)]
    with doc.batch():
        doc.remove_nodes([node_id])
        for dst, port in downstream:
            doc.connect(src, dst, port)


# ------------------------------------------------------------ dangling outputs
def _depth(doc, node_id, memo) -> int:
    """Layers on the longest path from an input to ``node_id`` (the main line is deepest)."""
    if node_id in memo:
        return memo[node_id]
    memo[node_id] = 0  # cycle guard; the document refuses cycles anyway
    ins = doc.inputs_of(node_id)
    memo[node_id] = 1 + max((_depth(doc, e.src, memo) for e in ins), default=0)
    return memo[node_id]


def _dangling_outputs(doc):
    sinks = [n for n in _sinks(doc) if doc.inputs_of(n.id)]  # lone Inputs are not outputs
    if len(sinks) < 2:
        return []
    memo: dict = {}
    main = max(sinks, key=lambda n: (_depth(doc, n.id, memo), -list(doc.nodes).index(n.id)))
    names = ", ".join(f"'{n.name}'" for n in sinks)
    out = []
    for node in sinks:
        if node is main:
            continue
        out.append(Problem(
            node.id,
            f"The network has {len(sinks)} outputs ({names}): nothing uses '{node.name}', so "
            f"it becomes an extra model output that needs its own targets and loss. Wire it "
            f"on, or delete it if '{main.name}' is the only output you meant.",
            (Fix(f"Delete '{node.name}'", lambda d, i=node.id: _delete(d, i)),),
            "warning"))
    return out


def _delete(doc, node_id) -> None:
    with doc.batch():
        doc.remove_nodes([node_id])


# ------------------------------------------------------- Flatten left last
def _shape_layer_last(doc):
    if doc.training.loss not in CLASSIFIER_LOSSES:
        return []
    sinks = [n for n in _sinks(doc) if doc.inputs_of(n.id)]
    if len(sinks) != 1 or sinks[0].type not in SHAPE_ONLY:
        return []
    node = sinks[0]
    shape = doc.state(node.id).output_shape
    classes = doc.data_info[1] if doc.data_info and doc.data_info[1] else None
    binary = doc.training.loss == "binary_crossentropy"
    units = 1 if binary else (classes or 10)
    act = "sigmoid" if binary else "softmax"
    what = f"outputs {shape}" if shape is not None else "is the last layer"
    return [Problem(
        node.id,
        f"The network ends with {node.type} '{node.name}', which {what}: every feature, not "
        f"one score per class, so {doc.training.loss} cannot learn classes from it. Add a "
        f"Dense classifier after it.",
        (Fix(f"Add Dense({units}, {act}) after '{node.name}'",
             lambda d, i=node.id, u=units, a=act: _add_classifier(d, i, u, a)),),
        "warning")]


def _add_classifier(doc, node_id, units, activation) -> None:
    from core.graph.fixes import GAP
    x, y = doc.nodes[node_id].pos
    with doc.batch():
        new = doc.add_node("Dense", {"units": units, "activation": activation},
                           pos=(x, y + GAP))
        doc.connect(node_id, new)
