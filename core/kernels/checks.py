"""Data checks that run on every ``fit``/``evaluate``/``predict`` call.

``all_finite`` answers "is there a NaN or inf anywhere?" in one parallel pass
with no temporary array. The previous ``min()`` + ``max()`` took two passes:
2.2 ms of a 17 ms ``predict`` over the 10,000 Fashion-MNIST test images.

>>> import numpy as np
>>> all_finite(np.array([1.0, 2.0], "float32")), all_finite(np.array([1.0, np.nan]))
(True, False)
"""

from __future__ import annotations

import numpy as np

from core.kernels._jit import njit, prange

CHUNK = 1 << 16


@njit(error_model="numpy")
def _finite_run(a):
    ok = True
    for i in range(a.shape[0]):
        v = a[i]
        ok &= (v - v) == 0  # inf - inf and NaN - NaN are NaN; branch-free, so it vectorises
    return ok


@njit(parallel=True)
def all_finite(flat):
    """True when the 1-D C-contiguous float array ``flat`` holds no NaN and no inf."""
    n = flat.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    ok = np.ones(chunks, np.bool_)
    for c in prange(chunks):
        s = c * CHUNK
        ok[c] = _finite_run(flat[s:min(n, s + CHUNK)])  # a slice per chunk vectorises
    return ok.all()


def all_finite_ref(flat) -> bool:
    """Numpy twin of ``all_finite``."""
    return bool(np.isfinite(flat).all())


def warmup() -> None:
    """Compile (or load from cache) the float32 and float64 checks."""
    all_finite(np.zeros(3, np.float32))
    all_finite(np.zeros(3, np.float64))
