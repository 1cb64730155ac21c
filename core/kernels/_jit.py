"""The one numba decorator the kernels use: ``nogil=True, cache=True`` always.

>>> from core.kernels._jit import njit
>>> kernel = njit(lambda a, b: a + b)   # doctest: +SKIP
>>> njit.__doc__.split()[0]
'``numba.njit``'
"""

from __future__ import annotations

import os

import numba

# Two cores here; let numba use what the machine has unless the user says otherwise.
if "NUMBA_NUM_THREADS" not in os.environ:
    numba.config.NUMBA_NUM_THREADS = max(1, os.cpu_count() or 1)


def njit(fn=None, *, parallel=False, fastmath=False, inline="never", error_model="python"):
    """``numba.njit`` with the house options (nogil, cache) fixed.

    ``error_model="numpy"`` lets float division return inf/nan instead of raising, which
    is what lets LLVM vectorise loops that divide (numpy twins behave the same way).
    """
    opts = dict(nogil=True, cache=True, parallel=parallel, fastmath=fastmath, inline=inline,
                error_model=error_model)
    if fn is None:
        return lambda f: numba.njit(**opts)(f)
    return numba.njit(**opts)(fn)


prange = numba.prange
