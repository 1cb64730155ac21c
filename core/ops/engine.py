"""The machinery every op shares: one forward, its VJP beside it, one tape record.

``primitive(name, forward, vjp)`` turns a pair of small functions into a public op:

* ``forward(*arrays, **static) -> (output, cache)`` computes with plain numpy;
* ``vjp(cache, g, need) -> [grad per input]`` (``None`` where ``need[i]`` is False)
  is the vector-Jacobian product; the engine sums each gradient back to its input's
  shape (broadcasting) and dtype.

While a ``core.autodiff.Tape`` records and any tensor input is *tracked* (produced
by a recorded layer or op, watched, or a trainable ``Variable``), the op records an
``OpNode`` on that same tape, so layers and ops back-propagate through one list.
Its output is then a ``Tracked`` array: a plain ndarray view whose Python operators
(``x * 2.0``, ``x[:, 0]``, ``x.T``) route to these ops, so code between layers keeps
the gradient. Without a tape nothing is recorded and outputs are plain arrays.

>>> import numpy as np
>>> from core.autodiff import Tape
>>> from core import ops
>>> x = np.ones((2, 3))
>>> with Tape() as tape:
...     tape.watch(x)
...     y = ops.multiply(x, 3.0)
>>> type(y).__name__
'Tracked'
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.variables import Variable, write_variable_grad


class Tracked(np.ndarray):
    """An ndarray that a tape may hold a gradient for. Behaves as ``np.ndarray``;
    under an active tape its operators and the numpy functions listed in
    ``core.ops.dispatch`` go through ``core.ops`` so they are differentiated.
    Anything else decays to a plain ndarray (no gradient through it)."""

    __array_priority__ = 20

    @property
    def _keras_mask(self):  # Keras' attribute; the mask lives in core.layers.masks
        from core.layers.masks import get_mask
        return get_mask(self)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from core.ops.dispatch import array_ufunc
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from core.ops.dispatch import array_function
        return array_function(func, args, kwargs)

    def __getitem__(self, key):
        from core.ops.manipulation import getitem
        return getitem(self, key)

    # ndarray methods that make views without a ufunc: route them to the ops too.
    def reshape(self, *shape, order="C"):
        from core.ops.manipulation import reshape
        if order != "C":
            return plain(self).reshape(*shape, order=order)
        return reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        from core.ops.manipulation import transpose
        return transpose(self, (axes[0] if len(axes) == 1 else axes) if axes else None)

    @property
    def T(self):  # noqa: N802
        from core.ops.manipulation import transpose
        return transpose(self)

    def astype(self, dtype, *args, **kwargs):
        from core.ops.manipulation import cast
        return cast(self, dtype)

    def flatten(self, order="C"):
        return self.reshape(-1)

    ravel = flatten

    def squeeze(self, axis=None):
        from core.ops.manipulation import squeeze
        return squeeze(self, axis)

    # Reductions as methods: ndarray's own mean/var/std divide in place (no gradient).
    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        return self._reduce("sum", axis, keepdims, dtype, out)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        return self._reduce("mean", axis, keepdims, dtype, out)

    def max(self, axis=None, out=None, keepdims=False):
        return self._reduce("max", axis, keepdims, None, out)

    def min(self, axis=None, out=None, keepdims=False):
        return self._reduce("min", axis, keepdims, None, out)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return self._reduce("var", axis, keepdims, dtype, out, ddof)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return self._reduce("std", axis, keepdims, dtype, out, ddof)

    def _reduce(self, name, axis, keepdims, dtype, out, ddof=0):
        if dtype is not None or out is not None or ddof:
            return getattr(plain(self), name)(axis=axis, dtype=dtype, out=out, ddof=ddof,
                                              keepdims=keepdims) if name in ("var", "std") \
                else getattr(plain(self), name)(axis=axis, out=out, keepdims=keepdims,
                                                **({} if dtype is None else {"dtype": dtype}))
        from core.ops import reduce
        return getattr(reduce, name)(self, axis=axis, keepdims=keepdims)

    def copy(self, order="C"):
        from core.ops.core_ops import identity
        return identity(self)

    def __reduce__(self):  # pickled / deep-copied values leave as plain arrays
        return plain(self).__reduce__()


def plain(x):
    """The plain ndarray behind a Tracked array, a Variable's value, or ``x`` itself."""
    if type(x) is Tracked:
        return x.view(np.ndarray)
    if isinstance(x, Variable):
        return x.value
    return x


def unwrap_all(x):
    if isinstance(x, (list, tuple)):
        return type(x)(unwrap_all(t) for t in x)
    return plain(x)


def as_tensor(x):
    """``x`` as an ndarray (Variables give their value; Python numbers a 0-d array)."""
    if type(x) is Tracked:
        return x
    if isinstance(x, Variable):
        return x.value
    if isinstance(x, np.ndarray):
        return x
    arr = np.asarray(x)
    if arr.dtype == np.float64 and not isinstance(x, np.generic) and \
            not (isinstance(x, (list, tuple)) and _has_float64(x)):
        arr = arr.astype(backend.floatx())
    return arr


def _has_float64(seq) -> bool:
    return any(isinstance(v, np.float64) or (isinstance(v, np.ndarray) and v.dtype == np.float64)
               for v in seq)


def scalar_like(value, other):
    """A Python number as an array of ``other``'s float dtype (Keras' weak typing:
    ``x * 2.0`` keeps float32)."""
    dt = other.dtype if other.dtype.kind in "fc" else np.dtype(backend.floatx())
    return np.asarray(value, dtype=dt)


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (the reverse of numpy broadcasting)."""
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape)) if b == 1 and a != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


class GradWriter:
    """A VJP result that writes itself: ``write(buf, accumulate)`` calls
    ``fn(buf, accumulate, *args)``, which stores the gradient (of the input's shape and
    dtype) into ``buf``, adding to it when ``accumulate``.

    An op whose gradient w.r.t. a weight is one elementwise pass (a regularizer's
    penalty, ``core.regularizers``) returns one, so that gradient goes straight into
    the trainable variable's gradient buffer without a temporary the weight's size;
    for any other input the engine materializes it as an array.
    """

    __slots__ = ("fn", "args")

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def write(self, buf, accumulate):
        self.fn(buf, accumulate, *self.args)

    def array(self, shape, dtype):
        buf = np.empty(shape, dtype)
        self.write(buf, False)
        return buf


class OpNode:
    """A recorded op call, in the role a layer plays on the tape."""

    __slots__ = ("name", "vjp", "shapes", "dtypes", "variables", "var_slots")
    _tracked_layers = ()

    def __init__(self, name, vjp, arrays, variables, var_slots):
        self.name = name
        self.vjp = vjp
        self.shapes = [a.shape for a in arrays]
        self.dtypes = [a.dtype for a in arrays]
        self.variables = variables
        self.var_slots = var_slots

    def _own_trainable_variables(self):
        return self.variables

    def backward(self, cache, grad_outputs, need_input_grad=True):
        wanted = need_input_grad  # the tape's fresh list, left as it is
        need = list(wanted)
        for i in self.var_slots:
            need[i] = True
        grads = self.vjp(cache, grad_outputs, need)
        out = []
        for i, (g, nd) in enumerate(zip(grads, need)):
            if g is None or not nd:
                out.append(None)
                continue
            if type(g) is GradWriter:
                if i in self.var_slots and not wanted[i]:
                    _write_into_variable(self.variables[self.var_slots.index(i)], g)
                    out.append(None)  # written; nothing upstream of a weight's value
                    continue
                g = g.array(self.shapes[i], self.dtypes[i])
            g = unbroadcast(np.asarray(g), self.shapes[i])
            if g.dtype != self.dtypes[i] and self.dtypes[i].kind == "f":
                g = g.astype(self.dtypes[i])
            out.append(g)
        for i, var in zip(self.var_slots, self.variables):
            if out[i] is not None:
                write_variable_grad(var, out[i])
        return out

    def __repr__(self):
        return f"<op {self.name}>"


def _write_into_variable(var, writer) -> None:
    """``write_variable_grad`` for a ``GradWriter``: into the buffer, adding to what an
    earlier record of this tape step wrote."""
    buf = var.grad_buffer()
    step = getattr(backend._state, "grad_step", None)  # core.autodiff.current_grad_step
    writer.fn(buf, var.grad_step == step, *writer.args)
    var.grad_step = step


def _is_tracked(tape, x) -> bool:
    return tape.needs_grad(x)


def run(name, forward, vjp, tensors, static=None, differentiable=True):
    """Run ``forward(*arrays, **static)`` and record it when it needs a gradient.

    ``tensors`` are the op's tensor arguments (Variables, Tracked or plain arrays,
    numbers). Shape errors from numpy become ``ValueError`` naming the op and the
    shapes of its inputs.
    """
    static = static or {}
    tape = getattr(backend._state, "tape", None)
    if tape is None:  # the common case outside training: no bookkeeping
        arrays = [t if type(t) is np.ndarray else _coerce(t, tensors) for t in tensors]
        try:
            out, _ = forward(*arrays, **static)
        except ValueError as e:
            _raise_shapes(name, arrays, e)
        return out if type(out) is np.ndarray else _plain_out(out)
    arrays, variables, var_slots = [], [], []
    ref = None
    for t in tensors:
        if isinstance(t, Variable):
            ref = t.value
            break
        if isinstance(t, np.ndarray):
            ref = t
            break
    for i, t in enumerate(tensors):
        if isinstance(t, Variable):
            if t.trains:
                variables.append(t)
                var_slots.append(i)
            arrays.append(t.value)
        elif isinstance(t, (int, float)) and not isinstance(t, bool) and ref is not None:
            arrays.append(scalar_like(t, ref))
        else:
            arrays.append(as_tensor(t))
    record = differentiable and (
        bool(variables) or any(_is_tracked(tape, a) for a in arrays))
    plain_arrays = [a if type(a) is np.ndarray else plain(a) for a in arrays]
    try:
        out, cache = forward(*plain_arrays, **static)
    except ValueError as e:
        _raise_shapes(name, plain_arrays, e)
    if not record:
        return _plain_out(out)
    node = OpNode(name, vjp, plain_arrays, variables, var_slots)
    out = _tracked_out(out)
    # Record the arrays the caller passed (their ids are what earlier records produced).
    tape.record(node, arrays, list(out) if isinstance(out, tuple) else out, cache)
    return out


def _coerce(t, tensors):
    """One tensor argument as a plain array (no tape): Variables give their value,
    Python numbers take the float dtype of the first array argument."""
    if isinstance(t, Variable):
        return t.value
    if type(t) is Tracked:
        return t.view(np.ndarray)
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        for r in tensors:
            if isinstance(r, (np.ndarray, Variable)):
                return scalar_like(t, plain(r))
    return as_tensor(t)


def _raise_shapes(name, arrays, error):
    shapes = " and ".join(str(np.shape(a)) for a in arrays)
    raise ValueError(f"ops.{name}: cannot apply to inputs of shapes {shapes}: {error}") from None


def _plain_out(out):
    if isinstance(out, tuple):
        return tuple(_plain_out(o) for o in out)
    if isinstance(out, list):
        return [_plain_out(o) for o in out]
    return np.asarray(out) if not isinstance(out, np.ndarray) else (
        out.view(np.ndarray) if type(out) is Tracked else out)


def _tracked_out(out):
    if isinstance(out, (tuple, list)):
        return type(out)(_tracked_out(o) for o in out)
    # Always a new object: an op whose result is its input (a no-op reshape or
    # astype) must not share that input's identity on the tape.
    return np.asarray(out).view(Tracked)


def track(x):
    """A fresh Tracked view of an ndarray output of a recorded layer (new identity)."""
    if isinstance(x, np.ndarray):
        return x.view(Tracked)
    if isinstance(x, (list, tuple)):
        return type(x)(track(t) for t in x)
    return x


def primitive(name, forward, vjp, n_tensors=1, doc=None):
    """A public op of ``n_tensors`` leading tensor arguments; the rest are static
    keyword/positional options passed to ``forward`` by keyword."""
    import inspect
    params = list(inspect.signature(forward).parameters)[n_tensors:]

    def op(*args, **kwargs):
        tensors = args[:n_tensors]
        if len(tensors) < n_tensors:
            raise TypeError(f"ops.{name} takes {n_tensors} tensor argument(s), "
                            f"got {len(tensors)}")
        static = dict(zip(params, args[n_tensors:]))
        static.update(kwargs)
        return run(name, forward, vjp, tensors, static)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or forward.__doc__
    op.forward, op.vjp = forward, vjp
    return op


def variadic(name, forward, vjp, doc=None):
    """A public op whose first argument is a list of tensors (concatenate, stack)."""
    def op(tensors, *args, **kwargs):
        import inspect
        params = list(inspect.signature(forward).parameters)[1:]
        static = dict(zip(params, args))
        static.update(kwargs)
        tensors = list(tensors)

        def fwd(*arrays, **kw):
            return forward(list(arrays), **kw)
        return run(name, fwd, vjp, tensors, static)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or forward.__doc__
    return op
