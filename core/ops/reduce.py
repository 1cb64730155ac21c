"""Products (matmul, dot, einsum, tensordot) and reductions (sum, mean, max, ...).

>>> import numpy as np
>>> from core import ops
>>> ops.sum(np.ones((2, 3)), axis=1).tolist()
[3.0, 3.0]
"""

from __future__ import annotations

import builtins

import numpy as np

from core import runtime
from core.ops.contract import contract
from core.ops.engine import primitive, run


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim for a in axis) if ndim else ()


def _keep(g, shape, axis, keepdims):
    """``g`` reshaped to broadcast against an input of ``shape`` reduced over ``axis``."""
    if keepdims:
        return g
    full = list(shape)
    for a in _axes(axis, len(shape)):
        full[a] = 1
    return np.reshape(g, full)


# ------------------------------------------------------------------ products
def _matmul_f(x, y):
    return runtime.matmul(x, y), (x, y)


def _matmul_b(c, g, need):
    x, y = c
    gx = gy = None
    if x.ndim == 1 and y.ndim == 1:
        return [g * y if need[0] else None, g * x if need[1] else None]
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    g2 = g
    if x.ndim == 1:
        g2 = np.expand_dims(g2, -2)
    if y.ndim == 1:
        g2 = np.expand_dims(g2, -1)
    if need[0]:
        gx = runtime.matmul(g2, np.swapaxes(y2, -1, -2))
        gx = gx.reshape(gx.shape[:-2] + (gx.shape[-1],)) if x.ndim == 1 else gx
        if x.ndim == 1:
            gx = gx.reshape(-1, x.shape[0]).sum(0)
    if need[1]:
        gy = runtime.matmul(np.swapaxes(x2, -1, -2), g2)
        if y.ndim == 1:
            gy = gy.reshape(-1, y.shape[0]).sum(0)
    return [gx, gy]


matmul = primitive("matmul", _matmul_f, _matmul_b, 2,
                   "Matrix product with numpy's broadcasting of batch dimensions.")


def _dot_f(x, y):
    return np.dot(x, y), (x, y)


def _dot_b(c, g, need):
    x, y = c
    if x.ndim == 0 or y.ndim == 0:
        return _mul_like(x, y, g, need)
    if y.ndim <= 2:
        return _matmul_b(c, g, need)
    # N-D dot: contract x's last axis with y's second-to-last.
    yt = np.moveaxis(y, -2, 0)  # (k, ...rest)
    gx = np.tensordot(g, yt, axes=(list(range(x.ndim - 1, g.ndim)),
                                   list(range(1, yt.ndim)))) if need[0] else None
    gy = None
    if need[1]:
        gyt = np.tensordot(x, g, axes=(list(range(x.ndim - 1)), list(range(x.ndim - 1))))
        gy = np.moveaxis(gyt, 0, -2)
    return [gx, gy]


def _mul_like(x, y, g, need):
    return [np.sum(g * y) if need[0] and x.ndim == 0 else (g * y if need[0] else None),
            np.sum(g * x) if need[1] and y.ndim == 0 else (g * x if need[1] else None)]


dot = primitive("dot", _dot_f, _dot_b, 2, "numpy's ``dot``.")


def einsum(subscripts, *operands):
    """Einstein summation (explicit or implicit output); gradients by einsum."""
    subscripts = subscripts.replace(" ", "")
    if "..." in subscripts:
        raise ValueError("ops.einsum: '...' subscripts are not supported yet")
    if "->" not in subscripts:
        ins = subscripts.split(",")
        letters = sorted(c for c in set("".join(ins)) if "".join(ins).count(c) == 1)
        subscripts = subscripts + "->" + "".join(letters)
    ins, out = subscripts.split("->")
    ins = ins.split(",")

    def f(*arrays):
        return contract(subscripts, *arrays), arrays

    def b(arrays, g, need):
        grads = []
        for i, nd in enumerate(need):
            if not nd:
                grads.append(None)
                continue
            others = [a for j, a in enumerate(arrays) if j != i]
            other_subs = [s for j, s in enumerate(ins) if j != i]
            target = ins[i]
            if len(set(target)) != len(target):
                raise ValueError("ops.einsum: repeated subscripts in one operand have no "
                                 "gradient here")
            # Letters only in this operand (summed out in the forward) broadcast back.
            known = set(out) | set("".join(other_subs))
            kept = "".join(ch for ch in target if ch in known)
            gi = contract(",".join([out] + other_subs) + "->" + kept, g, *others)
            if kept != target:
                shape = arrays[i].shape
                gi = np.broadcast_to(_broadcast_subs(gi, kept, target, shape), shape)
            grads.append(gi)
        return grads
    return run("einsum", f, b, list(operands))


def _broadcast_subs(g, kept, target, shape):
    view_shape = [shape[i] if ch in kept else 1 for i, ch in enumerate(target)]
    order = [kept.index(ch) for ch in target if ch in kept]
    return np.transpose(g, order).reshape(view_shape)


def _tensordot_f(x, y, axes=2):
    return np.tensordot(x, y, axes), (x, y, axes)


def _tensordot_b(c, g, need):
    x, y, axes = c
    if isinstance(axes, int):
        ax = list(range(x.ndim - axes, x.ndim)), list(range(axes))
    else:
        ax = [list(np.atleast_1d(axes[0])), list(np.atleast_1d(axes[1]))]
    ax = [[a % x.ndim for a in ax[0]], [a % y.ndim for a in ax[1]]]
    free_x = [i for i in range(x.ndim) if i not in ax[0]]
    free_y = [i for i in range(y.ndim) if i not in ax[1]]
    nfx = len(free_x)
    gx = gy = None
    if need[0]:
        t = np.tensordot(g, y, (list(range(nfx, g.ndim)), free_y))  # free_x + ax0-order
        perm = free_x + ax[0]
        gx = np.transpose(t, np.argsort(perm))
    if need[1]:
        t = np.tensordot(x, g, (free_x, list(range(nfx))))  # ax0(=ax1 order) + free_y
        perm = ax[1] + free_y
        gy = np.transpose(t, np.argsort(perm))
    return [gx, gy]


tensordot = primitive("tensordot", _tensordot_f, _tensordot_b, 2, "numpy's ``tensordot``.")


# ---------------------------------------------------------------- reductions
def _sum_f(x, axis=None, keepdims=False):
    return np.sum(x, axis=_tup(axis), keepdims=keepdims), (x.shape, axis, keepdims)


def _sum_b(c, g, need):
    shape, axis, keepdims = c
    return [np.broadcast_to(_keep(g, shape, axis, keepdims), shape)]


def _tup(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _mean_f(x, axis=None, keepdims=False):
    y = np.mean(x, axis=_tup(axis), keepdims=keepdims)
    n = x.size // builtins.max(np.size(y), 1) if x.size else 1
    return y, (x.shape, axis, keepdims, n)


def _mean_b(c, g, need):
    shape, axis, keepdims, n = c
    return [np.broadcast_to(_keep(g, shape, axis, keepdims) / n, shape)]


def _extreme(fn):
    def f(x, axis=None, keepdims=False):
        y = fn(x, axis=_tup(axis), keepdims=True)
        out = y if keepdims else np.squeeze(y, axis=_axes(axis, x.ndim)) if x.ndim else y
        return out, (x, y, axis, keepdims)

    def b(c, g, need):
        x, y, axis, keepdims = c
        mask = x == y
        # Ties share the gradient (as TensorFlow / Keras do).
        count = mask.sum(axis=_axes(axis, x.ndim), keepdims=True)
        return [mask * (_keep(g, x.shape, axis, keepdims) / count)]
    return f, b


max = primitive("max", *_extreme(np.max), 1, "Maximum over ``axis``.")  # noqa: A001
min = primitive("min", *_extreme(np.min), 1, "Minimum over ``axis``.")  # noqa: A001
amax = primitive("amax", *_extreme(np.max), 1, "Maximum over ``axis``.")
amin = primitive("amin", *_extreme(np.min), 1, "Minimum over ``axis``.")
sum = primitive("sum", _sum_f, _sum_b, 1, "Sum over ``axis``.")  # noqa: A001
mean = primitive("mean", _mean_f, _mean_b, 1, "Mean over ``axis``.")


def _prod_f(x, axis=None, keepdims=False):
    y = np.prod(x, axis=_tup(axis), keepdims=keepdims)
    return y, (x, y, axis, keepdims)


def _prod_b(c, g, need):
    x, y, axis, keepdims = c
    if np.any(x == 0):
        raise ValueError("ops.prod: the gradient at a zero factor is not implemented")
    return [_keep(g * y, x.shape, axis, keepdims) / x]


prod = primitive("prod", _prod_f, _prod_b, 1, "Product over ``axis`` (inputs must be nonzero "
                 "for the gradient).")


def var(x, axis=None, keepdims=False):
    """Population variance (``ddof=0``, as Keras)."""
    from core.ops import elementwise as E
    m = mean(x, axis=axis, keepdims=True)
    return mean(E.square(E.subtract(x, m)), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    """Population standard deviation."""
    from core.ops import elementwise as E
    return E.sqrt(var(x, axis=axis, keepdims=keepdims))


def _lse_f(x, axis=None, keepdims=False):
    m = np.max(x, axis=_tup(axis), keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    s = np.log(np.sum(np.exp(x - m), axis=_tup(axis), keepdims=True)) + m
    out = s if keepdims else np.squeeze(s, axis=_axes(axis, x.ndim))
    return out, (x, s)


def _lse_b(c, g, need):
    x, s = c
    gk = g if g.ndim == x.ndim else np.reshape(g, s.shape)
    return [gk * np.exp(x - s)]


logsumexp = primitive("logsumexp", _lse_f, _lse_b, 1, "``log(sum(exp(x)))``, stable.")


def _cumsum_f(x, axis=None):
    if axis is None:
        return np.cumsum(x.reshape(-1)), (x.shape, None)
    return np.cumsum(x, axis=axis), (x.shape, axis)


def _cumsum_b(c, g, need):
    shape, axis = c
    if axis is None:
        return [np.flip(np.cumsum(np.flip(g))).reshape(shape)]
    return [np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)]


cumsum = primitive("cumsum", _cumsum_f, _cumsum_b, 1, "Cumulative sum (flattened when "
                   "``axis`` is None).")


def _arg(name, fn):
    def op(x, axis=None, keepdims=False):
        def f(a):
            return fn(a, axis=axis, keepdims=keepdims).astype("int32"), None  # as Keras
        return run(name, f, None, [x], differentiable=False)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Index of the {name[3:]} along ``axis`` (no gradient)."
    return op


argmax = _arg("argmax", np.argmax)
argmin = _arg("argmin", np.argmin)
