"""A document's Input and output nodes, in the order the built model takes them.

The model ``core.graph.build`` makes takes its inputs in document order of the Input
nodes and gives its outputs in document order of the sink nodes (nodes nothing reads);
a lone Input wired to nothing is not an output.

>>> from core.graph.templates import two_input
>>> ins, outs = network_ports(two_input())
>>> [(p.name, p.shape) for p in ins], [(p.name, p.shape) for p in outs]
([('image', (28, 28, 1)), ('ink_bands', (8,))], [('dense_2', (10,))])
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


class PortError(ValueError):
    """The network is not the one-Input, one-output shape a step needs; says why."""


def input_and_output_nodes(doc) -> tuple[str, str]:
    """(Input node id, last node id) of a single-input, single-output graph, else
    ``PortError`` counting both (the data panel's "Fit network to data" needs one of each)."""
    ins = [n.id for n in doc.nodes.values() if _num_inputs(doc, n) == 0]
    outs = [n.id for n in doc.nodes.values() if not doc.outputs_of(n.id)]
    if len(ins) != 1 or len(outs) != 1:
        raise PortError(f"Training from the canvas needs exactly one Input and one output "
                        f"layer; this network has {len(ins)} inputs and {len(outs)} outputs.")
    return ins[0], outs[0]
