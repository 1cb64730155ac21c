"""The built-in cells' fused whole-sequence op (numba kernels, hand-written backward
through time) equals the ops step loop of their Keras ``call`` (``rnn_loop``): outputs
and the tape gradients of the inputs, initial states and every weight, in float64."""

import numpy as np
import pytest

from core.layers import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell
from tests.helpers.rnn_check import compare_fused_to_steps

N, T, F, U = 3, 5, 4, 3
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, T, F))
MASK = np.array([[1, 1, 0, 1, 1], [0, 0, 1, 1, 0], [1, 0, 0, 0, 1]], bool)
TOL = 1e-11


def _random_weights(layer, states=None):
    layer(X, initial_state=states)
    layer.set_weights([RNG.normal(size=w.shape) * 0.6 for w in layer.get_weights()])
    return layer


CELLS = [("simple", SimpleRNN, {}, 1), ("lstm", LSTM, {}, 2), ("gru", GRU, {}, 1),
         ("gru_reset_before", GRU, {"reset_after": False}, 1),
         ("lstm_relu_tanh", LSTM, {"activation": "relu", "recurrent_activation": "tanh"}, 2),
         ("gru_no_bias", GRU, {"use_bias": False}, 1)]
CASES = [
    {},
    {"mask": MASK},
    {"go_backwards": True},
    {"go_backwards": True, "mask": MASK, "states": True},
    {"states": True},
    {"mask": MASK, "zero_output_for_mask": True},
]


@pytest.mark.parametrize("name,cls,extra,n_states", CELLS, ids=[c[0] for c in CELLS])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(sorted(c)) or "plain")
@pytest.mark.parametrize("return_sequences", [False, True])
def test_flat_layers(name, cls, extra, n_states, case, return_sequences):
    states = [RNG.normal(size=(N, U)) for _ in range(n_states)] if case.get("states") else None
    flags = {k: v for k, v in case.items() if k in ("go_backwards", "zero_output_for_mask")}
    layer = _random_weights(cls(U, dtype="float64", return_sequences=return_sequences,
                                return_state=True, **extra, **flags), states)
    diffs = compare_fused_to_steps(layer, X, states, case.get("mask"))
    assert max(diffs.values()) < TOL, diffs
    if states is not None:  # the states' gradients were compared too
        assert f"input_{n_states}" in diffs


@pytest.mark.parametrize("cls,extra", [(SimpleRNN, {}), (LSTM, {}), (GRU, {}),
                                       (GRU, {"reset_after": False})])
@pytest.mark.parametrize("rates", [(0.4, 0.0), (0.0, 0.4), (0.3, 0.3)])
def test_dropout_masks(cls, extra, rates):
    layer = _random_weights(cls(U, dtype="float64", return_sequences=True, dropout=rates[0],
                                recurrent_dropout=rates[1], **extra))
    diffs = compare_fused_to_steps(layer, X, mask=MASK, training=True)
    assert max(diffs.values()) < TOL, diffs


@pytest.mark.parametrize("go_backwards", [False, True])
def test_stacked_cells(go_backwards):
    cells = [LSTMCell(3, dtype="float64"), GRUCell(2, dtype="float64", reset_after=False),
             GRUCell(2, dtype="float64"), SimpleRNNCell(2, dtype="float64")]
    states = [RNG.normal(size=(N, s)) for s in (3, 3, 2, 2, 2)]
    layer = _random_weights(RNN(cells, return_sequences=True, return_state=True,
                                go_backwards=go_backwards, dtype="float64"), states)
    diffs = compare_fused_to_steps(layer, X, states, MASK)
    assert max(diffs.values()) < TOL, diffs
    assert len([k for k in diffs if "kernel" in k]) == 8  # every cell's two kernels


def test_the_check_sees_a_difference():
    """The comparison can fail: a cell whose step differs from its fused op (here a
    subclass that is forced onto the fused path) is caught."""
    class Off(SimpleRNNCell):
        def call(self, sequence, states, training=False):
            out, new = super().call(sequence, states, training)
            return out * 1.001, [out * 1.001]

        @classmethod
        def fused(cls):
            return True

    layer = _random_weights(RNN(Off(U, dtype="float64"), dtype="float64"))
    assert max(compare_fused_to_steps(layer, X).values()) > 1e-4
