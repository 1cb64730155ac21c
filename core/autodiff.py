"""Reverse-mode autodiff by tape: one mechanism for every kind of model.

During a training forward pass each layer call that has a ``backward``
records ``(layer, inputs, outputs, cache)`` on the active tape. ``backward``
walks the records in reverse, hands each layer the gradient of its outputs,
and accumulates the gradients it returns for its inputs. Arrays are matched
by identity; the tape keeps every recorded array alive so identities stay
unique for the step.

Ops (``core.ops``) record themselves on the same tape with an ``OpNode`` in the
layer's role, so a layer without ``backward`` whose ``call`` computes with ops,
and arithmetic between layers, are differentiated too (``core/ops/engine.py``).
Every layer called while the tape is active is noted (``called_layers``) so that
a trainable weight that received no gradient can be reported
(``variables_without_gradient``).

Inputs that no recorded layer produced (model inputs, constants) need no
gradient, and neither do outputs of layers with nothing trainable at or above
them (a Flatten or a frozen layer fed by the model input), so the first
trainable layer of a network never computes ``dx``.

>>> import numpy as np
>>> from core.layers import Dense
>>> layer = Dense(2)
>>> x = np.ones((4, 3), "float32")
>>> with Tape() as tape:
...     y = layer(x, training=True)
>>> _ = tape.backward(y, np.ones_like(y))
>>> layer.kernel.grad.shape
(3, 2)
"""

from __future__ import annotations

import itertools

import numpy as np

from core import backend
from core.ops.engine import Tracked

_steps = itertools.count()


class Record:
    __slots__ = ("layer", "inputs", "outputs", "cache", "multi_in", "multi_out")

    def __init__(self, layer, inputs, outputs, cache):
        # ``type() is`` first: one ndarray in and out is the common case (an MLP step
        # records four of them), two isinstance calls each are the rest.
        self.multi_in = type(inputs) is not Tracked and isinstance(inputs, (list, tuple))
        self.multi_out = type(outputs) is not Tracked and isinstance(outputs, (list, tuple))
        self.layer = layer
        self.inputs = list(inputs) if self.multi_in else [inputs]
        self.outputs = list(outputs) if self.multi_out else [outputs]
        self.cache = cache


class Tape:
    """Records layer calls on this thread while active (``with Tape():``)."""

    def __init__(self):
        self.records: list[Record] = []
        self._produced: set[int] = set()
        self.step = next(_steps)
        self._previous = None
        self.called_layers: dict[int, object] = {}  # id -> layer called under this tape

    def __enter__(self):
        self._previous = backend.get_tape()
        backend.set_tape(self)
        return self

    def __exit__(self, *exc):
        backend.set_tape(self._previous)
        return False

    def record(self, layer, inputs, outputs, cache) -> None:
        rec = Record(layer, inputs, outputs, cache)
        self.records.append(rec)
        produced = self._produced
        # An output needs a gradient only when something upstream of it trains: a
        # Flatten of the model input does not, so the Dense after it skips its dx
        # GEMM (on the MLP that was a third of the step's arithmetic).
        if not (layer._own_trainable_variables() or layer._tracked_layers):
            for x in rec.inputs:
                if id(x) in produced:
                    break
            else:
                return
        for o in rec.outputs:
            produced.add(id(o))

    def note_call(self, layer) -> None:
        self.called_layers[id(layer)] = layer

    def variables_without_gradient(self, touched) -> list:
        """``(layer, variable)`` for each trainable variable of a layer called under
        this tape that ``backward`` gave no gradient (a broken gradient path)."""
        out = []
        for layer in self.called_layers.values():
            for v in layer._own_trainable_variables():
                if v not in touched and v.grad_step != self.step:
                    out.append((layer, v))
        return out

    def watch(self, *arrays) -> None:
        """Ask for gradients w.r.t. ``arrays`` although no recorded layer produced them
        (as ``tf.GradientTape.watch``); used to check input gradients."""
        for a in arrays:
            self._produced.add(id(a))

    def needs_grad(self, array) -> bool:
        """True when ``array`` was produced by a recorded layer or op call (or watched)."""
        return id(array) in self._produced

    def backward(self, outputs, grads):
        """Back-propagate ``grads`` (matching ``outputs``) through the records.

        Writes each trainable variable's gradient into ``variable.grad`` and
        returns the set of variables that received one this step.
        """
        if not isinstance(outputs, (list, tuple)):
            outputs, grads = [outputs], [grads]
        pending: dict[int, np.ndarray] = {}
        for o, g in zip(outputs, grads):
            if g is not None:
                _accumulate(pending, id(o), g)
        produced = self._produced
        state = backend._state
        previous_step = getattr(state, "grad_step", None)
        state.grad_step = self.step
        try:
            for rec in reversed(self.records):
                if rec.multi_out:
                    gouts = [pending.pop(id(o), None) for o in rec.outputs]
                    if all(g is None for g in gouts):
                        continue
                    g_arg = [np.zeros_like(o) if g is None else g
                             for g, o in zip(gouts, rec.outputs)]
                else:
                    g_arg = pending.pop(id(rec.outputs[0]), None)
                    if g_arg is None:
                        continue
                if rec.multi_in:
                    need = [id(x) in produced for x in rec.inputs]
                    din = rec.layer.backward(rec.cache, g_arg, need_input_grad=need)
                    for x, dx, nd in zip(rec.inputs, din, need):
                        if nd and dx is not None:
                            _accumulate(pending, id(x), dx)
                else:
                    x = rec.inputs[0]
                    nd = id(x) in produced
                    dx = rec.layer.backward(rec.cache, g_arg, need_input_grad=nd)
                    if nd and dx is not None:
                        _accumulate(pending, id(x), dx)
        finally:
            state.grad_step = previous_step
        step = self.step
        touched = set()
        # Recorded layers and ops, and layers reached only through ops.
        seen = set()
        for owner in itertools.chain((rec.layer for rec in self.records),
                                     self.called_layers.values()):
            if id(owner) in seen:
                continue
            seen.add(id(owner))
            for v in owner._own_trainable_variables():
                if v.grad_step == step:
                    touched.add(v)
        return touched


def _accumulate(pending: dict, key: int, g: np.ndarray) -> None:
    prev = pending.get(key)
    # A fresh sum, never ``+=``: the first gradient may be a view into a
    # layer's cache that must not be modified.
    pending[key] = g if prev is None else prev + g


def current_grad_step() -> int | None:
    return getattr(backend._state, "grad_step", None)
