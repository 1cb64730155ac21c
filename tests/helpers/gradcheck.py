"""Central finite-difference check of a layer's ``backward`` (float64).

The scalar checked is ``f = sum(out * R)`` for a fixed random ``R`` (one per
output), so every output element contributes with its own weight. The analytic
gradients come from a real ``Tape`` step (the layer's inputs are marked as
produced upstream, so ``need_input_grad=True``); the numeric ones from
``(f(v + h) - f(v - h)) / 2h`` per element of every input and every trainable
weight. The error of each array is ``max|num - ana| / max(max|num|, max|ana|)``.

>>> import numpy as np
>>> from core.layers.dense import Dense
>>> layer = Dense(3, dtype="float64")
>>> x = np.random.default_rng(0).normal(size=(4, 5))
>>> errors = check_layer_gradients(layer, x)
>>> sorted(errors)
['dense/bias', 'dense/kernel', 'input_0']
"""

from __future__ import annotations

import numpy as np

from core.autodiff import Tape


class _InputGradSink:
    """Pseudo-layer recorded as the producer of the checked inputs: the tape then
    asks the layer for input gradients and hands them to this ``backward``."""

    def __init__(self):
        self.grads = None

    def backward(self, cache, grad_outputs, need_input_grad=True):
        self.grads = [None if g is None else np.array(g) for g in grad_outputs]
        return []

    _tracked_layers = ()

    def _own_trainable_variables(self):
        return []


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _objective(layer, inputs, weights_r, training, multi_in):
    out = layer(inputs if multi_in else inputs[0], training=training)
    return sum(float(np.sum(np.asarray(o, np.float64) * r))
               for o, r in zip(_as_list(out), weights_r))


def analytic_gradients(layer, inputs, training=True, seed=0):
    """``(input_grads, {variable.path: grad}, R)`` from one tape step."""
    multi_in = isinstance(inputs, (list, tuple))
    xs = [np.array(x, dtype=np.float64) for x in _as_list(inputs)]
    sink = _InputGradSink()
    with Tape() as tape:
        tape.record(sink, [], xs, None)
        tape.watch(*xs)
        out = layer(xs if multi_in else xs[0], training=training)
    rng = np.random.default_rng(seed)
    outs = _as_list(out)
    rs = [rng.standard_normal(np.shape(o)) for o in outs]
    tape.backward(outs if isinstance(out, (list, tuple)) else out,
                  rs if isinstance(out, (list, tuple)) else rs[0])
    weight_grads = {}
    for v in layer.trainable_weights:
        if v.grad_step != tape.step:
            raise AssertionError(f"{v.path}: backward wrote no gradient this step")
        weight_grads[v.path] = v.grad.copy()
    return sink.grads, weight_grads, rs


def numeric_gradient(fn, array, h=1e-6):
    """Central differences of scalar ``fn()`` w.r.t. every element of ``array`` (in place)."""
    grad = np.empty(array.shape, np.float64)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + h
        up = fn()
        flat[i] = orig - h
        down = fn()
        flat[i] = orig
        gflat[i] = (up - down) / (2 * h)
    return grad


def relative_error(num, ana) -> float:
    num, ana = np.asarray(num, np.float64), np.asarray(ana, np.float64)
    scale = max(np.abs(num).max(initial=0.0), np.abs(ana).max(initial=0.0))
    # A gradient that is exactly zero in theory (attention's key bias: the softmax does
    # not change when one constant is added to a row) comes out as rounding noise on
    # both sides (differences ~1e-10 |f|); below 1e-8 absolute the two agree (a real
    # error is orders of magnitude larger).
    if scale == 0.0 or np.abs(num - ana).max(initial=0.0) < 1e-8:
        return 0.0
    return float(np.abs(num - ana).max() / scale)


def check_layer_gradients(layer, inputs, training=True, rtol=1e-6, h=1e-6, seed=0):
    """Compare the layer's backward with central finite differences.

    ``layer`` should use ``dtype="float64"``; ``inputs`` is an array or a list of
    arrays (multi-input layers). Returns ``{name: relative error}`` for
    ``input_<i>`` and every trainable weight path; raises ``AssertionError``
    listing every array whose error is >= ``rtol`` or whose gradient is missing.
    """
    multi_in = isinstance(inputs, (list, tuple))
    in_grads, w_grads, rs = analytic_gradients(layer, inputs, training, seed)
    xs = [np.array(x, dtype=np.float64) for x in _as_list(inputs)]

    def fn():
        return _objective(layer, xs, rs, training, multi_in)

    errors, failures = {}, []
    for i, x in enumerate(xs):
        name = f"input_{i}"
        if in_grads is None or in_grads[i] is None:
            failures.append(f"{name}: no input gradient returned")
            continue
        if np.shape(in_grads[i]) != x.shape:
            failures.append(f"{name}: gradient shape {np.shape(in_grads[i])} != {x.shape}")
            continue
        errors[name] = relative_error(numeric_gradient(fn, x, h), in_grads[i])
    for v in layer.trainable_weights:
        errors[v.path] = relative_error(numeric_gradient(fn, v.value, h), w_grads[v.path])
    failures += [f"{k}: relative error {e:.3g} >= {rtol:g}" for k, e in errors.items()
                 if not e < rtol]
    if failures:
        raise AssertionError(f"Gradient check of layer '{layer.name}' failed: "
                             + "; ".join(failures))
    return errors
