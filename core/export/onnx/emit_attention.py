"""ONNX emitters of ``EinsumDense`` and ``MultiHeadAttention`` (ONNX ``Einsum``, opset 12+).

EinsumDense is one ``Einsum`` on the layer's explicit equation (the ``...`` spelled
out for the built rank, ``EinsumDense._explicit``), then the bias (its shape already
broadcasts from the right, as in the engine) and the activation.

MultiHeadAttention mirrors ``MultiHeadAttention.call``: the query/key/value
projections (EinsumDense, above), the query scaled by ``1/sqrt(key_dim)``, the
dot-product einsum, the masked softmax over the attention axes (masked logits set to
-1e9, masked probabilities to 0, as ``_masked_softmax``), the combine einsum, the gate
(``use_gate``) and the output projection. Dropout is inference's no-op. The mask is
``merge_masks``' AND of the query mask (B, T, 1), value and key masks (B, 1, S) (the
inputs' masks in ``OnnxGraph.masks``, e.g. from ``Embedding(mask_zero=True)``), the
causal mask and sliding window (1, T, S) built from the run-time lengths, and an
``attention_mask`` input (a number mask means ``> 0.5``). The output carries the
query's mask; ``return_attention_scores`` adds the probabilities as a second output.
The call's static arguments come from the node being emitted (``OnnxGraph.call_kwargs``).

>>> sorted(EMITTERS)
['EinsumDense', 'MultiHeadAttention']
"""

from __future__ import annotations

import numpy as np

from core.export.onnx.emitters import _unsupported, emit_activation

FLOAT, INT64, BOOL = 1, 7, 9  # onnx.TensorProto element types (onnx imported late)


def _i64(values) -> np.ndarray:
    return np.array(values, np.int64)


def einsum_dense(g, layer, xs):
    equation = getattr(layer, "_explicit", None)
    if equation is None:
        raise _unsupported(layer, "an unbuilt layer")
    y = g.op("Einsum", [xs[0], g.weight(layer.kernel)], equation=equation)
    if layer.bias is not None:
        y = g.op("Add", [y, g.weight(layer.bias)])
    return emit_activation(g, layer, y, layer.activation)


def _length(g, x):
    """Run-time size of axis 1 of ``x`` as a 0-d int64 (Keras' T or S)."""
    dims = g.op("Shape", [x])
    return g.op("Squeeze", [g.op("Slice", [dims, g.const(_i64([1])), g.const(_i64([2]))]),
                            g.const(_i64([0]))])


def _position_masks(g, layer, q, v, causal):
    """(1, T, S) causal and sliding-window masks (``merge_masks``' order), or []."""
    window = layer._sliding_window
    if not causal and window is None:
        return []
    zero, one = g.const(np.array(0, np.int64)), g.const(np.array(1, np.int64))
    rows = g.op("Range", [zero, _length(g, q), one])
    cols = g.op("Range", [zero, _length(g, v), one])
    rows = g.op("Unsqueeze", [rows, g.const(_i64([1]))])     # (T, 1)
    cols = g.op("Unsqueeze", [cols, g.const(_i64([0]))])     # (1, S)
    out = []
    if causal:
        out.append(g.op("GreaterOrEqual", [rows, cols]))
    if window is not None:
        dist = g.op("Abs", [g.op("Sub", [rows, cols])])
        out.append(g.op("Less", [dist, g.const(np.array(int(window), np.int64))]))
    return [g.op("Unsqueeze", [m, g.const(_i64([0]))]) for m in out]


def _attention_mask(g, layer, q, v, k, explicit, causal):
    """The merged bool mask (``merge_masks``), or None when there is none."""
    parts = []
    if g.masks.get(q) is not None:
        parts.append(g.op("Unsqueeze", [g.masks[q], g.const(_i64([-1]))]))
    for x in (v, k):
        if x is not None and g.masks.get(x) is not None:
            parts.append(g.op("Unsqueeze", [g.masks[x], g.const(_i64([-2]))]))
    parts += _position_masks(g, layer, q, v, causal)
    auto = None
    for m in parts:
        auto = m if auto is None else g.op("And", [auto, m])
    if explicit is not None and g.dtype(explicit) != "bool":
        explicit = g.op("Greater", [g.op("Cast", [explicit], to=FLOAT), g.const(0.5)])
    if auto is None:
        return explicit
    return auto if explicit is None else g.op("And", [explicit, auto])


def _masked_softmax(g, layer, scores, mask, mask_rank, scores_rank):
    axes = g.const(_i64(list(layer._norm_axes)))
    if mask is not None:
        # (B, T, S) gets the heads axis (and more for several attention axes) back
        n = len(layer._attention_axes)
        for _ in range(scores_rank - mask_rank):
            mask = g.op("Unsqueeze", [mask, g.const(_i64([-2 * n - 1]))])
        scores = g.op("Where", [mask, scores, g.const(-1e9)])
    top = g.op("ReduceMax", [scores, axes], keepdims=1)
    e = g.op("Exp", [g.op("Sub", [scores, top])])
    probs = g.op("Div", [e, g.op("ReduceSum", [e, axes], keepdims=1)])
    if mask is not None:
        probs = g.op("Where", [mask, probs, g.const(0.0)])
    return probs


def multi_head_attention(g, layer, xs):
    kwargs = dict(getattr(g, "call_kwargs", None) or {})
    q, v = xs[0], xs[1]
    k = xs[2] if len(xs) > 2 else None
    explicit = xs[3] if len(xs) > 3 else None
    if not layer.built:
        raise _unsupported(layer, "an unbuilt layer")
    mask = _attention_mask(g, layer, q, v, k, explicit, bool(kwargs.get("use_causal_mask")))
    key = v if k is None else k
    gate = g.emit_layer(layer._gate_dense, [q])[0] if layer._use_gate else None
    qp = g.emit_layer(layer._query_dense, [q])[0]
    kp = g.emit_layer(layer._key_dense, [key])[0]
    vp = g.emit_layer(layer._value_dense, [v])[0]
    qp = g.op("Mul", [qp, g.const(np.float32(layer._inverse_sqrt_key_dim))])
    scores = g.op("Einsum", [kp, qp], equation=layer._dot_product_equation)
    scores_rank = len(layer._dot_product_equation.split("->")[1])
    probs = _masked_softmax(g, layer, scores, mask, _merged_rank(g, q, v, k, explicit),
                            scores_rank)
    out = g.op("Einsum", [probs, vp], equation=layer._combine_equation)
    if gate is not None:
        out = g.op("Mul", [out, gate])
    out = g.emit_layer(layer._output_dense, [out])[0]
    g.masks[out] = g.masks.get(q)  # Keras: the output carries the query's mask
    if kwargs.get("return_attention_scores"):
        g.masks[probs] = None
        return [out, probs]
    return out


def _merged_rank(g, q, v, k, explicit):
    """Rank of the merged mask (numpy broadcasting of its parts). A tensor's Keras mask
    has one axis fewer than the tensor (Embedding, Masking), and gains one above."""
    ranks = [g.rank(x) for x in (q, v, k) if x is not None and g.masks.get(x) is not None]
    if explicit is not None:
        ranks.append(g.rank(explicit))
    return max(ranks + [3])


EMITTERS = {"EinsumDense": einsum_dense, "MultiHeadAttention": multi_head_attention}
