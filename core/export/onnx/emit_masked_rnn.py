"""A recurrent cell under a mask, as an ONNX ``Scan`` over time (exact for any mask).

The engine (``core.kernels.recurrent``) at a masked step keeps the states and repeats
the previous output (zeros before the first unmasked step); at an unmasked step it
runs the cell. The Scan body does the same with three kinds of state, ``h`` [, ``c``]
and the previous output, and scans the input projection ``x @ kernel + bias`` (one
MatMul outside the loop, as the engine's GEMM) and the mask, time-major. The cell
formulas are Keras' in Keras' gate order, on the Keras weights as they are.

>>> sorted(STEPS)
['GRUCell', 'LSTMCell', 'SimpleRNNCell']
"""

from __future__ import annotations

import numpy as np

from core.export.onnx.emitters import emit_activation

FLOAT, BOOL = 1, 9  # onnx.TensorProto element types


def _i64(values) -> np.ndarray:
    return np.array(values, np.int64)


def _split(b, x, units: int, parts: int) -> list[str]:
    return b.ops("Split", [x, b.const(_i64([units] * parts))], parts, axis=1)


def _simple_step(b, layer, cell, xz, states):
    rz = b.op("MatMul", [states[0], b.weight(cell.recurrent_kernel)])
    return [emit_activation(b, layer, b.op("Add", [xz, rz]), cell.activation)]


def _lstm_step(b, layer, cell, xz, states):
    h, c = states
    z = b.op("Add", [xz, b.op("MatMul", [h, b.weight(cell.recurrent_kernel)])])
    zi, zf, zc, zo = _split(b, z, cell.units, 4)
    ract, act = cell.recurrent_activation, cell.activation
    i, f, o = (emit_activation(b, layer, v, ract) for v in (zi, zf, zo))
    c_new = b.op("Add", [b.op("Mul", [f, c]), b.op("Mul", [i, emit_activation(b, layer, zc,
                                                                               act)])])
    h_new = b.op("Mul", [o, emit_activation(b, layer, c_new, act)])
    return [h_new, c_new]


def _gru_step(b, layer, cell, xz, states):
    h, units = states[0], cell.units
    rk = np.asarray(cell.recurrent_kernel.numpy(), np.float32)
    ract, act = cell.recurrent_activation, cell.activation
    x_z, x_r, x_h = _split(b, xz, units, 3)
    if cell.reset_after:
        rz = b.op("MatMul", [h, b.weight(cell.recurrent_kernel)])
        if cell.bias is not None:
            rz = b.op("Add", [rz, b.const(np.asarray(cell.bias.numpy())[1])])
        r_z, r_r, r_h = _split(b, rz, units, 3)
    else:
        r_z, r_r = _split(b, b.op("MatMul", [h, b.const(rk[:, :2 * units])]), units, 2)
    z = emit_activation(b, layer, b.op("Add", [x_z, r_z]), ract)
    r = emit_activation(b, layer, b.op("Add", [x_r, r_r]), ract)
    if cell.reset_after:
        pre = b.op("Add", [x_h, b.op("Mul", [r, r_h])])
    else:
        pre = b.op("Add", [x_h, b.op("MatMul", [b.op("Mul", [r, h]),
                                                 b.const(rk[:, 2 * units:])])])
    hh = emit_activation(b, layer, pre, act)
    one_minus_z = b.op("Sub", [b.const(1.0), z])
    return [b.op("Add", [b.op("Mul", [z, h]), b.op("Mul", [one_minus_z, hh])])]


STEPS = {"SimpleRNNCell": _simple_step, "LSTMCell": _lstm_step, "GRUCell": _gru_step}


def _input_bias(cell):
    if cell.bias is None:
        return None
    b = np.asarray(cell.bias.numpy(), np.float32)
    return b[0] if type(cell).__name__ == "GRUCell" and cell.reset_after else b


def scan_cell(g, layer, cell, seq, states, m_tm):
    """``cell`` over time-major ``seq`` (T, N, F) under the time-major mask ``m_tm``
    (T, N); ``(outputs (T, N, U), final states)``."""
    from onnx import helper

    kind, units = type(cell).__name__, cell.units
    n_states = 2 if kind == "LSTMCell" else 1
    xz = g.op("MatMul", [seq, g.weight(cell.kernel)])
    bias = _input_bias(cell)
    if bias is not None:
        xz = g.op("Add", [xz, g.const(bias)])
    batch = g.op("Slice", [g.op("Shape", [seq]), g.const(_i64([1])), g.const(_i64([2]))])
    zeros = g.op("ConstantOfShape", [g.op("Concat", [batch, g.const(_i64([units]))], axis=0)],
                 value=helper.make_tensor("zero", FLOAT, [1], [0.0]))
    initial = list(states) if states else [zeros] * n_states

    b = g.subgraph()
    state_in = [b._name("state_in") for _ in range(n_states)]
    prev_in, xz_t, m_t = b._name("prev_out_in"), b._name("xz_t"), b._name("mask_t")
    new = STEPS[kind](b, layer, cell, xz_t, state_in)
    keep = b.op("Unsqueeze", [m_t, b.const(_i64([1]))])
    state_out = [b.op("Where", [keep, n, s]) for n, s in zip(new, state_in)]
    out = b.op("Where", [keep, new[0], prev_in])
    scanned = b.op("Identity", [out])

    def vi(name, elem=FLOAT, dims=("n", units)):
        return helper.make_tensor_value_info(name, elem, list(dims))

    body = helper.make_graph(
        b.nodes, f"{layer.name}_{cell.name}_step",
        [vi(n) for n in state_in] + [vi(prev_in), vi(xz_t, dims=("n", xz_width(cell))),
                                     vi(m_t, BOOL, ("n",))],
        [vi(n) for n in state_out] + [vi(out), vi(scanned)])
    outs = g.ops("Scan", [*initial, zeros, xz, m_tm], n_states + 2,
                 num_scan_inputs=2, body=body)
    return outs[-1], outs[:n_states]


def xz_width(cell) -> int:
    return {"SimpleRNNCell": 1, "LSTMCell": 4, "GRUCell": 3}[type(cell).__name__] * cell.units
