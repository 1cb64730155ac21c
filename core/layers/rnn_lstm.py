"""``LSTMCell`` and ``LSTM`` (Keras 3): gates i, f, c, o in that order in every weight.

``unit_forget_bias=True`` starts the forget-gate slice of the bias at ones, as Keras.

>>> import numpy as np
>>> LSTM(4)(np.zeros((2, 5, 3), "float32")).shape
(2, 4)
"""

from __future__ import annotations

import numpy as np

from core import activations, initializers, ops
from core.kernels import recurrent as K
from core.layers.rnn_cells import (
    _CONS,
    _DROPS,
    _INITS,
    _RECURRENT_ACTIVATION,
    _REGS,
    RNNCellBase,
    _code,
    cell_params,
)
from core.layers.rnn_wrapper import flat_rnn_layer
from core.layers.spec import Param, register_layer, register_nested_layer


class _UnitForgetBias(initializers.Initializer):
    """Keras' LSTM bias: ``bias_initializer`` everywhere except ones on the forget gate."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        U = self.units
        parts = [self.base((U,), dtype=dtype), np.ones((U,), dtype),
                 self.base((2 * U,), dtype=dtype)]
        return np.concatenate([np.asarray(p, dtype) for p in parts])


@register_nested_layer
class LSTMCell(RNNCellBase):
    """One LSTM cell: states ``[h, c]``."""

    params = cell_params("h and c", extra=(
        _RECURRENT_ACTIVATION,
        Param("unit_forget_bias", "bool", True, doc="Start the forget-gate bias at 1."),
    ))
    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, implementation=2, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._ract = _code(self.name, "recurrent_activation", self.recurrent_activation)
        self.unit_forget_bias = self._check("unit_forget_bias", unit_forget_bias)
        self.state_size = [self.units, self.units]

    @property
    def num_states(self) -> int:
        return 2

    def _bias_init(self):
        if self.unit_forget_bias:
            return _UnitForgetBias(self.bias_initializer, self.units)
        return self.bias_initializer

    def call(self, inputs, states, training=False):
        """One step, as Keras 3's ``LSTMCell.call`` (implementation 1, per-gate dropout
        masks, with recurrent dropout; else 2: one fused projection)."""
        h_tm1, c_tm1 = states[0], states[1]
        dp_mask, rec_dp_mask = self._step_dropout(inputs, training)
        U = self.units
        if self.recurrent_dropout > 0:  # Keras switches to implementation 1
            xs = [inputs if dp_mask is None else inputs * dp_mask[g] for g in range(4)]
            ks = ops.split(self.kernel, 4, axis=1)
            x = [ops.matmul(xg, kg) for xg, kg in zip(xs, ks)]
            if self.use_bias:
                x = [xg + bg for xg, bg in zip(x, ops.split(self.bias, 4, axis=0))]
            hs = [h_tm1 if rec_dp_mask is None else h_tm1 * rec_dp_mask[g]
                  for g in range(4)]
            rk = self.recurrent_kernel
            i = self.recurrent_activation(x[0] + ops.matmul(hs[0], rk[:, :U]))
            f = self.recurrent_activation(x[1] + ops.matmul(hs[1], rk[:, U:2 * U]))
            c = f * c_tm1 + i * self.activation(x[2] + ops.matmul(hs[2], rk[:, 2 * U:3 * U]))
            o = self.recurrent_activation(x[3] + ops.matmul(hs[3], rk[:, 3 * U:]))
        else:
            if dp_mask is not None:
                inputs = inputs * dp_mask[0]
            z = ops.matmul(inputs, self.kernel)
            z = ops.add(z, ops.matmul(h_tm1, self.recurrent_kernel))
            if self.use_bias:
                z = ops.add(z, self.bias)
            z0, z1, z2, z3 = ops.split(z, 4, axis=1)
            i = self.recurrent_activation(z0)
            f = self.recurrent_activation(z1)
            c = f * c_tm1 + i * self.activation(z2)
            o = self.recurrent_activation(z3)
        h = o * self.activation(c)
        return h, [h, c]

    def run(self, xt, states, mask, training):
        T, N, F = xt.shape
        U = self.units
        dm, rm = self._masks(N, F, xt.dtype, training)
        xz = self._project(xt, dm, add_bias=False)
        rk, rkt = self._split_rk()
        H = np.empty((T + 1, N, U), xt.dtype)
        C = np.empty((T + 1, N, U), xt.dtype)
        H[0], C[0] = states[0], states[1]
        gates = np.empty((T, 4, N, U), xt.dtype)
        out = np.empty((T, N, U), xt.dtype)
        AC = np.empty((T, N, U), xt.dtype)  # act(c) of each step, reused by backward
        K.lstm_forward(xz, rk, rm, mask, self._act, self._ract, H, C, gates, out,
                       bias=None if self.bias is None else self.bias.value, AC=AC)
        return out, [H[T], C[T]], (xt, dm, rm, mask, rkt, H, C, gates, AC)

    def run_backward(self, cache, dout, dstates, need_input_grad):
        xt, dm, rm, mask, rkt, H, C, gates, AC = cache
        dh = np.array(dstates[0], dtype=dout.dtype, copy=True)
        dc = np.array(dstates[1], dtype=dout.dtype, copy=True)
        T, N, U = dout.shape
        dxz = np.empty((T, N, 4 * U), dout.dtype)
        K.lstm_backward(rkt, rm, mask, self._act, self._ract, C, gates, dout, dh, dc, dxz,
                        AC=AC)
        self._recurrent_grad(H, rm, dxz)
        if self.bias is not None:
            self.write_grad(self.bias, dxz.sum(axis=(0, 1)))
        return self._project_backward(xt, dm, dxz, need_input_grad), [dh, dc]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config["unit_forget_bias"] = self.unit_forget_bias
        return self._ordered(config, CELL_KEYS)


# Keras' config key orders (after name, trainable, dtype [, the RNN flags]).
CELL_KEYS = ("units", "activation", "recurrent_activation", "use_bias", "unit_forget_bias",
             *_INITS, *_REGS, *_CONS, *_DROPS, "seed")
LAYER_KEYS = ("units", "activation", "recurrent_activation", "use_bias", *_INITS,
              "unit_forget_bias", *_REGS, "activity_regularizer", *_CONS, *_DROPS, "seed")
LSTM = register_layer(flat_rnn_layer("LSTM", LSTMCell, "lstm_cell", __doc__, LAYER_KEYS))
