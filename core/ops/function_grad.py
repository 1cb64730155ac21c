"""The gradient of a user function built from ``core.ops``, w.r.t. its array inputs.

Losses, activations and regularizers that a user writes as plain functions of ops
(``def my_loss(y_true, y_pred): return ops.mean(ops.square(y_true - y_pred), -1)``)
are called by the engine outside the model's tape, on plain arrays. ``record_function``
runs such a function under a tape of its own with the chosen inputs watched, and
returns its output with a ``backward(grad_output) -> [grad per input]`` closure, so the
engine gets the VJP of any composition of ops without anyone writing it.

>>> import numpy as np
>>> from core import ops
>>> x = np.array([1.0, -2.0, 3.0])
>>> y, backward = record_function(lambda a: ops.sum(ops.square(a)), [x])
>>> float(y), backward(1.0)[0].tolist()
(14.0, [2.0, -4.0, 6.0])
"""

from __future__ import annotations

import numpy as np

from core.autodiff import Tape
from core.ops.engine import Tracked, plain


class _InputSink:
    """Pseudo-layer recorded as the producer of the watched inputs: the tape hands it
    the gradients that reach them."""

    _tracked_layers = ()

    def __init__(self):
        self.grads = None

    def backward(self, cache, grad_outputs, need_input_grad=True):
        self.grads = list(grad_outputs)
        return []

    def _own_trainable_variables(self):
        return []


def record_function(fn, inputs, wrt=None):
    """``(plain output, backward)`` of ``fn(*inputs)``; ``wrt`` (indices, default all)
    are the inputs differentiated. ``backward(g)`` returns one gradient per ``wrt``
    input (zeros where the output does not depend on it) and may be called once;
    ``backward.connected`` says whether the output depends on the inputs at all."""
    inputs = [np.asarray(x) for x in inputs]
    wrt = list(range(len(inputs))) if wrt is None else list(wrt)
    # Each watched input is its own Tracked view: the tape matches arrays by identity,
    # and Python operators on it (``y_true - y_pred``) must be ops too.
    for i in wrt:
        inputs[i] = np.asarray(inputs[i]).view(Tracked)
    sink = _InputSink()
    watched = [inputs[i] for i in wrt]
    with Tape() as tape:
        tape.record(sink, [], watched, None)
        tape.watch(*watched)
        out = fn(*inputs)

    connected = tape.needs_grad(out)

    def backward(grad_output):
        g = np.broadcast_to(np.asarray(grad_output, dtype=np.result_type(out)),
                            np.shape(out))
        tape.backward(out, np.array(g))
        got = sink.grads or [None] * len(watched)
        return [np.zeros_like(x) if d is None else np.asarray(plain(d)).reshape(x.shape)
                for x, d in zip(watched, got)]

    # False when the output does not depend on the inputs through ops (e.g. it was
    # computed with plain numpy): its gradient would be silently zero.
    backward.connected = connected
    return plain(out), backward
