"""``Bidirectional(layer, merge_mode="concat", backward_layer=None)`` as Keras 3.

The forward copy is named ``forward_<name>``; without ``backward_layer`` the backward
copy is the same config with ``go_backwards=True``, named ``backward_<name>``. Both get
``zero_output_for_mask = return_sequences``. The backward output sequence is flipped
back to forward time before merging (``concat``, ``sum``, ``mul``, ``ave``, or
``None``: both outputs as a list). ``return_state`` adds the forward states, then the
backward ones; ``initial_state`` is split the same way (first half forward).

>>> import numpy as np
>>> from core.layers import LSTM
>>> Bidirectional(LSTM(3, return_sequences=True))(np.zeros((2, 4, 5), "float32")).shape
(2, 4, 6)
"""

from __future__ import annotations

import numpy as np

from core import ops
from core.layers.rnn_wrapper import RNN
from core.layers.spec import Param, register_nested_layer

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _clone(layer, name, **changes):
    from core.saving.serialization import deserialize_layer, serialize_layer
    config = serialize_layer(layer)
    config["config"].update(name=name, **changes)
    config.pop("build_config", None)
    return deserialize_layer(config)


def _strip(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


# Known to the loaders but not in the palette: the editor cannot yet configure the layer
# it wraps (a layer object, not a Param), so a palette node could never be valid.
@register_nested_layer
class Bidirectional(RNN):
    """Runs a recurrent layer forwards and a copy backwards and merges their outputs."""

    call_training_default = None  # Keras' Bidirectional.call(..., training=None)
    group = "Recurrent"
    params = (Param("merge_mode", "choice", "concat", choices=MERGE_MODES, optional=True,
                    doc="How to combine the two directions' outputs."),)

    def __init__(self, layer=None, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        from core.saving.serialization import deserialize_layer
        if isinstance(layer, dict):
            layer = deserialize_layer(layer)
        if isinstance(backward_layer, dict):
            backward_layer = deserialize_layer(backward_layer)
        if not isinstance(layer, RNN) or isinstance(layer, Bidirectional):
            raise ValueError("Bidirectional needs a recurrent layer (SimpleRNN, LSTM, GRU or "
                             f"RNN); received {layer!r}.")
        super(RNN, self).__init__(**kwargs)
        # A dtype given to the wrapper applies to both directions (float64 checks).
        same = {} if kwargs.get("dtype") is None else {"dtype": self.dtype}
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Layer '{self.name}': invalid merge_mode {merge_mode!r}; "
                             f"expected one of {MERGE_MODES}.")
        if weights is not None:
            raise ValueError(f"Layer '{self.name}': weights= is not supported; call "
                             "set_weights after building.")
        self.forward_layer = _clone(layer, "forward_" + _strip(layer.name, "forward_"), **same)
        if backward_layer is None:
            backward_layer = _clone(layer, "backward_" + _strip(layer.name, "backward_"),
                                    go_backwards=True, **same)
        if not isinstance(backward_layer, RNN):
            raise ValueError(f"Layer '{self.name}': backward_layer must be a recurrent "
                             f"layer; received {backward_layer!r}.")
        self.backward_layer = backward_layer
        f, b = self.forward_layer, self.backward_layer
        if f.go_backwards == b.go_backwards:
            raise ValueError(f"Layer '{self.name}': forward and backward layers need "
                             f"different go_backwards values (both {f.go_backwards}).")
        for a in ("stateful", "return_sequences", "return_state"):
            if getattr(f, a) != getattr(b, a):
                raise ValueError(f"Layer '{self.name}': forward and backward layers differ "
                                 f"in {a} ({getattr(f, a)} vs {getattr(b, a)}).")
        if f.stateful:
            raise ValueError(f"Layer '{self.name}': stateful recurrent layers inside "
                             "Bidirectional are not supported.")
        for ly in (f, b):
            ly.zero_output_for_mask = ly.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = f.return_sequences
        self.return_state = f.return_state
        self.go_backwards = False
        self.stateful = False

    def build(self, input_shape):
        for ly in (self.forward_layer, self.backward_layer):
            ly._maybe_build(input_shape)
            for v in ly.weights:
                v.path = f"{self.name}/{v.path}"

    def _state_count(self, layer):
        return len(layer.compute_output_shape((None, 1, 1))) - 1 if layer.return_state else 0

    def compute_output_shape(self, input_shape):
        f = self.forward_layer.compute_output_shape(input_shape)
        b = self.backward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            (f, *fs), (b, *bs) = f, b
            states = fs + bs
        if self.merge_mode == "concat":
            out = [tuple(f[:-1]) + (f[-1] + b[-1],)]
        elif self.merge_mode is None:
            out = [tuple(f), tuple(b)]
        else:
            out = [tuple(f)]
        out += [tuple(s) for s in states]
        return out if len(out) > 1 else out[0]

    def _state_sizes(self) -> list:
        return [n for ly in (self.forward_layer, self.backward_layer)
                for n in ly._state_sizes()]

    def compute_mask(self, inputs, mask=None):
        """Keras: the input's mask on the output sequence(s), none on last-step outputs
        and states."""
        seq = mask if self.return_sequences else None
        out = [seq, seq] if self.merge_mode is None else [seq]
        if self.return_state:
            out += [None] * len(self._state_sizes())
        return out if len(out) > 1 else out[0]

    def _check_states(self, x, states):
        return None  # each direction checks its half

    def _fused(self) -> bool:
        return self.forward_layer._fused() and self.backward_layer._fused()

    def _run_steps(self, x, states, mask, training):
        """A direction whose cell is not fused (a user's cell): both directions are
        called as layers (each records itself or its ops on the tape) and merged with
        ops, as Keras' ``Bidirectional.call``."""
        f_st = b_st = None
        if states:
            half = len(states) // 2
            f_st, b_st = list(states[:half]), list(states[half:])
        fy = self.forward_layer(x, initial_state=f_st, mask=mask, training=training)
        by = self.backward_layer(x, initial_state=b_st, mask=mask, training=training)
        states = []
        if self.return_state:
            (fy, *fs), (by, *bs) = fy, by
            states = fs + bs
        if self.return_sequences:
            by = ops.flip(by, axis=1)
        mode = self.merge_mode
        if mode == "concat":
            out = [ops.concatenate([fy, by], axis=-1)]
        elif mode == "sum":
            out = [ops.add(fy, by)]
        elif mode == "ave":
            out = [ops.divide(ops.add(fy, by), 2.0)]
        elif mode == "mul":
            out = [ops.multiply(fy, by)]
        else:
            out = [fy, by]
        out += states
        return out if len(out) > 1 else out[0]

    def forward(self, inputs, training=False, mask=None):
        multi = isinstance(inputs, list)
        x = inputs[0] if multi else inputs
        f, b = self.forward_layer, self.backward_layer
        if multi:
            states = inputs[1:]
            half = len(states) // 2
            f_in, b_in = [x] + states[:half], [x] + states[half:]
        else:
            f_in = b_in = x
        fy, fcache = f.forward(f_in, training=training, mask=mask)
        by, bcache = b.forward(b_in, training=training, mask=mask)
        states = []
        if self.return_state:
            (fy, *fs), (by, *bs) = fy, by
            states = fs + bs
        if self.return_sequences:
            by = by[:, ::-1]
        mode = self.merge_mode
        if mode == "concat":
            out = [np.concatenate([fy, by], axis=-1)]
        elif mode == "sum":
            out = [fy + by]
        elif mode == "ave":
            out = [(fy + by) / 2]
        elif mode == "mul":
            out = [fy * by]
        else:
            out = [fy, np.ascontiguousarray(by)]
        out += states
        cache = (multi, fcache, bcache, fy, by, len(f_in) - 1 if multi else 0)
        return (out if len(out) > 1 else out[0]), cache

    def backward(self, cache, grad_outputs, need_input_grad=True):
        multi, fcache, bcache, fy, by, n_f_in = cache
        grads = list(grad_outputs) if isinstance(grad_outputs, list) else [grad_outputs]
        mode = self.merge_mode
        if mode is None:
            gf, gb, rest = grads[0], grads[1], grads[2:]
        else:
            g, rest = grads[0], grads[1:]
            if mode == "concat":
                gf, gb = g[..., :fy.shape[-1]], g[..., fy.shape[-1]:]
            elif mode == "sum":
                gf, gb = g, g
            elif mode == "ave":
                gf = gb = g / 2
            else:
                gf, gb = g * by, g * fy
        if self.return_sequences:
            gb = gb[:, ::-1]
        gf, gb = np.ascontiguousarray(gf), np.ascontiguousarray(gb)
        nfs = self._state_count(self.forward_layer)
        f_out = [gf] + rest[:nfs] if self.return_state else gf
        b_out = [gb] + rest[nfs:] if self.return_state else gb
        if multi:
            need_x, need_s = need_input_grad[0], list(need_input_grad[1:])
            f_need = [need_x] + need_s[:n_f_in]
            b_need = [need_x] + need_s[n_f_in:]
        else:
            f_need = b_need = need_input_grad
        df = self.forward_layer.backward(fcache, f_out, need_input_grad=f_need)
        db = self.backward_layer.backward(bcache, b_out, need_input_grad=b_need)
        if not multi:
            return None if df is None else df + db
        dx = None if df[0] is None else df[0] + db[0]
        return [dx] + list(df[1:]) + list(db[1:])

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        shape = ((config.get("layer") or {}).get("build_config") or {}).get("input_shape")
        layer = super().from_config(config)
        if shape is not None:  # as Keras, which builds the wrapped layer it deserializes
            layer._maybe_build(tuple(shape))
        return layer

    def get_config(self):
        from core.saving.serialization import serialize_layer
        config = super(RNN, self).get_config()
        config["merge_mode"] = self.merge_mode
        config["layer"] = serialize_layer(self.forward_layer)
        config["backward_layer"] = serialize_layer(self.backward_layer)
        return config
