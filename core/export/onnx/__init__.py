"""Write a built model as an ONNX file (opset ``OPSET``), checked by ``onnx.checker``.

>>> from core.models import Sequential                                  # doctest: +SKIP
>>> from core.layers import Input, Dense                                # doctest: +SKIP
>>> model = Sequential([Input((4,)), Dense(2, activation="softmax")])   # doctest: +SKIP
>>> export_onnx(model, "model.onnx")                                    # doctest: +SKIP

The file is written to a temporary file beside ``path`` and moved into place only once
the whole model is emitted and checked, so a failed export leaves nothing on disk.
Nested models are inlined; each layer is emitted by ``EMITTERS[class name]`` (one
emitter per layer type, in files by family: ``emitters`` dense/conv/merge,
``emit_sequence``, ``emit_recurrent``, ``emit_masked_rnn``, ``emit_attention``,
``emit_upsample``), or, for a built-in layer that is the identity at inference
(Dropout, GaussianNoise...: its class's ``inference_identity``), an ONNX Identity; an
emitter that needs the call's static arguments (MultiHeadAttention's
``use_causal_mask``) reads ``OnnxGraph.call_kwargs``, the node's being emitted.
Keras masks travel beside the tensors as ONNX bool tensors (``OnnxGraph.masks``), as
``core.layers.masks`` does in the engine: created by Embedding(mask_zero)/Masking,
passed on by layers with ``supports_masking``, combined by the merge layers, used by
the recurrent layers, MultiHeadAttention and GlobalAveragePooling1D.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from core.export.onnx import emit_attention, emit_recurrent, emit_sequence, emit_upsample, emitters
from core.export.onnx.emitters import OPSET, UnsupportedLayer
from core.export.onnx.masks import propagate_mask

EMITTERS = {**emitters.EMITTERS, **emit_sequence.EMITTERS, **emit_recurrent.EMITTERS,
            **emit_attention.EMITTERS, **emit_upsample.EMITTERS}
__all__ = ["export_onnx", "OPSET", "UnsupportedLayer", "EMITTERS", "emitter_for_class"]


def _identity(g, layer, xs):
    return g.op("Identity", [xs[0]])


def emitter_for_class(cls):
    """The emitter of layer class ``cls``, or None when it has none: its own, else an
    Identity when the class is a built-in layer that is the identity at inference
    (``core.layers.facts``; a user subclass may change ``call``, so it needs its own)."""
    emit = EMITTERS.get(cls.__name__)
    if emit is None and cls.__module__.startswith("core.layers") and cls.inference_identity:
        return _identity
    return emit


class OnnxGraph:
    """Collects nodes and initializers; hands out unique tensor names."""

    def __init__(self, parent=None):
        from onnx import numpy_helper
        self._numpy_helper = numpy_helper
        self.nodes = []
        if parent is None:
            self.initializers, self.shapes, self.masks, self.dtypes = [], {}, {}, {}
            self.call_kwargs = {}
            self._count = [0]
            self._weights = {}
        else:  # a subgraph (Scan body): names and constants live in the outer graph
            self.initializers, self.shapes = parent.initializers, parent.shapes
            self.masks, self.dtypes = parent.masks, parent.dtypes
            self._count, self._weights = parent._count, parent._weights

    def _name(self, stem: str) -> str:
        self._count[0] += 1
        return f"{stem}_{self._count[0]}"

    def subgraph(self) -> OnnxGraph:
        """A graph for a control-flow body: its own nodes, the outer graph's constants
        (a body may read outer-scope tensors) and unique names."""
        return OnnxGraph(parent=self)

    def dtype(self, name: str) -> str:
        """numpy dtype name of tensor ``name`` (float32 unless a graph input says else)."""
        return self.dtypes.get(name, "float32")

    def emit_layer(self, layer, xs: list[str]) -> list[str]:
        """Emit ``layer`` (a Model is inlined) on inputs ``xs``; its output names."""
        return _emit_layer(self, layer, xs)

    def rank(self, name: str) -> int:
        return len(self.shapes[name])

    def shape(self, name: str) -> tuple:
        """The static Keras shape of tensor ``name`` (batch dimension None)."""
        return self.shapes[name]

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        return self.ops(op_type, inputs, 1, **attrs)[0]

    def ops(self, op_type: str, inputs: list[str], n_out: int, **attrs) -> list[str]:
        """A node with ``n_out`` outputs ("" in ``inputs``: an optional input left out)."""
        from onnx import helper
        out = self._name(op_type.lower())
        names = [out] + [f"{out}_{i}" for i in range(1, n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, names, name=out, **attrs))
        return names

    def const(self, value) -> str:
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        name = self._name("const")
        self.initializers.append(self._numpy_helper.from_array(arr, name))
        return name

    def weight(self, variable) -> str:
        """A layer weight as an initializer (one per variable, even if shared)."""
        key = id(variable)
        if key not in self._weights:
            self._weights[key] = self.const(np.asarray(variable.numpy(), np.float32))
        return self._weights[key]


def _graph_of(model):
    """The public graph (``core.models.graph``) of a Sequential or Functional model."""
    from core.models.graph import graph_of
    return graph_of(model)  # ValueError for a subclassed or unbuilt model


def _emit_layer(g: OnnxGraph, layer, xs: list[str]) -> list[str]:
    from core.models.model import Model
    if isinstance(layer, Model):
        return _emit_model(g, layer, xs)
    emit = emitter_for_class(type(layer))
    if emit is None:
        raise UnsupportedLayer(
            f"Layer '{layer.name}' ({type(layer).__name__}) has no ONNX emitter; it "
            f"cannot be represented in ONNX opset {OPSET}.")
    outs = emit(g, layer, xs)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    propagate_mask(g, layer, xs, outs)
    return outs


def _emit_model(g: OnnxGraph, model, input_names: list[str]) -> list[str]:
    graph = _graph_of(model)
    names = {id(t): n for t, n in zip(graph.inputs, input_names)}
    for node in graph.nodes:
        layer = node.layer
        if getattr(layer, "num_inputs", 1) == 0:  # InputLayer: its tensor is a graph input
            continue
        xs = [names[id(t)] for t in node.inputs]
        g.call_kwargs = node.call_kwargs
        outs = _emit_layer(g, layer, xs)
        for t, name in zip(node.outputs, outs):
            names[id(t)] = name
            g.shapes[name] = tuple(t.shape)
    return [names[id(t)] for t in graph.outputs]


def _onnx_dtype(tensor) -> tuple[str, str]:
    """(numpy name, TensorProto name) of a model input: ints stay ints (token ids for an
    Embedding), every float input is float32 as the exported weights."""
    name = str(getattr(tensor, "dtype", None) or "float32")
    if name in ("int32", "int64"):
        return name, name.upper()
    return "float32", "FLOAT"


def to_onnx_model(model):
    """The ``onnx.ModelProto`` of ``model`` (float32, any batch size)."""
    import onnx
    from onnx import TensorProto, helper

    from core.models.graph import tensor_ref
    graph = _graph_of(model)
    inputs, outputs = graph.inputs, graph.outputs
    g = OnnxGraph()
    in_names = [tensor_ref(t).layer.name for t in inputs]
    for t, name in zip(inputs, in_names):
        g.shapes[name] = tuple(t.shape)
        g.dtypes[name] = _onnx_dtype(t)[0]
    out_names = _emit_model(g, model, in_names)
    # name the outputs after their layers (Keras' output_names), as Identity ops
    final = []
    # a layer named like an intermediate tensor (``softmax_1``) must not reuse its name
    used = {o for node in g.nodes for o in node.output} | {i.name for i in g.initializers}
    for t, name in zip(outputs, out_names):
        stem = target = tensor_ref(t).layer.name
        k = 0
        while target in final or target in in_names or target in used:
            k += 1
            target = f"{stem}_output" if k == 1 else f"{stem}_output_{k}"
        g.nodes.append(helper.make_node("Identity", [name], [target], name=target))
        final.append(target)

    def info(name, t):
        dims = ["batch" if i == 0 and d is None else (None if d is None else int(d))
                for i, d in enumerate(t.shape)]
        elem = getattr(TensorProto, _onnx_dtype(t)[1])
        return helper.make_tensor_value_info(name, elem, dims)

    graph = helper.make_graph(g.nodes, model.name,
                              [info(n, t) for n, t in zip(in_names, inputs)],
                              [info(n, t) for n, t in zip(final, outputs)], g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="netweaver")
    proto.ir_version = min(proto.ir_version, 9)  # readable by onnxruntime >= 1.16
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path) -> str:
    """Write ``model`` to ``path`` as ONNX; returns the path. Atomic: on any error
    nothing is left at ``path`` (an existing file there is kept as it was)."""
    proto = to_onnx_model(model)
    data = proto.SerializeToString()
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
