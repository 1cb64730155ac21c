"""Helpers for what flows through ``Layer.__call__``: arrays or symbolic ``KerasTensor``s,
single or in lists.

>>> import numpy as np
>>> shape_of([np.zeros((2, 3)), np.zeros((2, 5))])
[(2, 3), (2, 5)]
>>> _with_none_batch((32, 28, 28))
(None, 28, 28)
"""

from __future__ import annotations

import numpy as np

from core.layers.node import KerasTensor
from core.variables import Variable


def _is_symbolic(x) -> bool:
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(isinstance(t, KerasTensor) for t in x)
    return False


def shape_of(x):
    """Shape tuple(s) of arrays/tensors, batch dim included."""
    if isinstance(x, (list, tuple)):
        return [shape_of(t) for t in x]
    return tuple(x.shape)


def _with_none_batch(shape):
    if isinstance(shape, list):
        return [_with_none_batch(s) for s in shape]
    return (None,) + tuple(shape[1:])


def _as_arrays(x, dtype):
    if isinstance(x, (list, tuple)):
        return [_as_arrays(t, dtype) for t in x]
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x
    if isinstance(x, Variable):
        return x.value
    arr = np.asarray(x)
    if arr.dtype.kind in "biu":
        arr = arr.astype(dtype)
    return arr
