"""SimpleRNN / LSTM / GRU (reset_after=True) against PyTorch's nn.RNN / nn.LSTM / nn.GRU:
outputs, final states and gradients (inputs, weights, initial states) with the weights
mapped between the two layouts, to 1e-4 in float32."""

import numpy as np
import pytest

from core.autodiff import Tape
from core.layers import GRU, LSTM, SimpleRNN

torch = pytest.importorskip("torch")

N, T, F, U = 4, 6, 3, 5
ORDER = {"lstm": [0, 1, 2, 3], "gru": [1, 0, 2], "rnn": [0]}  # keras gate k = torch gate ORDER[k]


def _blocks(w, order):
    return np.concatenate([w[k * U:(k + 1) * U] for k in order], axis=0)


def _make(kind):
    torch.manual_seed(0)
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind](
        F, U, batch_first=True)
    layer = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}[kind](
        U, return_sequences=True, return_state=True)
    order = ORDER[kind]
    w_ih, w_hh = (getattr(mod, n).detach().numpy() for n in ("weight_ih_l0", "weight_hh_l0"))
    b_ih, b_hh = (getattr(mod, n).detach().numpy() for n in ("bias_ih_l0", "bias_hh_l0"))
    bias = (np.stack([_blocks(b_ih, order), _blocks(b_hh, order)]) if kind == "gru"
            else _blocks(b_ih + b_hh, order))
    layer(np.zeros((1, T, F), "float32"))
    layer.set_weights([_blocks(w_ih, order).T, _blocks(w_hh, order).T, bias])
    return mod, layer, order


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_outputs_and_gradients_match_torch(kind):
    mod, layer, order = _make(kind)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, T, F)).astype("float32")
    states = [rng.normal(size=(N, U)).astype("float32") for _ in range(2 if kind == "lstm" else 1)]
    gy = rng.normal(size=(N, T, U)).astype("float32")
    gstates = [rng.normal(size=(N, U)).astype("float32") for _ in states]

    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s[None], requires_grad=True) for s in states]
    y_t, fin_t = mod(xt, tuple(st) if kind == "lstm" else st[0])
    fin_t = list(fin_t) if kind == "lstm" else [fin_t]
    loss = (y_t * torch.tensor(gy)).sum() + sum(
        (f[0] * torch.tensor(g)).sum() for f, g in zip(fin_t, gstates))
    loss.backward()

    with Tape() as tape:
        tape.watch(x, *states)
        outs = layer(x, initial_state=states, training=True)
        dx, *dst = layer.backward(tape.records[-1].cache, [gy] + gstates,
                                  need_input_grad=[True] * (1 + len(states)))
    np.testing.assert_allclose(outs[0], y_t.detach().numpy(), atol=1e-4, rtol=1e-4)
    for o, f in zip(outs[1:], fin_t):
        np.testing.assert_allclose(o, f[0].detach().numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-4, rtol=1e-4)
    for d, s in zip(dst, st):
        np.testing.assert_allclose(d, s.grad[0].numpy(), atol=1e-4, rtol=1e-4)
    cell = layer.cell
    g_ih, g_hh = mod.weight_ih_l0.grad.numpy(), mod.weight_hh_l0.grad.numpy()
    np.testing.assert_allclose(cell.kernel.grad, _blocks(g_ih, order).T, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(cell.recurrent_kernel.grad, _blocks(g_hh, order).T,
                               atol=1e-4, rtol=1e-4)
    gb_ih, gb_hh = mod.bias_ih_l0.grad.numpy(), mod.bias_hh_l0.grad.numpy()
    want_b = (np.stack([_blocks(gb_ih, order), _blocks(gb_hh, order)]) if kind == "gru"
              else _blocks(gb_ih, order))  # d/d(b_ih) == d/d(b_ih + b_hh)
    np.testing.assert_allclose(cell.bias.grad, want_b, atol=1e-4, rtol=1e-4)
