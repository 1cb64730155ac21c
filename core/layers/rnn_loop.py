"""The time loop of ``RNN`` for any cell: one ``cell.call`` per step, written with
``core.ops``, so under a tape the gradient of a user's cell comes from the ops it uses.

Semantics are Keras 3's (``keras/src/backend/torch/rnn.py``): the sequence is walked
in order (reversed with ``go_backwards``, whose output sequence stays reversed); at a
masked step every state keeps its previous value and the output repeats the previous
step's output (zeros before the first step, and always with ``zero_output_for_mask``).
The states are one flat list here (a stack's cells one after the other);
``pack_states`` gives the cell Keras' nested structure.

This is also the reference meaning of the built-in cells: ``RNN`` runs them through
their fused whole-sequence op instead, and the tests check that op's outputs and
custom gradient against this loop.

>>> import numpy as np
>>> from core.layers.rnn_simple import SimpleRNNCell
>>> from core.layers.rnn_wrapper import RNN
>>> layer = RNN(SimpleRNNCell(2), return_sequences=True)
>>> x = np.ones((1, 3, 4), "float32")
>>> np.allclose(run_steps(layer, x, None, None, False), layer(x), atol=1e-6)
True
"""

from __future__ import annotations

import numpy as np

from core import ops
from core.layers.rnn_stacked import (
    call_cell,
    cells_of,
    flatten_states,
    initial_states,
    output_size,
    pack_states,
)
from core.ops.engine import plain


def run_steps(layer, x, states, mask, training):
    """``layer``'s outputs (``y`` or ``[y, *states]``, as its ``forward``) computed by
    stepping ``layer.cell``; ``states`` None starts from ``cell.get_initial_state``.
    ``mask`` (batch, time) bool or None."""
    cell = layer.cell
    N, T = int(np.shape(x)[0]), int(np.shape(x)[1])
    if states is None:
        states = [ops.cast(s, layer.dtype) for s in initial_states(cell, N, layer.dtype)]
    layer._check_states(x, states)
    if T == 0:
        raise ValueError(f"Layer '{layer.name}': the input sequence has no time steps.")
    # One split op (its gradient one concatenate), not T slices that each scatter a
    # gradient the size of the whole input back.
    steps = [ops.squeeze(s, axis=1) for s in ops.split(x, T, axis=1)] if T > 1 \
        else [ops.squeeze(x, axis=1)]
    keep = None if mask is None else np.asarray(mask).astype(bool)
    order = range(T - 1, -1, -1) if layer.go_backwards else range(T)
    for c in cells_of(cell):
        if hasattr(c, "reset_dropout_mask"):
            c.reset_dropout_mask()  # one set of dropout masks per sequence, as Keras
    flat = list(states)
    prev = None
    outs = []
    try:
        for t in order:
            out, new = call_cell(cell, steps[t], pack_states(cell, flat), training)
            new = flatten_states(new)
            if len(new) != len(flat):
                raise ValueError(
                    f"Layer '{layer.name}': the cell {type(cell).__name__} returned "
                    f"{len(new)} state(s), but its state_size declares {len(flat)}.")
            if keep is not None:
                k = keep[:, t:t + 1]
                if prev is None or layer.zero_output_for_mask:
                    prev = np.zeros(np.shape(out), np.asarray(plain(out)).dtype)
                out = ops.where(k, out, prev)
                new = [ops.where(k, n, s) for n, s in zip(new, flat)]
            flat, prev = new, out
            outs.append(out)
    finally:
        for c in cells_of(cell):
            if hasattr(c, "reset_dropout_mask"):
                c.reset_dropout_mask()
    if np.shape(outs[-1])[-1] != output_size(cell):
        raise ValueError(f"Layer '{layer.name}': the cell {type(cell).__name__} returned "
                         f"outputs of shape {np.shape(outs[-1])}, but its output_size is "
                         f"{output_size(cell)}.")
    if layer.stateful:  # plain copies: no gradient crosses batches, as Keras
        layer.states = [np.array(plain(s)) for s in flat]
    y = ops.stack(outs, axis=1) if layer.return_sequences else outs[-1]
    return [y] + flat if layer.return_state else y
