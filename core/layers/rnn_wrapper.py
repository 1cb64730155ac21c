"""``RNN(cell)`` and the factory of the flat layers (``LSTM``...).

Any Keras cell works (``call(inputs, states)`` and ``state_size``, a list of cells
stacks them; ``core.layers.rnn_stacked``). Built-in cells run the whole sequence as one
fused op (time-major, reversed for ``go_backwards``) whose custom gradient is the
hand-written ``backward`` (through time); any other cell runs one ``call`` per step with
``core.ops`` under the tape (``core.layers.rnn_loop``, which is also the reference the
fused op is tested against). Call
arguments as Keras 3: ``layer(x, initial_state=[...], mask=m, training=...)``;
``mask`` (batch, time) bool: skipped steps carry the states and repeat the last
output (zeros with ``zero_output_for_mask``, which ``Bidirectional`` sets). With
``initial_state`` the tape sees ``[x, *states]`` as the inputs, so their gradients
flow. ``return_state`` gives ``[output, *states]`` (flattened over stacked cells).
``stateful=True`` (Keras' cross-batch statefulness) starts each call from the states the
last call ended with, ``layer.states``, for a fixed batch size; ``reset_state()``
zeroes them. As in Keras they are not weights and no gradient crosses batches.

>>> import numpy as np
>>> from core.layers.rnn_lstm import LSTMCell
>>> y, h, c = RNN(LSTMCell(3), return_state=True)(np.zeros((2, 4, 5), "float32"))
>>> y.shape, c.shape
((2, 3), (2, 3))
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.layers import masks as _masks
from core.layers.base import Layer
from core.layers.mask_attr import expose
from core.layers.rnn_loop import run_steps
from core.layers.rnn_stacked import (
    StackedRNNCells,
    _deserialize_cell,
    cells_of,
    check_cell,
    flatten_states,
    fused_cell,
    initial_states,
    output_size,
    state_sizes,
)
from core.layers.spec import Param, check, register_nested_layer
from core.layers.values import _as_arrays, _is_symbolic

RNN_PARAMS = (
    Param("return_sequences", "bool", False, doc="Return the whole output sequence."),
    Param("return_state", "bool", False, doc="Also return the last states."),
    Param("go_backwards", "bool", False, doc="Process the sequence backwards (and return "
                                              "the reversed sequence)."),
    Param("stateful", "bool", False, advanced=True,
          doc="Each batch starts from the last batch's final states (fixed batch size)."),
    Param("unroll", "bool", False, advanced=True, doc="Accepted and ignored."),
    Param("zero_output_for_mask", "bool", False, advanced=True,
          doc="Zeros instead of the previous output at masked steps."),
)
_RNN_KEYS = tuple(p.name for p in RNN_PARAMS)


@register_nested_layer
class RNN(Layer):
    """Base recurrent layer around a cell (or a list of cells)."""

    call_takes_mask = True
    call_training_default = False  # Keras' RNN.call(..., training=False); so its subclasses
    group = "Recurrent"
    params = RNN_PARAMS

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            for c in cell:  # errors name this layer, not the stack made for it
                if not isinstance(c, dict):
                    check_cell(c, f"Layer '{self.name}'")
            cell = StackedRNNCells(cell)
        self.cell = _deserialize_cell(cell)
        check_cell(self.cell, f"Layer '{self.name}'")
        for key, value in zip(_RNN_KEYS, (return_sequences, return_state, go_backwards,
                                          stateful, unroll, zero_output_for_mask)):
            setattr(self, key, self._check(key, value))
        self.states = None  # stateful: the states the next call starts from
        self._batch_size = None

    # ---------------------------------------------------------------- shapes
    def _own_trainable_variables(self):
        # The weights live on the cell(s), but this layer's backward writes their grads.
        return self.trainable_weights

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"Layer '{self.name}' expects input of shape (batch, time, "
                             f"features), received input with shape {tuple(input_shape)}")
        if self.stateful:
            batch = input_shape[0] if input_shape[0] is not None else self._batch_size
            if batch is None:
                raise ValueError(
                    f"Layer '{self.name}': when using `stateful=True` in a RNN, the batch "
                    f"size must be static. Found dynamic batch size: sequence.shape="
                    f"{tuple(input_shape)}. Give the Input a batch_size.")
            self._batch_size = batch
            self.reset_state()
        if isinstance(self.cell, StackedRNNCells):
            self.cell.build(input_shape)
        elif isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build((None, input_shape[-1]))
            self.cell._build_input_shape = (None, input_shape[-1])
        if isinstance(self.cell, Layer):
            self.cell.built = True
        for c in cells_of(self.cell):
            if not isinstance(c, Layer):
                continue
            c.built = True
            for v in c.weights:
                v.path = "/".join(p for p in (self.name, *(
                    [self.cell.name] if c is not self.cell else []), c.name, v.name))

    def compute_output_shape(self, input_shape):
        n, t = input_shape[0], input_shape[1]
        units = output_size(self.cell)
        out = (n, t, units) if self.return_sequences else (n, units)
        if self.return_state:
            return [out] + [(n, s) for s in state_sizes(self.cell)]
        return out

    # ------------------------------------------------------------------ call
    def __call__(self, inputs, initial_state=None, mask=None, training=None, **kwargs):
        if isinstance(inputs, (list, tuple)) and initial_state is None and len(inputs) > 1:
            inputs, initial_state = inputs[0], list(inputs[1:])  # Keras 2's list form
        if _is_symbolic(inputs) or _is_symbolic(initial_state) or _is_symbolic(mask):
            if mask is not None:
                raise ValueError(
                    f"Layer '{self.name}': mask= on symbolic tensors is not supported; the "
                    "mask of Embedding(mask_zero=True) or Masking reaches this layer by itself.")
            if initial_state is None:
                return super().__call__(inputs, training=training, **kwargs)
            return self._symbolic_call_with_states(inputs, initial_state, kwargs)
        if training is None:
            training = bool(getattr(backend._state, "training", False))
        riding = _masks.get_mask(inputs)  # from Embedding(mask_zero) or Masking
        if mask is None and initial_state is None:
            # Keras fills ``mask`` in only for a call on one tensor: given initial
            # states, the layer runs every step (the output still carries the mask).
            mask = riding
        x = _as_arrays(inputs, self.dtype)
        self._maybe_build(tuple(x.shape))
        self._validate_input_shape(tuple(x.shape))
        if initial_state is None and self.stateful:
            if x.shape[0] != self._batch_size:
                raise ValueError(
                    f"Layer '{self.name}': if an RNN is stateful, the batch size of the input "
                    f"sequences must be the same as the batch size of the initial state. "
                    f"Expected batch size: {self._batch_size}, received: {x.shape[0]}.")
            initial_state = self.states
        if initial_state is not None:
            # flat, or Keras' nested form for stacked cells ([[h1, c1], h2])
            states = [_as_arrays(s, self.dtype) for s in flatten_states(initial_state)]
            packed = [x] + states
        else:
            packed = x
        if self._fused():  # one op: the fused kernels, their backward its gradient
            tape = backend.get_tape()
            outputs, cache = self.forward(packed, training=training, mask=mask)
            if tape is not None:
                tape.record(self, packed, outputs, cache)
        else:  # the cell's own call, step by step with ops (rnn_loop)
            outputs = self._run_steps(x, None if initial_state is None else packed[1:],
                                      mask, training)
        if self.activity_regularizer is not None:
            backend.add_activity_loss(outputs, self.activity_regularizer)
        carried = mask if mask is not None else riding
        _masks.attach(self, x, outputs, carried)
        return outputs if carried is None else expose(outputs)

    def _fused(self) -> bool:
        return fused_cell(self.cell)

    def _validate_input_shape(self, input_shape) -> None:
        # As Keras' RNN (no input_spec): any sequence length; rank and features checked.
        built, shape = self._build_input_shape, tuple(input_shape)
        if built is None or isinstance(built, list):
            return super()._validate_input_shape(input_shape)
        if len(shape) != len(built) or (built[-1] is not None and shape[-1] != built[-1]):
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                f"shape {tuple(built)}, but received input with shape {shape}")

    def _run_steps(self, x, states, mask, training):
        if mask is not None and np.shape(mask) != tuple(np.shape(x)[:2]):
            raise ValueError(f"Layer '{self.name}': mask has shape {np.shape(mask)}, "
                             f"expected (batch, time) = {tuple(np.shape(x)[:2])}.")
        return run_steps(self, x, states, mask, training)

    def get_initial_state(self, batch_size):
        """The states a call without ``initial_state`` starts from (one flat list):
        the cell's ``get_initial_state``, or zeros."""
        return initial_states(self.cell, batch_size, self.dtype)

    def _maybe_build(self, input_shape) -> None:
        if self.stateful and not self.built:  # the base replaces the batch size by None;
            self._batch_size = input_shape[0]  # a stateful layer's build config keeps it,
            super()._maybe_build(input_shape)  # as Keras needs to rebuild it from a file
            self._build_input_shape = (self._batch_size,) + tuple(self._build_input_shape[1:])
            return
        super()._maybe_build(input_shape)

    def get_build_config(self):
        """Keras' ``{"input_shape": ...}``, or after a call with ``initial_state``
        ``{"shapes_dict": {"sequences_shape", "initial_state_shape"}}``."""
        if not self.built or self._build_input_shape is None:
            return None
        states = getattr(self, "_initial_state_shapes", None)
        if not states:
            return {"input_shape": list(self._build_input_shape)}
        return {"shapes_dict": {"sequences_shape": list(self._build_input_shape),
                                "initial_state_shape": states}}

    def build_from_config(self, config):
        d = config.get("shapes_dict") or {}
        if d.get("sequences_shape") is not None:
            self._maybe_build(tuple(d["sequences_shape"]))
            self._initial_state_shapes = d.get("initial_state_shape")

    def reset_state(self) -> None:
        """Zero the stateful layer's states (Keras' ``reset_state``)."""
        if self.stateful and self._batch_size is not None:
            self.states = [np.zeros((self._batch_size, n), self.dtype)
                           for n in state_sizes(self.cell)]

    reset_states = reset_state  # Keras' compatibility alias

    def compute_mask(self, inputs, mask=None):
        """Keras: the input's mask on the output sequence (``return_sequences``), none on
        a last-step output or on the states."""
        out = mask if self.return_sequences else None
        return [out] + [None] * len(self._state_sizes()) if self.return_state else out

    def _state_sizes(self) -> list:
        return state_sizes(self.cell)

    def _symbolic_call_with_states(self, inputs, initial_state, kwargs):
        """``layer(x, initial_state=[h, c])`` in a functional model: one node whose inputs
        are ``[x, h, c]`` (run as Keras 2's list form), written back to a file as Keras 3
        does, ``args=[x]`` and ``kwargs={"initial_state": [h, c]}``."""
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
            else [initial_state]
        if not _is_symbolic(inputs) or not all(_is_symbolic(s) for s in states):
            raise ValueError(f"Layer '{self.name}': the input and every initial state must "
                             "all be symbolic tensors (keras.Input or layer outputs) or all "
                             "be arrays.")
        shape = tuple(inputs.shape)
        self._maybe_build(shape)
        self._validate_input_shape(shape)
        sizes = self._state_sizes()
        got = [tuple(s.shape) for s in states]
        if len(got) != len(sizes) or any(len(g) != 2 or g[1] != n for g, n in zip(got, sizes)):
            raise ValueError(f"Layer '{self.name}' expects {len(sizes)} initial state(s) of "
                             f"shapes {[(None, n) for n in sizes]}, but received {got}.")
        # Keras builds from both shapes then and writes them as its build config.
        self._initial_state_shapes = [list(g) for g in got]
        node = self._add_node([inputs] + states,
                              self.compute_output_shape((None,) + shape[1:]), kwargs)
        node.tensor_kwargs = {"initial_state": len(states)}
        return node.output_tensors_as_called

    def call(self, inputs, training=False, mask=None, initial_state=None):
        return self(inputs, initial_state=initial_state, mask=mask, training=training)

    def _time_major(self, x):
        xt = x.transpose(1, 0, 2)
        return np.ascontiguousarray(xt[::-1] if self.go_backwards else xt)

    def _check_states(self, x, states):
        sizes = state_sizes(self.cell)
        if len(states) != len(sizes):
            raise ValueError(f"Layer '{self.name}' expects {len(sizes)} initial state(s) of "
                             f"sizes {sizes}, but received {len(states)}.")
        for s, size in zip(states, sizes):
            if s.shape != (x.shape[0], size):
                raise ValueError(f"Layer '{self.name}': initial state has shape {s.shape}, "
                                 f"expected {(x.shape[0], size)}.")

    def forward(self, inputs, training=False, mask=None):
        multi = isinstance(inputs, list)
        x = inputs[0] if multi else inputs
        N, T, _ = x.shape
        states = list(inputs[1:]) if multi else [np.zeros((N, s), x.dtype)
                                                 for s in state_sizes(self.cell)]
        self._check_states(x, states)
        if mask is None:
            m = np.ones((T, N), np.uint8)
        else:
            mask = np.asarray(mask)
            if mask.shape != (N, T):
                raise ValueError(f"Layer '{self.name}': mask has shape {mask.shape}, expected "
                                 f"(batch, time) = {(N, T)}.")
            m = np.ascontiguousarray(mask.astype(bool).T.astype(np.uint8))
            if self.go_backwards:
                m = np.ascontiguousarray(m[::-1])
        seq = self._time_major(x)
        caches, finals, k = [], [], 0
        for c in cells_of(self.cell):
            n = len(state_sizes(c))
            seq, st, cc = c.run(seq, [np.ascontiguousarray(s) for s in states[k:k + n]],
                                m, training)
            caches.append(cc)
            finals.extend(st)
            k += n
        if self.stateful:  # new arrays: the tape may still hold the old ones
            self.states = [s.copy() for s in finals]
        if self.zero_output_for_mask and mask is not None:
            seq = seq * m[:, :, None]
        y = np.ascontiguousarray(seq.transpose(1, 0, 2)) if self.return_sequences \
            else seq[-1].copy()
        cache = (multi, x.shape, m, caches, mask is not None)
        if self.return_state:
            return [y] + [s.copy() for s in finals], cache
        return y, cache

    def backward(self, cache, grad_outputs, need_input_grad=True):
        multi, xshape, m, caches, masked = cache
        N, T, _ = xshape
        grads = grad_outputs if self.return_state else [grad_outputs]
        dy = grads[0]
        U = self.cell.output_size
        if self.return_sequences:
            dout = np.ascontiguousarray(dy.transpose(1, 0, 2))
        else:
            dout = np.zeros((T, N, U), dy.dtype)
            dout[-1] = dy
        if self.zero_output_for_mask and masked:
            dout = dout * m[:, :, None]
        sizes = state_sizes(self.cell)
        dstates = list(grads[1:]) if self.return_state else [None] * len(sizes)
        dstates = [np.zeros((N, s), dy.dtype) if g is None else g
                   for g, s in zip(dstates, sizes)]
        need_x = need_input_grad[0] if multi else need_input_grad
        cells = cells_of(self.cell)
        d0 = [None] * len(sizes)
        k = len(sizes)
        for i in range(len(cells) - 1, -1, -1):
            c = cells[i]
            n = len(state_sizes(c))
            dout, d0[k - n:k] = c.run_backward(caches[i], dout, dstates[k - n:k],
                                               need_x or i > 0)
            k -= n
        dx = None
        if need_x:
            dxt = dout[::-1] if self.go_backwards else dout
            dx = np.ascontiguousarray(dxt.transpose(1, 0, 2))
        return [dx] + d0 if multi else dx

    # ---------------------------------------------------------------- config
    def get_config(self):
        from core.saving.serialization import serialize_layer
        config = super().get_config()
        config.update({k: getattr(self, k) for k in _RNN_KEYS})
        config["cell"] = serialize_layer(self.cell)
        return config


def flat_rnn_layer(class_name: str, cell_cls, cell_name: str, doc: str, keys: tuple):
    """A Keras flat layer (``LSTM(units, ...)``): an ``RNN`` whose config holds its cell's
    arguments (``keys``, in Keras' order) instead of a ``cell`` entry."""
    base_keys = {"name", "trainable", "dtype", "input_shape", "input_dim",
                 "batch_input_shape", "batch_size", "autocast", "activity_regularizer"}

    def __init__(self, units, **kwargs):
        rnn_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in _RNN_KEYS or k in base_keys}
        kwargs.pop("use_cudnn", None)  # Keras' cuDNN switch: no meaning here
        units_param = next(p for p in cell_cls.params if p.name == "units")
        units = check(rnn_kw.get("name") or class_name, units_param, units)
        cell_kw = {k: rnn_kw[k] for k in ("dtype", "trainable") if k in rnn_kw}
        cell = cell_cls(units, name=cell_name, **cell_kw, **kwargs)
        RNN.__init__(self, cell, **rnn_kw)

    def get_config(self):
        config = RNN.get_config(self)
        del config["cell"]
        cell_config = self.cell.get_config()
        for k in ("name", "trainable", "dtype"):
            cell_config.pop(k, None)
        cell_config.setdefault("activity_regularizer", config.pop("activity_regularizer", None))
        config.update({k: cell_config[k] for k in keys})
        return config

    def __getattr__(self, key):
        # Keras exposes the cell's arguments on the layer (``lstm.units``).
        if key.startswith("_") or "cell" not in self.__dict__:
            raise AttributeError(key)
        return getattr(self.__dict__["cell"], key)

    params = tuple(cell_cls.params) + RNN_PARAMS
    return type(class_name, (RNN,), {
        "__init__": __init__, "get_config": get_config, "__getattr__": __getattr__,
        "params": params, "__doc__": doc, "__module__": cell_cls.__module__,
        "group": "Recurrent"})
