"""``GRUCell`` and ``GRU`` (Keras 3): gates z, r, h in that order in every weight.

``reset_after=True`` (Keras 3's default, PyTorch's formula) applies the reset gate to
``h @ recurrent_kernel_h + recurrent_bias_h`` and keeps two bias rows, input and
recurrent: ``bias`` (2, 3*units). ``reset_after=False`` feeds ``(r * h)`` to the
recurrent kernel of h and has one bias row (3*units,).

>>> import numpy as np
>>> GRU(4)(np.zeros((2, 5, 3), "float32")).shape
(2, 4)
"""

from __future__ import annotations

import numpy as np

from core import activations, ops
from core.kernels import recurrent_gru as K
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


@register_nested_layer
class GRUCell(RNNCellBase):
    """One GRU cell: state ``[h]``."""

    params = cell_params("h", extra=(
        _RECURRENT_ACTIVATION,
        Param("reset_after", "bool", True, doc="Reset gate after the recurrent matmul "
                                               "(Keras 3 / PyTorch convention)."),
    ))
    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, implementation=2, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._ract = _code(self.name, "recurrent_activation", self.recurrent_activation)
        self.reset_after = self._check("reset_after", reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if self.bias is None:
            return None
        return self.bias.value[0] if self.reset_after else self.bias.value

    def _recurrent_bias(self, dtype):
        if self.bias is None or not self.reset_after:
            return np.zeros(3 * self.units, dtype)
        return np.ascontiguousarray(self.bias.value[1])

    def call(self, inputs, states, training=False):
        """One step, as Keras 3's ``GRUCell.call`` (implementation 1, per-gate dropout
        masks, with recurrent dropout; else 2: one fused projection)."""
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        U = self.units
        input_bias = recurrent_bias = None
        if self.use_bias:
            if not self.reset_after:
                input_bias = self.bias
            else:
                input_bias, recurrent_bias = (
                    ops.squeeze(e, axis=0) for e in ops.split(self.bias, 2, axis=0))
        dp_mask, rec_dp_mask = self._step_dropout(inputs, training)
        rk = self.recurrent_kernel
        if self.recurrent_dropout > 0:  # Keras switches to implementation 1
            xs = [inputs if dp_mask is None else inputs * dp_mask[g] for g in range(3)]
            x_z, x_r, x_h = (ops.matmul(xg, kg)
                             for xg, kg in zip(xs, ops.split(self.kernel, 3, axis=1)))
            if self.use_bias:
                x_z = x_z + input_bias[:U]
                x_r = x_r + input_bias[U:2 * U]
                x_h = x_h + input_bias[2 * U:]
            h_z, h_r, h_h = [h_tm1 if rec_dp_mask is None else h_tm1 * rec_dp_mask[g]
                             for g in range(3)]
            recurrent_z = ops.matmul(h_z, rk[:, :U])
            recurrent_r = ops.matmul(h_r, rk[:, U:2 * U])
            if self.reset_after and self.use_bias:
                recurrent_z = recurrent_z + recurrent_bias[:U]
                recurrent_r = recurrent_r + recurrent_bias[U:2 * U]
            z = self.recurrent_activation(x_z + recurrent_z)
            r = self.recurrent_activation(x_r + recurrent_r)
            if self.reset_after:
                recurrent_h = ops.matmul(h_h, rk[:, 2 * U:])
                if self.use_bias:
                    recurrent_h = recurrent_h + recurrent_bias[2 * U:]
                recurrent_h = r * recurrent_h
            else:
                recurrent_h = ops.matmul(r * h_h, rk[:, 2 * U:])
        else:
            if dp_mask is not None:
                inputs = inputs * dp_mask[0]
            matrix_x = ops.matmul(inputs, self.kernel)
            if self.use_bias:
                matrix_x = ops.add(matrix_x, input_bias)
            x_z, x_r, x_h = ops.split(matrix_x, 3, axis=-1)
            if self.reset_after:
                matrix_inner = ops.matmul(h_tm1, rk)
                if self.use_bias:
                    matrix_inner = matrix_inner + recurrent_bias
            else:
                matrix_inner = ops.matmul(h_tm1, rk[:, :2 * U])
            recurrent_z = matrix_inner[:, :U]
            recurrent_r = matrix_inner[:, U:2 * U]
            z = self.recurrent_activation(x_z + recurrent_z)
            r = self.recurrent_activation(x_r + recurrent_r)
            if self.reset_after:
                recurrent_h = r * matrix_inner[:, 2 * U:]
            else:
                recurrent_h = ops.matmul(r * h_tm1, rk[:, 2 * U:])
        hh = self.activation(x_h + recurrent_h)
        h = z * h_tm1 + (1 - z) * hh
        new_state = [h] if isinstance(states, (list, tuple)) else h
        return h, new_state

    def run(self, xt, states, mask, training):
        T, N, F = xt.shape
        U = self.units
        dm, rm = self._masks(N, F, xt.dtype, training)
        xz = self._project(xt, dm)
        rk, rkt = self._split_rk()
        H = np.empty((T + 1, N, U), xt.dtype)
        H[0] = states[0]
        gates = np.empty((T, 3, N, U), xt.dtype)
        rech = np.zeros((T, N, U), xt.dtype)
        out = np.empty((T, N, U), xt.dtype)
        K.gru_forward(xz, rk, self._recurrent_bias(xt.dtype), rm, mask, self._act,
                      self._ract, self.reset_after, H, gates, rech, out)
        return out, [H[T]], (xt, dm, rm, mask, rkt, H, gates, rech)

    def run_backward(self, cache, dout, dstates, need_input_grad):
        xt, dm, rm, mask, rkt, H, gates, rech = cache
        dh = np.array(dstates[0], dtype=dout.dtype, copy=True)
        T, N, U = dout.shape
        dxz = np.empty((T, N, 3 * U), dout.dtype)
        drec = np.empty((T, N, 3 * U), dout.dtype)
        K.gru_backward(rkt, rm, mask, self._act, self._ract, self.reset_after, H, gates,
                       rech, dout, dh, dxz, drec)
        # reset_after=False: gate h's recurrent product takes r * h (* rmask) as input.
        inputs = None  # None: every gate's product takes h_{t-1}, one GEMM for dR
        if not self.reset_after:
            inputs = [None, None, gates[:, 1] * H[:-1] * (1.0 if rm is None else rm[2])]
        self._recurrent_grad(H, rm, drec, gate_inputs=inputs)
        if self.bias is not None:
            db_in = dxz.sum(axis=(0, 1))
            self.write_grad(self.bias, np.stack([db_in, drec.sum(axis=(0, 1))])
                            if self.reset_after else db_in)
        return self._project_backward(xt, dm, dxz, need_input_grad), [dh]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config["reset_after"] = self.reset_after
        return self._ordered(config, CELL_KEYS)


# Keras' config key orders (after name, trainable, dtype [, the RNN flags]).
CELL_KEYS = ("units", "activation", "recurrent_activation", "use_bias", *_INITS, *_REGS,
             *_CONS, *_DROPS, "reset_after", "seed")
LAYER_KEYS = ("units", "activation", "recurrent_activation", "use_bias", *_INITS, *_REGS,
              "activity_regularizer", *_CONS, *_DROPS, "reset_after", "seed")
GRU = register_layer(flat_rnn_layer("GRU", GRUCell, "gru_cell", __doc__, LAYER_KEYS))
