"""Every built-in layer's hand-written ``backward`` is the checked custom gradient of a
fused op (issue #9, structure move 1).

``check_against_ops(layer, inputs, twin)`` runs the layer on a tape (its own
``forward``/``backward``, nothing else recorded) and ``twin``, the same forward
written here as a composition of ``core.ops`` calls that shares no code with the
layer, and asserts in float64 that the outputs, the input gradients and every
trainable weight's gradient agree (rtol 1e-10) for a random upstream gradient. The
ops' own VJPs are checked against central differences in ``tests/core/test_ops_all.py``.

Covered: Dense (linear, relu, tanh, sigmoid, softmax; 2-D and 3-D inputs), Conv2D
(valid/same, strides, dilation, fused activations), Conv1D (valid/same/causal,
strides, dilation), Conv2DTranspose ('valid' with kernel >= strides), the fused
Conv2D + MaxPooling2D step (``ConvPool``, relu and linear), MaxPooling2D and
AveragePooling2D (valid/same), MaxPooling1D, AveragePooling1D, the four global
pools, BatchNormalization (training and inference), LayerNormalization (with and
without center/scale, rms_scaling), Embedding, Activation (softplus, selu, tanh,
softmax),
ReLU (max_value, negative_slope, threshold), LeakyReLU, Softmax, ELU, Dropout,
GaussianNoise, GaussianDropout, SpatialDropout1D/2D (inference: the identity),
Flatten, Reshape, Permute, RepeatVector, UpSampling2D (nearest), Masking, Add,
Subtract, Multiply, Average, Maximum, Minimum, Concatenate, EinsumDense (with and
without bias, fused activation), MultiHeadAttention (no backward of its own: its
EinsumDense projections' backwards inside an attention written with ops), and the
softmax + crossentropy rewrite (``value_and_logits_grad`` against the tape gradient
of crossentropy(softmax(z)) w.r.t. the logits).

Left out, and why:

* LSTM, GRU, SimpleRNN (and Bidirectional / RNN around them): recurrent cells have
  their own helper (another task).
* Dropout, GaussianNoise, GaussianDropout, SpatialDropout in training: the forward
  draws a random mask, which an independent composition cannot reproduce; their
  training gradients are checked against central differences with a fixed seed in
  ``tests/core/test_layers_all.py`` / ``test_noise_layers.py``.
* Conv2DTranspose with 'same' padding or ``output_padding``: the crop Keras applies
  is defined by the backend's padding conversion, not a formula of its own; the
  layer's gradients for those are checked against central differences in
  ``test_layers_all.py``.
* UpSampling2D(interpolation="bilinear"): the resize weights are Keras' own
  half-pixel convention, checked against real Keras in the layer tests.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from core import layers as L
from core import ops
from core.autodiff import Tape
from core.ops.engine import Tracked, plain
from core.ops.function_grad import _InputSink, record_function

RTOL, ATOL = 1e-10, 1e-12


# ------------------------------------------------------------------ the helper
def _randomize(layer, rng):
    for v in layer.weights:
        if "variance" in v.name:
            v.value[...] = rng.uniform(0.5, 1.5, v.shape)
        else:
            v.value[...] = rng.normal(0, 0.5, v.shape)


def _layer_run(layer, inputs, r, training):
    """Output, input gradients and weight gradients of the layer's own backward."""
    multi = isinstance(inputs, list)
    xs = [np.asarray(x).view(Tracked) if np.asarray(x).dtype.kind == "f" else np.asarray(x)
          for x in (inputs if multi else [inputs])]
    floats = [x for x in xs if type(x) is Tracked]
    sink = _InputSink()
    with Tape() as tape:
        tape.record(sink, [], floats, None)
        tape.watch(*floats)
        y = layer(xs if multi else xs[0], training=training)
    recorded = [rec.layer for rec in tape.records if rec.layer is not sink]
    assert recorded == [layer], f"{layer.name}: expected only its own backward, got {recorded}"
    tape.backward(y, r)
    dxs = [plain(g) if g is not None else np.zeros_like(x)
           for g, x in zip(sink.grads or [None] * len(floats), floats)]
    dws = []
    for v in layer._own_trainable_variables():
        assert v.grad_step == tape.step, f"{layer.name}: no gradient for {v.name}"
        dws.append(v.grad.copy())
    return plain(y), dxs, dws


def check_against_ops(layer, inputs, twin, training=False, seed=0, built_by=None):
    """Assert that ``layer``'s output and hand-written gradients equal the tape gradients
    of ``twin(*float_inputs_and_int_inputs, **weights)``, a composition of ``core.ops``
    (weights by name, trainable ones differentiated)."""
    rng = np.random.default_rng(seed)
    multi = isinstance(inputs, list)
    xs = inputs if multi else [inputs]
    if not layer.built:
        layer(list(xs) if multi else xs[0], training=False)
    _randomize(layer, rng)
    variables = layer._own_trainable_variables()
    names = [v.name for v in layer.weights]
    consts = {v.name: v.value.copy() for v in layer.weights}
    y = np.asarray(layer(list(xs) if multi else xs[0], training=training))
    r = rng.normal(size=y.shape)
    got_y, got_dx, got_dw = _layer_run(layer, inputs, r, training)

    float_idx = [i for i, x in enumerate(xs) if np.asarray(x).dtype.kind == "f"]
    train_names = [v.name for v in variables]
    arrays = [np.asarray(x) for x in xs] + [consts[n].copy() for n in train_names]
    wrt = float_idx + list(range(len(xs), len(arrays)))

    def fn(*a):
        w = dict(consts)
        w.update(zip(train_names, a[len(xs):]))
        return twin(*a[:len(xs)], **{n: w[n] for n in names})

    want_y, backward = record_function(fn, arrays, wrt=wrt)
    grads = backward(r)
    np.testing.assert_allclose(got_y, want_y, rtol=RTOL, atol=ATOL, err_msg="output")
    for i, (g, w) in enumerate(zip(got_dx, grads[:len(float_idx)])):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"d input {i}")
    for n, g, w in zip(train_names, got_dw, grads[len(float_idx):]):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"d {n}")


def _x(shape, seed=1, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


# ------------------------------------------------- ops compositions (the twins)
def relu(z):
    return ops.maximum(z, 0.0)


def softmax(z, axis=-1):
    e = ops.exp(z - ops.stop_gradient(ops.max(z, axis=axis, keepdims=True)))
    return e / ops.sum(e, axis=axis, keepdims=True)


def sigmoid(z):
    return 1.0 / (1.0 + ops.exp(-z))


ACT = {None: lambda z: z, "linear": lambda z: z, "relu": relu, "tanh": ops.tanh,
       "sigmoid": sigmoid, "softmax": softmax}


def same_pads(n, k, s, d=1):
    """TensorFlow/Keras 'same' padding: (before, after)."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def conv_nd(x, kernel, strides, padding, dilation):
    """Channels-last convolution as a sum over kernel taps of strided slices @ tap."""
    nd = kernel.ndim - 2
    ks = kernel.shape[:nd]
    pads = [[0, 0]]
    for a in range(nd):
        n = x.shape[1 + a]
        if padding == "same":
            pads.append(list(same_pads(n, ks[a], strides[a], dilation[a])))
        elif padding == "causal":
            pads.append([(ks[a] - 1) * dilation[a], 0])
        else:
            pads.append([0, 0])
    pads.append([0, 0])
    if any(p != [0, 0] for p in pads):
        x = ops.pad(x, pads)
    outs = [(x.shape[1 + a] - (ks[a] - 1) * dilation[a] - 1) // strides[a] + 1
            for a in range(nd)]
    total = None
    for tap in np.ndindex(*ks):
        index = (slice(None),) + tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s)
            for t, d, o, s in zip(tap, dilation, outs, strides)) + (slice(None),)
        term = ops.matmul(x[index], kernel[tap])
        total = term if total is None else total + term
    return total


def pool_nd(x, size, strides, padding, kind):
    nd = len(size)
    if padding == "same":
        pads = [[0, 0]] + [list(same_pads(x.shape[1 + a], size[a], strides[a]))
                           for a in range(nd)] + [[0, 0]]
        if kind == "max":
            x = ops.pad(x, pads, constant_values=-np.inf)
        else:  # Keras averages over the window's valid elements only
            count = np.pad(np.ones(x.shape[1:1 + nd]), pads[1:1 + nd])
            x = ops.pad(x, pads)
    outs = [(x.shape[1 + a] - size[a]) // strides[a] + 1 for a in range(nd)]
    terms, counts = [], []
    for tap in np.ndindex(*size):
        index = tuple(slice(t, t + (o - 1) * s + 1, s) for t, o, s in zip(tap, outs, strides))
        terms.append(x[(slice(None),) + index + (slice(None),)])
        if kind == "avg" and padding == "same":
            counts.append(count[index])
    if kind == "max":
        return functools.reduce(ops.maximum, terms)
    total = functools.reduce(ops.add, terms)
    if padding == "same":
        return total / sum(counts)[(None,) + (slice(None),) * nd + (None,)]
    return total / float(np.prod(size))


def normalize(x, mean, var, gamma, beta, eps):
    out = (x - mean) / ops.sqrt(var + eps)
    if gamma is not None:
        out = out * gamma
    return out if beta is None else out + beta


def _dense(act):
    return lambda x, kernel, bias=None: ACT[act](
        ops.matmul(x, kernel) if bias is None else ops.matmul(x, kernel) + bias)


def _conv(act, strides, padding, dilation):
    def twin(x, kernel, bias=None):
        z = conv_nd(x, kernel, strides, padding, dilation)
        return ACT[act](z if bias is None else z + bias)
    return twin


def _bn_train(axes):
    def twin(x, gamma, beta, moving_mean, moving_variance):
        mean = ops.mean(x, axis=axes, keepdims=True)
        var = ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
        return normalize(x, mean, var, gamma, beta, 1e-3)
    return twin


def _bn_infer(x, gamma, beta, moving_mean, moving_variance):
    return normalize(x, moving_mean, moving_variance, gamma, beta, 1e-3)


def _ln(axis, rms=False):
    def twin(x, gamma=None, beta=None):
        mean = ops.mean(x, axis=axis, keepdims=True)
        var = ops.mean(ops.square(x - mean), axis=axis, keepdims=True)
        if rms:  # Keras 3's (deprecated) formula: scaled by the variance, not centred
            return x / ops.sqrt(var + 1e-3) * gamma
        return normalize(x, mean, var, gamma, beta, 1e-3)
    return twin


def _relu_layer(max_value, slope, threshold):
    def twin(x):
        below = slope * (x - threshold)
        return ops.where(x >= threshold, x if max_value is None else ops.minimum(x, max_value),
                         below)
    return twin


def _masked(x):
    keep = ops.cast(ops.greater(ops.sum(ops.cast(ops.not_equal(x, 0.5), "float64"), axis=-1,
                                        keepdims=True), 0.0), "float64")
    return x * keep


def _identity(x):
    return x


def _sum(*xs):
    return functools.reduce(ops.add, xs)


D = "float64"
X24, X234 = _x((2, 4)), _x((2, 3, 4))
IMG = _x((2, 6, 7, 3))
SEQ = _x((2, 9, 3))
MASKED = _x((2, 5, 3))
MASKED[0, 1] = 0.5
MASKED[1, 3:] = 0.5

CASES = {
    "dense_linear": (lambda: L.Dense(3, dtype=D), X24, _dense(None)),
    "dense_relu_3d": (lambda: L.Dense(5, activation="relu", dtype=D), X234, _dense("relu")),
    "dense_tanh": (lambda: L.Dense(3, activation="tanh", dtype=D), X24, _dense("tanh")),
    "dense_sigmoid": (lambda: L.Dense(3, activation="sigmoid", dtype=D), X24, _dense("sigmoid")),
    "dense_softmax_nobias": (lambda: L.Dense(4, activation="softmax", use_bias=False, dtype=D),
                             X234, _dense("softmax")),
    "conv2d_valid": (lambda: L.Conv2D(4, 3, dtype=D), IMG, _conv(None, (1, 1), "valid", (1, 1))),
    "conv2d_same_relu_strides": (
        lambda: L.Conv2D(2, (2, 3), strides=2, padding="same", activation="relu", dtype=D), IMG,
        _conv("relu", (2, 2), "same", (1, 1))),
    "conv2d_dilated_tanh": (lambda: L.Conv2D(3, 2, dilation_rate=2, activation="tanh", dtype=D),
                            IMG, _conv("tanh", (1, 1), "valid", (2, 2))),
    "conv2d_nobias_same": (lambda: L.Conv2D(3, 3, padding="same", use_bias=False, dtype=D), IMG,
                           _conv(None, (1, 1), "same", (1, 1))),
    "conv1d_valid": (lambda: L.Conv1D(4, 3, dtype=D), SEQ, _conv(None, (1,), "valid", (1,))),
    "conv1d_same_strides_relu": (
        lambda: L.Conv1D(2, 4, strides=2, padding="same", activation="relu", dtype=D), SEQ,
        _conv("relu", (2,), "same", (1,))),
    "conv1d_causal_dilated": (lambda: L.Conv1D(3, 3, padding="causal", dilation_rate=2, dtype=D),
                              SEQ, _conv(None, (1,), "causal", (2,))),
    "maxpool2d": (lambda: L.MaxPooling2D(dtype=D), IMG,
                  lambda x: pool_nd(x, (2, 2), (2, 2), "valid", "max")),
    "maxpool2d_same_overlap": (lambda: L.MaxPooling2D(3, strides=2, padding="same", dtype=D),
                               IMG, lambda x: pool_nd(x, (3, 3), (2, 2), "same", "max")),
    "avgpool2d": (lambda: L.AveragePooling2D((2, 3), dtype=D), IMG,
                  lambda x: pool_nd(x, (2, 3), (2, 3), "valid", "avg")),
    "avgpool2d_same": (lambda: L.AveragePooling2D(3, strides=2, padding="same", dtype=D), IMG,
                       lambda x: pool_nd(x, (3, 3), (2, 2), "same", "avg")),
    "maxpool1d": (lambda: L.MaxPooling1D(2, dtype=D), SEQ,
                  lambda x: pool_nd(x, (2,), (2,), "valid", "max")),
    "maxpool1d_same": (lambda: L.MaxPooling1D(3, strides=2, padding="same", dtype=D), SEQ,
                       lambda x: pool_nd(x, (3,), (2,), "same", "max")),
    "avgpool1d": (lambda: L.AveragePooling1D(3, dtype=D), SEQ,
                  lambda x: pool_nd(x, (3,), (3,), "valid", "avg")),
    "avgpool1d_same": (lambda: L.AveragePooling1D(2, strides=1, padding="same", dtype=D), SEQ,
                       lambda x: pool_nd(x, (2,), (1,), "same", "avg")),
    "global_avg2d": (lambda: L.GlobalAveragePooling2D(dtype=D), IMG,
                     lambda x: ops.mean(x, axis=(1, 2))),
    "global_max2d": (lambda: L.GlobalMaxPooling2D(dtype=D), IMG,
                     lambda x: ops.max(x, axis=(1, 2))),
    "global_avg1d": (lambda: L.GlobalAveragePooling1D(dtype=D), SEQ,
                     lambda x: ops.mean(x, axis=1)),
    "global_max1d": (lambda: L.GlobalMaxPooling1D(dtype=D), SEQ, lambda x: ops.max(x, axis=1)),
    "batchnorm_train_2d": (lambda: L.BatchNormalization(dtype=D), _x((6, 4)), _bn_train((0,)),
                           True),
    "batchnorm_train_img": (lambda: L.BatchNormalization(dtype=D), IMG, _bn_train((0, 1, 2)),
                            True),
    "batchnorm_infer": (lambda: L.BatchNormalization(dtype=D), IMG, _bn_infer),
    "layernorm": (lambda: L.LayerNormalization(dtype=D), X234, _ln(-1)),
    "layernorm_axes_noscale": (
        lambda: L.LayerNormalization(axis=(1, 2), center=False, scale=False, dtype=D), X234,
        _ln((1, 2))),
    "layernorm_rms": (lambda: L.LayerNormalization(rms_scaling=True, dtype=D), X234,
                      _ln(-1, rms=True)),
    "embedding": (lambda: L.Embedding(7, 3, dtype=D), np.array([[1, 0, 6], [2, 2, 5]]),
                  lambda ids, embeddings: ops.take(embeddings, ids, axis=0)),
    "activation_softplus": (lambda: L.Activation("softplus", dtype=D), X234,
                            lambda x: ops.log1p(ops.exp(x))),
    "activation_selu": (lambda: L.Activation("selu", dtype=D), X234, lambda x: (
        1.0507009873554805 * ops.where(x > 0, x, 1.6732632423543772 * (ops.exp(x) - 1.0)))),
    "activation_tanh": (lambda: L.Activation("tanh", dtype=D), X234, ops.tanh),
    "activation_softmax": (lambda: L.Activation("softmax", dtype=D), X234, softmax),
    "relu_options": (lambda: L.ReLU(max_value=0.6, negative_slope=0.1, threshold=0.2, dtype=D),
                     _x((3, 8)), _relu_layer(0.6, 0.1, 0.2)),
    "relu": (lambda: L.ReLU(dtype=D), _x((3, 8)), _relu_layer(None, 0.0, 0.0)),
    "leaky_relu": (lambda: L.LeakyReLU(dtype=D), _x((3, 8)), lambda x: ops.where(
        x > 0, x, 0.3 * x)),
    "softmax_axis1": (lambda: L.Softmax(axis=1, dtype=D), X234, lambda x: softmax(x, 1)),
    "elu": (lambda: L.ELU(alpha=0.7, dtype=D), _x((3, 8)),
            lambda x: ops.where(x > 0, x, 0.7 * (ops.exp(x) - 1.0))),
    "dropout_inference": (lambda: L.Dropout(0.5, dtype=D), X234, _identity),
    "gaussian_noise_inference": (lambda: L.GaussianNoise(0.3, dtype=D), X234, _identity),
    "gaussian_dropout_inference": (lambda: L.GaussianDropout(0.3, dtype=D), X234, _identity),
    "spatial_dropout1d_inference": (lambda: L.SpatialDropout1D(0.3, dtype=D), X234, _identity),
    "spatial_dropout2d_inference": (lambda: L.SpatialDropout2D(0.3, dtype=D), IMG, _identity),
    "flatten": (lambda: L.Flatten(dtype=D), IMG, lambda x: ops.reshape(x, (2, -1))),
    "reshape": (lambda: L.Reshape((6, 2), dtype=D), X234, lambda x: ops.reshape(x, (2, 6, 2))),
    "permute": (lambda: L.Permute((2, 1), dtype=D), X234,
                lambda x: ops.transpose(x, (0, 2, 1))),
    "repeat_vector": (lambda: L.RepeatVector(3, dtype=D), X24,
                      lambda x: ops.repeat(ops.expand_dims(x, 1), 3, axis=1)),
    "upsampling2d": (lambda: L.UpSampling2D((2, 3), dtype=D), IMG,
                     lambda x: ops.repeat(ops.repeat(x, 2, axis=1), 3, axis=2)),
    "masking": (lambda: L.Masking(0.5, dtype=D), MASKED, _masked),
    "add": (lambda: L.Add(dtype=D), [X234, _x((2, 1, 4), 2), _x((2, 3, 1), 3)], _sum),
    "subtract": (lambda: L.Subtract(dtype=D), [X24, _x((2, 4), 2)], ops.subtract),
    "multiply": (lambda: L.Multiply(dtype=D), [X234, _x((2, 1, 4), 2), _x((2, 3, 4), 3)],
                 lambda *xs: functools.reduce(ops.multiply, xs)),
    "average": (lambda: L.Average(dtype=D), [X24, _x((2, 4), 2), _x((2, 4), 3)],
                lambda *xs: _sum(*xs) / 3.0),
    "maximum": (lambda: L.Maximum(dtype=D), [X24, _x((2, 4), 2), _x((2, 4), 3)],
                lambda *xs: functools.reduce(ops.maximum, xs)),
    "minimum": (lambda: L.Minimum(dtype=D), [X24, _x((2, 4), 2)], ops.minimum),
    "concatenate": (lambda: L.Concatenate(axis=1, dtype=D), [X234, _x((2, 2, 4), 2)],
                    lambda *xs: ops.concatenate(xs, axis=1)),
    "einsum_dense_bias": (
        lambda: L.EinsumDense("abc,cde->abde", (3, 2, 5), bias_axes="de", dtype=D), X234,
        lambda x, kernel, bias: ops.einsum("abc,cde->abde", x, kernel) + bias),
    "einsum_dense_relu_nobias": (
        lambda: L.EinsumDense("ab,bc->ac", 3, activation="relu", dtype=D), X24,
        lambda x, kernel: relu(ops.einsum("ab,bc->ac", x, kernel))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_backward_equals_the_ops_composition(name):
    make, inputs, twin, *training = CASES[name]
    check_against_ops(make(), inputs, twin, training=bool(training and training[0]))
