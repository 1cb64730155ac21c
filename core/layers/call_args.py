"""What ``Layer.__call__`` hands a user ``call``: ``training`` / ``mask`` only when its
signature declares them (inspected once per class, as Keras does), and the zeros a
``call``-only layer is traced on for its symbolic output shape.

>>> class L:
...     def call(self, x, training=None):
...         return x
>>> sorted(_call_accepts(L))
['training']
"""

from __future__ import annotations

import inspect

import numpy as np


def _call_accepts(cls) -> frozenset:
    """Which of ``training`` / ``mask`` ``cls.call`` takes; inspected once per class."""
    cached = cls.__dict__.get("_call_accepts_cache")
    if cached is not None:
        return cached
    try:
        params = inspect.signature(cls.call).parameters
    except (TypeError, ValueError):
        accepts = frozenset({"training", "mask"})
    else:
        var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        accepts = frozenset(k for k in ("training", "mask") if var_kw or k in params)
    type.__setattr__(cls, "_call_accepts_cache", accepts)
    return accepts


def _zeros_like_shape(shape, dtype, unknown=1):
    """Zeros of ``shape`` with each unknown (None) dimension set to ``unknown``."""
    if isinstance(shape, list):
        return [_zeros_like_shape(s, dtype, unknown) for s in shape]
    return np.zeros(tuple(unknown if d is None else int(d) for d in shape), dtype=dtype)


def traced_output_shape(layer, input_shape, with_mask=False):
    """The output shape of a layer that only defines ``call``, found as Keras traces it:
    by running ``call`` off the tape on zeros, the batch (and any unknown axis) of size 1.
    With an unknown non-batch axis (``Input((None,))``) it traces with sizes 2 and 3;
    the output dimensions that differ between the two are unknown too."""
    shapes = input_shape if isinstance(input_shape, list) else [input_shape]
    if not any(None in tuple(s)[1:] for s in shapes):
        return _traced(layer, input_shape, 1, with_mask)
    a, b = _traced(layer, input_shape, 2, with_mask), _traced(layer, input_shape, 3, with_mask)

    def merge(x, y):
        return tuple(p if p == q else None for p, q in zip(x, y))

    return [merge(x, y) for x, y in zip(a, b)] if isinstance(a, list) else merge(a, b)


def _traced(layer, input_shape, unknown, with_mask=False):
    from core import backend

    dummy = _zeros_like_shape(input_shape, layer.dtype, unknown)
    extra = {}
    if with_mask and "mask" in _call_accepts(type(layer)) and not isinstance(dummy, list):
        extra["mask"] = np.ones(dummy.shape[:2], dtype=bool)  # (batch, time), all kept
    tape = backend.get_tape()
    backend.set_tape(None)
    try:
        out = layer.call(dummy, **layer._call_arguments(False, extra))
    finally:
        backend.set_tape(tape)
    if isinstance(out, (list, tuple)):
        return [(None,) + tuple(np.shape(o))[1:] for o in out]
    return (None,) + tuple(np.shape(out))[1:]
