"""Weight-regularizer kernels: the L1/L2 penalty and its gradient, in one pass each.

``penalty(x, l1, l2)`` = ``l1 * sum(|x|) + l2 * sum(x**2)`` (Keras' ``L1``, ``L2``,
``L1L2``), summed in float64. ``penalty_grad(x, grad, l1, l2, accumulate)`` writes
``l1 * sign(x) + 2 * l2 * x`` into ``grad`` (adds it when ``accumulate``): it is the
VJP of the penalty op (``core.regularizers``, with ``l1``/``l2`` already scaled by
the upstream gradient), written straight into the weight's gradient buffer, because
numpy would allocate temporaries the size of the weight every step (2.7 MB for the
seed CNN's Dense). Both take flat C-contiguous arrays.

>>> import numpy as np
>>> x = np.array([-2.0, 0.0, 3.0], "float32")
>>> float(penalty(x, 0.5, 0.1))  # doctest: +SKIP
3.8
"""

from __future__ import annotations

import numpy as np

from core.kernels._jit import njit


@njit
def penalty(x, l1, l2):
    s1 = 0.0
    s2 = 0.0
    for i in range(x.size):
        v = np.float64(x[i])
        s1 += abs(v)
        s2 += v * v
    return l1 * s1 + l2 * s2


def penalty_ref(x, l1, l2):
    x = x.astype(np.float64)
    return float(l1 * np.abs(x).sum() + l2 * np.square(x).sum())


@njit
def penalty_grad(x, grad, l1, l2, accumulate):
    b = 2.0 * l2
    # Two loops, the branch outside: a test inside the loop kept LLVM from
    # vectorising it (10x slower on a 1.6 MB kernel).
    if accumulate:
        for i in range(x.size):
            v = x[i]
            s = l1 if v > 0 else (-l1 if v < 0 else 0.0)  # sign(0) = 0, as d|x|/dx in Keras
            grad[i] += s + b * v
    else:
        for i in range(x.size):
            v = x[i]
            s = l1 if v > 0 else (-l1 if v < 0 else 0.0)
            grad[i] = s + b * v


def penalty_grad_ref(x, grad, l1, l2, accumulate):
    g = (l1 * np.sign(x) + 2.0 * l2 * x).astype(grad.dtype)
    if accumulate:
        grad += g
    else:
        grad[...] = g


def warmup() -> None:
    """Compile (or load from cache) the float32 and float64 kernels."""
    for dtype in (np.float32, np.float64):
        x = np.ones(3, dtype)
        penalty(x, 0.0, 0.0)
        for accumulate in (False, True):
            penalty_grad(x, np.zeros(3, dtype), 0.0, 0.0, accumulate)
