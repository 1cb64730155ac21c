"""A user's activation function (built from ``core.ops``) as an ``Activation``.

``Dense(8, activation=my_act)`` with ``def my_act(x): return x * ops.sigmoid(x)`` gets
``FunctionActivation(my_act)``: the forward is the function, the backward the VJP of
the ops it used (``core.ops.function_grad``). It is saved as Keras saves a function:
by its registered name (``@keras.saving.register_keras_serializable()``).

>>> import numpy as np
>>> from core import ops
>>> act = FunctionActivation(lambda x: ops.square(x))
>>> y, cache = act.forward(np.array([1.0, -3.0]))
>>> y.tolist(), act.backward(cache, np.ones(2)).tolist()
([1.0, 9.0], [2.0, -6.0])
"""

from __future__ import annotations

import numpy as np

from core.activation_ops import Activation


class FunctionActivation(Activation):
    """``fn(x)`` with its gradient from the ops it calls."""

    def __init__(self, fn):
        if not callable(fn):
            raise ValueError(f"An activation must be callable, got {fn!r}.")
        from core.saving.object_registry import get_registered_name

        self.fn = fn
        self._keras_function = fn  # serialize_keras_object saves the function itself
        self.name = get_registered_name(fn)

    def forward(self, x, inplace=False):
        from core.ops.function_grad import record_function

        y, backward = record_function(self.fn, [x])
        return np.asarray(y, dtype=np.result_type(x)), backward

    def backward(self, cache, dy, out=None):
        if not cache.connected:
            raise ValueError(f"Activation {self.name!r} computes its output without "
                             "core.ops (plain numpy?), so it has no gradient; write it with "
                             "core.ops (keras.ops).")
        return cache(dy)[0]

    def __call__(self, x):
        return self.fn(x)

    def __eq__(self, other):
        return isinstance(other, FunctionActivation) and other.fn is self.fn

    def __hash__(self):
        return hash(self.fn)

    def __repr__(self):
        return f"<Activation {self.name} (user function)>"
