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

from core import activations
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
