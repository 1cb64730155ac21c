"""How numpy calls on ``Tracked`` arrays reach ``core.ops`` under an active tape.

Ufuncs (``x * 2.0``, ``np.exp(x)``, ``x.sum()``) and the numpy functions in
``FUNCTIONS`` run the op of the same meaning, which records itself. Everything
else — and everything when no tape is active — runs on the plain arrays and
returns plain arrays: such a result carries no gradient (a trainable weight that
only reaches the loss that way is reported after ``backward``).

>>> import numpy as np
>>> ufunc_op(np.multiply).__name__
'multiply'
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.ops import activations as A
from core.ops import elementwise as E
from core.ops import manipulation as S
from core.ops import reduce as R
from core.ops.engine import unwrap_all

UFUNCS = {
    np.add: E.add, np.subtract: E.subtract, np.multiply: E.multiply,
    np.true_divide: E.true_divide, np.power: E.power, np.maximum: E.maximum,
    np.minimum: E.minimum, np.negative: E.negative, np.square: E.square, np.sqrt: E.sqrt,
    np.absolute: E.absolute, np.exp: E.exp, np.log: E.log, np.log1p: E.log1p,
    np.expm1: E.expm1, np.sin: E.sin, np.cos: E.cos, np.tan: E.tan, np.tanh: E.tanh,
    np.sinh: E.sinh, np.cosh: E.cosh, np.arctan: E.arctan, np.reciprocal: E.reciprocal,
    np.matmul: R.matmul, np.positive: lambda x: x,
}
REDUCTIONS = {np.add: R.sum, np.maximum: R.max, np.minimum: R.min}

# numpy function -> (op, keyword arguments the op understands)
FUNCTIONS = {
    np.sum: (R.sum, {"axis", "keepdims"}), np.mean: (R.mean, {"axis", "keepdims"}),
    np.max: (R.max, {"axis", "keepdims"}), np.min: (R.min, {"axis", "keepdims"}),
    np.amax: (R.max, {"axis", "keepdims"}), np.amin: (R.min, {"axis", "keepdims"}),
    np.var: (R.var, {"axis", "keepdims"}), np.std: (R.std, {"axis", "keepdims"}),
    np.prod: (R.prod, {"axis", "keepdims"}), np.cumsum: (R.cumsum, {"axis"}),
    np.dot: (R.dot, set()), np.tensordot: (R.tensordot, {"axes"}),
    np.einsum: (R.einsum, set()),
    np.reshape: (S.reshape, set()), np.transpose: (S.transpose, {"axes"}),
    np.expand_dims: (S.expand_dims, {"axis"}), np.squeeze: (S.squeeze, {"axis"}),
    np.broadcast_to: (S.broadcast_to, set()), np.concatenate: (S.concatenate, {"axis"}),
    np.stack: (S.stack, {"axis"}), np.split: (S.split, {"axis"}),
    np.take: (S.take, {"axis"}), np.take_along_axis: (S.take_along_axis, {"axis"}),
    np.where: (S.where, set()), np.tile: (S.tile, set()), np.repeat: (S.repeat, {"axis"}),
    np.flip: (S.flip, {"axis"}), np.sort: (S.sort, {"axis"}), np.clip: (E.clip, set()),
    np.pad: (S.pad, {"mode", "constant_values"}),
}


def ufunc_op(ufunc):
    """The op standing for ``ufunc`` (None when it has no differentiable op here)."""
    return UFUNCS.get(ufunc)


_DEFAULTS = {"out": None, "where": True, "dtype": None}


def array_ufunc(ufunc, method, inputs, kwargs):
    # ndarray methods pass their defaults explicitly (``out=None, where=True``).
    kwargs = {k: v for k, v in kwargs.items() if not (k in _DEFAULTS and v is _DEFAULTS[k]
                                                      or k == "out" and v == (None,))}
    if backend.get_tape() is not None and "out" not in kwargs and "where" not in kwargs:
        if method == "__call__" and ufunc in UFUNCS and not kwargs:
            return UFUNCS[ufunc](*inputs)
        if method == "reduce" and ufunc in REDUCTIONS and len(inputs) == 1 and \
                set(kwargs) <= {"axis", "keepdims"}:
            return REDUCTIONS[ufunc](inputs[0], axis=kwargs.get("axis", 0),
                                     keepdims=kwargs.get("keepdims", False))
    args = unwrap_all(inputs)
    if "out" in kwargs:  # in place (``x += 1``): no gradient; hand back the caller's array
        out = kwargs["out"]
        getattr(ufunc, method)(*args, **dict(kwargs, out=unwrap_all(out)))
        return out[0] if isinstance(out, tuple) and len(out) == 1 else out
    return getattr(ufunc, method)(*args, **kwargs)


def array_function(func, args, kwargs):
    if backend.get_tape() is not None and func in FUNCTIONS:
        op, allowed = FUNCTIONS[func]
        if set(kwargs) <= allowed:
            return op(*args, **kwargs)
    return func(*unwrap_all(args), **{k: unwrap_all(v) for k, v in kwargs.items()})


__all__ = ["A", "array_function", "array_ufunc", "ufunc_op"]
