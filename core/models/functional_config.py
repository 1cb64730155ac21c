"""A functional model's config: Keras 3's ``Functional.get_config`` and
``functional_from_config``, as Keras 3.15.1 writes and reads them. It lives with the
models (as in Keras' ``keras.src.models.functional``); ``core.saving`` reaches it
through ``Functional.from_graph_config`` and ``get_config``, never by import.

A layer's ``inbound_nodes`` are ``{"args", "kwargs"}`` with ``__keras_tensor__`` args
(``keras_history`` = ``[layer, node, tensor]``, node indices counting only this model's
nodes); ``input_layers``/``output_layers`` keep the model's input/output structure (a
lone tensor is one flat ``[name, node, tensor]``).

>>> from core.layers import Dense, Input
>>> from core.models import Model
>>> x = Input((3,), name="x")
>>> model = Model(x, Dense(2, name="d")(x))
>>> cfg = functional_config(model)
>>> [ly["name"] for ly in cfg["layers"]], cfg["output_layers"]
(['x', 'd'], ['d', 0, 0])
>>> functional_from_config(cfg).layers[1].units
2
"""

from __future__ import annotations

from core.layers.base import Layer
from core.layers.node import KerasTensor, node_call_arguments
from core.models.graph import GraphNode, tensor_ref
from core.models.mask_graph import (
    UNKNOWN,
    MaskOp,
    op_config,
    op_tensor_ref,
    records_filled_args,
)
from core.saving.serialization import (
    custom_object_scope,
    deserialize_layer,
    is_builtin_class,
    is_functional,
    serialize_layer,
    short_repr,
    tensor_config,
    to_plain,
)


def _tensor_ref(t, graph) -> dict:
    ref = tensor_ref(t)
    # Renumber as Keras does: only nodes that belong to this model count. No offset for
    # nested models here: Keras 3.15's serialize_node writes their plain node index
    # (the +1 "built-in node" is only in input/output_layers).
    return tensor_config(t, (ref.layer, graph.own_index(ref), ref.tensor_index))


def _serialize_node(node: GraphNode, graph) -> dict | None:
    if not node.inputs:
        return None
    tensors = [_tensor_ref(t, graph) for t in node.inputs]
    # Positional/keyword tensors (MultiHeadAttention's ``(query, value, key=...)``, an
    # RNN's ``initial_state=[h, c]``) go where the call put them.
    args, kwargs = node_call_arguments(node.node, tensors, to_plain(node.call_kwargs))
    if getattr(node.node, "call_layout", None) is not None:
        return {"args": args, "kwargs": kwargs}
    cls = type(node.layer)
    if is_builtin_class(cls) and records_filled_args(node.node):
        # Keras fills these in and records them (core.models.mask_graph says when);
        # whether its call takes them is a fact of the class (core.layers.facts)
        if cls.call_training_default is not None:
            kwargs["training"] = cls.call_training_default
        mask = graph.mask_plan.node_mask(node.node)
        if cls.call_takes_mask and mask is not UNKNOWN:
            kwargs["mask"] = None if mask is None else op_tensor_ref(mask)
    return {"args": args, "kwargs": kwargs}


def functional_config(model) -> dict:
    """Keras 3 ``Functional.get_config()`` of a functional model (read from its public
    graph, ``model.graph``)."""
    graph = model.graph
    layer_configs = []
    for layer in graph.items:
        if isinstance(layer, MaskOp):
            layer_configs.append(op_config(layer, lambda t: _tensor_ref(t, graph)))
            continue
        inbound = [data for data in (_serialize_node(n, graph) for n in graph.nodes_of(layer))
                   if data is not None]
        cfg = serialize_layer(layer)
        cfg["name"] = layer.name
        cfg["inbound_nodes"] = inbound
        layer_configs.append(cfg)

    def ref(t):
        # Keras' get_config numbers a nested functional model's nodes from 1 (a Keras 2
        # "built-in node"), in input_layers/output_layers only; its loader subtracts it.
        src = tensor_ref(t)
        kept = 1 if is_functional(src.layer) else 0
        return [src.layer.name, kept + graph.own_index(src), src.tensor_index]

    def struct(s):
        # Keras' tree.map_structure: a lone tensor is one flat [name, node, index],
        # a list of one tensor stays a list of one.
        if isinstance(s, KerasTensor):
            return ref(s)
        if isinstance(s, dict):
            return {k: struct(v) for k, v in s.items()}
        return [struct(t) for t in s]

    return {"name": model.name, "trainable": model.trainable, "layers": layer_configs,
            "input_layers": struct(graph.input_struct),
            "output_layers": struct(graph.output_struct)}


_MASK_OP_MODULES = ("keras.src.ops.",)


def _is_tensor_ref(obj) -> bool:
    return isinstance(obj, dict) and obj.get("class_name") == "__keras_tensor__"


class _NotYet(Exception):
    """A node's inbound tensor does not exist yet (shared layer at another depth)."""


def functional_from_config(config: dict, custom_objects=None, cls=None):
    """Rebuild a functional model from ``functional_config``'s dict (Keras' algorithm)."""
    from core.models.model import Model

    cls = cls or Model
    config = dict(config)
    for key in ("layers", "input_layers", "output_layers"):
        if key not in config:
            raise ValueError(f"Functional config is missing {key!r}; keys are {sorted(config)}.")
    created: dict[str, Layer] = {}
    pending: dict[str, list] = {}
    order = []
    mask_ops: dict[str, str] = {}  # skipped keras.src.ops nodes (mask makers) -> class
    for layer_data in config["layers"]:
        if not isinstance(layer_data, dict) or not isinstance(layer_data.get("name"), str):
            raise ValueError(f"Functional config: layer entry without a name: "
                             f"{short_repr(layer_data)}")
        name = layer_data["name"]
        if name in created or name in mask_ops:
            raise ValueError(f"Functional config: two layers are named {name!r}.")
        if str(layer_data.get("module") or "").startswith(_MASK_OP_MODULES):
            # Keras 3 writes the ops that compute masks (NotEqual for Embedding's
            # mask_zero, NotEqual + Any for Masking) as graph nodes feeding ``mask=``
            # kwargs. Our layers make the same masks at run time (core.layers.masks),
            # so these nodes are left out; any other use of them is refused below.
            mask_ops[name] = str(layer_data.get("class_name"))
            continue
        with custom_object_scope(custom_objects):
            layer = deserialize_layer(layer_data)
        created[name] = layer
        order.append(name)
        nodes = layer_data.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise ValueError(f"Functional config: 'inbound_nodes' of {name!r} must be a list.")
        if nodes:
            pending[name] = list(nodes)

    def tensor(history, where, model_io=False):
        if not (isinstance(history, (list, tuple)) and len(history) == 3):
            raise ValueError(f"Functional config: bad tensor reference {history!r} in {where}.")
        lname, node_index, tensor_index = history
        if lname in mask_ops:
            raise ValueError(f"Functional config: {where} uses the output of the Keras op "
                             f"{mask_ops[lname]!r} ({lname!r}); ops are only supported where "
                             "Keras computes a mask with them.")
        if lname not in created:
            raise ValueError(f"Functional config: {where} refers to unknown layer {lname!r}.")
        layer = created[lname]
        if not isinstance(node_index, int) or isinstance(node_index, bool):
            raise ValueError(f"Functional config: bad node index {node_index!r} in {where}.")
        if model_io and is_functional(layer):
            node_index -= 1  # as Keras' get_tensor: see functional_config
        if node_index < 0:
            raise ValueError(f"Functional config: {where} refers to node {history[1]} of "
                             f"layer {lname!r}, which does not exist.")
        if node_index >= len(layer._inbound_nodes):
            raise _NotYet()
        outs = layer._inbound_nodes[node_index].output_tensors
        if not isinstance(tensor_index, int) or not 0 <= tensor_index < len(outs):
            raise ValueError(f"Functional config: {where} asks for output {tensor_index} of "
                             f"layer {lname!r}, which has {len(outs)}.")
        return outs[tensor_index]

    def revive(obj, where):
        if isinstance(obj, dict) and obj.get("class_name") == "__keras_tensor__":
            return tensor(obj.get("config", {}).get("keras_history"), where)
        if isinstance(obj, list):
            return [revive(v, where) for v in obj]
        if isinstance(obj, dict):
            return {k: revive(v, where) for k, v in obj.items()}
        return obj

    def call(layer, node_data, name):
        if isinstance(node_data, dict):
            args = revive(node_data.get("args", []), f"layer {name!r}")
            raw = node_data.get("kwargs", {})
            if isinstance(raw, dict) and _is_tensor_ref(raw.get("mask")):
                raw = {k: v for k, v in raw.items() if k != "mask"}  # remade at run time
            kwargs = revive(raw, f"layer {name!r}")
        else:  # Keras 2 form: [[name, node, tensor, kwargs], ...]
            refs = [tensor(list(d[:3]), f"layer {name!r}") for d in node_data]
            kwargs = node_data[0][3] if node_data and len(node_data[0]) > 3 else {}
            args = [refs[0] if len(refs) == 1 else refs]
        if len(args) > 1 or (not args and type(layer).__call__ is not Layer.__call__):
            # several tensors (``endpoint(targets, logits)``, ``mha(q, v)``), or all
            # given by keyword (``mha(query=x, value=x)``)
            if not isinstance(kwargs, dict):
                raise ValueError(f"Functional config: kwargs of layer {name!r} must be a dict.")
            layer(*args, **kwargs)
            return
        if len(args) != 1:
            raise ValueError(f"Functional config: layer {name!r} is called with {len(args)} "
                             "positional inputs; only one (a tensor or a list) is supported.")
        if not isinstance(kwargs, dict):
            raise ValueError(f"Functional config: kwargs of layer {name!r} must be a dict.")
        kwargs = dict(kwargs)
        # Keras writes the mask it filled in: None (no mask) or a tensor, dropped above.
        if kwargs.pop("mask", None) is not None:
            raise ValueError(f"Functional config: layer {name!r} is called with a mask "
                             "that is not a tensor; that is not supported.")
        layer(args[0], **kwargs)

    while pending:
        progressed = False
        for name in order:
            todo = pending.get(name)
            while todo:
                try:
                    call(created[name], todo[0], name)
                except _NotYet:
                    break
                todo.pop(0)
                progressed = True
            if name in pending and not pending[name]:
                del pending[name]
        if not progressed:
            raise ValueError("Functional config: cannot connect layers "
                             f"{sorted(pending)}: their inputs never become available.")

    def tensors(spec, what):
        if isinstance(spec, dict):
            return {k: tensors(v, what) for k, v in spec.items()}
        if isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str):
            try:
                return tensor(spec, what, model_io=True)
            except _NotYet:
                raise ValueError(f"Functional config: {what} {spec!r} does not exist.") from None
        if isinstance(spec, list):
            return [tensors(v, what) for v in spec]
        raise ValueError(f"Functional config: bad {what} {spec!r}.")

    # The structure is kept as written (Keras does the same): a model made with
    # outputs=[t] returns a list of one array.
    inputs = tensors(config["input_layers"], "input_layers")
    outputs = tensors(config["output_layers"], "output_layers")
    return cls(inputs, outputs, name=config.get("name"),
               trainable=config.get("trainable", True))
