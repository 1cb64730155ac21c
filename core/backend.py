"""Process-wide engine settings and per-thread state.

Mirrors the small part of ``keras.backend`` that user code touches
(``floatx``, ``epsilon``, ``clear_session``) plus the thread-local state the
engine needs: the active autodiff tape and the unique-name counters.

>>> from core import backend
>>> backend.floatx()
'float32'
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict

import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7

class _ThreadState(threading.local):
    """Per-thread engine state. The class attributes are the defaults every thread
    starts from: reading an attribute a thread never set then finds the class value,
    where ``getattr(plain_local, name, default)`` raised and caught an AttributeError
    first (~3 us, paid by every op and layer call)."""

    tape = None
    training = False
    grad_step = None
    activity = None


_state = _ThreadState()
_name_lock = threading.Lock()
_name_counts: dict[str, int] = defaultdict(int)


def floatx() -> str:
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type (``'float32'`` or ``'float64'``)."""
    global _FLOATX
    if value not in ("float16", "float32", "float64"):
        raise ValueError(f"Unknown floatx type: {value!r}; expected 'float32' or 'float64'.")
    _FLOATX = value


def epsilon() -> float:
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def standardize_dtype(dtype) -> str:
    if dtype is None:
        return floatx()
    if isinstance(dtype, dict):  # Keras 3 DTypePolicy config
        dtype = dtype.get("config", {}).get("name", floatx())
    name = np.dtype(dtype).name
    return name


def to_snake_case(name: str) -> str:
    """``Conv2D`` -> ``conv2d``, ``BatchNormalization`` -> ``batch_normalization`` (Keras' rule)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def unique_name(base: str) -> str:
    """Keras' auto-naming: ``dense``, ``dense_1``, ``dense_2``... per process."""
    with _name_lock:
        n = _name_counts[base]
        _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def clear_session() -> None:
    """Reset auto-naming counters (as ``keras.backend.clear_session``)."""
    with _name_lock:
        _name_counts.clear()


def add_activity_loss(outputs, regularizer) -> None:
    """Note ``regularizer``'s penalty on a layer's ``outputs`` for the running train or
    test step (``collect_activity_losses``); outside a step, nothing is kept."""
    collected = getattr(_state, "activity", None)
    if collected is not None:
        for out in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
            collected.append((out, regularizer))


def add_loss_value(value) -> None:
    """Note a layer's ``add_loss`` value for the running train or test step; it is
    collected beside the activity penalties as ``(value, None)``."""
    collected = getattr(_state, "activity", None)
    if collected is not None:
        collected.append((value, None))


class collect_activity_losses:
    """``with collect_activity_losses() as found:`` gathers ``(output, regularizer)``
    pairs from the layer calls inside, on this thread."""

    def __enter__(self):
        self._previous = getattr(_state, "activity", None)
        _state.activity = []
        return _state.activity

    def __exit__(self, *exc):
        _state.activity = self._previous
        return False


def get_tape():
    """The tape recording layer calls on this thread, or None."""
    return getattr(_state, "tape", None)


def set_tape(tape) -> None:
    _state.tape = tape
