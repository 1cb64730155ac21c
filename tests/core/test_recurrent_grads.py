"""Gradients of SimpleRNN / LSTM / GRU / RNN(stacked cells) by central differences in
float64: every flag, masks, initial states (their gradients too) and dropout (masks held
fixed by re-seeding the cell's generator before each call)."""

import numpy as np
import pytest

from core.layers import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell
from tests.helpers.gradcheck import check_layer_gradients

N, T, F, U = 3, 4, 2, 3
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, T, F))
MASK = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 0]], bool)


class _Call:
    """The layer called with fixed keyword arguments (mask) and, with dropout, the same
    random masks each call, so finite differences see one function."""

    def __init__(self, layer, **kwargs):
        self.layer, self.kwargs = layer, kwargs
        self.name = layer.name

    def __call__(self, x, training=False):
        for c in getattr(self.layer.cell, "cells", [self.layer.cell]):
            c._gen = np.random.default_rng(5)
        return self.layer(x, training=training, **self.kwargs)

    @property
    def trainable_weights(self):
        return self.layer.trainable_weights


def _random_weights(layer, x):
    layer(x)
    layer.set_weights([RNG.normal(size=w.shape) * 0.6 for w in layer.get_weights()])
    return layer


FLAT = [(SimpleRNN, {}), (LSTM, {}), (GRU, {}), (GRU, {"reset_after": False}),
        (LSTM, {"activation": "relu", "recurrent_activation": "tanh"})]
FLAGS = [{}, {"return_sequences": True}, {"return_state": True},
         {"return_sequences": True, "return_state": True, "go_backwards": True}]


@pytest.mark.parametrize("cls,extra", FLAT)
@pytest.mark.parametrize("flags", FLAGS)
def test_flat_layers(cls, extra, flags):
    layer = _random_weights(cls(U, dtype="float64", **extra, **flags), X)
    check_layer_gradients(layer, X, rtol=1e-6)


@pytest.mark.parametrize("cls,extra", FLAT)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masks(cls, extra, go_backwards):
    layer = _random_weights(cls(U, dtype="float64", return_sequences=True, return_state=True,
                                go_backwards=go_backwards, **extra), X)
    check_layer_gradients(_Call(layer, mask=MASK), X, rtol=1e-6)


@pytest.mark.parametrize("cls,n_states", [(SimpleRNN, 1), (LSTM, 2), (GRU, 1)])
def test_initial_state_gradients(cls, n_states):
    layer = _random_weights(cls(U, dtype="float64", return_sequences=True), X)
    states = [RNG.normal(size=(N, U)) for _ in range(n_states)]
    errors = check_layer_gradients(_Call(layer, mask=MASK), [X] + states, rtol=1e-6)
    assert f"input_{n_states}" in errors


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("rates", [(0.4, 0.0), (0.0, 0.4), (0.3, 0.3)])
def test_dropout(cls, rates):
    layer = _random_weights(cls(U, dtype="float64", return_sequences=True,
                                dropout=rates[0], recurrent_dropout=rates[1]), X)
    check_layer_gradients(_Call(layer), X, training=True, rtol=1e-6)


def test_stacked_cells_with_mask_and_states():
    cells = [LSTMCell(3, dtype="float64"), GRUCell(2, dtype="float64"),
             SimpleRNNCell(2, dtype="float64")]
    layer = _random_weights(RNN(cells, return_sequences=True, return_state=True,
                                dtype="float64"), X)
    states = [RNG.normal(size=(N, s)) for s in (3, 3, 2, 2)]
    check_layer_gradients(_Call(layer, mask=MASK), [X] + states, rtol=1e-6)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("flags", [{}, {"return_sequences": True, "return_state": True}])
def test_bidirectional(merge_mode, flags):
    from core.layers import Bidirectional
    layer = _random_weights(Bidirectional(LSTM(U, dtype="float64", **flags),
                                          merge_mode=merge_mode, dtype="float64"), X)
    check_layer_gradients(_Bidi(layer, mask=MASK), X, rtol=1e-6)


def test_bidirectional_initial_states_and_own_backward_layer():
    from core.layers import Bidirectional
    layer = _random_weights(Bidirectional(
        GRU(U, dtype="float64", return_sequences=True),
        backward_layer=GRU(2, dtype="float64", return_sequences=True, go_backwards=True),
        dtype="float64"), X)
    states = [RNG.normal(size=(N, U)), RNG.normal(size=(N, 2))]
    check_layer_gradients(_Bidi(layer, mask=MASK), [X] + states, rtol=1e-6)


class _Bidi(_Call):
    def __call__(self, x, training=False):
        return self.layer(x, training=training, **self.kwargs)
