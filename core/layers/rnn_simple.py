"""``SimpleRNNCell`` and ``SimpleRNN`` (Keras 3): ``h_t = activation(x_t @ kernel +
h_{t-1} @ recurrent_kernel + bias)``.

>>> import numpy as np
>>> SimpleRNN(4, return_sequences=True)(np.zeros((2, 5, 3), "float32")).shape
(2, 5, 4)
"""

from __future__ import annotations

import numpy as np

from core import ops
from core.kernels import recurrent as K
from core.layers.rnn_cells import _CONS, _DROPS, _INITS, _REGS, RNNCellBase, cell_params
from core.layers.rnn_wrapper import flat_rnn_layer
from core.layers.spec import register_layer, register_nested_layer


@register_nested_layer
class SimpleRNNCell(RNNCellBase):
    """One SimpleRNN cell: state ``[h]``."""

    params = cell_params("h")
    gates = 1

    def call(self, sequence, states, training=False):
        """One step, as Keras 3's ``SimpleRNNCell.call``."""
        prev_output = states[0] if isinstance(states, (list, tuple)) else states
        dp_mask, rec_dp_mask = self._step_dropout(sequence, training)
        if dp_mask is not None:
            sequence = sequence * dp_mask[0]
        h = ops.matmul(sequence, self.kernel)
        if self.bias is not None:
            h = ops.add(h, self.bias)
        if rec_dp_mask is not None:
            prev_output = prev_output * rec_dp_mask[0]
        output = h + ops.matmul(prev_output, self.recurrent_kernel)
        output = self.activation(output)
        new_state = [output] if isinstance(states, (list, tuple)) else output
        return output, new_state

    def run(self, xt, states, mask, training):
        T, N, F = xt.shape
        dm, rm = self._masks(N, F, xt.dtype, training)
        xz = self._project(xt, dm)
        rk, rkt = self._split_rk()
        H = np.empty((T + 1, N, self.units), xt.dtype)
        H[0] = states[0]
        out = np.empty((T, N, self.units), xt.dtype)
        K.simple_rnn_forward(xz, rk, rm, mask, self._act, H, out)
        return out, [H[T]], (xt, dm, rm, mask, rkt, H)

    def run_backward(self, cache, dout, dstates, need_input_grad):
        xt, dm, rm, mask, rkt, H = cache
        dh = np.array(dstates[0], dtype=dout.dtype, copy=True)
        dxz = np.empty((dout.shape[0], dout.shape[1], self.units), dout.dtype)
        K.simple_rnn_backward(rkt, rm, mask, self._act, H, dout, dh, dxz)
        self._recurrent_grad(H, rm, dxz)
        if self.bias is not None:
            self.write_grad(self.bias, dxz.sum(axis=(0, 1)))
        return self._project_backward(xt, dm, dxz, need_input_grad), [dh]


# Keras 3.15's SimpleRNN.get_config leaves out ``seed`` (its cell's has it); so do we.
LAYER_KEYS = ("units", "activation", "use_bias", *_INITS, *_REGS, "activity_regularizer",
              *_CONS, *_DROPS)
SimpleRNN = register_layer(flat_rnn_layer("SimpleRNN", SimpleRNNCell, "simple_rnn_cell",
                                          __doc__, LAYER_KEYS))
