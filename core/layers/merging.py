"""Keras 3 merge layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``,
``Maximum``, ``Minimum`` (elementwise) and ``Concatenate(axis=-1)``.

Elementwise merges broadcast axes of size 1 between inputs of equal rank (as
Keras' ``Merge``); their gradients sum back over the broadcast axes. Bad
shapes raise ``ValueError`` naming the layer and every input shape.

>>> import numpy as np
>>> a, b = np.ones((2, 3), "float32"), np.ones((2, 3), "float32")
>>> Add()([a, b]).tolist()
[[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
>>> Concatenate()([a, b]).shape
(2, 6)
"""

from __future__ import annotations

import numpy as np

from core.layers.base import Layer
from core.layers.spec import Param, register_layer


def _unbroadcast(g, shape):
    """Sum ``g`` over the axes where ``shape`` has size 1 but ``g`` does not."""
    if g.shape == tuple(shape):
        return g
    axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape)) if b == 1 and a != 1)
    return g.sum(axis=axes, keepdims=True)


class _Merge(Layer):
    """Shared shape checks for the elementwise merge layers."""

    reentrant_inference = True  # every forward returns a fresh array

    group = "Merge"
    num_inputs = "many"
    min_inputs = 1

    def _shapes_error(self, shapes, why):
        listed = ", ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) {why}. "
                         f"Received input shapes: [{listed}]")

    def _check_list(self, input_shape):
        if not isinstance(input_shape, list) or not all(
                isinstance(s, (tuple, list)) for s in input_shape):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) must be called on a "
                             f"list of inputs, received input shape {input_shape!r}.")
        if len(input_shape) < self.min_inputs:
            self._shapes_error(input_shape,
                               f"needs at least {self.min_inputs} inputs, got {len(input_shape)}")

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """Keras: the OR of the inputs' masks, None unless every input has one."""
        if mask is None or any(m is None for m in mask):
            return None
        return np.logical_or.reduce([np.asarray(m, bool) for m in mask])

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            self._shapes_error(input_shape, "needs inputs of the same rank")
        out = []
        for axis, dims in enumerate(zip(*input_shape)):
            known = {d for d in dims if d is not None}
            if axis == 0:
                if len(known) > 1:
                    self._shapes_error(input_shape, "cannot merge different batch sizes")
                out.append(known.pop() if known else None)
                continue
            big = known - {1}
            if len(big) > 1:
                self._shapes_error(input_shape,
                                   f"needs matching sizes on axis {axis} (or size 1 to broadcast)")
            if None in dims:
                out.append(big.pop() if big else None)
            else:
                out.append(big.pop() if big else 1)
        return tuple(out)

    def get_config(self):
        return super().get_config()


@register_layer
class Add(_Merge):
    """Elementwise sum of the inputs."""

    def forward(self, inputs, training=False):
        y = inputs[0] + inputs[1] if len(inputs) > 1 else inputs[0].copy()
        for x in inputs[2:]:
            y += x  # y is our own fresh array, so adding in place is safe
        return y, [x.shape for x in inputs]

    def backward(self, cache, grad_output, need_input_grad=True):
        need = need_input_grad if isinstance(need_input_grad, list) else [True] * len(cache)
        return [_unbroadcast(grad_output, s) if n else None for s, n in zip(cache, need)]


@register_layer
class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    min_inputs = 2

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        if len(input_shape) != 2:
            self._shapes_error(input_shape, f"needs exactly 2 inputs, got {len(input_shape)}")
        return super().compute_output_shape(input_shape)

    def forward(self, inputs, training=False):
        return inputs[0] - inputs[1], (inputs[0].shape, inputs[1].shape)

    def backward(self, cache, grad_output, need_input_grad=True):
        need = need_input_grad if isinstance(need_input_grad, list) else [True, True]
        da = _unbroadcast(grad_output, cache[0]) if need[0] else None
        db = -_unbroadcast(grad_output, cache[1]) if need[1] else None
        return [da, db]


@register_layer
class Multiply(_Merge):
    """Elementwise product of the inputs."""

    def forward(self, inputs, training=False):
        y = inputs[0] * inputs[1] if len(inputs) > 1 else inputs[0].copy()
        for x in inputs[2:]:
            y *= x
        return y, list(inputs)

    def backward(self, cache, grad_output, need_input_grad=True):
        need = need_input_grad if isinstance(need_input_grad, list) else [True] * len(cache)
        grads = []
        for i, (x, n) in enumerate(zip(cache, need)):
            if not n:
                grads.append(None)
                continue
            g = grad_output
            for j, other in enumerate(cache):
                if j != i:
                    g = g * other
            grads.append(_unbroadcast(g, x.shape))
        return grads


@register_layer
class Average(_Merge):
    """Elementwise mean of the inputs."""

    def forward(self, inputs, training=False):
        y = inputs[0] + inputs[1] if len(inputs) > 1 else inputs[0].copy()
        for x in inputs[2:]:
            y += x
        y *= y.dtype.type(1.0 / len(inputs))
        return y, [x.shape for x in inputs]

    def backward(self, cache, grad_output, need_input_grad=True):
        need = need_input_grad if isinstance(need_input_grad, list) else [True] * len(cache)
        g = grad_output * grad_output.dtype.type(1.0 / len(cache))
        return [_unbroadcast(g, s) if n else None for s, n in zip(cache, need)]


class _Extremum(_Merge):
    """Maximum/Minimum: the gradient goes to the first input holding the extremum."""

    _better = None  # np.greater or np.less

    def forward(self, inputs, training=False):
        best = np.array(np.broadcast_arrays(*inputs)[0], copy=True) if len(inputs) > 1 \
            else inputs[0].copy()
        winner = np.zeros(best.shape, dtype=np.int16)
        for i, x in enumerate(inputs[1:], start=1):
            better = type(self)._better(x, best)
            np.copyto(best, np.broadcast_to(x, best.shape), where=better)
            winner[better] = i
        return best, (winner, [x.shape for x in inputs])

    def backward(self, cache, grad_output, need_input_grad=True):
        winner, shapes = cache
        need = need_input_grad if isinstance(need_input_grad, list) else [True] * len(shapes)
        return [_unbroadcast(grad_output * (winner == i), s) if n else None
                for i, (s, n) in enumerate(zip(shapes, need))]


@register_layer
class Maximum(_Extremum):
    """Elementwise maximum of the inputs."""

    _better = np.greater


@register_layer
class Minimum(_Extremum):
    """Elementwise minimum of the inputs."""

    _better = np.less


@register_layer
class Concatenate(_Merge):
    """Joins the inputs along ``axis``; every other axis must match."""

    params = (Param("axis", "axis", -1, doc="Axis along which to concatenate."),)

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = self._check("axis", axis)
        if isinstance(self.axis, list):
            raise ValueError(f"Layer '{self.name}': argument axis={axis!r} is invalid; "
                             "expected a single integer axis.")

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        rank = len(input_shape[0])
        if any(len(s) != rank for s in input_shape):
            self._shapes_error(input_shape, "needs inputs of the same rank")
        if not -rank <= self.axis < rank:
            self._shapes_error(input_shape, f"cannot concatenate on axis={self.axis}")
        axis = self.axis % rank
        out = []
        for i, dims in enumerate(zip(*input_shape)):
            if i == axis:
                out.append(None if None in dims else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                self._shapes_error(input_shape, f"needs matching shapes except on the "
                                   f"concatenation axis {self.axis} (axis {i} differs)")
            out.append(known.pop() if known else None)
        return tuple(out)

    def compute_mask(self, inputs, mask=None):
        """Keras: each input's mask (all True when it has none), widened to the input's
        shape, concatenated on ``axis``, then any() over the last axis."""
        if mask is None or all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask):
            if m is None:
                m = np.ones(x.shape, bool)
            elif m.ndim < x.ndim:
                m = np.broadcast_to(np.asarray(m, bool)[..., None], x.shape)
            full.append(m)
        return np.concatenate(full, axis=self.axis).any(axis=-1)

    def forward(self, inputs, training=False):
        axis = self.axis % inputs[0].ndim
        return np.concatenate(inputs, axis=axis), (axis, [x.shape[axis] for x in inputs])

    def backward(self, cache, grad_output, need_input_grad=True):
        axis, sizes = cache
        need = need_input_grad if isinstance(need_input_grad, list) else [True] * len(sizes)
        parts = np.split(grad_output, np.cumsum(sizes)[:-1], axis=axis)  # views, no copies
        return [p if n else None for p, n in zip(parts, need)]

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


# Keras' functional forms: ``keras.layers.add([a, b])`` is ``Add()([a, b])``.
def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``: the elementwise sum of a list of tensors."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)`` for exactly two tensors."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``: the elementwise product."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``: the elementwise mean."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``: the elementwise maximum."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``: the elementwise minimum."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)
