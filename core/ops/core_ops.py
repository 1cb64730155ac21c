"""Tensor creation, conversion and control flow (``keras.ops`` core group).

Control flow runs eagerly in Python, so gradients flow through whatever ops the
branch or loop body calls (there is nothing to trace).

>>> from core import ops
>>> ops.fori_loop(0, 3, lambda i, acc: acc + i, 0)
3
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.ops.engine import plain, run


def _dtype(dtype):
    return backend.standardize_dtype(dtype or backend.floatx())


def zeros(shape, dtype=None):
    """A new tensor of zeros (float32 by default)."""
    return np.zeros(shape, _dtype(dtype))


def ones(shape, dtype=None):
    """A new tensor of ones."""
    return np.ones(shape, _dtype(dtype))


def full(shape, fill_value, dtype=None):
    """A new tensor filled with ``fill_value``."""
    return np.full(shape, fill_value, _dtype(dtype))


def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape (and dtype unless given)."""
    x = plain(x)
    return np.zeros(np.shape(x), dtype or np.asarray(x).dtype)


def ones_like(x, dtype=None):
    """Ones of ``x``'s shape."""
    x = plain(x)
    return np.ones(np.shape(x), dtype or np.asarray(x).dtype)


def full_like(x, fill_value, dtype=None):
    """``fill_value`` in ``x``'s shape."""
    x = plain(x)
    return np.full(np.shape(x), fill_value, dtype or np.asarray(x).dtype)


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values; integers stay int32 as in Keras unless floats are given."""
    if dtype is None:
        args = [a for a in (start, stop, step) if a is not None]
        dtype = backend.floatx() if any(isinstance(a, float) for a in args) else "int32"
    if stop is None:
        start, stop = 0, start
    return np.arange(start, stop, step, dtype=backend.standardize_dtype(dtype))


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    """``num`` values from ``start`` to ``stop``."""
    return np.linspace(start, stop, num, endpoint=endpoint, dtype=_dtype(dtype))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803 (Keras' argument names)
    """Identity-like matrix."""
    return np.eye(N, M, k, dtype=_dtype(dtype))


def shape(x):
    """The static shape tuple."""
    return tuple(np.shape(plain(x)))


def ndim(x):
    """Number of dimensions."""
    return len(shape(x))


def convert_to_tensor(x, dtype=None, sparse=None):
    """``x`` as a tensor; a Python float becomes float32 (floatx) as in Keras. Tracked
    arrays come back as they are (same identity: no copy, the gradient path is kept)."""
    from core.ops.engine import Variable, as_tensor
    # A trainable variable becomes a view recorded on the tape, so its gradient flows.
    t = run("convert_to_tensor", _identity_view, lambda c, g, need: [g], [x]) \
        if isinstance(x, Variable) else as_tensor(x)
    if dtype is not None:
        from core.ops.manipulation import cast
        return cast(t, dtype)
    return t


def convert_to_numpy(x):
    """A plain ``np.ndarray`` (detached from any tape)."""
    return np.array(plain(x))


def stop_gradient(x):
    """The same values, with no gradient flowing back through them."""
    return np.array(plain(x), copy=True)


def _identity_view(x):
    return x, None


def _identity_f(x):
    return np.array(x, copy=True), None


def identity(x):
    """A new tensor equal to ``x`` (the gradient passes)."""
    return run("identity", _identity_f, lambda c, g, need: [g], [x])


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()``."""
    return true_fn() if bool(np.asarray(plain(pred))) else false_fn()


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``."""
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Keras' ``while_loop``: ``loop_vars`` is a tuple (or one value) passed to ``cond``
    and ``body`` unpacked."""
    is_tuple = isinstance(loop_vars, (list, tuple))
    vars_ = tuple(loop_vars) if is_tuple else (loop_vars,)
    n = 0
    while (maximum_iterations is None or n < maximum_iterations) and bool(
            np.asarray(plain(cond(*vars_)))):
        out = body(*vars_)
        vars_ = tuple(out) if isinstance(out, (list, tuple)) else (out,)
        n += 1
    return type(loop_vars)(vars_) if is_tuple else vars_[0]


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns
    ``(carry, stacked ys)`` as ``jax.lax.scan``."""
    from core.ops.manipulation import getitem, stack
    n = length if xs is None else len(plain(xs))
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry, ys = init, []
    for i in order:
        carry, y = f(carry, None if xs is None else getitem(xs, i))
        ys.append(y)
    if reverse:
        ys.reverse()
    if ys and ys[0] is None:
        return carry, None
    return carry, (stack(ys) if ys else None)
