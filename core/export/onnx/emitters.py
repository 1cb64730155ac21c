"""ONNX emitters of the dense, convolutional, pooling, normalization, reshaping and
merge layers (keyed by class name), the activations, and the shared error.

The sequence and recurrent families live in ``emit_sequence``, ``emit_recurrent``
and ``emit_masked_rnn``; ``core.export.onnx.EMITTERS`` joins the tables.

Tensors stay in Keras' channels-last layout between layers; the spatial layers that
ONNX defines channels-first (Conv, pooling) transpose in and out around their op.
An emitter is ``emit(graph, layer, inputs: list[str]) -> str`` (the output name).

>>> {"Dense", "Conv2D", "MaxPooling2D"} <= set(EMITTERS)
True
"""

from __future__ import annotations

import numpy as np

from core import activations

OPSET = 20  # Gelu needs 20; onnxruntime >= 1.16 runs it


class UnsupportedLayer(ValueError):
    """A layer (or one of its settings) that the ONNX opset cannot represent."""


def _unsupported(layer, what: str):
    return UnsupportedLayer(
        f"Layer '{layer.name}' ({type(layer).__name__}): {what} cannot be represented in "
        f"ONNX opset {OPSET}.")


# ------------------------------------------------------------------- activations
def _simple(op_type, **attrs):
    return lambda g, x, act: g.op(op_type, [x], **attrs)


def _silu(g, x, act):
    return g.op("Mul", [x, g.op("Sigmoid", [x])])


def _tanh_shrink(g, x, act):
    return g.op("Sub", [x, g.op("Tanh", [x])])


def _log_sigmoid(g, x, act):
    return g.op("Neg", [g.op("Softplus", [g.op("Neg", [x])])])


def _squareplus(g, x, act):
    b = float(getattr(act, "b", 4.0))
    root = g.op("Sqrt", [g.op("Add", [g.op("Mul", [x, x]), g.const(b)])])
    return g.op("Mul", [g.op("Add", [x, root]), g.const(0.5)])


def _sparse_plus(g, x, act):
    # 0 below -1, x above 1, (x + 1)^2 / 4 between (Keras 3's sparse_plus)
    shifted = g.op("Add", [x, g.const(1.0)])
    mid = g.op("Mul", [g.op("Mul", [shifted, shifted]), g.const(0.25)])
    upper = g.op("Where", [g.op("GreaterOrEqual", [x, g.const(1.0)]), x, mid])
    return g.op("Where", [g.op("LessOrEqual", [x, g.const(-1.0)]), g.const(0.0), upper])


def _sparse_sigmoid(g, x, act):
    half = g.op("Mul", [g.op("Add", [x, g.const(1.0)]), g.const(0.5)])
    return g.op("Clip", [half, g.const(0.0), g.const(1.0)])


def _clip(lo, hi):
    return lambda g, x, act: g.op("Clip", [x, g.const(lo), g.const(hi)])


def _with_param(op_type, attr, name, default):
    return lambda g, x, act: g.op(op_type, [x], **{attr: float(getattr(act, name, default))})


def _shrink(soft):
    def emit(g, x, act):
        t = float(getattr(act, "threshold", 0.5))
        return g.op("Shrink", [x], lambd=t, bias=t if soft else 0.0)
    return emit


def _gelu(g, x, act):
    approx = "tanh" if getattr(act, "approximate", False) else "none"
    return g.op("Gelu", [x], approximate=approx)


ACTIVATIONS = {
    "linear": lambda g, x, act: x,
    "relu": _simple("Relu"),
    "relu6": _clip(0.0, 6.0),
    "leaky_relu": _with_param("LeakyRelu", "alpha", "negative_slope", 0.2),
    "softmax": lambda g, x, act: g.op("Softmax", [x], axis=int(getattr(act, "axis", -1))),
    "log_softmax": lambda g, x, act: g.op("LogSoftmax", [x],
                                          axis=int(getattr(act, "axis", -1))),
    "elu": _with_param("Elu", "alpha", "alpha", 1.0),
    "selu": _simple("Selu", alpha=1.6732632423543772, gamma=1.0507009873554805),
    "gelu": _gelu,
    "sigmoid": _simple("Sigmoid"),
    "tanh": _simple("Tanh"),
    "exponential": _simple("Exp"),
    "hard_sigmoid": _simple("HardSigmoid", alpha=1.0 / 6.0, beta=0.5),
    "hard_silu": _simple("HardSwish"),
    "softplus": _simple("Softplus"),
    "softsign": _simple("Softsign"),
    "silu": _silu,
    "mish": _simple("Mish"),
    "celu": _with_param("Celu", "alpha", "alpha", 1.0),
    "hard_tanh": _clip(-1.0, 1.0),
    "hard_shrink": _shrink(soft=False),
    "soft_shrink": _shrink(soft=True),
    "tanh_shrink": _tanh_shrink,
    "log_sigmoid": _log_sigmoid,
    "squareplus": _squareplus,
    "sparse_plus": _sparse_plus,
    "sparse_sigmoid": _sparse_sigmoid,
}


def emit_activation(g, layer, x: str, act) -> str:
    name = activations.serialize(act)
    if not isinstance(name, str):  # your own function: Keras' dict, no ONNX form
        raise _unsupported(layer, f"the custom activation {getattr(act, 'name', name)!r}")
    emit = ACTIVATIONS.get(name)
    if emit is None:
        raise _unsupported(layer, f"activation {name!r}")
    return emit(g, x, act)


# ------------------------------------------------------------------- layers
def _nchw(g, x):
    return g.op("Transpose", [x], perm=[0, 3, 1, 2])


def _nhwc(g, x):
    return g.op("Transpose", [x], perm=[0, 2, 3, 1])


def _pads(g, layer, x, kernel, dilation=(1, 1)) -> list[int]:
    """Explicit ONNX pads for Keras' padding (onnxruntime refuses auto_pad with dilation).

    "same" pads so that out = ceil(in / stride), the odd extra row/column at the end."""
    if layer.padding != "same":
        return [0, 0, 0, 0]
    before, after = [], []
    for size, k, s, d in zip(g.shape(x)[1:3], kernel, layer.strides, dilation):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        before.append(total // 2)
        after.append(total - total // 2)
    return before + after


def dense(g, layer, xs):
    y = g.op("MatMul", [xs[0], g.weight(layer.kernel)])
    if layer.use_bias:
        y = g.op("Add", [y, g.weight(layer.bias)])
    return emit_activation(g, layer, y, layer.activation)


def conv2d(g, layer, xs):
    kernel = np.transpose(np.asarray(layer.kernel.numpy()), (3, 2, 0, 1))  # OIHW
    inputs = [_nchw(g, xs[0]), g.const(kernel)]
    if layer.use_bias:
        inputs.append(g.weight(layer.bias))
    y = g.op("Conv", inputs, kernel_shape=list(kernel.shape[2:]),
             strides=list(layer.strides), dilations=list(layer.dilation_rate),
             group=int(getattr(layer, "groups", 1)),
             pads=_pads(g, layer, xs[0], kernel.shape[2:], layer.dilation_rate))
    return emit_activation(g, layer, _nhwc(g, y), layer.activation)


def _pool(op_type):
    def emit(g, layer, xs):
        attrs = {"kernel_shape": list(layer.pool_size), "strides": list(layer.strides),
                 "pads": _pads(g, layer, xs[0], layer.pool_size)}
        if op_type == "AveragePool":
            attrs["count_include_pad"] = 0  # Keras averages over the real pixels only
        return _nhwc(g, g.op(op_type, [_nchw(g, xs[0])], **attrs))
    return emit


def _global_pool(op_type):
    def emit(g, layer, xs):
        return g.op(op_type, [xs[0], g.const(np.array([1, 2], np.int64))],
                    keepdims=int(bool(layer.keepdims)))
    return emit


def batch_normalization(g, layer, xs):
    # inference: gamma * (x - mean) / sqrt(var + eps) + beta, folded to x * a + b
    mean = np.asarray(layer.moving_mean.numpy(), np.float64)
    var = np.asarray(layer.moving_variance.numpy(), np.float64)
    gamma = np.ones_like(mean) if layer.gamma is None else np.asarray(layer.gamma.numpy())
    beta = np.zeros_like(mean) if layer.beta is None else np.asarray(layer.beta.numpy())
    scale = gamma / np.sqrt(var + layer.epsilon)
    shift = beta - mean * scale
    rank = g.rank(xs[0])
    axes = [layer.axis] if isinstance(layer.axis, int) else list(layer.axis)
    full = [1] * rank
    for a, n in zip(sorted(x % rank for x in axes), np.shape(mean)):
        full[a] = n
    a = np.reshape(scale, full).astype(np.float32)
    b = np.reshape(shift, full).astype(np.float32)
    return g.op("Add", [g.op("Mul", [xs[0], g.const(a)]), g.const(b)])


def relu_layer(g, layer, xs):
    x, t = xs[0], float(layer.threshold)
    if layer.negative_slope == 0 and t == 0:
        y = g.op("Relu", [x])
    else:
        below = g.op("Mul", [g.op("Sub", [x, g.const(t)]), g.const(float(layer.negative_slope))])
        if layer.negative_slope == 0:
            below = g.const(0.0)
        y = g.op("Where", [g.op("GreaterOrEqual", [x, g.const(t)]), x, below])
    if layer.max_value is not None:
        y = g.op("Min", [y, g.const(float(layer.max_value))])
    return y


def softmax_layer(g, layer, xs):
    if not isinstance(layer.axis, int):
        if len(layer.axis) != 1:
            raise _unsupported(layer, f"softmax over several axes {tuple(layer.axis)}")
        return g.op("Softmax", [xs[0]], axis=int(layer.axis[0]))
    return g.op("Softmax", [xs[0]], axis=int(layer.axis))


def reshape(g, layer, xs):
    # 0 copies the batch dimension; the target's own -1 is inferred
    shape = np.array([0, *layer.target_shape], np.int64)
    return g.op("Reshape", [xs[0], g.const(shape)])


def flatten(g, layer, xs):
    if layer.data_format == "channels_first" and g.rank(xs[0]) > 2:
        raise _unsupported(layer, "data_format='channels_first'")
    return g.op("Flatten", [xs[0]], axis=1)  # channels-last kept, so Keras' order


def _variadic(op_type):
    def emit(g, layer, xs):
        if op_type in ("Sub", "Mul"):  # binary in ONNX: fold left
            y = xs[0]
            for x in xs[1:]:
                y = g.op(op_type, [y, x])
            return y
        return g.op(op_type, list(xs))
    return emit


def average(g, layer, xs):
    return g.op("Mul", [g.op("Sum", list(xs)), g.const(1.0 / len(xs))])


def concatenate(g, layer, xs):
    return g.op("Concat", list(xs), axis=int(layer.axis))


EMITTERS = {
    "Dense": dense,
    "Conv2D": conv2d,
    "MaxPooling2D": _pool("MaxPool"),
    "AveragePooling2D": _pool("AveragePool"),
    "GlobalAveragePooling2D": _global_pool("ReduceMean"),
    "GlobalMaxPooling2D": _global_pool("ReduceMax"),
    "BatchNormalization": batch_normalization,
    "Activation": lambda g, layer, xs: emit_activation(g, layer, xs[0], layer.activation),
    "ReLU": relu_layer,
    "LeakyReLU": lambda g, layer, xs: g.op("LeakyRelu", [xs[0]],
                                           alpha=float(layer.negative_slope)),
    "ELU": lambda g, layer, xs: g.op("Elu", [xs[0]], alpha=float(layer.alpha)),
    "Softmax": softmax_layer,
    "Flatten": flatten,
    "Reshape": reshape,
    "Add": _variadic("Sum"),
    "Subtract": _variadic("Sub"),
    "Multiply": _variadic("Mul"),
    "Maximum": _variadic("Max"),
    "Minimum": _variadic("Min"),
    "Average": average,
    "Concatenate": concatenate,
}
