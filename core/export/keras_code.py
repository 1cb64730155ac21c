"""Write a model as a readable Keras 3 Python script (functional API).

The script names every layer, passes only the arguments that differ from the layer's
defaults, compiles as the model was compiled, and loads ``model.weights.h5`` from beside
itself when that file exists (``export_keras_code(..., weights=True)`` writes it with the
engine's Keras-layout weights writer). ``data_parallel=True`` adds
``keras.distribution.DataParallel`` over all devices (a JAX-only API: the script skips
it on other backends).

>>> path = export_keras_code(model, "model.py", weights=True)   # doctest: +SKIP
>>> # KERAS_BACKEND=jax python model.py   -> prints model.summary()
"""

from __future__ import annotations

import inspect
import keyword
import os
import pprint
import re

from core.layers.node import KerasTensor, node_call_arguments
from core.saving.compile_config import get_compile_config

_SKIP_KEYS = {"name", "dtype", "trainable", "quantization_config"}

_HEADER = '''"""{name}: a Keras 3 model written by Netweaver.

Run with any Keras 3 backend, e.g.  KERAS_BACKEND=torch python {script}
The trained weights load from {weights!r} beside this file when it exists.
"""

import os

import keras

DATA_PARALLEL = {data_parallel}  # True: train on every device (keras.distribution, JAX only)
if DATA_PARALLEL and keras.backend.backend() == "jax":
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
'''

_FOOTER = '''
WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), {weights!r})
if os.path.exists(WEIGHTS):
    model.load_weights(WEIGHTS)

if __name__ == "__main__":
    model.summary()
'''


def _identifier(name: str, taken: set) -> str:
    ident = re.sub(r"\W", "_", name) or "x"
    if ident[0].isdigit() or keyword.iskeyword(ident) or ident in ("keras", "os", "model"):
        ident = "t_" + ident
    base, k = ident, 1
    while ident in taken:
        ident, k = f"{base}_{k}", k + 1
    taken.add(ident)
    return ident


def _required(cls) -> list[str]:
    sig = inspect.signature(cls.__init__)
    return [p.name for p in list(sig.parameters.values())[1:]
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def layer_arguments(layer) -> list[tuple[str, object]]:
    """(name, value) of the arguments that differ from ``type(layer)``'s defaults."""
    config = layer.get_config()
    required = _required(type(layer))
    default = type(layer)(**{k: config[k] for k in required}).get_config()
    args = [(k, config[k]) for k in required]
    args += [(k, v) for k, v in config.items()
             if k not in _SKIP_KEYS and k not in required and default.get(k, object()) != v]
    if not layer.trainable:
        args.append(("trainable", False))
    return args


def _call(cls_name: str, args, name: str) -> str:
    parts = [f"{k}={v!r}" for k, v in args] + [f"name={name!r}"]
    one_line = f"keras.layers.{cls_name}({', '.join(parts)})"
    if len(one_line) <= 80:
        return one_line
    return f"keras.layers.{cls_name}(\n    " + ",\n    ".join(parts) + ",\n)"


def _call_arguments(node, ins: list[str]) -> str:
    """What goes between the call's parentheses, as the node was called: positional
    tensors then keyword tensors (MultiHeadAttention's ``(query, value, key=...)``,
    an RNN's ``initial_state=[h, c]``), then the other recorded call arguments
    (``use_causal_mask=True``). Keras' ``mha([q, v])`` would be a different call."""
    kwargs = {k: repr(v) for k, v in node.call_kwargs.items()
              if v is not None and not isinstance(v, KerasTensor)}
    args, kwargs = node_call_arguments(node.node, ins, kwargs)

    def text(v):  # a list of tensors is written as a Python list
        return f"[{', '.join(v)}]" if isinstance(v, list) else v
    return ", ".join([text(a) for a in args] + [f"{k}={text(v)}" for k, v in kwargs.items()])


def keras_code(model, weights_file: str = "model.weights.h5", data_parallel=False,
               script: str = "model.py") -> str:
    """The script's text (see the module docstring)."""
    from core.models.graph import graph_of, tensor_ref
    from core.models.model import Model
    graph = graph_of(model)  # the same run-order walk as the ONNX exporter
    inputs, outputs, order = graph.inputs, graph.outputs, graph.nodes
    taken, var = set(), {}
    lines = [_HEADER.format(name=model.name, script=script, weights=weights_file,
                            data_parallel=bool(data_parallel))]
    for t in inputs:
        layer = tensor_ref(t).layer
        v = var[id(t)] = _identifier(layer.name, taken)
        lines.append(f"{v} = keras.Input(shape={tuple(t.shape[1:])!r}, name={layer.name!r})")
    calls: dict = {}
    for node in order:
        calls[id(node.layer)] = calls.get(id(node.layer), 0) + 1
    shared: dict = {}  # a layer called more than once: made once, then called by name
    for node in order:
        layer = node.layer
        if getattr(layer, "num_inputs", 1) == 0:
            continue
        if isinstance(layer, Model):
            raise ValueError(f"Layer '{layer.name}' is a nested model; Keras code export "
                             "writes flat models only.")
        arg = _call_arguments(node, [var[id(t)] for t in node.inputs])
        outs = [_identifier(layer.name, taken) for _ in node.outputs]
        for t, v in zip(node.outputs, outs):
            var[id(t)] = v
        made = _call(type(layer).__name__, layer_arguments(layer), layer.name)
        if calls[id(layer)] > 1:
            if id(layer) not in shared:
                shared[id(layer)] = _identifier(f"{layer.name}_layer", taken)
                lines.append(f"{shared[id(layer)]} = {made}  # shared: called "
                             f"{calls[id(layer)]} times")
            made = shared[id(layer)]
        lines.append(f"{', '.join(outs)} = {made}({arg})")
    ins = [var[id(t)] for t in inputs]
    outs = [var[id(t)] for t in outputs]
    in_text = ins[0] if len(ins) == 1 else f"[{', '.join(ins)}]"
    out_text = outs[0] if len(outs) == 1 else f"[{', '.join(outs)}]"
    lines.append(f"model = keras.Model(inputs={in_text}, outputs={out_text}, "
                 f"name={model.name!r})")
    compiled = get_compile_config(model)
    if compiled:
        text = pprint.pformat(compiled, indent=4, width=90, sort_dicts=False)
        lines.append(f"\n# compile settings, as Keras' own get_compile_config() writes them\n"
                     f"model.compile_from_config({text})")
    lines.append(_FOOTER.format(weights=weights_file))
    return "\n".join(lines)


def export_keras_code(model, path, weights: bool = False, data_parallel: bool = False) -> str:
    """Write the script to ``path`` (atomically); with ``weights`` also write
    ``model.weights.h5`` beside it. Returns the script's path."""
    from pathlib import Path

    from core.graph.project_file import _atomic_write_text
    path = Path(path)
    weights_name = "model.weights.h5"
    # The script writes one flat model: nested models are wired in place (same layers
    # and weights), so the weights file matches the script's layer paths.
    from core.graph.open_model import inline_nested
    model = inline_nested(model)[0]
    text = keras_code(model, weights_name, data_parallel, script=path.name)
    compile(text, str(path), "exec")  # a syntax error here is ours: fail before writing
    if weights:
        model.save_weights(os.path.join(path.parent, weights_name))
    _atomic_write_text(path, text)
    return str(path)
