"""The fused recurrent op against the ops step loop it stands for.

``RNN`` runs a built-in cell's whole sequence as one fused op (numba kernels) whose
custom gradient is its hand-written ``backward``; the meaning of the cell is its step
``call`` written with ``core.ops``, which ``core.layers.rnn_loop.run_steps`` runs under
the tape. ``compare_fused_to_steps`` runs both on the same layer, inputs, states and
mask (and, with dropout, the same random masks: each cell's generator is re-seeded
before each run), back-propagates the same random output weights ``R`` through a tape
and returns the largest relative difference of every output, every input gradient
(sequence and initial states) and every weight gradient.

>>> import numpy as np
>>> from core.layers import SimpleRNN
>>> layer = SimpleRNN(2, dtype="float64")
>>> diffs = compare_fused_to_steps(layer, np.ones((2, 3, 4)))
>>> max(diffs.values()) < 1e-12
True
"""

from __future__ import annotations

import numpy as np

from core.autodiff import Tape
from core.layers.rnn_loop import run_steps
from core.layers.rnn_stacked import cells_of


class _Sink:
    """Recorded as the producer of the inputs: receives their gradients."""

    _tracked_layers = ()

    def __init__(self):
        self.grads = None

    def backward(self, cache, grad_outputs, need_input_grad=True):
        self.grads = [None if g is None else np.array(g) for g in grad_outputs]
        return []

    def _own_trainable_variables(self):
        return []


def _listify(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _run(layer, fn, x, states, seed):
    for c in cells_of(layer.cell):
        c._gen = np.random.default_rng(seed)  # the same dropout masks in both runs
    xs = [np.array(a, np.float64) for a in [x] + list(states or [])]
    sink = _Sink()
    with Tape() as tape:
        tape.record(sink, [], xs, None)
        tape.watch(*xs)
        out = fn(xs[0], xs[1:] or None)
    outs = _listify(out)
    rng = np.random.default_rng(1)
    rs = [rng.standard_normal(np.shape(o)) for o in outs]
    tape.backward(outs, rs)
    grads = {f"input_{i}": g for i, g in enumerate(sink.grads)}
    for v in layer.trainable_weights:
        assert v.grad_step == tape.step, f"{v.path}: no gradient from this run"
        grads[v.path] = v.grad.copy()
    return [np.array(o) for o in outs], grads


def compare_fused_to_steps(layer, x, states=None, mask=None, training=False, seed=5):
    """``{name: relative max difference}`` between the fused call and the step loop,
    for each output (``output_i``) and gradient (``input_i``, weight paths)."""
    def fused(xv, sv):
        return layer(xv, initial_state=sv, mask=mask, training=training)

    def steps(xv, sv):
        return run_steps(layer, xv, sv, mask, training)

    layer(np.asarray(x, np.float64), initial_state=states, mask=mask)  # build
    assert layer._fused(), f"{layer.name}: the fused path does not apply"
    out_a, grad_a = _run(layer, fused, x, states, seed)
    out_b, grad_b = _run(layer, steps, x, states, seed)
    assert len(out_a) == len(out_b) and sorted(grad_a) == sorted(grad_b)
    diffs = {}
    for name, a, b in [(f"output_{i}", a, b) for i, (a, b) in enumerate(zip(out_a, out_b))] \
            + [(k, grad_a[k], grad_b[k]) for k in grad_a]:
        if a is None or b is None:
            assert a is None and b is None, f"{name}: a gradient on one path only"
            continue
        assert a.shape == b.shape, f"{name}: {a.shape} vs {b.shape}"
        scale = max(np.abs(a).max(), np.abs(b).max(), 1e-30)
        diffs[name] = float(np.abs(a - b).max() / scale)
    return diffs
