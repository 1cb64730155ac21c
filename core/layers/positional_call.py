"""A layer called with several positional tensors, ``layer(targets, logits)``, as the
endpoint-layer pattern of Keras' training guide writes it.

In a functional model the call becomes one node whose inputs are the positional
tensors in order; replaying it (``Functional.call``) calls ``layer(*tensors)`` again,
and a saved file writes them the way Keras 3 does, ``{"args": [t1, t2], "kwargs": {}}``.
The layer is built as Keras' ``_maybe_build`` does: a ``build(input_shape)`` with one
parameter receives the first tensor's shape; a ``build`` with one parameter per call
argument receives each as ``<argument>_shape``.

>>> import core as keras
>>> class Endpoint(keras.layers.Layer):
...     def call(self, targets, logits):
...         self.add_loss(keras.ops.mean((targets - logits) ** 2))
...         return keras.ops.softmax(logits)
>>> t, x = keras.Input((3,)), keras.Input((3,))
>>> Endpoint()(t, x).shape
(None, 3)
"""

from __future__ import annotations

import inspect

from core.layers.call_args import _zeros_like_shape
from core.layers.node import KerasTensor
from core.layers.values import _with_none_batch

POSITIONAL = "args"  # the ``multi_in`` flag of a functional plan entry for such a call


def _arg_names(layer, count: int) -> list[str]:
    """The names of ``call``'s first ``count`` positional parameters."""
    params = [p for p in inspect.signature(type(layer).call).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]  # not self
    names = [p.name for p in params[:count]]
    return names + [f"arg_{i}" for i in range(len(names), count)]


def build_for_call(layer, shapes: list) -> None:
    """Build ``layer`` (once) for a call on tensors of ``shapes`` (batch included)."""
    if layer.built:
        return
    shapes = [_with_none_batch(s) for s in shapes]
    params = [p for p in inspect.signature(layer.build).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if len(params) <= 1:
        layer._maybe_build(shapes[0])
        return
    names = [f"{n}_shape" for n in _arg_names(layer, len(shapes))]
    wanted = {p.name for p in params}
    if not set(names) <= wanted:
        raise ValueError(
            f"Layer '{layer.name}': build() takes {sorted(wanted)} but the call passes "
            f"{len(shapes)} tensors, whose shapes would be {names}; give build a single "
            "input_shape parameter or one <call argument>_shape parameter per tensor.")
    layer.build(**dict(zip(names, shapes)))
    layer.built = True
    layer._build_input_shape = shapes[0]
    for v in layer._trainable_variables + layer._non_trainable_variables:
        v.path = f"{layer.name}/{v.name}"


def _output_shape(layer, shapes, kwargs):
    from core import backend
    from core.layers.base import Layer

    if type(layer).compute_output_shape is not Layer.compute_output_shape:
        return layer.compute_output_shape(*shapes)
    # Traced as Keras does for a call-only layer: on zeros, off the tape (batch 1).
    dummies = [_zeros_like_shape(s, layer.dtype) for s in shapes]
    tape = backend.get_tape()
    backend.set_tape(None)
    try:
        out = layer.call(*dummies, **layer._call_arguments(False, dict(kwargs)))
    finally:
        backend.set_tape(tape)
    if isinstance(out, (list, tuple)):
        return [(None,) + tuple(o.shape)[1:] for o in out]
    return (None,) + tuple(out.shape)[1:]


def symbolic_positional_call(layer, tensors: list, kwargs: dict):
    """``layer(t1, t2, ...)`` on symbolic tensors: one node with all of them as inputs."""
    bad = [i for i, t in enumerate(tensors) if not isinstance(t, KerasTensor)]
    if bad:
        raise ValueError(
            f"Layer '{layer.name}' is called with {len(tensors)} positional arguments in a "
            f"functional model; argument(s) {bad} are not symbolic tensors "
            f"({[type(tensors[i]).__name__ for i in bad]}). Pass non-tensor options by "
            "keyword.")
    shapes = [tuple(t.shape) for t in tensors]
    build_for_call(layer, shapes)
    out_shape = _output_shape(layer, [_with_none_batch(s) for s in shapes], kwargs)
    node = layer._add_node(list(tensors), out_shape, kwargs)
    node.call_layout = (len(tensors), [])
    node.positional_inputs = True
    return node.output_tensors_as_called
