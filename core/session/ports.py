"""A document's Input and output nodes, in the order the built model takes them.

The model ``core.graph.build`` makes takes its inputs in document order of the Input
nodes and gives its outputs in document order of the sink nodes (nodes nothing reads);
a lone Input wired to nothing is not an output.

>>> from core.graph.templates import two_input
>>> ins, outs = network_ports(two_input())
>>> [(p.name, p.shape) for p in ins], [(p.name, p.shape) for p in outs]
([('image', (28, 28, 1)), ('features', (8,))], [('dense_2', (10,))])
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Port:
    node_id: str
    name: str        # the layer name: Keras' key for dict data
    shape: tuple | None  # without the batch axis; None while the graph has errors


def _num_inputs(doc, node):
    try:
        return getattr(doc.layer_class(node.type), "num_inputs", 1)
    except ValueError:
        return None


def network_ports(doc) -> tuple[list[Port], list[Port]]:
    """``(inputs, outputs)`` of ``doc`` as ``Port`` lists."""
    def port(node):
        shape = doc.state(node.id).output_shape
        return Port(node.id, node.name, None if shape is None else tuple(shape[1:]))

    ins = [port(n) for n in doc.nodes.values() if _num_inputs(doc, n) == 0]
    outs = [port(n) for n in doc.nodes.values()
            if not doc.outputs_of(n.id) and doc.inputs_of(n.id)]
    return ins, outs
