"""Every built-in layer's hand-written ``backward`` is the checked custom gradient of a
fused op (issue #9, structure move 1).

``check_against_ops(layer, inputs, twin)`` (``tests/core/ops_twins.py``) runs the layer
on a tape (its own ``forward``/``backward``, nothing else recorded) and ``twin``, the
same forward written as a composition of ``core.ops`` calls that shares no code with
the layer, and asserts in float64 that the outputs, the input gradients and every
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
import math

import numpy as np
import pytest

from core import layers as L
from core import ops
from core.ops.function_grad import record_function
from tests.core.ops_twins import (
    ACT,
    ATOL,
    RTOL,
    _bn_infer,
    _bn_train,
    _conv,
    _dense,
    _identity,
    _ln,
    _masked,
    _randomize,
    _relu_layer,
    _sum,
    _x,
    check_against_ops,
    conv_nd,
    conv_transpose_2d,
    pool_nd,
    relu,
    softmax,
)

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


def test_conv2d_transpose_backward_equals_the_ops_composition():
    for strides, act in (((2, 2), "tanh"), ((1, 2), None), ((3, 3), "relu")):
        layer = L.Conv2DTranspose(2, 3, strides=strides, activation=act, dtype=D)

        def twin(x, kernel, bias, strides=strides, act=act):
            return ACT[act](conv_transpose_2d(x, kernel, strides) + bias)
        check_against_ops(layer, _x((2, 3, 4, 3)), twin)


@pytest.mark.parametrize("act", ["relu", None])
@pytest.mark.parametrize("channels", [2, 24], ids=["direct", "gemm"])
def test_fused_conv_pool_step_equals_the_ops_composition(act, channels):
    """The fused Conv2D + MaxPooling2D step (``core.layers.fusion.ConvPool``), both its
    direct kernel and its im2col + GEMM path, against pool(act(conv(x)))."""
    from core.layers.fusion import ConvPool, fusable

    x = _x((2, 8, 10, channels))
    conv = L.Conv2D(3, 3, activation=act, dtype=D)
    pool = L.MaxPooling2D(dtype=D)
    pool(conv(x))
    assert fusable(conv, pool)
    step = ConvPool(conv, pool)
    check_against_ops(step, x, lambda x, kernel, bias: pool_nd(
        ACT[act](conv_nd(x, kernel, (1, 1), "valid", (1, 1)) + bias), (2, 2), (2, 2), "valid",
        "max"), owner=conv)


def test_multi_head_attention_equals_the_ops_composition(monkeypatch):
    """MultiHeadAttention has no backward of its own: its four EinsumDense projections'
    hand-written backwards, inside the attention the layer computes with ops, must give
    the gradients of the whole attention written with ops."""
    rng = np.random.default_rng(3)
    q_in, v_in = rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 5, 3))
    mha = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, dtype=D)
    mha(q_in, v_in)
    dense = [mha.query_dense, mha.key_dense, mha.value_dense, mha.output_dense]
    for layer in dense:
        _randomize(layer, rng)
    weights = [v for layer in dense for v in (layer.kernel, layer.bias)]
    r = rng.normal(size=(2, 4, 6))

    def layer_fn(q, v):
        return mha(q, v, training=False)

    def twin(q, v, wq, bq, wk, bk, wv, bv, wo, bo):
        query = (ops.einsum("abc,cde->abde", q, wq) + bq) * (1.0 / math.sqrt(3))
        key = ops.einsum("abc,cde->abde", v, wk) + bk
        value = ops.einsum("abc,cde->abde", v, wv) + bv
        probs = softmax(ops.einsum("aecd,abcd->acbe", key, query), axis=-1)
        out = ops.einsum("acbe,aecd->abcd", probs, value)
        return ops.einsum("abcd,cde->abe", out, wo) + bo

    calls = []
    original = L.EinsumDense.backward

    def spy(self, cache, grad_outputs, need_input_grad=True):
        calls.append(self)
        return original(self, cache, grad_outputs, need_input_grad)

    monkeypatch.setattr(L.EinsumDense, "backward", spy)
    y, backward = record_function(layer_fn, [q_in, v_in])
    got_dx = backward(r)
    assert sorted(map(id, calls)) == sorted(map(id, dense))  # each projection's own backward
    got_dw = [w.grad.copy() for w in weights]
    want_y, backward = record_function(twin, [q_in, v_in] + [w.value.copy() for w in weights])
    want = backward(r)
    np.testing.assert_allclose(y, want_y, rtol=RTOL, atol=ATOL)
    for g, w in zip(list(got_dx) + got_dw, want):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_softmax_crossentropy_rewrite_equals_the_ops_composition(loss):
    """A softmax output with (sparse) categorical crossentropy trains through the fused
    logits gradient and the Dense's backward with its activation cut off (the rewrite in
    ``core.models.step``): with SGD(1), each weight moves by the tape gradient of
    crossentropy(softmax(x @ kernel + bias)) written with ops, sample weights included."""
    from core.models import Sequential
    from core.models.step import fusable_layer

    rng = np.random.default_rng(6)
    # Values float32 holds exactly: the model (dtype float32) casts its data.
    x = rng.normal(size=(5, 4)).astype(np.float32).astype(np.float64)
    labels = rng.integers(0, 3, 5)
    y = labels if loss.startswith("sparse") else np.eye(3)[labels]
    sw = rng.uniform(0.5, 2.0, 5).astype(np.float32).astype(np.float64)
    model = Sequential([L.Dense(3, activation="softmax", input_shape=(4,), dtype=D)])
    model.compile(optimizer="sgd", loss=loss)
    model.optimizer.learning_rate = 1.0
    _randomize(model.layers[0], rng)
    model.train_on_batch(x[:1], y[:1])  # builds the step
    assert fusable_layer(model.layers[0], model._step.outputs[0].loss) is model.layers[0]
    k, b = (w.value.copy() for w in model.trainable_weights)

    def twin(kernel, bias):
        p = softmax(ops.matmul(x, kernel) + bias)
        ce = -ops.sum(np.eye(3)[labels] * ops.log(p), axis=-1)
        return ops.sum(ce * sw) / 5.0

    want_loss, backward = record_function(twin, [k, b])
    dk, db = backward(1.0)
    got_loss = model.train_on_batch(x, y, sample_weight=sw)
    assert got_loss == pytest.approx(float(want_loss), rel=1e-12)
    np.testing.assert_allclose(k - model.layers[0].kernel.value, dk, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(b - model.layers[0].bias.value, db, rtol=RTOL, atol=ATOL)


LEFT_OUT = {"LSTM", "GRU", "SimpleRNN"}  # recurrent cells: another helper (see docstring)
NAMED = {"dense": "Dense", "conv2d": "Conv2D", "conv1d": "Conv1D", "maxpool2d": "MaxPooling2D",
         "avgpool2d": "AveragePooling2D", "maxpool1d": "MaxPooling1D",
         "avgpool1d": "AveragePooling1D", "global_avg2d": "GlobalAveragePooling2D",
         "global_max2d": "GlobalMaxPooling2D", "global_avg1d": "GlobalAveragePooling1D",
         "global_max1d": "GlobalMaxPooling1D", "batchnorm": "BatchNormalization",
         "layernorm": "LayerNormalization", "embedding": "Embedding",
         "activation": "Activation", "relu": "ReLU", "leaky_relu": "LeakyReLU",
         "softmax": "Softmax", "elu": "ELU", "dropout": "Dropout",
         "gaussian_noise": "GaussianNoise", "gaussian_dropout": "GaussianDropout",
         "spatial_dropout1d": "SpatialDropout1D", "spatial_dropout2d": "SpatialDropout2D",
         "flatten": "Flatten", "reshape": "Reshape", "permute": "Permute",
         "repeat_vector": "RepeatVector", "upsampling2d": "UpSampling2D", "masking": "Masking",
         "add": "Add", "subtract": "Subtract", "multiply": "Multiply", "average": "Average",
         "maximum": "Maximum", "minimum": "Minimum", "concatenate": "Concatenate",
         "einsum_dense": "EinsumDense"}


def test_every_layer_with_a_backward_is_checked_here():
    """A registered layer with a hand-written ``backward`` must have a case above (or be
    listed as left out in the module docstring, with its reason)."""
    from core.layers import Layer, get_layer_class, registered_layers

    covered = {"Conv2DTranspose"}  # its own test above
    for case in CASES:
        covered |= {cls for prefix, cls in NAMED.items() if case.startswith(prefix + "_")
                    or case == prefix}
    with_backward = {n for n in registered_layers()
                     if get_layer_class(n).backward is not Layer.backward}
    missing = sorted(with_backward - covered - LEFT_OUT)
    assert not missing, f"layers with a hand-written backward and no ops twin: {missing}"
