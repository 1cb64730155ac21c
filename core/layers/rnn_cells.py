"""``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``: the weights and one whole-sequence pass.

As in Keras 3 a recurrent layer keeps its weights on its cell (``lstm/lstm_cell/kernel``,
``.keras`` path ``layers/lstm/cell/vars``): ``kernel`` (input_dim, G*units),
``recurrent_kernel`` (units, G*units), ``bias`` (G*units,) — GRU with
``reset_after=True``: (2, 3*units), input bias then recurrent bias. Gate order LSTM
i, f, c, o; GRU z, r, h.

A cell has two computations with one meaning:

* ``call(inputs, states, training=False) -> (output, new_states)``: one time step
  written with ``core.ops`` line for line as Keras 3's cell. This is the reference
  meaning; ``RNN`` runs it step by step under the tape (as it runs a user's cell) when
  the fused path does not apply (a subclass that overrides ``call``), and the tests
  check the fused path against it.
* ``run``/``run_backward`` (time-major arrays): the *whole* sequence as one fused op
  whose custom gradient is ``run_backward``. The input projection of all steps is one
  GEMM, the time loop a numba kernel (``core.kernels.recurrent``).

Dropout masks are drawn once per sequence, as Keras' ``DropoutRNNCell``: ``RNN`` draws
them before its step loop and resets them after it; a cell called on its own keeps
them until ``reset_dropout_mask()``.

>>> from core.layers.rnn_lstm import LSTMCell
>>> cell = LSTMCell(3)
>>> cell.build((None, 2))
>>> [w.shape for w in cell.weights]
[(2, 12), (3, 12), (12,)]
"""

from __future__ import annotations

import numpy as np

from core import activations, constraints, initializers, ops, regularizers
from core import random as nw_random
from core.kernels import recurrent as K
from core.layers.base import Layer
from core.layers.spec import Param


def cell_params(gates_doc: str, extra=()) -> tuple:
    return (
        Param("units", "int", None, min=1,
              doc=f"Dimensionality of the output space ({gates_doc})."),
        Param("activation", "activation", "tanh", doc="Activation of the output / candidate."),
    ) + extra + (
        Param("use_bias", "bool", True, doc="Whether to add bias vectors."),
        Param("kernel_initializer", "initializer", "glorot_uniform", advanced=True),
        Param("recurrent_initializer", "initializer", "orthogonal", advanced=True),
        Param("bias_initializer", "initializer", "zeros", advanced=True),
        Param("kernel_regularizer", "regularizer", None, optional=True, advanced=True),
        Param("recurrent_regularizer", "regularizer", None, optional=True, advanced=True),
        Param("bias_regularizer", "regularizer", None, optional=True, advanced=True),
        Param("kernel_constraint", "constraint", None, optional=True, advanced=True),
        Param("recurrent_constraint", "constraint", None, optional=True, advanced=True),
        Param("bias_constraint", "constraint", None, optional=True, advanced=True),
        Param("dropout", "float", 0.0, min=0.0, max=1.0, doc="Input dropout fraction."),
        Param("recurrent_dropout", "float", 0.0, min=0.0, max=1.0,
              doc="Dropout fraction of the recurrent state."),
        Param("seed", "int", None, min=0, optional=True, advanced=True),
    )


_INITS = ("kernel_initializer", "recurrent_initializer", "bias_initializer")
_REGS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer")
_CONS = ("kernel_constraint", "recurrent_constraint", "bias_constraint")
_DROPS = ("dropout", "recurrent_dropout")
_RECURRENT_ACTIVATION = Param("recurrent_activation", "activation", "sigmoid",
                              doc="Activation of the gates.")


def _code(layer_name, what, act):
    code = K.ACT_CODES.get(act.name)
    if code is None:
        raise ValueError(f"Layer '{layer_name}': {what}={act.name!r} is not supported by the "
                         f"recurrent kernels yet; use one of {sorted(K.ACT_CODES)}.")
    return code


class RNNCellBase(Layer):
    """Shared config, weights and the projection GEMMs; subclasses set ``gates``."""

    call_training_default = False  # Keras' cell.call(inputs, states, training=False)
    group = "Recurrent"
    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = self._check("units", units)
        self.activation = activations.get(activation)
        self._act = _code(self.name, "activation", self.activation)
        self.use_bias = self._check("use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.recurrent_regularizer, self.bias_regularizer = \
            self._get_each(regularizers, kernel_regularizer=kernel_regularizer,
                           recurrent_regularizer=recurrent_regularizer,
                           bias_regularizer=bias_regularizer)
        self.kernel_constraint, self.recurrent_constraint, self.bias_constraint = \
            self._get_each(constraints, kernel_constraint=kernel_constraint,
                           recurrent_constraint=recurrent_constraint,
                           bias_constraint=bias_constraint)
        self.dropout = min(1.0, max(0.0, float(self._check("dropout", dropout))))
        self.recurrent_dropout = min(1.0, max(0.0, float(
            self._check("recurrent_dropout", recurrent_dropout))))
        self.seed = self._check("seed", seed)
        self._gen = None if seed is None else np.random.default_rng(seed)
        self.state_size = self.units
        self.output_size = self.units

    @property
    def num_states(self) -> int:
        return 1

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        G, U = self.gates, self.units
        self.kernel = self.add_weight((input_shape[-1], G * U), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            (U, G * U), self.recurrent_initializer, name="recurrent_kernel",
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        self.bias = (self.add_weight(self._bias_shape(), self._bias_init(), name="bias",
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint)
                     if self.use_bias else None)

    # ------------------------------------------------------------------ pieces
    def get_initial_state(self, batch_size=None):
        """Zeros of each state (Keras' cell method)."""
        return [ops.zeros((batch_size, n), dtype=self.dtype) for n in self._state_list()]

    def _state_list(self):
        s = self.state_size
        return list(s) if isinstance(s, (list, tuple)) else [s]

    # ---------------------------------------------------------------- one step
    def _step_dropout(self, inputs, training):
        """``(dm, rm)`` for ``call``: the masks of this sequence (drawn by ``_masks`` on
        first use, so the step path draws exactly what the fused path draws), or
        ``(None, None)`` when not training."""
        if not training:
            return None, None
        cached = self.__dict__.get("_step_masks")
        if cached is None:
            n, f = np.shape(inputs)
            cached = self._masks(n, f, np.asarray(inputs).dtype, True)
            self.__dict__["_step_masks"] = cached
        return cached

    def reset_dropout_mask(self) -> None:
        """Forget the cached dropout masks (the next sequence draws new ones)."""
        self.__dict__["_step_masks"] = None

    reset_recurrent_dropout_mask = reset_dropout_mask

    @classmethod
    def fused(cls) -> bool:
        """True when ``run`` computes what this class's ``call`` does: a subclass that
        overrides ``call`` or ``get_initial_state`` (and not ``run``) steps with ops."""
        def owner(name):
            return next(k for k in cls.__mro__ if name in k.__dict__)
        return owner("call") is owner("run") and owner("get_initial_state") in (
            owner("run"), RNNCellBase)

    # ------------------------------------------------------------------ pieces
    def _split_rk(self):
        """The recurrent kernel and its transpose, both contiguous for BLAS."""
        rk = np.ascontiguousarray(self.recurrent_kernel.value)
        return rk, np.ascontiguousarray(rk.T)

    def _masks(self, N, F, dtype, training):
        """Dropout masks as Keras' DropoutRNNCell: one per sequence, reused every step;
        with recurrent dropout every gate gets its own (Keras' implementation 1)."""
        G, U = self.gates, self.units
        gen = self._gen if self._gen is not None else nw_random.rng()
        per_gate = self.recurrent_dropout > 0

        def draw(rate, shape):
            keep = gen.random(shape) >= rate
            return (keep / (1.0 - rate)).astype(dtype)

        dm = None
        if training and 0.0 < self.dropout < 1.0:
            dm = draw(self.dropout, (G if per_gate else 1, N, F))
        rm = None
        if training and 0.0 < self.recurrent_dropout < 1.0:
            rm = draw(self.recurrent_dropout, (G, N, U))
        return dm, rm

    def _project(self, xt, dm, add_bias=True):
        """``xz`` (T, N, G*U) = (x * dropout) @ kernel + input bias: one GEMM (G with
        per-gate input dropout). ``add_bias=False`` leaves the bias to the time loop
        (the LSTM's adds it in its per-step pass: one pass less over the (T, N, 4U))."""
        T, N, F = xt.shape
        G, U = self.gates, self.units
        W = self.kernel.value
        if dm is None or dm.shape[0] == 1:
            xd = xt if dm is None else xt * dm[0]
            xz = (xd.reshape(T * N, F) @ W).reshape(T, N, G * U)
        else:
            xz = np.empty((T, N, G * U), xt.dtype)
            for g in range(G):
                xg = (xt * dm[g]).reshape(T * N, F)
                xz[:, :, g * U:(g + 1) * U] = (xg @ W[:, g * U:(g + 1) * U]).reshape(T, N, U)
        b = self._input_bias()
        if b is not None and add_bias:
            xz += b
        return xz

    def _input_bias(self):
        return None if self.bias is None else self.bias.value

    def _project_backward(self, xt, dm, dxz, need_input_grad):
        T, N, F = xt.shape
        G, U = self.gates, self.units
        W = self.kernel.value
        d2 = dxz.reshape(T * N, G * U)
        if dm is None or dm.shape[0] == 1:
            xd = xt if dm is None else xt * dm[0]
            self.write_grad_matmul(self.kernel, xd.reshape(T * N, F).T, d2)
            if not need_input_grad:
                return None
            dx = (d2 @ W.T).reshape(T, N, F)
            return dx if dm is None else dx * dm[0]
        dW = np.empty_like(W)
        dx = np.zeros_like(xt) if need_input_grad else None
        for g in range(G):
            sl = slice(g * U, (g + 1) * U)
            dW[:, sl] = (xt * dm[g]).reshape(T * N, F).T @ d2[:, sl]
            if need_input_grad:
                dx += (d2[:, sl] @ W[:, sl].T).reshape(T, N, F) * dm[g]
        self.write_grad(self.kernel, dW)
        return dx

    def _recurrent_grad(self, H, rm, drec, gate_inputs=None):
        """dR of gate g = sum_t (h_{t-1} * rmask_g)^T @ drec_g, one GEMM per gate."""
        T, N, _ = drec.shape
        G, U = self.gates, self.units
        hp = H[:-1]
        if rm is None and gate_inputs is None:  # every gate sees h_{t-1}: one GEMM, no
            dR = hp.reshape(T * N, U).T @ drec.reshape(T * N, G * U)  # column-slice copies
            self.write_grad(self.recurrent_kernel, dR)
            return
        dR = np.empty((U, G * U), drec.dtype)
        for g in range(G):
            a = gate_inputs[g] if gate_inputs is not None else None
            if a is None:
                a = hp if rm is None else hp * rm[g]
            d = drec[:, :, g * U:(g + 1) * U].reshape(T * N, U)
            dR[:, g * U:(g + 1) * U] = a.reshape(T * N, U).T @ d
        self.write_grad(self.recurrent_kernel, dR)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        })
        return config

    def _ordered(self, config, keys):
        """``config`` with the base keys first, then ``keys`` in Keras' order."""
        head = {k: v for k, v in config.items() if k not in keys}
        return {**head, **{k: config[k] for k in keys}}
