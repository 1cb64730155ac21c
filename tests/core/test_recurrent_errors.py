"""Clear errors for what the recurrent layers refuse or cannot take."""

import numpy as np
import pytest

from core.layers import GRU, LSTM, RNN, Bidirectional, Dense, Input, SimpleRNN

X = np.zeros((2, 4, 3), "float32")


def test_activation_without_kernel_support_is_refused():
    with pytest.raises(ValueError, match="activation='gelu' is not supported"):
        GRU(3, activation="gelu")


def test_input_rank_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"Layer .lstm_r.*\(batch, time, features\).*\(None, 3\)"):
        LSTM(3, name="lstm_r")(np.zeros((2, 3), "float32"))


def test_initial_state_count_and_shape():
    layer = LSTM(3, name="lstm_s")
    with pytest.raises(ValueError, match="expects 2 initial state"):
        layer(X, initial_state=[np.zeros((2, 3), "float32")])
    with pytest.raises(ValueError, match=r"initial state has shape \(2, 4\), expected \(2, 3\)"):
        layer(X, initial_state=[np.zeros((2, 4), "float32")] * 2)


def test_mask_shape():
    with pytest.raises(ValueError, match=r"mask has shape \(2, 5\)"):
        SimpleRNN(2)(X, mask=np.ones((2, 5), bool))


def test_symbolic_mask_argument_is_refused_with_the_way_masks_arrive():
    x, m = Input((4, 3)), Input((4,))
    with pytest.raises(ValueError, match="reaches this layer by itself"):
        GRU(3)(x, mask=m)


def test_rnn_needs_a_cell_and_bidirectional_a_recurrent_layer():
    with pytest.raises(ValueError, match=r"the cell Dense 'd' has no `call\(inputs, states\)`"):
        RNN(Dense(3, name="d"))
    with pytest.raises(ValueError, match="needs a recurrent layer"):
        Bidirectional(Dense(3))
    with pytest.raises(ValueError, match="invalid merge_mode"):
        Bidirectional(LSTM(2), merge_mode="max")


def test_inference_is_the_training_forward_without_dropout():
    layer = LSTM(3, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(layer(x, training=True), a)
