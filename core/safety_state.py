"""The "last good state" of a training run: weights *and* optimizer slots *and* the
iteration count, copied into buffers allocated once and restored in place.

Restoring only the weights after a NaN leaves the optimizer's moments (Adam's m
and v, SGD's momentum) and its step counter at their NaN-era values, so the next
``fit`` (or an exported ``.keras``) continues from a poisoned state. A snapshot
taken before the optimizer built its slots restores those slots to zero (what a
fresh optimizer has), which is exactly the state the snapshot saw.

>>> snap = StateSnapshot()
>>> snap.take(model)            # doctest: +SKIP
>>> snap.restore(model)         # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np


def state_variables(model) -> list:
    """Model weights then optimizer variables (iterations first), each once."""
    out, seen = [], set()
    opt = getattr(model, "optimizer", None)
    for v in list(model.weights) + list(getattr(opt, "variables", None) or []):
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


class StateSnapshot:
    """One copy of a model's training state; ``take`` reuses its buffers when the set
    of variables is unchanged (no allocation per step)."""

    def __init__(self):
        self.variables: list = []
        self.buffers: list[np.ndarray] = []
        self.taken = False

    def take(self, model) -> None:
        current = state_variables(model)
        if [id(v) for v in current] != [id(v) for v in self.variables]:
            self.variables = current
            self.buffers = [np.empty_like(np.asarray(v.value)) for v in current]
        for buf, v in zip(self.buffers, self.variables):
            np.copyto(buf, v.value)
        self.taken = True

    def finite(self) -> bool:
        return all(not np.issubdtype(b.dtype, np.floating) or np.isfinite(b).all()
                   for b in self.buffers)

    def restore(self, model) -> None:
        """Copy the snapshot back in place; optimizer variables created after it was
        taken go back to zero (a step counter and slots not yet used)."""
        if not self.taken:
            return
        for buf, v in zip(self.buffers, self.variables):
            np.copyto(v.value, buf)
        known = {id(v) for v in self.variables}
        for v in state_variables(model):
            if id(v) not in known:
                v.value[...] = 0
