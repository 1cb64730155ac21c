"""Pooling layers: forward against naive loops (TF semantics), gradients, config, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)
from tests.helpers.gradcheck import check_layer_gradients


def naive_pool(x, pool, strides, padding, mode):
    """Window loops; 'same' windows are clipped to the input (odd pixel padded after)."""
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        pt = max((oh - 1) * sh + ph - h, 0) // 2
        pl = max((ow - 1) * sw + pw - w, 0) // 2
    else:
        oh, ow, pt, pl = (h - ph) // sh + 1, (w - pw) // sw + 1, 0, 0
    y = np.empty((n, oh, ow, c))
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * sh - pt, ox * sw - pl
            win = x[:, max(y0, 0):y0 + ph, max(x0, 0):x0 + pw, :]
            y[:, oy, ox, :] = win.max(axis=(1, 2)) if mode == "max" else win.mean(axis=(1, 2))
    return y


POOL_CASES = [
    dict(),
    dict(pool_size=3, strides=2, padding="same"),
    dict(pool_size=(2, 3), strides=1),
    dict(pool_size=2, strides=(1, 2), padding="same"),
    dict(pool_size=3),
]


@pytest.mark.parametrize("cls,mode", [(MaxPooling2D, "max"), (AveragePooling2D, "avg")])
@pytest.mark.parametrize("cfg", POOL_CASES)
def test_forward_matches_naive(cls, mode, cfg):
    x = np.random.default_rng(0).standard_normal((2, 7, 8, 3)).astype("float32")
    layer = cls(**cfg)
    y = layer(x)
    want = naive_pool(x.astype(np.float64), layer.pool_size, layer.strides, layer.padding, mode)
    assert y.shape == want.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("cfg", POOL_CASES)
def test_gradients_match_finite_differences(cls, cfg):
    x = np.random.default_rng(1).standard_normal((2, 7, 6, 3))
    check_layer_gradients(cls(dtype="float64", **cfg), x)


@pytest.mark.parametrize("cls", [GlobalAveragePooling2D, GlobalMaxPooling2D])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(cls, keepdims):
    x = np.random.default_rng(2).standard_normal((3, 4, 5, 6))
    layer = cls(keepdims=keepdims, dtype="float64")
    y = layer(x)
    want = x.mean(axis=(1, 2)) if cls is GlobalAveragePooling2D else x.max(axis=(1, 2))
    assert y.shape == ((3, 1, 1, 6) if keepdims else (3, 6))
    assert layer.compute_output_shape((None, None, None, 6)) == \
        ((None, 1, 1, 6) if keepdims else (None, 6))
    np.testing.assert_allclose(y.reshape(3, 6), want, rtol=1e-12)
    check_layer_gradients(layer, x)


def test_global_max_pool_splits_gradient_between_ties():
    x = np.zeros((1, 2, 2, 1))
    x[0, 0, 0, 0] = x[0, 1, 1, 0] = 5.0
    layer = GlobalMaxPooling2D(dtype="float64")
    _, cache = layer.forward(x)
    dx = layer.backward(cache, np.ones((1, 1)))
    assert dx[0, :, :, 0].tolist() == [[0.5, 0.0], [0.0, 0.5]]


def test_max_pool_same_ignores_padding_for_negative_inputs():
    x = -1.0 - np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
    y = MaxPooling2D(2, padding="same")(x)
    assert y.ravel().tolist() == [-1.0, -3.0, -7.0, -9.0]


def test_average_pool_same_divides_by_valid_count():
    x = np.arange(1, 10, dtype="float32").reshape(1, 3, 3, 1)
    y = AveragePooling2D(2, padding="same")(x)
    assert y.ravel().tolist() == [3.0, 4.5, 7.5, 9.0]


def test_strides_default_to_pool_size_and_config_keys():
    layer = MaxPooling2D(pool_size=3, name="mp")
    assert layer.strides == (3, 3)
    cfg = layer.get_config()
    assert {"name", "trainable", "dtype", "pool_size", "padding", "strides",
            "data_format"} <= set(cfg)
    assert cfg["pool_size"] == (3, 3) and cfg["strides"] == (3, 3)
    assert cfg["padding"] == "valid" and cfg["data_format"] == "channels_last"
    again = MaxPooling2D.from_config(json.loads(json.dumps(cfg)))
    assert again.pool_size == (3, 3) and again.strides == (3, 3)
    g = GlobalAveragePooling2D(name="gap").get_config()
    assert g["keepdims"] is False and g["data_format"] == "channels_last"
    assert MaxPooling2D.group == AveragePooling2D.group == GlobalMaxPooling2D.group == "Pooling"


@pytest.mark.parametrize("kwargs,match", [
    (dict(pool_size=0), "pool_size=0"),
    (dict(strides=0), "strides=0"),
    (dict(padding="full"), "padding='full'"),
    (dict(data_format="channels_first"), "channels_first"),
])
def test_invalid_arguments_raise_value_error(kwargs, match):
    for cls in (MaxPooling2D, AveragePooling2D):
        with pytest.raises(ValueError, match=match):
            cls(name="bad_pool", **kwargs)


def test_pool_larger_than_input_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"big_pool.*\(None, 2, 9, 4\)"):
        MaxPooling2D(3, name="big_pool").compute_output_shape((None, 2, 9, 4))
    assert MaxPooling2D(3, padding="same").compute_output_shape((None, 2, 9, 4)) == \
        (None, 1, 3, 4)
    with pytest.raises(ValueError, match="4-D input"):
        GlobalMaxPooling2D(name="g").compute_output_shape((None, 5))
