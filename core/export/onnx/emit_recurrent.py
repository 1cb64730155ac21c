"""ONNX emitters of the recurrent layers: SimpleRNN, LSTM, GRU, RNN (one cell or stacked
cells) and Bidirectional.

Without a mask each cell is ONNX's own RNN / LSTM / GRU op, the Keras weights mapped:
ONNX wants ``W`` (1, G*units, input), ``R`` (1, G*units, units) and one bias row of
input then recurrent biases; Keras' LSTM gates i, f, c, o become ONNX's i, o, f, c;
GRU keeps z, r, h, and ``reset_after=True`` is ``linear_before_reset=1`` (input and
recurrent bias rows), ``reset_after=False`` is ``linear_before_reset=0`` with a zero
recurrent bias. ``activations`` lists (recurrent_activation, activation[, activation])
as ONNX orders them; 'linear' is ONNX's Affine(1, 0).

A mask (Embedding(mask_zero=True), Masking) makes masked steps carry the states and
repeat the last output (zeros before the first unmasked step), anywhere in the
sequence. ONNX's ``sequence_lens`` only cuts a right-padded tail, so a masked layer
runs its cells as an ONNX ``Scan`` instead (``emit_masked_rnn``), exact for any mask.

``go_backwards`` reverses the time axis before the cells (Keras then returns the
sequence in that reversed order); ``stateful=True`` (states carried across batches)
cannot be represented and is refused.

>>> sorted(EMITTERS)
['Bidirectional', 'GRU', 'LSTM', 'RNN', 'SimpleRNN']
"""

from __future__ import annotations

import numpy as np

from core import activations
from core.export.onnx.emit_masked_rnn import scan_cell
from core.export.onnx.emitters import _unsupported

FLOAT = 1  # onnx.TensorProto.FLOAT
_ONNX_ACTS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "linear": "Affine"}
# Keras gate blocks in ONNX's order, and the ONNX op, per cell type
_GATES = {"SimpleRNNCell": ("RNN", [0]), "LSTMCell": ("LSTM", [0, 3, 1, 2]),
          "GRUCell": ("GRU", [0, 1, 2])}


def _i64(values) -> np.ndarray:
    return np.array(values, np.int64)


def cells_of(layer) -> list:
    cell = layer.cell
    return list(cell.cells) if type(cell).__name__ == "StackedRNNCells" else [cell]


def _blocks(a, order, units):
    """The gate blocks of the last axis of ``a`` in ``order``."""
    return np.concatenate([a[..., k * units:(k + 1) * units] for k in order], axis=-1)


def _onnx_activations(layer, acts) -> dict:
    names, alpha, beta = [], [], []
    for act in acts:
        name = activations.serialize(act)
        if name not in _ONNX_ACTS:
            raise _unsupported(layer, f"recurrent activation {name!r}")
        names.append(_ONNX_ACTS[name])
        if name == "linear":  # Affine(x) = alpha * x + beta takes the only alpha/beta
            alpha.append(1.0)
            beta.append(0.0)
    attrs = {"activations": names}
    if alpha:
        attrs.update(activation_alpha=alpha, activation_beta=beta)
    return attrs


def _native_cell(g, layer, cell, seq, states):
    """One cell over time-major ``seq`` (T, N, F) with ONNX's op; (outputs, final states)."""
    kind = type(cell).__name__
    op_type, order = _GATES[kind]
    units = cell.units
    kernel = np.asarray(cell.kernel.numpy(), np.float32)
    recurrent = np.asarray(cell.recurrent_kernel.numpy(), np.float32)
    w = _blocks(kernel, order, units).T[None]
    r = _blocks(recurrent, order, units).T[None]
    attrs = {"hidden_size": units}
    if kind == "SimpleRNNCell":
        attrs.update(_onnx_activations(layer, [cell.activation]))
    elif kind == "LSTMCell":
        attrs.update(_onnx_activations(
            layer, [cell.recurrent_activation, cell.activation, cell.activation]))
    else:
        attrs.update(_onnx_activations(layer, [cell.recurrent_activation, cell.activation]))
        attrs["linear_before_reset"] = int(bool(cell.reset_after))
    bias = ""
    if cell.bias is not None:
        b = np.asarray(cell.bias.numpy(), np.float32)
        if kind == "GRUCell" and cell.reset_after:
            b_in, b_rec = b[0], b[1]
        else:
            b_in, b_rec = b, np.zeros_like(b)
        bias = g.const(np.concatenate([_blocks(b_in, order, units),
                                       _blocks(b_rec, order, units)])[None])
    inputs = [seq, g.const(w), g.const(r), bias, ""]
    inputs += [g.op("Unsqueeze", [s, g.const(_i64([0]))]) for s in states]
    while inputs[-1] == "":
        inputs.pop()
    n_states = 2 if kind == "LSTMCell" else 1
    outs = g.ops(op_type, inputs, 1 + n_states, **attrs)
    y = g.op("Squeeze", [outs[0], g.const(_i64([1]))])  # (T, 1, N, U) -> (T, N, U)
    finals = [g.op("Squeeze", [s, g.const(_i64([0]))]) for s in outs[1:]]
    return y, finals


def _reverse(g, x, axis: int):
    return g.op("Slice", [x, g.const(_i64([-1])), g.const(_i64([np.iinfo(np.int64).min])),
                          g.const(_i64([axis])), g.const(_i64([-1]))])


def run_rnn(g, layer, x: str, initial_states: list[str], mask) -> list[str]:
    """``[output, *final states if return_state]`` of recurrent ``layer`` on ``x``."""
    if layer.stateful:
        raise _unsupported(layer, "stateful=True (states carried from one batch to the "
                                  "next)")
    cells = cells_of(layer)
    counts = [2 if type(c).__name__ == "LSTMCell" else 1 for c in cells]
    for c in cells:
        if type(c).__name__ not in _GATES:
            raise _unsupported(layer, f"the recurrent cell {type(c).__name__}")
    if initial_states and len(initial_states) != sum(counts):
        raise _unsupported(layer, f"{len(initial_states)} initial states for "
                                  f"{sum(counts)} states")
    seq = g.op("Transpose", [x], perm=[1, 0, 2])
    # Keras passes the riding mask to the cells only for a call without initial
    # states (the engine follows); the output carries it either way.
    step_mask = None if initial_states else mask
    m_tm = None if step_mask is None else g.op("Transpose", [step_mask], perm=[1, 0])
    if layer.go_backwards:
        seq = _reverse(g, seq, 0)
        m_tm = None if m_tm is None else _reverse(g, m_tm, 0)
    finals, k = [], 0
    for cell, n in zip(cells, counts):
        states = list(initial_states[k:k + n]) if initial_states else []
        k += n
        if m_tm is None:
            seq, st = _native_cell(g, layer, cell, seq, states)
        else:
            seq, st = scan_cell(g, layer, cell, seq, states, m_tm)
        finals += st
    if layer.zero_output_for_mask and m_tm is not None:
        keep = g.op("Cast", [g.op("Unsqueeze", [m_tm, g.const(_i64([-1]))])], to=FLOAT)
        seq = g.op("Mul", [seq, keep])
    if layer.return_sequences:
        y = g.op("Transpose", [seq], perm=[1, 0, 2])
        g.masks[y] = mask  # Keras: the input's mask, also after go_backwards
    else:
        y = g.op("Gather", [seq, g.const(_i64(-1))], axis=0)
        g.masks[y] = None
    for s in finals:
        g.masks[s] = None
    return [y] + finals if layer.return_state else [y]


def recurrent(g, layer, xs):
    return run_rnn(g, layer, xs[0], list(xs[1:]), g.masks.get(xs[0]))


def bidirectional(g, layer, xs):
    x, states = xs[0], list(xs[1:])
    mask = g.masks.get(x)
    half = len(states) // 2
    fy, *fs = run_rnn(g, layer.forward_layer, x, states[:half], mask)
    by, *bs = run_rnn(g, layer.backward_layer, x, states[half:], mask)
    if layer.return_sequences:
        by = _reverse(g, by, 1)  # back to forward time before merging
    mode = layer.merge_mode
    if mode == "concat":
        out = [g.op("Concat", [fy, by], axis=-1)]
    elif mode == "sum":
        out = [g.op("Add", [fy, by])]
    elif mode == "ave":
        out = [g.op("Div", [g.op("Add", [fy, by]), g.const(2.0)])]
    elif mode == "mul":
        out = [g.op("Mul", [fy, by])]
    else:
        out = [fy, g.op("Identity", [by])]
    seq_mask = mask if layer.return_sequences else None
    for o in out:
        g.masks[o] = seq_mask
    return out + fs + bs


EMITTERS = {"SimpleRNN": recurrent, "LSTM": recurrent, "GRU": recurrent, "RNN": recurrent,
            "Bidirectional": bidirectional}
