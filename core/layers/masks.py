"""Keras masks: a boolean array (batch, time) riding beside a layer's output.

Keras 3 attaches a mask to a tensor (``tensor._keras_mask``); numpy arrays take no
attributes, so the mask of an output array lives in a side table keyed by the array's
identity. Each entry holds a weak reference to its array, so a freed array's id
(which CPython may reuse) never hands an old mask to a new array, and the entry goes
away with the array.

``Layer.__call__`` uses it through ``call_arguments`` and ``attach``:

* a layer whose ``forward`` (or overridden ``call``) has a ``mask`` parameter gets the
  mask of its input as ``mask=`` (``None`` when there is none; an explicit
  ``layer(x, mask=m)`` wins);
* after the call, ``layer.compute_mask(inputs, mask)`` gives the output's mask:
  the input's mask for layers with ``supports_masking = True`` (Dense, Dropout,
  LayerNormalization, ...), ``None`` (mask dropped, as Keras) otherwise; Embedding
  (mask_zero) and Masking compute a new one.

>>> import numpy as np
>>> y = np.zeros((2, 3))
>>> set_mask(y, np.array([[True, True, False], [True, False, False]]))
>>> int(get_mask(y).sum())
3
>>> get_mask(np.zeros((2, 3))) is None
True
"""

from __future__ import annotations

import inspect
import weakref

import numpy as np

_table: dict[int, tuple] = {}
_takes_mask: dict[tuple, bool] = {}


def _forget(key, ref):
    entry = _table.get(key)
    if entry is not None and entry[0] is ref:
        del _table[key]


def set_mask(array, mask) -> None:
    """Attach ``mask`` (or None: detach) to the ndarray ``array``."""
    if not isinstance(array, np.ndarray):
        return
    key = id(array)
    if mask is None:
        _table.pop(key, None)
        return
    ref = weakref.ref(array, lambda r, k=key: _forget(k, r))
    _table[key] = (ref, np.asarray(mask, dtype=bool))


def get_mask(array):
    """The mask attached to ``array`` (a list of arrays: a list of masks), or None."""
    if isinstance(array, (list, tuple)):
        masks = [get_mask(a) for a in array]
        return None if all(m is None for m in masks) else masks
    entry = _table.get(id(array))
    if entry is None or entry[0]() is not array:
        return None
    return entry[1]


def takes_mask(layer) -> bool:
    """Whether the layer's computation has a ``mask`` argument: its ``forward``, or
    its own ``call`` when it overrides ``Layer.call``."""
    from core.layers.base import Layer

    cls = type(layer)
    use_call = cls.call is not Layer.call
    key = (cls, use_call)
    known = _takes_mask.get(key)
    if known is None:
        fn = cls.call if use_call else cls.forward
        known = _takes_mask[key] = "mask" in inspect.signature(fn).parameters
    return known


def call_arguments(layer, inputs, kwargs):
    """``({"mask": m} or {}, m)``: the input's mask (an explicit ``mask=`` popped from
    ``kwargs`` wins), passed on only when the layer's computation takes it."""
    explicit = "mask" in kwargs
    mask = kwargs.pop("mask") if explicit else get_mask(inputs)
    # An explicit ``layer(x, mask=m)`` also reaches a ``call(self, x, **kwargs)``, as
    # Keras forwards the caller's keyword arguments; an implicit mask does not.
    passes = takes_mask(layer) or (explicit and _call_takes_kwargs(layer))
    return ({"mask": mask} if passes else {}), mask


def _call_takes_kwargs(layer) -> bool:
    from core.layers.base import Layer
    from core.layers.call_args import _call_accepts

    cls = type(layer)
    return cls.call is not Layer.call and "mask" in _call_accepts(cls)


def attach(layer, inputs, outputs, mask) -> None:
    """Attach ``layer.compute_mask(inputs, mask)`` to the outputs that carry none yet."""
    out_mask = layer.compute_mask(inputs, mask)
    if out_mask is None:
        return
    if isinstance(outputs, (list, tuple)):
        pairs = zip(outputs, out_mask) if isinstance(out_mask, (list, tuple)) else ()
    else:
        pairs = [(outputs, out_mask)]
    for out, m in pairs:
        if m is not None and get_mask(out) is None:
            set_mask(out, m)


def output_carries_mask(layer, tensors, masked: list) -> bool:
    """Whether ``layer``'s output carries a Keras mask, symbolically (no arrays): given
    its input ``tensors`` and, per input, whether that input carries one.

    Embedding(mask_zero=True) and Masking make one (``_creates_masks``); otherwise
    the layer's own ``compute_mask`` decides, asked with a stand-in boolean mask for
    each masked input (it keeps, drops or combines them as at run time). A
    ``compute_mask`` that needs real arrays falls back to Keras' rule for the base
    class: the mask passes when ``supports_masking``. The editor marks masked wires
    with it, and saving needs it to write a node's ``mask`` argument as Keras does.
    """
    creates = getattr(layer, "_creates_masks", None)
    if creates is not None and creates():
        return True
    if not any(masked) or tensors is None:
        return False
    probe = np.ones((1, 1), bool)
    many = isinstance(tensors, list)
    given = [probe if m else None for m in masked] if many else probe
    try:
        out = layer.compute_mask(tensors, given)
    except Exception:  # noqa: BLE001 - compute_mask wanted real arrays
        out = given if getattr(layer, "supports_masking", False) else None
    if isinstance(out, (list, tuple)):
        out = next((m for m in out if m is not None), None)
    return out is not None
