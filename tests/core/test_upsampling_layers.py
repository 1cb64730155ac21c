"""Conv2DTranspose and UpSampling2D against independent references.

* a plain-loop numpy scatter (each input pixel adds ``x * kernel`` at
  ``i * stride + tap * dilation`` of a large buffer, which is then cut at Keras'
  offset) for every padding/stride/dilation/output_padding combination, and
  Keras' output-shape formula written out per case;
* PyTorch ``conv_transpose2d`` / ``nn.Upsample`` outputs and autograd gradients
  (skipped when torch is absent);
* argument errors as Keras raises them.

Finite-difference gradients and config/save round trips run in
``test_layers_all.py`` (shared ``layer_test`` helper); real Keras in
``tests/interop/test_upsampling_vs_keras.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.autodiff import Tape
from core.layers import Conv2DTranspose, UpSampling2D

# (kwargs, input (n, h, w, c), expected output (h, w)) — the expected sizes are
# Keras' formula done by hand: valid (i-1)*s + k_eff + op (op default max(k,s)-k),
# same i*s, or (i-1)*s + k%2 + op when op is given.
CASES = [
    ({"filters": 3, "kernel_size": 3}, (2, 5, 4, 2), (7, 6)),
    ({"filters": 2, "kernel_size": 3, "strides": 2}, (2, 4, 3, 3), (9, 7)),
    ({"filters": 2, "kernel_size": 2, "strides": 3}, (1, 3, 3, 2), (9, 9)),  # op default 1
    ({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 4, 5, 2), (8, 10)),
    ({"filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"}, (2, 3, 3, 2), (6, 6)),
    ({"filters": 3, "kernel_size": 3, "padding": "same"}, (2, 5, 5, 2), (5, 5)),
    ({"filters": 2, "kernel_size": (2, 3), "strides": (2, 1), "padding": "same"},
     (1, 4, 4, 3), (8, 4)),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1}, (2, 3, 4, 2),
     (8, 10)),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": 0},
     (2, 3, 3, 2), (5, 5)),
    ({"filters": 2, "kernel_size": 4, "strides": 3, "padding": "same",
      "output_padding": (2, 1)}, (1, 3, 4, 2), (8, 10)),
    ({"filters": 2, "kernel_size": 3, "dilation_rate": 2}, (2, 4, 4, 2), (8, 8)),
    ({"filters": 2, "kernel_size": 3, "dilation_rate": (2, 1), "padding": "same"},
     (1, 5, 4, 3), (5, 4)),
    ({"filters": 3, "kernel_size": 1, "strides": 2}, (2, 3, 3, 4), (6, 6)),
]


def _keras_window(size, k, s, d, padding, op):
    """Keras' (jax) left/right pads of the dilated input, written out independently."""
    k_eff = (k - 1) * d + 1
    if padding == "valid":
        op = max(k_eff, s) - k_eff if op is None else op
        return k_eff - 1, k_eff - 1 + op
    pad_len = s + k_eff - 2 if op is None else k_eff + k_eff % 2 - 2 + op
    left = min(pad_len // 2 + pad_len % 2, k_eff - 1)
    return left, pad_len - left


def scatter_reference(x, kernel, bias, strides, padding, output_padding, dilation):
    """float64 loops: scatter into a big buffer, then cut Keras' window out of it."""
    n, h, w, c = x.shape
    kh, kw, f, _ = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    op = (None, None) if output_padding is None else output_padding
    lt, rt = _keras_window(h, kh, sh, dh, padding, op[0])
    ll, rl = _keras_window(w, kw, sw, dw, padding, op[1])
    full = np.zeros((n, (h - 1) * sh + 1 + lt + rt + kh * dh, (w - 1) * sw + 1 + ll + rl
                     + kw * dw, f))
    for b in range(n):
        for i in range(h):
            for j in range(w):
                for a in range(kh):
                    for e in range(kw):
                        full[b, i * sh + a * dh, j * sw + e * dw] += \
                            kernel[a, e].astype(np.float64) @ x[b, i, j].astype(np.float64)
    out_h = (h - 1) * sh + 1 + lt + rt - (kh - 1) * dh
    out_w = (w - 1) * sw + 1 + ll + rl - (kw - 1) * dw
    top, left = (kh - 1) * dh - lt, (kw - 1) * dw - ll
    return full[:, top:top + out_h, left:left + out_w] + bias


@pytest.fixture(params=["direct", "gemm"])
def path(request, monkeypatch):
    """Both computation paths: Conv2D's direct kernels swapped, and GEMM + col2im."""
    from core.layers import conv2d_transpose

    monkeypatch.setattr(conv2d_transpose, "DIRECT_MAX_K", 10**9 if request.param == "direct"
                        else 0)
    return request.param


def _layer(kwargs, x, seed=3, dtype="float32"):
    layer = Conv2DTranspose(**kwargs, dtype=dtype)
    layer(x)
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign(rng.normal(size=v.shape).astype(dtype))
    return layer


def _full(v, n=2):
    return (v,) * n if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c[0]))
def test_conv_transpose_matches_the_scatter_reference(case, path):
    kwargs, shape, (oh, ow) = case
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    layer = _layer(kwargs, x)
    y = layer(x)
    assert y.shape == (shape[0], oh, ow, kwargs["filters"])
    assert layer.compute_output_shape((None,) + shape[1:]) == (None, oh, ow, kwargs["filters"])
    op = kwargs.get("output_padding")
    want = scatter_reference(x, layer.kernel.numpy(), layer.bias.numpy(),
                             _full(kwargs.get("strides", 1)), kwargs.get("padding", "valid"),
                             None if op is None else _full(op),
                             _full(kwargs.get("dilation_rate", 1)))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def _torch_conv_transpose(torch, x, kernel, bias, kwargs):
    """torch with padding=0 gives the whole scatter; cut Keras' window from it."""
    strides = _full(kwargs.get("strides", 1))
    dil = _full(kwargs.get("dilation_rate", 1))
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(kernel, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(bias, dtype=torch.float64, requires_grad=True)
    full = torch.nn.functional.conv_transpose2d(
        xt.permute(0, 3, 1, 2), wt.permute(3, 2, 0, 1), bt, stride=strides, dilation=dil)
    full = torch.nn.functional.pad(full, (0, 3, 0, 3))  # room for output_padding zeros
    op = kwargs.get("output_padding")
    op = (None, None) if op is None else _full(op)
    k = _full(kwargs["kernel_size"])
    win = [_keras_window(x.shape[1 + a], k[a], strides[a], dil[a],
                         kwargs.get("padding", "valid"), op[a]) for a in range(2)]
    sizes = [(x.shape[1 + a] - 1) * strides[a] + 1 + sum(win[a]) - (k[a] - 1) * dil[a]
             for a in range(2)]
    tops = [(k[a] - 1) * dil[a] - win[a][0] for a in range(2)]
    y = full[:, :, tops[0]:tops[0] + sizes[0], tops[1]:tops[1] + sizes[1]]
    # the zero-extended tail gets the bias too (Keras adds it after the convolution)
    extra = torch.zeros_like(y)
    real_h, real_w = full.shape[2] - 3 - tops[0], full.shape[3] - 3 - tops[1]
    extra[:, :, real_h:, :] = 1.0
    extra[:, :, :, real_w:] = 1.0
    y = y + extra * bt.view(1, -1, 1, 1)
    return xt, wt, bt, y.permute(0, 2, 3, 1)


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c[0]))
def test_conv_transpose_output_and_gradients_match_torch(case, path):
    torch = pytest.importorskip("torch")
    kwargs, shape, _ = case
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape)
    layer = _layer({**kwargs, "activation": "tanh"}, x, dtype="float64")
    xt, wt, bt, yt = _torch_conv_transpose(torch, x, layer.kernel.numpy(), layer.bias.numpy(),
                                           kwargs)
    yt = torch.tanh(yt)
    r = rng.normal(size=tuple(yt.shape))
    (yt * torch.tensor(r)).sum().backward()
    with Tape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    tape.backward(y, r)
    np.testing.assert_allclose(layer.kernel.grad, wt.grad.numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(layer.bias.grad, bt.grad.numpy(), rtol=1e-9, atol=1e-9)
    from tests.helpers.gradcheck import analytic_gradients

    dx, _, rs = analytic_gradients(layer, x, seed=4)
    xt2, _, _, yt2 = _torch_conv_transpose(torch, x, layer.kernel.numpy(), layer.bias.numpy(),
                                           kwargs)
    (torch.tanh(yt2) * torch.tensor(rs[0])).sum().backward()
    np.testing.assert_allclose(dx[0], xt2.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_conv_transpose_blocks_give_the_same_result(monkeypatch):
    monkeypatch.setattr("core.layers.conv2d_transpose.DIRECT_MAX_K", 0)
    """Several image blocks (big inputs) compute exactly what one block does."""
    from core.layers import conv2d_transpose

    x = np.random.default_rng(2).normal(size=(5, 4, 4, 3))
    layer = _layer({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, x,
                   dtype="float64")
    from tests.helpers.gradcheck import analytic_gradients

    one = analytic_gradients(layer, x, seed=1)
    y1 = layer(x)
    monkeypatch.setattr(conv2d_transpose, "BLOCK_BYTES", 1)
    many = analytic_gradients(layer, x, seed=1)
    np.testing.assert_allclose(layer(x), y1, rtol=1e-12)
    np.testing.assert_allclose(many[0][0], one[0][0], rtol=1e-12)
    for key in one[1]:
        np.testing.assert_allclose(many[1][key], one[1][key], rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"filters": 0, "kernel_size": 3}, "filters=0"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 2}, "strictly less"),
    ({"filters": 2, "kernel_size": 3, "output_padding": 1}, "strictly less"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "dilation_rate"),
    ({"filters": 2, "kernel_size": 3, "padding": "causal"}, "padding='causal'"),
    ({"filters": 2, "kernel_size": 3, "data_format": "channels_first"}, "channels_last"),
])
def test_conv_transpose_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2DTranspose(**kwargs, name="up")


def test_conv_transpose_names_the_layer_and_shape_on_a_bad_input():
    with pytest.raises(ValueError, match=r"'up'.*4-D.*\(None, 5, 3\)"):
        Conv2DTranspose(2, 3, name="up").compute_output_shape((None, 5, 3))
    with pytest.raises(ValueError, match=r"'up'.*empty output.*\(None, 1, 4, 2\)"):
        Conv2DTranspose(2, 2, strides=2, padding="same", output_padding=0,
                        name="up").compute_output_shape((None, 1, 4, 2))


def test_conv_transpose_weights_use_keras_layout():
    layer = Conv2DTranspose(5, (2, 3))
    layer.build((None, 4, 4, 7))
    assert [(w.name, w.shape) for w in layer.weights] == [("kernel", (2, 3, 5, 7)),
                                                          ("bias", (5,))]


# ------------------------------------------------------------------ UpSampling2D
def _bilinear_loops(x, sh, sw):
    """Half-pixel bilinear resize with edge clamping, one output pixel at a time."""
    n, h, w, c = x.shape
    out = np.zeros((n, h * sh, w * sw, c))
    for oy in range(h * sh):
        fy = min(max((oy + 0.5) / sh - 0.5, 0.0), h - 1)
        y0 = int(np.floor(fy))
        y1, ty = min(y0 + 1, h - 1), fy - y0
        for ox in range(w * sw):
            fx = min(max((ox + 0.5) / sw - 0.5, 0.0), w - 1)
            x0 = int(np.floor(fx))
            x1, tx = min(x0 + 1, w - 1), fx - x0
            out[:, oy, ox] = ((1 - ty) * ((1 - tx) * x[:, y0, x0] + tx * x[:, y0, x1])
                              + ty * ((1 - tx) * x[:, y1, x0] + tx * x[:, y1, x1]))
    return out


@pytest.mark.parametrize("size", [(2, 2), (3, 1), (1, 4)])
def test_upsampling_nearest_repeats_rows_and_columns(size):
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 2)).astype("float32")
    y = UpSampling2D(size)(x)
    np.testing.assert_array_equal(y, np.repeat(np.repeat(x, size[0], 1), size[1], 2))


@pytest.mark.parametrize("size", [(2, 2), (3, 2), (1, 3)])
def test_upsampling_bilinear_matches_the_loops(size):
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 2))
    y = UpSampling2D(size, interpolation="bilinear", dtype="float64")(x)
    np.testing.assert_allclose(y, _bilinear_loops(x, *size), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("size", [(2, 2), (3, 2)])
def test_upsampling_matches_torch_output_and_gradient(mode, size):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 5, 2))
    xt = torch.tensor(x, requires_grad=True)
    up = torch.nn.Upsample(scale_factor=size, mode=mode,
                           **({"align_corners": False} if mode == "bilinear" else {}))
    yt = up(xt.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    r = rng.normal(size=tuple(yt.shape))
    (yt * torch.tensor(r)).sum().backward()
    layer = UpSampling2D(size, interpolation=mode, dtype="float64")
    from tests.helpers.gradcheck import analytic_gradients

    np.testing.assert_allclose(layer(x), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    (dx,), _, rs = analytic_gradients(layer, x, seed=0)
    xt.grad = None
    (up(xt.permute(0, 3, 1, 2)).permute(0, 2, 3, 1) * torch.tensor(rs[0])).sum().backward()
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 0}, "size=0"),
    ({"interpolation": "bicubic"}, "not supported"),
    ({"interpolation": "cubic"}, "interpolation='cubic'"),
    ({"data_format": "channels_first"}, "channels_last"),
])
def test_upsampling_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UpSampling2D(**kwargs, name="up")


def test_upsampling_config_is_keras():
    assert UpSampling2D(3, interpolation="Bilinear", name="u").get_config() == {
        "name": "u", "trainable": True, "dtype": UpSampling2D().get_config()["dtype"],
        "size": (3, 3), "data_format": "channels_last", "interpolation": "bilinear"}


def test_conv_view_geometry_holds_for_every_small_argument_set():
    """The numba kernels trust the pads: for every Keras-valid combination (sizes 1-8,
    kernels 1-6, strides 1-4, dilation 1-3, both paddings, every output_padding) the
    convolution view gives back exactly the input size, with a crop >= 0."""
    from core.kernels.conv import conv_output_size
    from core.layers.conv2d_transpose import conv_view_pads, transpose_axis

    checked = 0
    for size in range(1, 9):
        for k in range(1, 7):
            for s in range(1, 5):
                for d in ((1, 2, 3) if s == 1 else (1,)):
                    for padding in ("valid", "same"):
                        for op in (None, *range(s)):
                            out, crop = transpose_axis(size, k, s, d, padding, op)
                            if out <= 0:
                                continue
                            before, after = conv_view_pads(size, out, crop, k, s, d)
                            assert crop >= 0 and after >= 0
                            assert conv_output_size(out, k, s, d, before, after) == size
                            checked += 1
    assert checked > 1500
