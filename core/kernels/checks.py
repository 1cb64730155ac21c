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

from core.kernels import _cold
from core.kernels._jit import njit, prange

CHUNK = 1 << 16
# Below this many values one thread is faster: starting a parallel region costs
# ~5 us while the pool spins but ~180 us once its threads sleep (measured on a
# 784-value batch), and one thread checks ~8 values per ns.
PARALLEL_MIN = 1 << 21


@njit(error_model="numpy")
def finite_serial(a):
    """``all_finite`` on one thread, for small arrays already in cache (a batch's
    layer output): no parallel region to start, ~3 us for 256x128 float32."""
    ok = True
    for i in range(a.shape[0]):
        v = a[i]
        ok &= (v - v) == 0  # inf - inf and NaN - NaN are NaN; branch-free, so it vectorises
    return ok


def all_finite(flat) -> bool:
    """True when the 1-D C-contiguous float array ``flat`` holds no NaN and no inf."""
    if flat.shape[0] < PARALLEL_MIN:
        return finite_serial(flat)
    return finite_parallel(flat)


@njit(parallel=True)
def finite_parallel(flat):
    """``all_finite`` over chunks on every core, for arrays of ``PARALLEL_MIN`` or more."""
    n = flat.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    ok = np.ones(chunks, np.bool_)
    for c in prange(chunks):
        s = c * CHUNK
        ok[c] = finite_serial(flat[s:min(n, s + CHUNK)])  # a slice per chunk vectorises
    return ok.all()


def all_finite_ref(flat) -> bool:
    """Numpy twin of ``finite_parallel`` and ``finite_serial``."""
    return bool(np.isfinite(flat).all())


def warmup() -> None:
    """Compile (or load from cache) the float32 and float64 checks."""
    for dtype in (np.float32, np.float64):
        finite_parallel(np.zeros(3, dtype))
        finite_serial(np.zeros(3, dtype))


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
_cold.wrap(globals(), ["finite_serial", "finite_parallel"],
           {"finite_serial": all_finite_ref, "finite_parallel": all_finite_ref})
