"""The public graph of a model: its layer calls as named records, in Keras' order.

``map_graph(inputs, outputs)`` (Keras 3's) walks the calls from the outputs back to
the inputs, refuses cycles and disconnected graphs, and orders them by depth.

``Functional`` makes its ``ModelGraph`` once, at init (``model.graph``);
``graph_of(model)`` gives it for a Functional or a built Sequential (a chain).
Saving, the ONNX and code exporters, the editor's graph bridge, plotting, fusion and
predict's fast path read these records instead of the model's private attributes:

- ``GraphNode``: one call of a layer — the layer, which of its calls it is
  (``node_index``, Keras' index into ``layer._inbound_nodes``), its input tensors and
  where each came from (``TensorRef``: layer, node index, tensor index, Keras'
  ``keras_history``), its call arguments and outputs;
- ``ModelGraph.nodes``: every node in Keras' execution order (the model's input
  nodes first, then by decreasing depth), ``steps``: the computing nodes as
  ``PlanStep`` entries of the execution plan ``Functional.call`` runs.

>>> from core.layers import Dense, Input
>>> from core.models import Model
>>> x = Input((4,), name="x")
>>> model = Model(x, Dense(2, name="d")(x))
>>> [(n.layer.name, n.node_index, n.is_input) for n in model.graph.nodes]
[('x', 0, True), ('d', 0, False)]
>>> model.graph.nodes[1].inbound
(TensorRef(layer='x', node_index=0, tensor_index=0),)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from core.layers.node import KerasTensor, Node
from core.layers.positional_call import POSITIONAL
from core.saving.object_registry import is_builtin_model


@dataclass(frozen=True)
class TensorRef:
    """Output ``tensor_index`` of call ``node_index`` of ``layer`` (Keras'
    ``keras_history``)."""

    layer: Any = field(repr=False)
    node_index: int
    tensor_index: int

    def __repr__(self):  # the layer by name: a whole layer repr is noise in a graph
        return (f"TensorRef(layer={self.layer.name!r}, node_index={self.node_index}, "
                f"tensor_index={self.tensor_index})")


def tensor_ref(tensor: KerasTensor) -> TensorRef | None:
    """Where a symbolic tensor comes from (None for one no layer produced)."""
    history = tensor._keras_history
    return None if history is None else TensorRef(*history)


class PlanStep(NamedTuple):
    """One step of a functional model's execution plan: run ``layer`` on the values
    ``in_ids`` (ids of its input tensors) and store its outputs under ``out_ids``.
    ``multi_in``: the inputs go in as a list (True), as separate arguments
    (``POSITIONAL``: ``mha(q, v)``) or alone (False); ``multi_out``: the call returns a
    list; ``kwargs``: the recorded call arguments."""

    layer: Any
    in_ids: list
    out_ids: list
    multi_in: Any
    multi_out: bool
    kwargs: dict


@dataclass(frozen=True)
class GraphNode:
    """One call of ``layer`` in the graph (see the module docstring)."""

    layer: Any
    node_index: int
    inputs: tuple[KerasTensor, ...]
    inbound: tuple[TensorRef | None, ...]
    outputs: tuple[KerasTensor, ...]
    call_kwargs: dict
    multi_input: Any  # True, False or POSITIONAL (``layer(a, b)``)
    multi_output: bool
    is_input: bool  # the node makes one of the model's inputs (an InputLayer's)
    node: Node = field(repr=False)  # the recorded call (``core.layers.node``)

    @property
    def outputs_as_called(self):
        """What the call returned: the list of outputs, or the one output."""
        return list(self.outputs) if self.multi_output else self.outputs[0]

    def step(self) -> PlanStep:
        return PlanStep(self.layer, [id(t) for t in self.inputs],
                        [id(t) for t in self.outputs], self.multi_input, self.multi_output,
                        self.call_kwargs)


def graph_node(node: Node, is_input: bool) -> GraphNode:
    multi_in = POSITIONAL if getattr(node, "positional_inputs", False) else \
        node.is_multi_input  # layer(a, b) replays as layer(*values)
    return GraphNode(node.layer, node.index, tuple(node.input_tensors),
                     tuple(tensor_ref(t) for t in node.input_tensors),
                     tuple(node.output_tensors), node.call_kwargs, multi_in,
                     node.is_multi_output, is_input, node)


@dataclass(frozen=True)
class ModelGraph:
    """A model's graph: ``nodes`` in execution order, ``layers`` as ``model.layers``,
    ``items`` the layers with Keras' mask ops among them in the order Keras' config
    lists them (``core.models.mask_graph``; ``mask_plan`` None for a Sequential),
    ``inputs``/``outputs`` flat and ``input_struct``/``output_struct`` as given."""

    nodes: tuple[GraphNode, ...]
    layers: tuple
    items: tuple
    inputs: tuple[KerasTensor, ...]
    outputs: tuple[KerasTensor, ...]
    input_struct: Any
    output_struct: Any
    mask_plan: Any = None
    steps: tuple[PlanStep, ...] = field(init=False, repr=False)
    _own: frozenset = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "steps",
                           tuple(n.step() for n in self.nodes if not n.is_input))
        object.__setattr__(self, "_own", frozenset(id(n.node) for n in self.nodes))

    def owns(self, layer, node_index: int) -> bool:
        """Call ``node_index`` of ``layer`` is part of this graph (a layer used in
        another model too has calls that are not)."""
        nodes = layer._inbound_nodes
        return 0 <= node_index < len(nodes) and id(nodes[node_index]) in self._own

    def nodes_of(self, layer) -> list[GraphNode]:
        """This graph's calls of ``layer``, in the order the layer was called."""
        return sorted((n for n in self.nodes if n.layer is layer),
                      key=lambda n: n.node_index)

    def own_index(self, ref: TensorRef) -> int:
        """Keras' node index of ``ref`` in this graph: its calls that belong to this
        model counted, the others skipped (``Functional.get_config`` numbers so)."""
        return sum(1 for i in range(ref.node_index) if self.owns(ref.layer, i))


def _describe(t: KerasTensor) -> str:
    layer = t._keras_history[0].name if t._keras_history else "?"
    return f"'{t.name}' (output of layer '{layer}', shape {t.shape})"


def map_graph(inputs: list[KerasTensor], outputs: list[KerasTensor]):
    """Return ``(nodes_by_depth, layers)`` of the graph between ``inputs`` and ``outputs``.

    Raises ``ValueError`` for a cycle, an output not computable from the inputs
    ("graph disconnected") and an input that no output depends on.
    """
    input_ids = {id(t) for t in inputs}
    finished, in_progress = set(), set()
    order: list = []  # nodes in decreasing depth (DFS post-order)
    layer_index: dict = {}

    done = object()

    def visit(root):
        # Depth-first post-order with an explicit stack: a 5,000-layer chain must not
        # hit Python's recursion limit.
        stack = [(root, None)]
        while stack:
            tensor, state = stack[-1]
            if state is None:
                if tensor._keras_history is None:
                    raise ValueError(
                        f"Model outputs must come from layer calls on Input tensors; "
                        f"{tensor!r} was not produced by a layer.")
                layer, node_index, _ = tensor._keras_history
                node = layer._inbound_nodes[node_index]
                if id(node) in finished:
                    stack.pop()
                    continue
                if id(node) in in_progress:
                    raise ValueError(f"The graph has a cycle through layer '{layer.name}'.")
                layer_index.setdefault(id(layer), (len(layer_index), layer))
                in_progress.add(id(node))
                parents = iter(()) if id(tensor) in input_ids else iter(node.input_tensors)
                stack[-1] = (tensor, (node, parents))
                continue
            node, parents = state
            parent = next(parents, done)
            if parent is done:
                finished.add(id(node))
                in_progress.discard(id(node))
                order.append((node, id(tensor) in input_ids))
                stack.pop()
            else:
                stack.append((parent, None))

    for t in outputs:
        visit(t)

    node_depth: dict = {}
    layer_depth: dict = {}
    for node, is_model_input in reversed(order):
        depth = max(node_depth.get(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        if is_model_input:
            continue
        for parent in node.parent_nodes:
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))

    # Every declared input must feed some output (Keras 3 only warns; we refuse).
    reached = {id(t) for node, _ in order for t in node.output_tensors}
    unused = [t for t in inputs if id(t) not in reached]
    if unused:
        raise ValueError(
            "Model inputs not connected to any output: "
            + ", ".join(_describe(t) for t in unused)
            + ". Remove them or connect them to the outputs."
        )

    by_depth: dict[int, list] = {}
    for node, _ in order:
        by_depth.setdefault(node_depth[id(node)], []).append(node)

    computable = set(input_ids)
    seen_layers: list[str] = []
    layers_by_depth: dict[int, list] = {}
    for depth in sorted(by_depth, reverse=True):
        for node in by_depth[depth]:
            is_input = all(id(t) in input_ids for t in node.output_tensors)
            if not is_input:
                if not node.input_tensors:
                    raise ValueError(
                        "Graph disconnected: the outputs depend on "
                        + _describe(node.output_tensors[0])
                        + ", which is not among the model inputs "
                        + f"{[t.name for t in inputs]}."
                    )
                for t in node.input_tensors:
                    if id(t) not in computable:
                        raise ValueError(
                            f"Graph disconnected: cannot obtain a value for tensor {_describe(t)} "
                            f"at layer '{node.layer.name}'. Layers reached without issue: "
                            f"{seen_layers}."
                        )
            for t in node.output_tensors:
                computable.add(id(t))
            seen_layers.append(node.layer.name)
            if node.layer not in layers_by_depth.setdefault(layer_depth[id(node.layer)], []):
                layers_by_depth[layer_depth[id(node.layer)]].append(node.layer)
    layers = []
    for depth in sorted(layers_by_depth, reverse=True):
        for layer in sorted(layers_by_depth[depth], key=lambda ly: layer_index[id(ly)][0]):
            if layer not in layers:
                layers.append(layer)
    nodes_by_depth = {d: by_depth[d] for d in sorted(by_depth, reverse=True)}
    return nodes_by_depth, layers


def nodes_in_order(inputs, nodes_by_depth) -> tuple[GraphNode, ...]:
    """``GraphNode``s of ``map_graph``'s ``nodes_by_depth`` in execution order."""
    input_ids = {id(t) for t in inputs}
    return tuple(graph_node(node, bool(node.output_tensors) and all(
        id(t) in input_ids for t in node.output_tensors))
        for nodes in nodes_by_depth.values() for node in nodes)


def graph_of(model) -> ModelGraph:
    """The graph of a functional model (made once at init) or of a built Sequential
    (made anew: layers may be added or popped); ValueError for a subclassed model or a
    Sequential that has no input shape yet."""
    graph = getattr(type(model), "graph", None)
    if graph is not None:
        return model.graph
    if not is_builtin_model(model, "Sequential"):
        raise ValueError(f"Model '{model.name}' is subclassed: its graph is Python code, "
                         "not a graph of layer calls.")
    if model.inputs is None:
        raise ValueError(f"Model '{model.name}' is not built: give it an input shape (an "
                         "Input layer) before exporting or drawing it.")
    inputs, outputs = tuple(model.inputs), tuple(model.outputs)
    nodes_by_depth, _ = map_graph(list(inputs), list(outputs))
    layers = tuple(model.layers)
    return ModelGraph(nodes_in_order(inputs, nodes_by_depth), layers, layers, inputs,
                      outputs, inputs[0], outputs[0])
