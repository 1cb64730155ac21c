"""Conv2D: forward against a naive convolution, 'same' placement, gradients, config, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.autodiff import Tape
from core.layers.base import Layer
from core.layers.convolutional import Conv2D
from core.layers.node import KerasTensor
from tests.helpers.gradcheck import check_layer_gradients


def _tf_same_pads(size, k, stride, dilation):
    # TensorFlow's rule (tensorflow/core/framework/kernel_shape_util.cc), written out.
    out = (size + stride - 1) // stride
    eff = (k - 1) * dilation + 1
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def naive_conv2d(x, kernel, bias, strides, padding, dilation):
    """Direct cross-correlation with explicit loops over outputs and taps (no im2col)."""
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    if padding == "same":
        (pt, pb), (pl, pr) = _tf_same_pads(h, kh, sh, dh), _tf_same_pads(w, kw, sw, dw)
    else:
        pt = pb = pl = pr = 0
    xp = np.zeros((n, h + pt + pb, w + pl + pr, c))
    xp[:, pt:pt + h, pl:pl + w, :] = x
    oh = (h + pt + pb - (kh - 1) * dh - 1) // sh + 1
    ow = (w + pl + pr - (kw - 1) * dw - 1) // sw + 1
    y = np.zeros((n, oh, ow, f))
    for oy in range(oh):
        for ox in range(ow):
            for i in range(kh):
                for j in range(kw):
                    y[:, oy, ox, :] += xp[:, oy * sh + i * dh, ox * sw + j * dw, :] @ kernel[i, j]
    return y + (0 if bias is None else bias)


CONFIGS = [
    dict(filters=4, kernel_size=3),
    dict(filters=3, kernel_size=(3, 2), strides=2, padding="same"),
    dict(filters=2, kernel_size=3, dilation_rate=2, padding="same", use_bias=False),
    dict(filters=5, kernel_size=(2, 3), strides=(1, 2), padding="valid", activation="relu"),
    dict(filters=3, kernel_size=1),
    dict(filters=3, kernel_size=1, strides=2, padding="same", activation="tanh"),
    dict(filters=2, kernel_size=4, padding="same"),
    dict(filters=2, kernel_size=(1, 3), dilation_rate=(1, 2)),
    dict(filters=3, kernel_size=3, activation="gelu"),      # backward needs the input
    dict(filters=4, kernel_size=2, activation="softmax"),   # over the filters axis
    dict(filters=3, kernel_size=1, activation="sigmoid"),
]


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_matches_naive_convolution(cfg, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 8, 3)).astype(dtype)
    layer = Conv2D(dtype=dtype, **cfg)
    y = layer(x)
    assert y.dtype == np.dtype(dtype)
    bias = layer.bias.value if layer.use_bias else None
    if bias is not None:
        layer.bias.assign(rng.standard_normal(bias.shape))
        y = layer(x)
    want = naive_conv2d(x.astype(np.float64), layer.kernel.value.astype(np.float64),
                        None if bias is None else layer.bias.value, layer.strides,
                        layer.padding, layer.dilation_rate)
    if cfg.get("activation") == "relu":
        want = np.maximum(want, 0)
    elif cfg.get("activation") == "tanh":
        want = np.tanh(want)
    elif cfg.get("activation") == "sigmoid":
        want = 1 / (1 + np.exp(-want))
    elif cfg.get("activation") == "softmax":
        want = np.exp(want - want.max(-1, keepdims=True))
        want /= want.sum(-1, keepdims=True)
    elif cfg.get("activation") == "gelu":
        from math import erf
        want = 0.5 * want * (1 + np.vectorize(erf)(want / np.sqrt(2)))
    assert y.shape == want.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, want, rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("size,k,stride,first_tap", [
    (4, 2, 1, 0),    # total padding 1 -> all of it after: out[0] starts at input 0
    (5, 4, 1, -1),   # total 3 -> 1 before, 2 after
    (6, 3, 2, 0),    # total 1 -> after
    (7, 3, 2, -1),   # total 2 -> 1 before, 1 after
])
def test_same_padding_puts_the_odd_pixel_after(size, k, stride, first_tap):
    # A single 1 at input position p lights output o at tap t = p - (o*stride + first_tap).
    layer = Conv2D(1, (k, 1), strides=(stride, 1), padding="same", use_bias=False,
                   dtype="float64")
    layer.build((None, size, 1, 1))
    taps = np.arange(1.0, k + 1)  # distinct weights identify the tap
    layer.kernel.assign(taps.reshape(k, 1, 1, 1))
    out = -(-size // stride)
    for p in range(size):
        x = np.zeros((1, size, 1, 1))
        x[0, p, 0, 0] = 1.0
        y = layer(x)[0, :, 0, 0]
        assert y.shape == (out,)
        for o in range(out):
            t = p - (o * stride + first_tap)
            assert y[o] == (taps[t] if 0 <= t < k else 0.0), (p, o)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_gradients_match_finite_differences(cfg):
    x = np.random.default_rng(1).standard_normal((2, 7, 6, 3))
    errors = check_layer_gradients(Conv2D(dtype="float64", **cfg), x, rtol=1e-6)
    assert len(errors) == (3 if cfg.get("use_bias", True) else 2)


def test_default_threshold_sends_configs_down_both_paths():
    # With 3 input channels: 3x2 kernel, stride 2, 'same' (K=18) goes direct; 4x4 (K=48)
    # keeps im2col + GEMM. Both are in CONFIGS, so the tests above cover both paths.
    assert Conv2D(**CONFIGS[1])._direct(3)
    assert not Conv2D(**CONFIGS[6])._direct(3)
    assert not Conv2D(**CONFIGS[4])._direct(3)   # pointwise: rows are the columns


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("need_input_grad", [True, False])
def test_direct_and_im2col_paths_agree(monkeypatch, cfg, need_input_grad):
    from core.layers import convolutional
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 7, 6, 3))
    results = []
    for max_k in (0, 10**6):   # 0: always im2col; huge: always direct (if not 1x1)
        monkeypatch.setattr(convolutional, "DIRECT_MAX_K", max_k)
        layer = Conv2D(dtype="float64", **cfg)
        layer.build(x.shape)
        layer.set_weights([rng.standard_normal(v.shape) for v in layer.get_weights()]
                          if not results else [w.copy() for w in results[0][0]])
        with Tape():
            y, cache = layer.forward(x, training=True)
            dy = np.random.default_rng(8).standard_normal(y.shape)
            dx = layer.backward(cache, dy, need_input_grad=need_input_grad)
            grads = [v.grad.copy() for v in layer.weights]
        results.append((layer.get_weights(), y.copy(), None if dx is None else dx.copy(),
                        grads))
    (_, y0, dx0, g0), (_, y1, dx1, g1) = results
    np.testing.assert_allclose(y1, y0, rtol=1e-12, atol=1e-12)
    assert (dx0 is None) == (dx1 is None) == (not need_input_grad)
    if need_input_grad:
        np.testing.assert_allclose(dx1, dx0, rtol=1e-12, atol=1e-12)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


class _TwiceShared(Layer):
    """The same Conv2D applied twice in one step: buffers of call 1 must survive call 2."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = Conv2D(3, 3, padding="same", activation="tanh", dtype="float64",
                           name="shared_conv")

    def call(self, x, training=False):
        return self.conv(self.conv(x, training=training), training=training)


def test_shared_layer_twice_in_one_step():
    x = np.random.default_rng(2).standard_normal((2, 5, 5, 3))
    errors = check_layer_gradients(_TwiceShared(dtype="float64"), x)
    assert set(errors) == {"input_0", "shared_conv/kernel", "shared_conv/bias"}


def test_first_layer_skips_input_gradient_but_writes_weight_grads():
    layer = Conv2D(4, 3)
    x = np.random.default_rng(3).standard_normal((2, 6, 6, 2)).astype("float32")
    with Tape() as tape:
        y = layer(x, training=True)
    tape.backward(y, np.ones_like(y))
    assert layer.kernel.grad_step == tape.step and layer.bias.grad_step == tape.step
    np.testing.assert_allclose(layer.bias.grad, np.full(4, y[..., 0].size), rtol=1e-6)
    _, cache = layer.forward(x, training=True)
    assert layer.backward(cache, np.ones_like(y), need_input_grad=False) is None


def test_weights_shapes_order_and_defaults():
    layer = Conv2D(8, 3)
    layer.build((None, 10, 10, 4))
    assert [(w.name, w.shape) for w in layer.weights] == [("kernel", (3, 3, 4, 8)),
                                                          ("bias", (8,))]
    assert np.all(layer.bias.value == 0)
    # glorot_uniform: limit sqrt(6 / (fan_in + fan_out)) with the receptive field counted.
    limit = np.sqrt(6 / (3 * 3 * 4 + 3 * 3 * 8))
    assert np.abs(layer.kernel.value).max() <= limit
    assert np.abs(layer.kernel.value).max() > 0.8 * limit
    assert layer.kernel.dtype == np.float32


def test_get_config_has_keras_keys_and_round_trips():
    layer = Conv2D(16, 5, strides=2, padding="SAME", activation="relu", name="c1")
    cfg = layer.get_config()
    keras_keys = {"name", "trainable", "dtype", "filters", "kernel_size", "strides", "padding",
                  "data_format", "dilation_rate", "groups", "activation", "use_bias",
                  "kernel_initializer", "bias_initializer", "kernel_regularizer",
                  "bias_regularizer", "activity_regularizer", "kernel_constraint",
                  "bias_constraint"}
    assert keras_keys <= set(cfg)
    assert cfg["kernel_size"] == (5, 5) and cfg["strides"] == (2, 2)
    assert cfg["padding"] == "same" and cfg["data_format"] == "channels_last"
    assert cfg["dilation_rate"] == (1, 1) and cfg["groups"] == 1
    assert cfg["activation"] == "relu"
    assert cfg["kernel_initializer"]["class_name"] == "GlorotUniform"
    again = Conv2D.from_config(json.loads(json.dumps(cfg)))
    assert json.dumps(again.get_config(), sort_keys=True) == json.dumps(cfg, sort_keys=True)


def test_compute_output_shape_with_unknown_dims_and_symbolic_call():
    layer = Conv2D(6, (3, 5), strides=(2, 1), padding="valid")
    assert layer.compute_output_shape((None, 11, 9, 2)) == (None, 5, 5, 6)
    assert layer.compute_output_shape((None, None, 9, 2)) == (None, None, 5, 6)
    same = Conv2D(6, 3, strides=2, padding="same")
    assert same.compute_output_shape((None, 7, 8, 1)) == (None, 4, 4, 6)
    y = Conv2D(4, 3)(KerasTensor((None, 28, 28, 1)))
    assert y.shape == (None, 26, 26, 4)


@pytest.mark.parametrize("kwargs,match", [
    (dict(filters=0, kernel_size=3), "filters=0"),
    (dict(filters=4, kernel_size=0), "kernel_size=0"),
    (dict(filters=4, kernel_size=3, strides=0), "strides=0"),
    (dict(filters=4, kernel_size=3, padding="full"), "padding='full'"),
    (dict(filters=4, kernel_size=3, data_format="channels_first"), "channels_first"),
    (dict(filters=4, kernel_size=3, groups=2), "groups=2"),
    (dict(filters=4, kernel_size=3, strides=2, dilation_rate=2), "dilation_rate"),
    (dict(filters=4, kernel_size=3, kernel_regularizer="l3"), "kernel_regularizer.*'l3'"),
    (dict(filters=4, kernel_size=3, activity_regularizer="l9"), "activity_regularizer"),
    (dict(filters=4, kernel_size=3, lora_rank=2), "lora_rank"),
])
def test_invalid_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2D(name="bad_conv", **kwargs)


def test_kernel_larger_than_input_names_layer_and_shapes():
    layer = Conv2D(4, 5, name="too_big")
    with pytest.raises(ValueError, match=r"too_big.*\(5, 5\).*\(None, 3, 8, 1\)"):
        layer.compute_output_shape((None, 3, 8, 1))
    with pytest.raises(ValueError, match="too_big"):
        layer(np.zeros((1, 3, 8, 1), "float32"))
    assert not layer.built and layer.weights == []
    with pytest.raises(ValueError, match="4-D input"):
        Conv2D(4, 3, name="flat").compute_output_shape((None, 10, 3))


@pytest.mark.parametrize("images", [1, 2])
@pytest.mark.parametrize("cfg", [CONFIGS[0], CONFIGS[1], CONFIGS[4], CONFIGS[8], CONFIGS[9]])
def test_image_chunks_give_the_same_result(monkeypatch, images, cfg):
    # Tiny chunks: one image (or two, with a ragged last chunk) per im2col/GEMM pass.
    from core.layers import conv_gemm, convolutional
    monkeypatch.setattr(convolutional, "DIRECT_MAX_K", 0)  # chunks are im2col's
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 6, 7, 2))
    whole = Conv2D(dtype="float64", **cfg)
    y_whole = whole(x)
    rpi = y_whole.shape[1] * y_whole.shape[2]
    width = whole.kernel.size // whole.filters + 1 + whole.filters
    monkeypatch.setattr(conv_gemm, "CHUNK_BYTES", images * rpi * width * 8)
    blocked = Conv2D(dtype="float64", **cfg)
    blocked.build((None, 6, 7, 2))
    blocked.set_weights(whole.get_weights())
    assert conv_gemm.chunking(blocked, 3, rpi, 8) == (images, 3 if images == 1 else 2)
    np.testing.assert_allclose(blocked(x), y_whole, rtol=1e-12, atol=1e-12)
    check_layer_gradients(blocked, x)


def test_inference_call_between_forward_and_backward_keeps_training_buffers():
    # Reused scratch buffers are per call slot: a tape-less call (e.g. a callback
    # predicting mid-step) must not overwrite the columns the training step kept.
    from core.layers.pooling import MaxPooling2D
    rng = np.random.default_rng(5)
    x, other = rng.standard_normal((2, 2, 8, 8, 3))
    grads = []
    for interleave in (False, True):
        conv = Conv2D(4, 3, name=f"c{interleave}", dtype="float64")
        pool = MaxPooling2D(dtype="float64")
        conv.build((None, 8, 8, 3))
        conv.set_weights([np.linspace(-1, 1, 108).reshape(3, 3, 3, 4), np.zeros(4)])
        with Tape() as tape:
            y = pool(conv(x, training=True), training=True)
        if interleave:
            pool(conv(other))
        tape.backward(y, np.ones_like(y))
        grads.append(conv.kernel.grad.copy())
    np.testing.assert_array_equal(grads[0], grads[1])
