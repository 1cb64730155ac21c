"""Keras' mask ops as graph nodes of a functional model.

Keras 3 computes a layer's output mask with ops on symbolic tensors (Embedding's
``mask_zero`` is ``ops.not_equal(x, 0)``, Masking adds ``ops.any``, merges combine masks
with ``logical_or``, Concatenate with ``expand_dims``/``zeros_like``/``concatenate``/
``any``). Those op calls become nodes of the functional graph, and a layer whose ``call``
takes ``mask`` records the mask tensor in its node's kwargs. ``Functional.get_config``
then writes the ops as layers (``"module": "keras.src.ops.numpy"``) between the real
layers, ordered by the same depth rule.

Our layers compute masks on arrays at run time, so the graph has no op nodes; this
module rebuilds the ones Keras would have made. ``Functional`` orders its layers with
them (``keras_operations``: they change depths, so ``model.layers``, the weights and
``summary()`` follow Keras' order), and saving writes them, so that a file we write
says what a Keras-built model's file says. That matters: Keras' loader reads ``"mask": null`` as
"no mask" (a masked average then averages the padding too), and a node without the
argument gets it filled in on load, so Keras would save a different config back.

A mask that Keras' rules cannot express here (a custom ``compute_mask``, a nested model
passing one on) is left out of the node, and Keras fills it in when it loads the file.

>>> from core.layers import Dense, Embedding, GlobalAveragePooling1D, Input
>>> from core.models import Model
>>> ids = Input((4,))
>>> out = Dense(1)(GlobalAveragePooling1D()(Embedding(9, 2, mask_zero=True)(ids)))
>>> plan = MaskPlan(Model(ids, out))
>>> [op.cls for op in plan.ops]
['NotEqual']
"""

from __future__ import annotations

from core.models.graph import map_graph


def _is_builtin(cls) -> bool:
    return cls.__module__.startswith(("core.layers", "core.models"))


def builtin_classes() -> dict[str, type]:
    """Every built-in class a node can hold, by Keras class name: the registered layers,
    the nested ones (RNN, cells) and the two model classes."""
    from core.layers.spec import nested_layers, registered_layers
    from core.models.functional import Functional
    from core.models.sequential import Sequential

    return {**registered_layers(), **nested_layers(), "Sequential": Sequential,
            "Functional": Functional}


_MERGES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
_RECURRENT = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN"})
UNKNOWN = object()  # a mask that exists but that these rules cannot write


class MaskTensor:
    """The boolean output of one op node."""

    def __init__(self, op, shape):
        self.op, self.shape, self.dtype = op, tuple(shape), "bool"


class MaskOp:
    """One Keras op node: ``cls`` called on ``args`` (tensors, masks, numbers)."""

    def __init__(self, cls, name, args, config, shape):
        self.cls, self.name, self.args, self.config = cls, name, list(args), config
        self.output = MaskTensor(self, shape)

    def tensors(self) -> list:
        """The op's tensor arguments, flattened in order (its graph parents)."""
        out = []
        for a in self.args:
            out.extend(a if isinstance(a, list) else [a])
        return [t for t in out if not isinstance(t, (int, float))]


def _snake(cls: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(cls))


def records_filled_args(node) -> bool:
    """Whether Keras records the mask/training it fills in for this call: one tensor
    passed positionally and no keyword arguments (otherwise its ``__call__`` works on a
    copy of the kwargs, and the node keeps only what the caller gave)."""
    return (not node.is_multi_input and len(node.input_tensors) == 1
            and not node.call_kwargs and not getattr(node, "tensor_kwargs", None)
            and getattr(node, "call_layout", None) is None)


def recorded_mask(node, plan):
    """The op output a node's ``mask`` kwarg holds in Keras' graph, or None."""
    if not node.input_tensors or not records_filled_args(node):
        return None
    if not _is_builtin(type(node.layer)) or not type(node.layer).call_takes_mask:
        return None
    mask = plan.node_mask(node)
    return mask if isinstance(mask, MaskTensor) else None


class MaskPlan:
    """Keras' mask of every tensor of ``model`` and the op nodes that compute them.

    ``node_mask(node)`` is what the node's ``mask`` kwarg holds: a ``MaskTensor``,
    None (no mask: Keras writes ``null``) or ``UNKNOWN`` (leave the kwarg out).
    """

    def __init__(self, model):
        self.ops: list[MaskOp] = []
        self._mask: dict[int, object] = {}  # id(KerasTensor) -> mask
        self._taken = {ly.name for ly in model._operations}
        for depth in sorted(model._nodes_by_depth, reverse=True):  # inputs first
            for node in model._nodes_by_depth[depth]:
                if node.input_tensors:
                    self._visit(node)

    def mask_of(self, tensor):
        return self._mask.get(id(tensor))

    def node_mask(self, node):
        return self.mask_of(node.input_tensors[0])

    # ----------------------------------------------------------------- op nodes
    def _op(self, cls, args, shape, **config) -> MaskTensor:
        base, n = _snake(cls), 0
        name = base
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        op = MaskOp(cls, name, args, {"name": name, **config}, shape)
        self.ops.append(op)
        return op.output

    def _or(self, a, b):
        n = max(len(a.shape), len(b.shape))
        sa = (1,) * (n - len(a.shape)) + a.shape
        sb = (1,) * (n - len(b.shape)) + b.shape
        shape = tuple(y if x == 1 else x for x, y in zip(sa, sb))  # broadcast
        return self._op("LogicalOr", [a, b], shape)

    # -------------------------------------------------------------------- rules
    def _visit(self, node):
        layer = node.layer
        cls = type(layer).__name__
        n_kw = sum(getattr(node, "tensor_kwargs", {}).values())
        ins = node.input_tensors[:len(node.input_tensors) - n_kw]
        layout = getattr(node, "call_layout", None)
        if layout is not None:
            ins = ins[:layout[0]]
        masks = [self.mask_of(t) for t in ins]
        outs = node.output_tensors
        # MultiHeadAttention's (query, value, key) are separate arguments: like one
        # tensor, its mask comes from the first (Keras' ``previous_mask``).
        many = node.is_multi_input and layout is None
        if not _is_builtin(type(layer)):
            out = self._custom(layer, ins, masks, many)
        else:
            out = self._builtin(cls, layer, ins, masks, many)
        if not isinstance(out, list):
            out = [out]
        for t, m in zip(outs, out):
            if m is not None:
                self._mask[id(t)] = m

    def _custom(self, layer, ins, masks, many):
        from core.layers.base import Layer
        from core.layers.masks import output_carries_mask

        if type(layer).compute_mask is Layer.compute_mask and not many:
            return masks[0] if getattr(layer, "supports_masking", False) else None
        flags = [m is not None for m in masks]
        tensors = ins if many else ins[0]
        return UNKNOWN if output_carries_mask(layer, tensors, flags) else None

    def _builtin(self, cls, layer, ins, masks, many):
        x = ins[0]
        if cls == "Embedding":
            if not getattr(layer, "mask_zero", False):
                return None
            return self._op("NotEqual", [x, 0], x.shape)
        if cls == "Masking":
            ne = self._op("NotEqual", [x, float(layer.mask_value)], x.shape)
            return self._op("Any", [ne], x.shape[:-1], axis=-1, keepdims=False)
        if any(m is UNKNOWN for m in masks):
            return UNKNOWN
        if cls in _MERGES:
            if any(m is None for m in masks):
                return None
            out = masks[0]
            for m in masks[1:]:
                out = self._or(out, m)
            return out
        if cls == "Concatenate":
            return self._concatenate(layer, ins, masks)
        if cls in ("Dot", "GlobalAveragePooling1D", "Lambda"):
            return None  # their compute_mask returns None (Lambda's ``mask`` unset)
        first = masks[0] if not many else None
        if cls in _RECURRENT or cls == "Bidirectional":
            return self._recurrent(cls, layer, first)
        if cls in ("Sequential", "Functional"):
            from core.layers.masks import output_carries_mask
            passes = first is not None and output_carries_mask(layer, ins[0], [True])
            return UNKNOWN if passes else None  # made by ops inside the nested model
        if many:
            return UNKNOWN if any(m is not None for m in masks) else None
        return first if getattr(layer, "supports_masking", False) else None

    def _recurrent(self, cls, layer, mask):
        seq = getattr(layer, "return_sequences", False)
        if cls == "Bidirectional" and layer.merge_mode is None:
            return [mask, mask] if seq else None  # two outputs, one per direction
        return [mask if seq else None]  # states (return_state) carry no mask

    def _concatenate(self, layer, ins, masks):
        if all(m is None for m in masks):
            return None
        parts = []
        for x, m in zip(ins, masks):
            if m is None:
                parts.append(self._op("OnesLike", [x], x.shape, dtype="bool"))
            elif len(m.shape) < len(x.shape):
                wide = self._op("ExpandDims", [m], m.shape + (1,), axis=-1)
                zeros = self._op("ZerosLike", [x], x.shape, dtype="bool")
                parts.append(self._or(wide, zeros))
            else:
                parts.append(m)
        axis = layer.axis % len(parts[0].shape)
        total = None if any(p.shape[axis] is None for p in parts) else sum(
            p.shape[axis] for p in parts)
        shape = parts[0].shape[:axis] + (total,) + parts[0].shape[axis + 1:]
        joined = self._op("Concatenate", [parts], shape, axis=layer.axis)
        return self._op("Any", [joined], shape[:-1], axis=-1, keepdims=False)


# ------------------------------------------------------------------------ ordering
class _Layer:
    """Stand-in for a layer or an op in the graph ``map_graph`` orders."""

    def __init__(self, item, n_nodes):
        self.item, self.name = item, item.name
        self._inbound_nodes = [_Node(self) for _ in range(n_nodes)]


class _Node:
    def __init__(self, layer):
        self.layer, self.input_tensors, self.output_tensors = layer, [], []

    @property
    def parent_nodes(self):
        return [t._keras_history[0]._inbound_nodes[t._keras_history[1]]
                for t in self.input_tensors]


class _Tensor:
    def __init__(self, history, name):
        self._keras_history, self.name, self.shape = history, name, ()


def keras_operations(model, plan: MaskPlan) -> list:
    """``model._operations`` with ``plan``'s ops among them, in the order Keras'
    ``map_graph`` gives the graph that has them (each op is a parent of the layer
    whose ``mask`` it feeds, so depths, and the order, can change)."""
    stand = {}
    tensors = {}

    def layer_of(item):
        if id(item) not in stand:
            n = 1 if isinstance(item, MaskOp) else len(item._inbound_nodes)
            stand[id(item)] = _Layer(item, n)
        return stand[id(item)]

    def tensor(t):
        if id(t) not in tensors:
            if isinstance(t, MaskTensor):
                history = (layer_of(t.op), 0, 0)
            else:
                layer, node_index, index = t._keras_history
                history = (layer_of(layer), node_index, index)
            tensors[id(t)] = _Tensor(history, getattr(t, "name", ""))
        return tensors[id(t)]

    for op in plan.ops:
        node = layer_of(op)._inbound_nodes[0]
        node.input_tensors = [tensor(t) for t in op.tensors()]
        node.output_tensors = [tensor(op.output)]
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            shadow = layer_of(node.layer)._inbound_nodes[node.index]
            shadow.input_tensors = [tensor(t) for t in node.input_tensors]
            mask = recorded_mask(node, plan)
            if mask is not None:
                shadow.input_tensors.append(tensor(mask))
            shadow.output_tensors = [tensor(t) for t in node.output_tensors]
    _, order = map_graph([tensor(t) for t in model.inputs],
                         [tensor(t) for t in model.outputs])
    return [s.item for s in order]


def graph_items(model) -> tuple:
    """``(plan, items)``: the model's MaskPlan and its layers with the mask ops among
    them in Keras' order, as ``Functional`` made them once (built anew for any other
    graph-shaped model)."""
    plan = getattr(model, "_mask_plan", None)
    items = getattr(model, "_graph_items", None)
    if plan is None or items is None:
        plan = MaskPlan(model)
        items = keras_operations(model, plan) if plan.ops else list(model._operations)
    return plan, items


def op_tensor_ref(mask: MaskTensor) -> dict:
    """A reference to an op's output, as a node argument."""
    return {"class_name": "__keras_tensor__", "config": {
        "shape": list(mask.shape), "dtype": "bool", "keras_history": [mask.op.name, 0, 0]}}


def op_config(op: MaskOp, tensor_ref) -> dict:
    """The op's entry in ``config["layers"]``, as Keras writes it (``tensor_ref`` writes
    a reference to one of the model's own tensors)."""
    def ref(a):
        if isinstance(a, list):
            return [ref(v) for v in a]
        if isinstance(a, MaskTensor):
            return op_tensor_ref(a)
        if isinstance(a, (int, float)):
            return a
        return tensor_ref(a)

    return {"module": "keras.src.ops.numpy", "class_name": op.cls, "config": op.config,
            "registered_name": op.cls, "name": op.name,
            "inbound_nodes": [{"args": [ref(a) for a in op.args], "kwargs": {}}]}
