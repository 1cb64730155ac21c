"""Symbolic tensors and call nodes for the functional API.

Calling a layer on a ``KerasTensor`` builds the layer from the tensor's shape,
infers the output shape with ``compute_output_shape`` and records a ``Node``
linking inbound tensors to outbound tensors. ``Model(inputs, outputs)`` walks
these nodes to find the graph.

>>> from core.layers import Input, Dense
>>> x = Input((8,))
>>> y = Dense(4)(x)
>>> y.shape
(None, 4)
"""

from __future__ import annotations

import itertools

_tensor_ids = itertools.count()


class KerasTensor:
    """A placeholder with a static shape (batch dimension ``None``)."""

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name or f"keras_tensor_{next(_tensor_ids)}"
        # (layer, node_index, tensor_index): which layer call produced it.
        self._keras_history = history

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def _keras_mask(self):
        """The mask this tensor carries (a bool KerasTensor), or None (Keras)."""
        from core.layers.mask_attr import symbolic_mask
        return symbolic_mask(self)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __array__(self, *args, **kwargs):
        raise TypeError(
            "A symbolic KerasTensor has no value: pass it to layers to build a model, "
            "then call the model on real data."
        )


class Node:
    """One call of ``layer`` on ``input_tensors`` producing ``output_tensors``."""

    def __init__(self, layer, input_tensors, output_tensors, call_kwargs=None):
        self.layer = layer
        self.is_multi_input = isinstance(input_tensors, (list, tuple))
        self.input_tensors = list(input_tensors) if self.is_multi_input else [input_tensors]
        if input_tensors is None:
            self.input_tensors = []
        self.is_multi_output = isinstance(output_tensors, (list, tuple))
        self.output_tensors = (
            list(output_tensors) if self.is_multi_output else [output_tensors]
        )
        self.call_kwargs = dict(call_kwargs or {})
        self.index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)

    @property
    def output_tensors_as_called(self):
        """What the layer call returned: the list of outputs, or the one output."""
        return self.output_tensors if self.is_multi_output else self.output_tensors[0]

    @property
    def parent_nodes(self) -> list[Node]:
        out = []
        for t in self.input_tensors:
            if t._keras_history is not None:
                layer, node_index, _ = t._keras_history
                out.append(layer._inbound_nodes[node_index])
        return out

    def __repr__(self):
        return f"<Node {self.layer.name}#{self.index}>"


def call_arguments(items, is_multi_input=True, call_kwargs=None, call_layout=None,
                   tensor_kwargs=None):
    """``(args, kwargs)`` of a layer call as it was made, with ``items`` (one per input
    tensor of the node, in ``Node.input_tensors`` order: tensors, their configs, code
    names) put where the tensors went.

    ``call_layout`` ``(n_args, names)``: the first ``n_args`` items are positional, the
    rest keyword (MultiHeadAttention's ``(query, value, key=...)``; a None name is a
    slot the layer filled in itself, not passed). ``tensor_kwargs`` ``{key: count}``:
    the trailing ``count`` items went in as ``key=[...]`` (an RNN's ``initial_state``).
    Otherwise several items are one list argument (``Add()([a, b])``). Saving, code
    export and the editor's graph all rebuild calls through this one function.

    >>> call_arguments(["q", "v", "k"], True, {"use_causal_mask": True}, (2, ["key"]))
    (['q', 'v'], {'use_causal_mask': True, 'key': 'k'})
    >>> call_arguments(["x", "h", "c"], True, {}, None, {"initial_state": 2})
    (['x'], {'initial_state': ['h', 'c']})
    """
    items = list(items)
    kwargs = dict(call_kwargs or {})
    if call_layout is not None:
        n_args, names = call_layout
        for name, item in zip(names, items[n_args:]):
            if name is not None:
                kwargs[name] = item
        return items[:n_args], kwargs
    for key, count in (tensor_kwargs or {}).items():
        items, kwargs[key] = items[:-count], items[-count:]
    return ([items] if is_multi_input and len(items) > 1 else items), kwargs


def node_call_arguments(node, items, call_kwargs=None):
    """``call_arguments`` for the recorded ``Node`` (``call_kwargs``: in place of the
    node's own, e.g. converted to plain JSON)."""
    return call_arguments(items, node.is_multi_input,
                          node.call_kwargs if call_kwargs is None else call_kwargs,
                          getattr(node, "call_layout", None),
                          getattr(node, "tensor_kwargs", None))
