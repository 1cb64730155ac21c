"""What ``RNN`` needs to know about a cell, and ``StackedRNNCells``.

A cell is anything Keras 3 accepts: an object with ``call(inputs, states)`` returning
``(output, new_states)`` and a ``state_size`` (an int, or a list of ints: one per
state), optionally ``output_size`` and ``get_initial_state(batch_size)``. Built-in cells
(``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``) also run a whole sequence as one fused op
(``fused_cell``); any other cell is run one step at a time with ``core.ops``
(``core.layers.rnn_loop``).

>>> from core.layers.rnn_lstm import LSTMCell
>>> from core.layers.rnn_simple import SimpleRNNCell
>>> stack = StackedRNNCells([LSTMCell(3), SimpleRNNCell(2)])
>>> state_sizes(stack), output_size(stack), fused_cell(stack)
([3, 3, 2], 2, True)
"""

from __future__ import annotations

import functools
import inspect

from core import ops
from core.layers.base import Layer
from core.layers.spec import register_nested_layer


def check_cell(cell, owner: str) -> None:
    """Keras' checks of a cell, as errors that name ``owner`` and the cell."""
    what = f"{type(cell).__name__}" + (f" '{cell.name}'" if isinstance(cell, Layer) else "")
    has_call = (type(cell).call is not Layer.call) if isinstance(cell, Layer) \
        else callable(getattr(cell, "call", None))
    if not has_call:
        raise ValueError(
            f"{owner}: the cell {what} has no `call(inputs, states)` method. An RNN cell "
            "defines `call(inputs, states)` returning `(output, new_states)` and a "
            f"`state_size` attribute. Received: cell={cell!r}")
    size = getattr(cell, "state_size", None)
    sizes = size if isinstance(size, (list, tuple)) else [size]
    if size is None or not sizes or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(
            f"{owner}: the cell {what} needs a `state_size` attribute, a positive int or "
            f"a list of them (one per state tensor), set in its __init__; received "
            f"state_size={size!r}.")


def state_sizes(cell) -> list:
    """The cell's state sizes as one flat list (a stack's cells one after the other)."""
    if isinstance(cell, StackedRNNCells):
        return [s for c in cell.cells for s in state_sizes(c)]
    s = cell.state_size
    return list(s) if isinstance(s, (list, tuple)) else [s]


def output_size(cell) -> int:
    """``cell.output_size``, else its first state's size (Keras' rule)."""
    size = getattr(cell, "output_size", None)
    return state_sizes(cell)[0] if size is None else size


def cells_of(cell) -> list:
    return list(cell.cells) if isinstance(cell, StackedRNNCells) else [cell]


def fused_cell(cell) -> bool:
    """True when every cell runs its whole sequence as one fused op whose meaning is its
    step ``call`` (built-in cells whose subclass keeps their ``call``)."""
    if isinstance(cell, StackedRNNCells):
        return all(_fused_class(type(c)) for c in cell.cells)
    return _fused_class(type(cell))


@functools.cache  # asked on every call of the layer; a class's answer never changes
def _fused_class(cls) -> bool:
    return callable(getattr(cls, "fused", None)) and cls.fused()


def flatten_states(states) -> list:
    if isinstance(states, (list, tuple)):
        return [s for item in states for s in flatten_states(item)]
    return [states]


def pack_states(cell, flat) -> list:
    """The flat states in the structure ``cell.call`` takes: a list, and for a stack one
    entry per cell (a list when that cell's ``state_size`` is a list), as Keras."""
    if not isinstance(cell, StackedRNNCells):
        return list(flat)
    out, k = [], 0
    for c in cell.cells:
        n = len(state_sizes(c))
        out.append(list(flat[k:k + n]) if isinstance(c.state_size, (list, tuple))
                   else flat[k])
        k += n
    return out


def call_cell(cell, inputs, states, training):
    """One step of ``cell``: a layer through ``Layer.__call__`` (so it builds, checks
    shapes and is noted on the tape), ``training`` when its ``call`` takes it."""
    if isinstance(cell, Layer):
        return cell(inputs, states, training=training)
    params = inspect.signature(cell.call).parameters
    takes = "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    return cell.call(inputs, states, **({"training": training} if takes else {}))


def initial_states(cell, batch_size, dtype) -> list:
    """``cell.get_initial_state(batch_size)`` flattened, zeros without one."""
    get = getattr(cell, "get_initial_state", None)
    if get is None:
        return [ops.zeros((batch_size, n), dtype=dtype) for n in state_sizes(cell)]
    return flatten_states(get(batch_size=batch_size))


@register_nested_layer
class StackedRNNCells(Layer):
    """Cells run one after the other (each one's output feeds the next), as Keras 3.

    ``state_size`` here is the flat list of every cell's states (Keras nests it per
    cell); ``call`` takes and returns Keras' nested structure."""

    call_training_default = False  # Keras' StackedRNNCells.call(..., training=False)
    group = "Recurrent"
    params = ()

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        self.cells = [_deserialize_cell(c) for c in cells]
        if not self.cells:
            raise ValueError(f"Layer '{self.name}': needs at least one cell.")
        for c in self.cells:
            check_cell(c, f"Layer '{self.name}'")

    @property
    def state_size(self):
        return state_sizes(self)

    @property
    def output_size(self):
        return output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None):
        """Keras' nested initial states: one entry per cell."""
        return pack_states(self, [s for c in self.cells
                                  for s in initial_states(c, batch_size, self.dtype)])

    def build(self, input_shape):
        dim = input_shape[-1]
        for c in self.cells:
            if isinstance(c, Layer) and not c.built:  # a deserialized cell may come built
                c.build((None, dim))
                c._build_input_shape = (None, dim)
            dim = output_size(c)

    def call(self, inputs, states, training=False):
        """One step of every cell, in order (Keras' ``StackedRNNCells.call``)."""
        new_states = []
        for cell, s in zip(self.cells, states):
            is_list = isinstance(s, (list, tuple))
            inputs, s = call_cell(cell, inputs, list(s) if is_list else [s], training)
            s = list(s) if isinstance(s, (list, tuple)) else [s]
            new_states.append(s[0] if len(s) == 1 and not is_list else s)
        return inputs, new_states[0] if len(new_states) == 1 else new_states

    def get_config(self):
        from core.saving.serialization import serialize_layer
        config = super().get_config()
        config["cells"] = [serialize_layer(c) for c in self.cells]
        return config


def _deserialize_cell(cell):
    if isinstance(cell, dict):
        from core.saving.serialization import deserialize_layer
        return deserialize_layer(cell)
    return cell
