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


def _zeros_like_shape(shape, dtype):
    if isinstance(shape, list):
        return [_zeros_like_shape(s, dtype) for s in shape]
    return np.zeros(tuple(1 if d is None else int(d) for d in shape), dtype=dtype)
