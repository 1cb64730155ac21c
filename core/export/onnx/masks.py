"""Keras masks in the exported graph: a bool (batch, time) tensor beside a tensor.

``OnnxGraph.masks`` maps a tensor name to the name of its mask, mirroring
``core.layers.masks`` in the engine: an emitter that makes or changes a mask (Embedding,
Masking, the recurrent layers, the global pools) sets it on its outputs itself (None for
"no mask"); for every
other layer ``propagate_mask`` applies ``Layer.compute_mask``'s rule: the input's mask
when the layer ``supports_masking``, the OR of the inputs' masks for the merge layers
(none unless every input has one), Concatenate's widened concatenation, else nothing.

>>> from core.layers import Dense
>>> class G: masks = {"x": "m"}
>>> g = G(); propagate_mask(g, Dense(2), ["x"], ["y"]); g.masks["y"]
'm'
"""

from __future__ import annotations

import numpy as np


def propagate_mask(g, layer, xs: list[str], outs: list[str]) -> None:
    if any(o in g.masks for o in outs):  # the emitter set its outputs' masks (None: none)
        return
    in_masks = [g.masks.get(x) for x in xs]
    if all(m is None for m in in_masks):
        return
    kind = type(layer).__name__
    if kind == "Concatenate":
        g.masks[outs[0]] = _concatenate_mask(g, layer, xs, in_masks)
    elif len(xs) > 1:
        if getattr(layer, "supports_masking", False) and all(m is not None for m in in_masks):
            mask = in_masks[0]
            for m in in_masks[1:]:
                mask = g.op("Or", [mask, m])
            g.masks[outs[0]] = mask
    elif getattr(layer, "supports_masking", False):
        g.masks[outs[0]] = in_masks[0]


def _concatenate_mask(g, layer, xs, in_masks) -> str:
    """Keras: each mask (all True when missing) widened to its input's shape,
    concatenated on ``axis``, then any() over the last axis."""
    rank = g.rank(xs[0])
    full = []
    for x, m in zip(xs, in_masks):
        ones = g.op("Expand", [g.const(np.array(1, np.int32)), g.op("Shape", [x])])
        if m is None:
            full.append(ones)
        else:
            widened = g.op("Cast", [m], to=6)  # int32
            if rank > 2:
                widened = g.op("Unsqueeze", [widened, g.const(np.array([-1], np.int64))])
            full.append(g.op("Mul", [widened, ones]))
    cat = g.op("Concat", full, axis=int(layer.axis))
    anyof = g.op("ReduceMax", [cat, g.const(np.array([-1], np.int64))], keepdims=0)
    return g.op("Cast", [anyof], to=9)  # bool
