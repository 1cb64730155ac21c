"""``tensor._keras_mask`` as Keras users read it (the masking guide prints it).

* An eager layer output that carries a mask (``core.layers.masks``' side table) is
  handed back as a ``MaskedArray``: a plain-ndarray view whose ``_keras_mask`` reads
  that table. Arithmetic on it gives plain ndarrays again (its ufuncs and numpy
  functions run on the base array), so nothing downstream sees a new type.
* A symbolic ``KerasTensor``'s mask is worked out from its graph the way Keras'
  symbolic call does: the producing layer's ``compute_mask`` on stand-in values (ones
  for the inputs, all-True masks where the inputs have one). ``None`` when no mask.

>>> import numpy as np
>>> from core import layers
>>> y = layers.Embedding(10, 2, mask_zero=True)(np.array([[1, 0]]))
>>> y._keras_mask.tolist()
[[True, False]]
>>> import core as keras
>>> x = layers.Embedding(10, 2, mask_zero=True)(keras.Input((None,), dtype="int32"))
>>> x._keras_mask.shape
(None, None)
"""

from __future__ import annotations

import numpy as np

from core.layers import masks as _masks


def _plain(x):
    if isinstance(x, MaskedArray):
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


class MaskedArray(np.ndarray):
    """A layer output with a Keras mask; computes as a plain ndarray."""

    @property
    def _keras_mask(self):
        return _masks.get_mask(self)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        return getattr(ufunc, method)(*_plain(inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return func(*_plain(args), **_plain(kwargs))

    def __getitem__(self, key):
        return self.view(np.ndarray)[key]


def expose(outputs):
    """``outputs`` with each exact ndarray that carries a mask as a ``MaskedArray``.
    Not while a tape records: it links its records by array identity, so a view in
    place of a recorded output would cut the gradient (Tracked outputs have the
    attribute themselves)."""
    from core import backend

    if backend.get_tape() is not None:
        return outputs
    if isinstance(outputs, list):
        return [expose(o) for o in outputs]
    if isinstance(outputs, tuple):
        return tuple(expose(o) for o in outputs)
    if type(outputs) is not np.ndarray:
        return outputs
    mask = _masks.get_mask(outputs)
    if mask is None:
        return outputs
    view = outputs.view(MaskedArray)
    _masks.set_mask(view, mask)
    return view


def _stand_in(tensor, fill):
    shape = tuple(2 if d is None else int(d) for d in tensor.shape)
    return np.full(shape, fill, dtype=bool if fill is True else "float32")


def symbolic_mask(tensor):
    """The symbolic mask of ``tensor`` (a ``KerasTensor`` of bools), or None."""
    from core.layers.node import KerasTensor

    cache = tensor.__dict__
    if "_mask_cache" in cache:
        return cache["_mask_cache"]
    result = None
    history = tensor._keras_history
    if history is not None:
        layer, node_index, tensor_index = history
        node = layer._inbound_nodes[node_index]
        if node.input_tensors:
            in_masks = [symbolic_mask(t) for t in node.input_tensors]
            values = [_stand_in(t, 1.0) for t in node.input_tensors]
            masks = [None if m is None else _stand_in(m, True) for m in in_masks]
            multi = node.is_multi_input
            try:
                out = layer.compute_mask(values if multi else values[0],
                                         masks if multi else masks[0])
            except Exception:  # a compute_mask that needs real values: no static mask
                out = None
            if isinstance(out, (list, tuple)):
                out = out[tensor_index] if tensor_index < len(out) else None
            if out is not None:
                ndim = np.ndim(out)
                result = KerasTensor(tensor.shape[:ndim], "bool")
    cache["_mask_cache"] = result
    return result
