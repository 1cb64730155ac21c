"""``keras.ops.nn`` activations (also exposed flat as ``core.ops.relu`` ...), with
Keras 3's defaults (``gelu(approximate=True)``, ``leaky_relu(negative_slope=0.2)``).

>>> import numpy as np
>>> from core import ops
>>> ops.relu(np.array([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""

from __future__ import annotations

import math

import numpy as np

from core.ops.engine import primitive


def _elementwise(name, fwd, grad, doc):
    """``fwd(x, **kw) -> y``; ``grad(x, y, g, **kw) -> dx``."""
    def f(x, **kw):
        y = fwd(x, **kw)
        return y, (x, y, kw)

    def b(c, g, need):
        x, y, kw = c
        return [grad(x, y, g, **kw)]
    import inspect
    params = [p for p in inspect.signature(fwd).parameters.values()][1:]

    def forward(x, *args, **kw):
        kw.update(zip([p.name for p in params], args))
        return f(x, **kw)
    forward.__signature__ = inspect.signature(fwd)
    return primitive(name, forward, b, 1, doc)


def _relu(x):
    return np.maximum(x, 0)


def _relu6(x):
    return np.clip(x, 0, 6)


def _sigmoid(x):
    # exp of -|x| only: no overflow warnings for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _softplus(x):
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


_SQRT_2_PI = math.sqrt(2 / math.pi)


def _erf(x):
    # numpy has no erf; math.erf element-wise is exact to float64 rounding.
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype, copy=False)


def _gelu_f(x, approximate=True):
    if approximate:
        return (0.5 * x * (1 + np.tanh(_SQRT_2_PI * (x + 0.044715 * x ** 3)))).astype(
            x.dtype, copy=False)
    return (0.5 * x * (1 + _erf(x / math.sqrt(2)))).astype(x.dtype, copy=False)


def _gelu_g(x, y, g, approximate=True):
    if approximate:
        inner = _SQRT_2_PI * (x + 0.044715 * x ** 3)
        t = np.tanh(inner)
        d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_PI * (1 + 3 * 0.044715 * x * x)
        return g * d
    cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return g * (cdf + x * pdf)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _elu_f(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


def _selu_f(x):
    return (_SELU_SCALE * _elu_f(x, _SELU_ALPHA)).astype(x.dtype, copy=False)


def _leaky_f(x, negative_slope=0.2):
    return np.where(x > 0, x, negative_slope * x).astype(x.dtype, copy=False)


def _hard_sigmoid_f(x):
    return np.clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)


def _silu_f(x):
    return x * _sigmoid(x)


def _silu_g(x, y, g):
    s = _sigmoid(x)
    return g * (s + x * s * (1 - s))


relu = _elementwise("relu", _relu, lambda x, y, g: g * (x > 0), "``max(x, 0)``.")
relu6 = _elementwise("relu6", _relu6, lambda x, y, g: g * ((x > 0) & (x < 6)),
                     "``min(max(x, 0), 6)``.")
sigmoid = _elementwise("sigmoid", _sigmoid, lambda x, y, g: g * y * (1 - y),
                       "``1 / (1 + exp(-x))``.")
softplus = _elementwise("softplus", _softplus, lambda x, y, g: g * _sigmoid(x),
                        "``log(1 + exp(x))``, stable.")
gelu = _elementwise("gelu", _gelu_f, _gelu_g, "Gaussian error linear unit; "
                    "``approximate=True`` (the Keras default) uses the tanh formula.")
elu = _elementwise("elu", _elu_f, lambda x, y, g, alpha=1.0: g * np.where(x > 0, 1, y + alpha),
                   "Exponential linear unit.")
selu = _elementwise("selu", _selu_f, lambda x, y, g: g * np.where(
    x > 0, _SELU_SCALE, y + _SELU_SCALE * _SELU_ALPHA), "Scaled ELU (Keras' constants).")
leaky_relu = _elementwise("leaky_relu", _leaky_f, lambda x, y, g, negative_slope=0.2: g * np.where(
    x > 0, 1, negative_slope), "``x`` if positive else ``negative_slope * x``.")
hard_sigmoid = _elementwise("hard_sigmoid", _hard_sigmoid_f, lambda x, y, g: g * (
    (x > -3) & (x < 3)) / 6, "``clip(x / 6 + 0.5, 0, 1)`` (Keras 3).")
silu = _elementwise("silu", _silu_f, _silu_g, "``x * sigmoid(x)``.")
swish = _elementwise("swish", _silu_f, _silu_g, "``x * sigmoid(x)`` (same as silu).")


def _softmax_f(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    y = e / np.sum(e, axis=axis, keepdims=True)
    return y, (y, axis)


def _softmax_b(c, g, need):
    y, axis = c
    return [y * (g - np.sum(g * y, axis=axis, keepdims=True))]


def _log_softmax_f(x, axis=-1):
    s = x - np.max(x, axis=axis, keepdims=True)
    y = s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
    return y, (y, axis)


def _log_softmax_b(c, g, need):
    y, axis = c
    return [g - np.exp(y) * np.sum(g, axis=axis, keepdims=True)]


softmax = primitive("softmax", _softmax_f, _softmax_b, 1, "Softmax over ``axis``.")
log_softmax = primitive("log_softmax", _log_softmax_f, _log_softmax_b, 1,
                        "Log of the softmax over ``axis``, stable.")
