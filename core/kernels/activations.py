"""Numba kernels for the hot activations (relu, leaky relu, softmax, exact gelu).

Elementwise kernels take flat contiguous 1D arrays (callers pass ``a.reshape(-1)``
views, so no copy) and write into ``out``, which may alias the input for an
in-place forward. Softmax kernels take 2D ``(rows, classes)`` arrays and
normalise each row.

All kernels are serial on purpose: they are memory-bound (or, for softmax
over few classes, tiny), and measured on the 2-core target a ``prange``
version was never faster and, with the other core busy, up to 1000x slower
(128x10 softmax: 5 us serial vs 12-22 ms parallel; 3.2M-element relu
backward: 1.4 ms serial vs 12 ms parallel), because every parallel region
waits for its slowest thread.

Each kernel has a plain numpy twin ``<name>_ref`` used as the test oracle.

>>> import numpy as np
>>> x = np.array([-1.0, 2.0], "float32")
>>> out = np.empty_like(x)
>>> relu_forward(x, out)  # doctest: +SKIP
>>> out.tolist()  # doctest: +SKIP
[0.0, 2.0]
"""

from __future__ import annotations

import math

import numpy as np

from core.kernels import _cold
from core.kernels._jit import njit


# ----------------------------------------------------------------- relu
@njit
def relu_forward(x, out):
    for i in range(x.size):
        v = x[i]
        out[i] = 0 if v <= 0 else v  # NaN stays NaN, as in Keras (max(x, 0) on every backend)


def relu_forward_ref(x, out):
    np.maximum(x, 0, out=out)


@njit
def bias_relu_forward(z, bias):
    """``z = max(z + bias, 0)`` in place for a (rows, units) C-contiguous ``z``: the
    Dense bias and ReLU in one pass over the fresh matmul result. Returns whether
    every ``z + bias`` was finite (seen before the ReLU, which maps -inf to 0)."""
    rows, units = z.shape
    ok = True
    for r in range(rows):
        for j in range(units):
            v = z[r, j] + bias[j]
            ok &= (v - v) == 0  # NaN and inf give NaN; branch-free, so it vectorises
            z[r, j] = 0 if v <= 0 else v  # NaN stays NaN, as in Keras
    return ok


def bias_relu_forward_ref(z, bias):
    np.add(z, bias, out=z)
    ok = bool(np.isfinite(z).all())
    np.maximum(z, 0, out=z)
    return ok


@njit
def relu_backward(y, dy, out):
    """``out = dy * (y > 0)`` where ``y`` is the relu output (sign of x)."""
    for i in range(y.size):
        out[i] = dy[i] if y[i] > 0 else 0


def relu_backward_ref(y, dy, out):
    np.multiply(dy, y > 0, out=out)


# ----------------------------------------------------------- leaky relu
@njit
def leaky_relu_forward(x, slope, out):
    for i in range(x.size):
        v = x[i]
        out[i] = v if v >= 0 else v * slope


def leaky_relu_forward_ref(x, slope, out):
    np.copyto(out, np.where(x >= 0, x, x * x.dtype.type(slope)))


@njit
def leaky_relu_backward(y, dy, slope, out):
    """Derivative from the output: for slope > 0, ``y >= 0`` exactly when ``x >= 0``."""
    for i in range(y.size):
        out[i] = dy[i] if y[i] > 0 else dy[i] * slope


def leaky_relu_backward_ref(y, dy, slope, out):
    np.copyto(out, np.where(y > 0, dy, dy * dy.dtype.type(slope)))


# -------------------------------------------------------------- softmax
@njit
def softmax_forward(x, out):
    """Row softmax of a 2D array, max-subtracted for stability; ``out`` may be ``x``."""
    rows, cols = x.shape
    for r in range(rows):
        m = x[r, 0]
        for c in range(1, cols):
            if x[r, c] > m:
                m = x[r, c]
        s = 0.0
        for c in range(cols):
            e = math.exp(x[r, c] - m)
            out[r, c] = e
            s += e
        inv = 1.0 / s
        for c in range(cols):
            out[r, c] *= inv


def softmax_forward_ref(x, out):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.divide(e, e.sum(axis=1, keepdims=True), out=out)


@njit
def bias_softmax_forward(z, bias):
    """Row softmax of ``z + bias`` in place: a Dense output layer's bias and softmax in
    one kernel call instead of a numpy add and a softmax call."""
    rows, cols = z.shape
    for r in range(rows):
        for c in range(cols):
            z[r, c] += bias[c]
    softmax_forward(z, z)


def bias_softmax_forward_ref(z, bias):
    np.add(z, bias, out=z)
    softmax_forward_ref(z, z)


@njit
def softmax_backward(y, dy, out):
    """``out = y * (dy - sum(dy * y, row))`` (the softmax Jacobian-vector product)."""
    rows, cols = y.shape
    for r in range(rows):
        s = 0.0
        for c in range(cols):
            s += dy[r, c] * y[r, c]
        for c in range(cols):
            out[r, c] = y[r, c] * (dy[r, c] - s)


def softmax_backward_ref(y, dy, out):
    np.multiply(y, dy - (dy * y).sum(axis=1, keepdims=True), out=out)


# ------------------------------------------------------------ exact gelu
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit
def gelu_forward(x, out):
    """``0.5 x (1 + erf(x / sqrt 2))`` (Keras 3 default, approximate=False)."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0.5 * v * (1.0 + math.erf(v * _INV_SQRT2))


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu_forward_ref(x, out):
    cdf = 0.5 * (1.0 + _erf(x.astype(np.float64) * _INV_SQRT2).astype(np.float64))
    np.copyto(out, x * cdf, casting="unsafe")


@njit
def gelu_backward(x, dy, out):
    """d gelu/dx = Phi(x) + x * phi(x): normal CDF plus x times the normal density."""
    for i in range(x.size):
        v = x[i]
        cdf = 0.5 * (1.0 + math.erf(v * _INV_SQRT2))
        pdf = math.exp(-0.5 * v * v) * _INV_SQRT2PI
        out[i] = dy[i] * (cdf + v * pdf)


def gelu_backward_ref(x, dy, out):
    x64 = x.astype(np.float64)
    cdf = 0.5 * (1.0 + _erf(x64 * _INV_SQRT2).astype(np.float64))
    pdf = np.exp(-0.5 * x64 * x64) * _INV_SQRT2PI
    np.copyto(out, dy * (cdf + x64 * pdf), casting="unsafe")


def warmup() -> None:
    """Compile (or load from cache) every kernel for float32 on tiny inputs."""
    x = np.linspace(-2, 2, 8, dtype=np.float32)
    out = np.empty_like(x)
    relu_forward(x, out)
    relu_backward(out, x, out.copy())
    leaky_relu_forward(x, 0.2, out)
    leaky_relu_backward(out, x, 0.2, out.copy())
    gelu_forward(x, out)
    gelu_backward(x, x, out)
    x2 = x.reshape(2, 4)
    bias_relu_forward(x2.copy(), x[:4])
    bias_softmax_forward(x2.copy(), x[:4])
    y2 = np.empty_like(x2)
    softmax_forward(x2, y2)
    softmax_backward(y2, x2, np.empty_like(x2))


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
_cold.wrap(globals(), ["relu_forward", "bias_relu_forward", "relu_backward", "leaky_relu_forward",
           "leaky_relu_backward", "softmax_forward", "bias_softmax_forward", "softmax_backward",
           "gelu_forward", "gelu_backward"])
