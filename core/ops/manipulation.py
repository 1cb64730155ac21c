"""Ops that move values without arithmetic: reshape, transpose, joins, splits,
indexing, padding, sorting (gradients scatter back to where values came from).

>>> import numpy as np
>>> from core import ops
>>> ops.concatenate([np.ones((2, 1)), np.zeros((2, 2))], axis=1).shape
(2, 3)
"""

from __future__ import annotations

import numpy as np

from core.ops.engine import primitive, run, variadic


def _reshape_f(x, newshape):
    return np.reshape(x, newshape), x.shape


reshape = primitive("reshape", _reshape_f, lambda c, g, need: [np.reshape(g, c)], 1,
                    "Reshape (``-1`` infers one dimension).")


def _transpose_f(x, axes=None):
    return np.transpose(x, axes), axes


def _transpose_b(axes, g, need):
    return [np.transpose(g, None if axes is None else np.argsort(axes))]


transpose = primitive("transpose", _transpose_f, _transpose_b, 1, "Permute axes.")


def _expand_f(x, axis):
    return np.expand_dims(x, axis), x.shape


expand_dims = primitive("expand_dims", _expand_f, lambda c, g, need: [np.reshape(g, c)], 1,
                        "Insert a length-1 axis.")


def _squeeze_f(x, axis=None):
    return np.squeeze(x, axis=tuple(axis) if isinstance(axis, list) else axis), x.shape


squeeze = primitive("squeeze", _squeeze_f, lambda c, g, need: [np.reshape(g, c)], 1,
                    "Remove length-1 axes.")


def _bcast_f(x, shape):
    return np.broadcast_to(x, shape), None


broadcast_to = primitive("broadcast_to", _bcast_f, lambda c, g, need: [g], 1,
                         "Broadcast to ``shape`` (the engine sums the gradient back).")


def _concat_f(xs, axis=0):
    sizes = [x.shape[axis] for x in xs]
    return np.concatenate(xs, axis=axis), (sizes, axis)


def _concat_b(c, g, need):
    sizes, axis = c
    return np.split(g, np.cumsum(sizes)[:-1], axis=axis)


concatenate = variadic("concatenate", _concat_f, _concat_b, "Join tensors along ``axis``.")


def _stack_f(xs, axis=0):
    return np.stack(xs, axis=axis), (len(xs), axis)


def _stack_b(c, g, need):
    n, axis = c
    return [np.take(g, i, axis=axis) for i in range(n)]


stack = variadic("stack", _stack_f, _stack_b, "Stack tensors along a new ``axis``.")


def split(x, indices_or_sections, axis=0):
    """Split into a list of tensors (numpy's ``array_split`` rule is not used: equal
    sections must divide the axis, as in Keras)."""
    def f(a):
        parts = np.split(a, indices_or_sections, axis=axis)
        return tuple(parts), axis

    def b(ax, gs, need):
        return [np.concatenate(gs, axis=ax)]
    return list(run("split", f, b, [x]))


def _take_f(x, indices, axis=None):
    idx = np.asarray(indices)
    if idx.dtype.kind == "f":
        idx = idx.astype(np.int64)
    return np.take(x, idx, axis=axis), (x.shape, x.dtype, idx, axis)


def _take_b(c, g, need):
    shape, dtype, idx, axis = c
    out = np.zeros(shape, dtype=g.dtype)
    if axis is None:
        np.add.at(out.reshape(-1), idx, g)
        return [out, None]
    ax = axis % len(shape)
    moved = np.moveaxis(out, ax, 0)
    gm = np.moveaxis(g, list(range(ax, ax + idx.ndim)), list(range(idx.ndim)))
    np.add.at(moved, idx, gm)
    return [out, None]


take = primitive("take", _take_f, _take_b, 2, "Gather along ``axis`` (flattened when None).")


def _tal_f(x, indices, axis=None):
    idx = np.asarray(indices).astype(np.int64)
    return np.take_along_axis(x, idx, axis=axis), (x.shape, idx, axis)


def _tal_b(c, g, need):
    shape, idx, axis = c
    out = np.zeros(shape, g.dtype)
    if axis is None:
        np.add.at(out.reshape(-1), idx, g)
        return [out, None]
    ax = axis % len(shape)
    grids = list(np.ix_(*[np.arange(n) for n in idx.shape]))
    grids[ax] = idx
    np.add.at(out, tuple(np.broadcast_arrays(*grids)), g)
    return [out, None]


take_along_axis = primitive("take_along_axis", _tal_f, _tal_b, 2,
                            "numpy's ``take_along_axis``.")


def _getitem_f(x, key):
    return x[key], (x.shape, key)


def _getitem_b(c, g, need):
    shape, key = c
    out = np.zeros(shape, g.dtype)
    np.add.at(out, key, g)
    return [out]


def getitem(x, key):
    """``x[key]`` (basic and integer-array indexing); what ``Tracked[...]`` uses."""
    if isinstance(key, np.ndarray) and key.dtype != bool or type(key).__name__ == "Tracked":
        key = np.asarray(key)
    return run("getitem", _getitem_f, _getitem_b, [x], {"key": key})


def _where_f(condition, x, y):
    cond = np.asarray(condition).astype(bool)
    return np.where(cond, x, y), cond


def _where_b(cond, g, need):
    zero = np.zeros((), g.dtype)
    return [None, np.where(cond, g, zero) if need[1] else None,
            np.where(cond, zero, g) if need[2] else None]


where = primitive("where", _where_f, _where_b, 3, "``x`` where ``condition`` else ``y``.")


def _tile_f(x, repeats):
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    y = np.tile(x, reps)
    return y, (x.shape, y.shape)


def _tile_b(c, g, need):
    shape, yshape = c
    nd = len(yshape)
    xs = (1,) * (nd - len(shape)) + tuple(shape)
    reps = [yd // xd for yd, xd in zip(yshape, xs)]
    split_shape = [v for r, d in zip(reps, xs) for v in (r, d)]
    gsum = g.reshape(split_shape).sum(axis=tuple(range(0, 2 * nd, 2)))
    return [gsum.reshape(shape)]


tile = primitive("tile", _tile_f, _tile_b, 1, "Repeat the whole tensor ``repeats`` times.")


def _repeat_f(x, repeats, axis=None):
    return np.repeat(x, repeats, axis=axis), (x.shape, repeats, axis)


def _repeat_b(c, g, need):
    shape, repeats, axis = c
    if axis is None:
        flat_shape, ax = (int(np.prod(shape)),), 0
    else:
        flat_shape, ax = shape, axis % len(shape)
    reps = np.broadcast_to(np.asarray(repeats), (flat_shape[ax],))
    starts = np.concatenate([[0], np.cumsum(reps)[:-1]])
    gr = np.add.reduceat(g, starts, axis=ax) if g.shape[ax] else np.zeros(flat_shape, g.dtype)
    gr = np.where(np.reshape(reps > 0, [-1 if i == ax else 1 for i in range(len(flat_shape))]),
                  gr, 0)
    return [gr.reshape(shape)]


repeat = primitive("repeat", _repeat_f, _repeat_b, 1, "Repeat each element.")


def _pad_f(x, pad_width, mode="constant", constant_values=None):
    if mode != "constant":
        raise ValueError(f"ops.pad: mode {mode!r} is not supported (only 'constant')")
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    y = np.pad(x, pw, constant_values=0 if constant_values is None else constant_values)
    return y, (x.shape, pw)


def _pad_b(c, g, need):
    shape, pw = c
    return [g[tuple(slice(int(a), int(a) + n) for (a, _), n in zip(pw, shape))]]


pad = primitive("pad", _pad_f, _pad_b, 1, "Constant padding.")


def _flip_f(x, axis=None):
    return np.flip(x, axis=axis), axis


flip = primitive("flip", _flip_f, lambda ax, g, need: [np.flip(g, axis=ax)], 1,
                 "Reverse the order along ``axis``.")


def _sort_f(x, axis=-1):
    idx = np.argsort(x, axis=axis, kind="stable")
    return np.take_along_axis(x, idx, axis=axis), (idx, axis)


def _sort_b(c, g, need):
    idx, axis = c
    out = np.empty_like(g)
    np.put_along_axis(out, idx, g, axis=axis)
    return [out]


sort = primitive("sort", _sort_f, _sort_b, 1, "Sort along ``axis``.")


def argsort(x, axis=-1):
    """Indices that sort ``x`` along ``axis`` (no gradient)."""
    def f(a):
        return np.argsort(a, axis=axis, kind="stable").astype("int32"), None  # as Keras
    return run("argsort", f, None, [x], differentiable=False)


def one_hot(x, num_classes, axis=-1, dtype=None):
    """One-hot encoding of integer ``x`` (no gradient)."""
    from core import backend

    def f(a):
        a = np.asarray(a).astype(np.int64)
        out = (a[..., None] == np.arange(num_classes)).astype(dtype or backend.floatx())
        return (np.moveaxis(out, -1, axis) if axis not in (-1, a.ndim) else out), None
    return run("one_hot", f, None, [x], differentiable=False)


def _cast_f(x, dtype):
    from core import backend
    return x.astype(backend.standardize_dtype(dtype), copy=False), x.dtype


def _cast_b(src, g, need):
    return [g if src.kind in "fc" else None]


cast = primitive("cast", _cast_f, _cast_b, 1, "Convert to ``dtype`` (gradient flows between "
                 "float dtypes).")
