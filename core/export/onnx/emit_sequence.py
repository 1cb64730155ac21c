"""ONNX emitters of the sequence layers: Embedding, Conv1D, the 1-D pools, the global
1-D pools, LayerNormalization, Masking, RepeatVector, Permute, TimeDistributed.

Tensors stay (batch, steps, channels); Conv and the pools, channels-first in ONNX,
transpose around their op. Masks: see ``core.export.onnx.masks``.

>>> sorted(EMITTERS)[:3]
['AveragePooling1D', 'Conv1D', 'Embedding']
"""

from __future__ import annotations

import numpy as np

from core.export.onnx.emitters import _unsupported, emit_activation
from core.kernels.conv import same_padding

_END = np.iinfo(np.int64).max
FLOAT, INT32, INT64, BOOL = 1, 6, 7, 9  # onnx.TensorProto element types (onnx imported late)


def _i64(values) -> np.ndarray:
    return np.array(values, np.int64)


def _ncl(g, x):
    return g.op("Transpose", [x], perm=[0, 2, 1])


def _pads_1d(g, layer, x, k: int, stride: int, dilation: int) -> dict:
    """ONNX pads (or auto_pad) for Keras' 'valid' / 'same' / 'causal' on this input."""
    steps = g.shape(x)[1]
    if layer.padding == "causal":
        return {"pads": [dilation * (k - 1), 0]}
    if layer.padding != "same":
        return {"pads": [0, 0]}
    if steps is not None:
        return {"pads": list(same_padding(steps, k, stride, dilation))}
    if stride == 1:  # the total padding does not depend on the length
        total = (k - 1) * dilation
        return {"pads": [total // 2, total - total // 2]}
    # unknown length, stride > 1 (so dilation 1): SAME_UPPER is Keras' rule (odd step after)
    return {"auto_pad": "SAME_UPPER"}


def embedding(g, layer, xs):
    x = xs[0]
    ids = x if g.dtype(x) == "int64" else g.op("Cast", [x], to=INT64)
    # The engine refuses ids outside [0, input_dim); ONNX Gather reads negative ids from
    # the end, so they are sent out of range, where onnxruntime refuses them too.
    ids = g.op("Where", [g.op("Less", [ids, g.const(_i64(0))]),
                         g.const(_i64(layer.input_dim)), ids])
    y = g.op("Gather", [g.weight(layer.embeddings), ids], axis=0)
    g.masks[y] = None
    if layer.mask_zero:  # the engine's mask is ``inputs != 0`` on the ids as given
        zero = g.const(np.array(0, g.dtype(x)))
        g.masks[y] = g.op("Not", [g.op("Equal", [x, zero])])
    return y


def conv1d(g, layer, xs):
    x = xs[0]
    k, s, d = layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
    kernel = np.transpose(np.asarray(layer.kernel.numpy()), (2, 1, 0))  # (F, C, K)
    inputs = [_ncl(g, x), g.const(kernel)]
    if layer.use_bias:
        inputs.append(g.weight(layer.bias))
    y = g.op("Conv", inputs, kernel_shape=[k], strides=[s], dilations=[d],
             **_pads_1d(g, layer, x, k, s, d))
    return emit_activation(g, layer, _ncl(g, y), layer.activation)


def _pool_1d(op_type):
    def emit(g, layer, xs):
        x = xs[0]
        k, s = layer.pool_size[0], layer.strides[0]
        attrs = {"kernel_shape": [k], "strides": [s], **_pads_1d(g, layer, x, k, s, 1)}
        if op_type == "AveragePool":
            attrs["count_include_pad"] = 0  # Keras averages over the real steps only
        return _ncl(g, g.op(op_type, [_ncl(g, x)], **attrs))
    return emit


def global_max_pooling_1d(g, layer, xs):
    y = g.op("ReduceMax", [xs[0], g.const(_i64([1]))], keepdims=int(bool(layer.keepdims)))
    g.masks[y] = None  # Keras 3's ignores the mask
    return y


def global_average_pooling_1d(g, layer, xs):
    x, mask = xs[0], g.masks.get(xs[0])
    keep = int(bool(layer.keepdims))
    axes = g.const(_i64([1]))
    if mask is None:
        y = g.op("ReduceMean", [x, axes], keepdims=keep)
    else:  # the mean over the unmasked steps (an all-masked row gives nan, as the engine)
        m3 = g.op("Unsqueeze", [mask, g.const(_i64([-1]))])
        total = g.op("ReduceSum", [g.op("Where", [m3, x, g.const(0.0)]), axes], keepdims=keep)
        count = g.op("ReduceSum", [g.op("Cast", [m3], to=FLOAT), axes],
                     keepdims=keep)
        y = g.op("Div", [total, count])
    g.masks[y] = None
    return y


def layer_normalization(g, layer, xs):
    x = xs[0]
    rank = g.rank(x)
    axes = layer._axes(rank)
    rest = [a for a in range(rank) if a not in axes]
    order = rest + axes  # normalised axes last, in sorted order (the weights' layout)
    moved = x if order == list(range(rank)) else g.op("Transpose", [x], perm=order)
    norm_shape = [g.shape(x)[a] for a in axes]
    gamma = (np.ones(norm_shape, np.float32) if layer.gamma is None
             else np.reshape(layer.gamma.numpy(), norm_shape))
    if layer.rms_scaling:  # Keras' formula: x / sqrt(var + eps) * gamma, x not centred
        red = g.const(_i64(list(range(-len(axes), 0))))
        centred = g.op("Sub", [moved, g.op("ReduceMean", [moved, red], keepdims=1)])
        var = g.op("ReduceMean", [g.op("Mul", [centred, centred]), red], keepdims=1)
        std = g.op("Sqrt", [g.op("Add", [var, g.const(float(layer.epsilon))])])
        y = g.op("Mul", [g.op("Div", [moved, std]), g.const(gamma)])
    else:
        inputs = [moved, g.const(gamma)]
        if layer.beta is not None:
            inputs.append(g.const(np.reshape(layer.beta.numpy(), norm_shape)))
        y = g.op("LayerNormalization", inputs, axis=-len(axes),
                 epsilon=float(layer.epsilon))
    if order != list(range(rank)):
        y = g.op("Transpose", [y], perm=[int(i) for i in np.argsort(order)])
    return y


def masking(g, layer, xs):
    x = xs[0]
    differs = g.op("Not", [g.op("Equal", [x, g.const(float(layer.mask_value))])])
    keep = g.op("ReduceMax", [g.op("Cast", [differs], to=INT32),
                              g.const(_i64([-1]))], keepdims=1)
    keep = g.op("Cast", [keep], to=BOOL)
    y = g.op("Where", [keep, x, g.const(0.0)])
    g.masks[y] = g.op("Squeeze", [keep, g.const(_i64([-1]))])
    return y


def repeat_vector(g, layer, xs):
    x = g.op("Unsqueeze", [xs[0], g.const(_i64([1]))])
    return g.op("Expand", [x, g.const(_i64([1, layer.n, 1]))])


def permute(g, layer, xs):
    return g.op("Transpose", [xs[0]], perm=[0, *[int(d) for d in layer.dims]])


def time_distributed(g, layer, xs):
    from core.layers.masks import takes_mask
    x, inner = xs[0], layer.layer
    if g.masks.get(x) is not None and takes_mask(inner):
        raise _unsupported(layer, f"a mask passed on to the wrapped {type(inner).__name__}")
    shape = g.shape(x)
    dims = g.op("Shape", [x])
    tail = g.op("Slice", [dims, g.const(_i64([2])), g.const(_i64([_END]))])
    folded = g.op("Reshape", [x, g.op("Concat", [g.const(_i64([-1])), tail], axis=0)])
    folded_shape = (None,) + tuple(shape[2:])
    g.shapes[folded] = folded_shape
    outs = g.emit_layer(inner, [folded])
    if len(outs) != 1:
        raise _unsupported(layer, f"a wrapped layer with {len(outs)} outputs")
    y = outs[0]
    g.shapes[y] = tuple(inner.compute_output_shape(folded_shape))
    head = g.op("Slice", [dims, g.const(_i64([0])), g.const(_i64([2]))])
    y_tail = g.op("Slice", [g.op("Shape", [y]), g.const(_i64([1])), g.const(_i64([_END]))])
    return g.op("Reshape", [y, g.op("Concat", [head, y_tail], axis=0)])


EMITTERS = {
    "Embedding": embedding,
    "Conv1D": conv1d,
    "MaxPooling1D": _pool_1d("MaxPool"),
    "AveragePooling1D": _pool_1d("AveragePool"),
    "GlobalMaxPooling1D": global_max_pooling_1d,
    "GlobalAveragePooling1D": global_average_pooling_1d,
    "LayerNormalization": layer_normalization,
    "Masking": masking,
    "RepeatVector": repeat_vector,
    "Permute": permute,
    "TimeDistributed": time_distributed,
}
