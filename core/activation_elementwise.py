"""Smooth and piecewise-linear elementwise activations (sigmoid, tanh, softplus, ...).

Each is ``f(x)`` plus its derivative from what the forward pass kept: the
output ``y`` when ``f'`` is a function of ``y`` (then the forward may run in
place), else the input ``x``. Get them through ``core.activations.get(name)``.

>>> import numpy as np
>>> y, cache = Tanh().forward(np.zeros(2))
>>> Tanh().backward(cache, np.ones(2)).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import numpy as np

from core.activation_ops import Activation, _buffer, _out, _stable_sigmoid


class _Elementwise(Activation):
    """An activation given by ``f(x)`` and ``f'`` from the cache (x or y)."""

    uses_output = False  # True: cache is y and forward may run in place

    def f(self, x, out):
        raise NotImplementedError

    def df(self, cache):
        raise NotImplementedError

    def forward(self, x, inplace=False):
        if self.uses_output:
            out = _out(x, inplace)
            self.f(x, out)
            return out, out
        out = np.empty_like(x)
        self.f(x, out)
        return out, x

    def backward(self, cache, dy, out=None):
        if out is None:
            return dy * self.df(cache)
        return np.multiply(dy, self.df(cache), out=_buffer(out, cache))


class Sigmoid(_Elementwise):
    name, uses_output = "sigmoid", True

    def f(self, x, out):
        np.copyto(out, _stable_sigmoid(x))

    def df(self, y):
        return y * (1 - y)


class Tanh(_Elementwise):
    name, uses_output = "tanh", True

    def f(self, x, out):
        np.tanh(x, out=out)

    def df(self, y):
        return 1 - y * y


class Exponential(_Elementwise):
    name, uses_output = "exponential", True

    def f(self, x, out):
        np.exp(x, out=out)

    def df(self, y):
        return y


class ReLU6(_Elementwise):
    name, uses_output = "relu6", True

    def f(self, x, out):
        np.clip(x, 0, 6, out=out)

    def df(self, y):
        return ((y > 0) & (y < 6)).astype(y.dtype)


class HardSigmoid(_Elementwise):
    """Keras 3: ``relu6(x + 3) / 6`` (slope 1/6; Keras 2 used 0.2)."""

    name, uses_output = "hard_sigmoid", True

    def f(self, x, out):
        np.clip(x / 6 + 0.5, 0, 1, out=out)

    def df(self, y):
        return ((y > 0) & (y < 1)).astype(y.dtype) / 6


class Softplus(_Elementwise):
    name = "softplus"

    def f(self, x, out):
        np.copyto(out, np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))

    def df(self, x):
        return _stable_sigmoid(x)


class Softsign(_Elementwise):
    name = "softsign"

    def f(self, x, out):
        np.divide(x, 1 + np.abs(x), out=out)

    def df(self, x):
        return 1 / (1 + np.abs(x)) ** 2


class SiLU(_Elementwise):
    name = "silu"

    def f(self, x, out):
        np.multiply(x, _stable_sigmoid(x), out=out)

    def df(self, x):
        s = _stable_sigmoid(x)
        return s * (1 + x * (1 - s))


class HardSiLU(_Elementwise):
    name = "hard_silu"

    def f(self, x, out):
        np.multiply(x, np.clip(x + 3, 0, 6) / 6, out=out)

    def df(self, x):
        return np.where(x > 3, 1, np.where(x < -3, 0, (2 * x + 3) / 6)).astype(x.dtype)


class Mish(_Elementwise):
    name = "mish"

    def f(self, x, out):
        sp = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
        np.multiply(x, np.tanh(sp), out=out)

    def df(self, x):
        t = np.tanh(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))
        return t + x * (1 - t * t) * _stable_sigmoid(x)


# ---- the elementwise activations added in Keras 3.6+ (same names and defaults)
class CELU(_Elementwise):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""

    name = "celu"

    def __init__(self, alpha=1.0):
        self.alpha = float(alpha)

    def get_config(self):
        return {"alpha": self.alpha}

    def f(self, x, out):
        a = self.alpha
        np.copyto(out, np.where(x > 0, x, a * np.expm1(np.minimum(x, 0) / a)))

    def df(self, x):
        return np.where(x > 0, 1, np.exp(np.minimum(x, 0) / self.alpha)).astype(x.dtype)


class HardTanh(_Elementwise):
    """``clip(x, -1, 1)``."""

    name, uses_output = "hard_tanh", True

    def f(self, x, out):
        np.clip(x, -1, 1, out=out)

    def df(self, y):
        return (np.abs(y) < 1).astype(y.dtype)


class HardShrink(_Elementwise):
    """``x`` where ``|x| > threshold``, else 0."""

    name = "hard_shrink"

    def __init__(self, threshold=0.5):
        self.threshold = float(threshold)

    def get_config(self):
        return {"threshold": self.threshold}

    def f(self, x, out):
        np.copyto(out, np.where(np.abs(x) > self.threshold, x, 0))

    def df(self, x):
        return (np.abs(x) > self.threshold).astype(x.dtype)


class SoftShrink(HardShrink):
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""

    name = "soft_shrink"

    def f(self, x, out):
        t = self.threshold
        np.copyto(out, np.where(x > t, x - t, np.where(x < -t, x + t, 0)))


class TanhShrink(_Elementwise):
    """``x - tanh(x)``."""

    name = "tanh_shrink"

    def f(self, x, out):
        np.subtract(x, np.tanh(x), out=out)

    def df(self, x):
        t = np.tanh(x)
        return t * t


class LogSigmoid(_Elementwise):
    """``log(sigmoid(x)) = -softplus(-x)``, computed without overflow."""

    name = "log_sigmoid"

    def f(self, x, out):
        np.copyto(out, np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))))

    def df(self, x):
        return _stable_sigmoid(-x)


class Squareplus(_Elementwise):
    """``(x + sqrt(x^2 + b)) / 2``."""

    name = "squareplus"

    def __init__(self, b=4):
        self.b = b

    def get_config(self):
        return {"b": self.b}

    def f(self, x, out):
        np.copyto(out, (x + np.sqrt(x * x + self.b)) / 2)

    def df(self, x):
        return (1 + x / np.sqrt(x * x + self.b)) / 2


class SparsePlus(_Elementwise):
    """0 below -1, ``(x + 1)^2 / 4`` on (-1, 1), ``x`` above 1."""

    name = "sparse_plus"

    def f(self, x, out):
        np.copyto(out, np.where(x <= -1, 0, np.where(x < 1, 0.25 * (x + 1) ** 2, x)))

    def df(self, x):
        return np.where(x <= -1, 0, np.where(x < 1, 0.5 * (x + 1), 1)).astype(x.dtype)


class SparseSigmoid(_Elementwise):
    """0 below -1, ``(x + 1) / 2`` on (-1, 1), 1 above 1."""

    name, uses_output = "sparse_sigmoid", True

    def f(self, x, out):
        np.clip(0.5 * (x + 1), 0, 1, out=out)

    def df(self, y):
        return (((y > 0) & (y < 1)) * 0.5).astype(y.dtype)
