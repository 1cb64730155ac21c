"""``ScratchBuffers``: reusable work arrays of one layer (Conv2D, pooling,
BatchNormalization and the fused conv + pool step).

>>> bufs = ScratchBuffers()
>>> a, fresh = bufs.get("dx", -1, (2, 3), "float32")
>>> b, again = bufs.get("dx", -1, (2, 3), "float32")
>>> fresh, again, a is b
(True, False, True)
"""

from __future__ import annotations

import numpy as np

from core import aligned, backend


class ScratchBuffers:
    """Reusable work arrays of one layer: freshly allocated big buffers page-fault
    on every step, which costs more than the arithmetic on this hardware.

    A buffer belongs to a *slot*: the n-th call of the layer within the current
    tape step (a layer shared twice in one model keeps two sets, because the first
    call's cache must survive until backward), or slot -1 for calls outside a tape
    (inference). A cache is therefore valid until the same slot runs forward again.
    """

    def __init__(self):
        self._arrays: dict[tuple, np.ndarray] = {}
        self._step = None
        self._next = 0

    def slot(self) -> int:
        tape = backend.get_tape()
        if tape is None:
            return -1
        if tape.step != self._step:
            self._step, self._next = tape.step, 0
        slot = self._next
        self._next += 1
        return slot

    def get(self, name: str, slot, shape, dtype) -> tuple[np.ndarray, bool]:
        """``(array, fresh)``: the buffer for ``(name, slot)`` with this shape/dtype."""
        key = (name, slot)
        arr = self._arrays.get(key)
        if arr is not None and arr.shape == tuple(shape) and arr.dtype == dtype:
            return arr, False
        arr = aligned.empty(shape, dtype)  # (kernels' outputs: see core.aligned)
        self._arrays[key] = arr
        return arr, True

    def clear(self) -> None:
        self._arrays.clear()
