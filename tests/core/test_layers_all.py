"""Every registered layer through the shared ``run_layer_test`` checks.

A layer added to the registry without a case here fails
``test_every_registered_layer_has_a_case``, so nothing escapes the checks.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.layers import Input, InputLayer, get_layer_class, registered_layers
from tests.helpers.layer_test import (
    check_config_roundtrip,
    check_gradients,
    check_save_load,
    check_shapes,
)

# (class name, kwargs, input shape(s), expected output shape, options)
CASES = [
    ("Dense", {"units": 3, "activation": "tanh"}, (2, 4), (2, 3), {}),
    ("Dense", {"units": 5, "activation": "relu"}, (2, 3, 4), (2, 3, 5), {}),
    ("Dense", {"units": 3, "use_bias": False, "activation": "softmax"}, (2, 4), (2, 3), {}),
    ("Activation", {"activation": "gelu"}, (2, 5), (2, 5), {}),
    ("Activation", {"activation": "softmax"}, (2, 3, 4), (2, 3, 4), {}),
    ("Dropout", {"rate": 0.5}, (2, 6), (2, 6), {"grad_training": False}),
    ("GaussianNoise", {"stddev": 0.3, "seed": 4}, (2, 3, 4), (2, 3, 4), {"grad_training": False}),
    ("GaussianDropout", {"rate": 0.4}, (2, 5), (2, 5), {"grad_training": False}),
    ("SpatialDropout1D", {"rate": 0.3}, (2, 4, 3), (2, 4, 3), {"grad_training": False}),
    ("SpatialDropout2D", {"rate": 0.3, "data_format": "channels_first"}, (2, 3, 4, 2),
     (2, 3, 4, 2), {"grad_training": False}),
    ("Flatten", {}, (2, 3, 4, 2), (2, 24), {}),
    ("Flatten", {"data_format": "channels_first"}, (2, 3, 4, 2), (2, 24), {}),
    ("Reshape", {"target_shape": (-1, 2)}, (2, 12), (2, 6, 2), {}),
    ("Reshape", {"target_shape": (3, 4)}, (2, 2, 6), (2, 3, 4), {}),
    ("Add", {}, [(2, 3), (2, 3)], (2, 3), {}),
    ("Add", {}, [(2, 3, 4), (2, 1, 4), (2, 3, 1)], (2, 3, 4), {}),
    ("Subtract", {}, [(2, 3), (2, 3)], (2, 3), {}),
    ("Multiply", {}, [(2, 3), (2, 3), (2, 3)], (2, 3), {}),
    ("Multiply", {}, [(2, 3, 4), (2, 1, 4)], (2, 3, 4), {}),
    ("Average", {}, [(2, 3), (2, 3)], (2, 3), {}),
    ("Maximum", {}, [(2, 3), (2, 3), (2, 3)], (2, 3), {}),
    ("Minimum", {}, [(2, 3), (2, 3)], (2, 3), {}),
    ("Concatenate", {}, [(2, 3), (2, 4)], (2, 7), {}),
    ("Concatenate", {"axis": 1}, [(2, 1, 3), (2, 2, 3), (2, 3, 3)], (2, 6, 3), {}),
    ("ReLU", {}, (2, 5), (2, 5), {}),
    ("ReLU", {"max_value": 0.5, "negative_slope": 0.1, "threshold": 0.2}, (2, 6), (2, 6), {}),
    ("LeakyReLU", {}, (2, 5), (2, 5), {}),
    ("Softmax", {}, (2, 5), (2, 5), {}),
    ("Softmax", {"axis": 1}, (2, 3, 4), (2, 3, 4), {}),
    ("ELU", {"alpha": 0.7}, (2, 5), (2, 5), {}),
    ("Conv2D", {"filters": 3, "kernel_size": 3, "padding": "same", "activation": "relu"},
     (2, 5, 5, 2), (2, 5, 5, 3), {}),
    ("Conv2D", {"filters": 2, "kernel_size": (2, 3), "strides": 2}, (2, 6, 7, 3), (2, 3, 3, 2),
     {}),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same",
                         "activation": "tanh"}, (2, 3, 4, 2), (2, 6, 8, 2), {}),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": (2, 3), "strides": 2,
                         "output_padding": 1, "use_bias": False}, (2, 3, 3, 3), (2, 7, 8, 2),
     {}),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "dilation_rate": 2}, (2, 3, 3, 2),
     (2, 7, 7, 3), {}),
    # kh*kw*filters = 36 > DIRECT_MAX_K: the GEMM + col2im path (the others run direct)
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same",
                         "output_padding": 0}, (2, 3, 3, 2), (2, 5, 5, 4), {}),
    ("UpSampling2D", {}, (2, 3, 4, 2), (2, 6, 8, 2), {}),
    ("UpSampling2D", {"size": (3, 2), "interpolation": "bilinear"}, (2, 3, 4, 2),
     (2, 9, 8, 2), {}),
    ("MaxPooling2D", {"pool_size": 2}, (2, 4, 4, 3), (2, 2, 2, 3), {}),
    ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 5, 5, 2),
     (2, 3, 3, 2), {}),
    ("AveragePooling2D", {"pool_size": 2}, (2, 4, 6, 3), (2, 2, 3, 3), {}),
    ("GlobalAveragePooling2D", {}, (2, 4, 4, 3), (2, 3), {}),
    ("GlobalMaxPooling2D", {}, (2, 4, 4, 3), (2, 3), {}),
    ("BatchNormalization", {}, (4, 3, 3, 2), (4, 3, 3, 2), {}),
    ("BatchNormalization", {}, (6, 5), (6, 5), {}),
    ("SimpleRNN", {"units": 3}, (2, 4, 2), (2, 3), {}),
    ("LSTM", {"units": 3, "return_sequences": True}, (2, 4, 2), (2, 4, 3), {}),
    ("LSTM", {"units": 2, "return_state": True, "go_backwards": True}, (2, 3, 2),
     [(2, 2), (2, 2), (2, 2)], {}),
    ("GRU", {"units": 3, "return_sequences": True}, (2, 4, 2), (2, 4, 3), {}),
    ("GRU", {"units": 2, "reset_after": False}, (2, 4, 2), (2, 2), {}),
    ("Bidirectional", {"layer": {"module": "keras.layers", "class_name": "LSTM",
                                 "config": {"units": 2, "return_sequences": True}}},
     (2, 4, 3), (2, 4, 4), {}),
    # Sequence layers. Embedding ids are drawn as floats in [0, input_dim) (cast to int).
    ("Embedding", {"input_dim": 7, "output_dim": 3}, (2, 5), (2, 5, 3),
     {"input_range": (0.0, 7.0)}),
    ("Embedding", {"input_dim": 4, "output_dim": 2, "mask_zero": True}, (3, 2, 2),
     (3, 2, 2, 2), {"input_range": (0.0, 4.0)}),
    ("Conv1D", {"filters": 3, "kernel_size": 3, "activation": "tanh"}, (2, 7, 2), (2, 5, 3),
     {}),
    ("Conv1D", {"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same"}, (2, 7, 3),
     (2, 4, 2), {}),
    ("Conv1D", {"filters": 2, "kernel_size": 3, "padding": "causal", "dilation_rate": 2,
                "use_bias": False}, (2, 6, 2), (2, 6, 2), {}),
    ("MaxPooling1D", {}, (2, 7, 3), (2, 3, 3), {}),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 7, 2), (2, 4, 2),
     {}),
    ("AveragePooling1D", {"pool_size": 2}, (2, 6, 3), (2, 3, 3), {}),
    ("AveragePooling1D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 5, 2),
     (2, 5, 2), {}),
    ("GlobalMaxPooling1D", {}, (2, 5, 3), (2, 3), {}),
    ("GlobalMaxPooling1D", {"keepdims": True}, (2, 5, 3), (2, 1, 3), {}),
    ("GlobalAveragePooling1D", {}, (2, 5, 3), (2, 3), {}),
    ("GlobalAveragePooling1D", {"keepdims": True}, (2, 5, 3), (2, 1, 3), {}),
    ("LayerNormalization", {}, (3, 4, 5), (3, 4, 5), {}),
    ("LayerNormalization", {"axis": [1, 2], "center": False}, (2, 3, 4), (2, 3, 4), {}),
    ("LayerNormalization", {"axis": 1, "rms_scaling": True}, (2, 4, 3), (2, 4, 3), {}),
    ("Masking", {"mask_value": 0.5}, (2, 4, 3), (2, 4, 3), {}),
    ("RepeatVector", {"n": 3}, (2, 4), (2, 3, 4), {}),
    ("Permute", {"dims": (2, 1)}, (2, 3, 4), (2, 4, 3), {}),
    ("Permute", {"dims": (3, 1, 2)}, (2, 3, 4, 2), (2, 2, 3, 4), {}),
    ("TimeDistributed", {"layer": {"class_name": "Dense", "config": {"units": 3,
                                                                    "activation": "tanh"}}},
     (2, 4, 5), (2, 4, 3), {}),
    ("EinsumDense", {"equation": "abc,cde->abde", "output_shape": (4, 2, 3),
                     "bias_axes": "de", "activation": "tanh"}, (2, 4, 5), (2, 4, 2, 3), {}),
    ("EinsumDense", {"equation": "...b,bc->...c", "output_shape": 3}, (2, 4, 5), (2, 4, 3),
     {}),
    ("EinsumDense", {"equation": "abc,cd->ad", "output_shape": (3,), "bias_axes": "d"},
     (2, 4, 5), (2, 3), {}),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, [(2, 5, 4), (2, 3, 4)], (2, 5, 4),
     {}),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "value_dim": 3, "output_shape": 5,
                            "use_gate": True}, [(2, 4, 3), (2, 3, 4), (2, 3, 2)], (2, 4, 5),
     {}),
    ("MultiHeadAttention", {"num_heads": 1, "key_dim": 2, "dropout": 0.3}, [(2, 3, 4),
                                                                          (2, 3, 4)],
     (2, 3, 4), {"grad_training": False}),
    ("TimeDistributed", {"layer": {"class_name": "Conv2D",
                                   "config": {"filters": 2, "kernel_size": 2}}},
     (2, 3, 4, 4, 1), (2, 3, 3, 3, 2), {}),
]
# Layers the app promises (Keras names); each must be registered.
PROMISED = {"InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Add",
            "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "ReLU",
            "LeakyReLU", "Softmax", "ELU", "Conv2D", "MaxPooling2D", "AveragePooling2D",
            "GlobalAveragePooling2D", "GlobalMaxPooling2D", "BatchNormalization"}


def _case_id(case):
    name, kwargs = case[0], case[1]
    return name + ("-" + "-".join(f"{k}={v}" for k, v in kwargs.items()) if kwargs else "")


def test_every_registered_layer_has_a_case():
    covered = {c[0] for c in CASES} | {"InputLayer"}
    registered = set(registered_layers())
    assert not registered - covered, f"registered layers without a test case: " \
                                     f"{sorted(registered - covered)}"
    assert not PROMISED - registered, f"promised layers not registered: " \
                                      f"{sorted(PROMISED - registered)}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_shapes_and_config(case):
    name, kwargs, in_shape, out_shape, opts = case
    layer, x = check_shapes(get_layer_class(name), kwargs, in_shape, out_shape,
                            input_range=opts.get("input_range", (-1.0, 1.0)))
    check_config_roundtrip(layer, x)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_gradients(case):
    name, kwargs, in_shape, _, opts = case
    check_gradients(get_layer_class(name), kwargs, in_shape,
                    training=opts.get("grad_training", True),
                    input_range=opts.get("input_range", (-1.0, 1.0)))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_save_load(case, tmp_path):
    name, kwargs, in_shape, out_shape, opts = case
    layer, x = check_shapes(get_layer_class(name), kwargs, in_shape, out_shape,
                            input_range=opts.get("input_range", (-1.0, 1.0)))
    check_save_load(layer, x, tmp_path)


def test_layer_specs_are_valid():
    """Every class declares a known group, num_inputs and Params whose defaults pass check."""
    from core.layers.spec import GROUPS, check

    for name, cls in registered_layers().items():
        assert cls.group in GROUPS, name
        assert cls.num_inputs in (0, 1, "many"), name
        for p in cls.params:
            if p.default is not None and p.kind not in ("activation", "initializer"):
                check(name, p, p.default)


def test_input_layer_config_roundtrip():
    layer = InputLayer(shape=(28, 28, 1), name="pixels")
    config = layer.get_config()
    assert config == {"batch_shape": (None, 28, 28, 1), "dtype": "float32", "sparse": False,
                      "ragged": False, "name": "pixels", "optional": False}
    clone = InputLayer.from_config({**config, "batch_shape": [None, 28, 28, 1]})
    assert clone.get_config() == config
    assert clone.output.shape == (None, 28, 28, 1)
    x = Input(batch_shape=(8, 3))
    assert x.shape == (8, 3)
    assert np.dtype(x.dtype) == np.float32


def test_run_layer_test_runs_every_check(tmp_path):
    from core.layers import Dense
    from tests.helpers.layer_test import run_layer_test

    run_layer_test(Dense, {"units": 2, "activation": "sigmoid"}, (3, 4), (3, 2),
                   tmp_path=tmp_path)


def test_run_layer_test_catches_a_wrong_output_shape():
    from core.layers import Dense
    from tests.helpers.layer_test import run_layer_test

    with pytest.raises(AssertionError, match="output shape"):
        run_layer_test(Dense, {"units": 2}, (3, 4), (3, 3), run_gradients=False,
                       run_save=False)
