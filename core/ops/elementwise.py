"""Element-wise ops with broadcasting: arithmetic, powers, exp/log, trigonometry,
rounding, comparisons and logical ops (the last three have no gradient).

>>> import numpy as np
>>> from core import ops
>>> ops.add(np.ones((2, 3)), np.arange(3.0)).shape
(2, 3)
"""

from __future__ import annotations

import numpy as np

from core import activation_elementwise as AE
from core.ops.activations import _op as _activation_op
from core.ops.engine import primitive, run


def _same(x):
    return x


# ---------------------------------------------------------------- binary arithmetic
def _add_f(x, y):
    return np.add(x, y), None


def _add_b(c, g, need):
    return [g, g]


def _sub_f(x, y):
    return np.subtract(x, y), None


def _sub_b(c, g, need):
    return [g, -g if need[1] else None]


def _mul_f(x, y):
    return np.multiply(x, y), (x, y)


def _mul_b(c, g, need):
    x, y = c
    return [g * y if need[0] else None, g * x if need[1] else None]


def _div_f(x, y):
    if x.dtype.kind in "biu" and y.dtype.kind in "biu":
        x = x.astype("float32")
    out = np.true_divide(x, y)
    return out, (y, out)


def _div_b(c, g, need):
    y, out = c
    gx = g / y
    return [gx, -gx * out if need[1] else None]


def _pow_f(x, y):
    out = np.power(x, y)
    return out, (x, y, out)


def _pow_b(c, g, need):
    x, y, out = c
    gx = g * y * np.power(x, y - 1) if need[0] else None
    gy = None
    if need[1]:
        with np.errstate(divide="ignore", invalid="ignore"):
            gy = g * out * np.where(x > 0, np.log(np.where(x > 0, x, 1)), 0)
    return [gx, gy]


def _max_f(x, y):
    return np.maximum(x, y), (x, y)


def _max_b(c, g, need):
    x, y = c
    # Ties split the gradient evenly (as PyTorch's maximum does).
    wx = (x > y) + 0.5 * (x == y)
    return [g * wx if need[0] else None, g * (1 - wx) if need[1] else None]


def _min_f(x, y):
    return np.minimum(x, y), (x, y)


def _min_b(c, g, need):
    x, y = c
    wx = (x < y) + 0.5 * (x == y)
    return [g * wx if need[0] else None, g * (1 - wx) if need[1] else None]


add = primitive("add", _add_f, _add_b, 2, "``x + y`` with broadcasting.")
subtract = primitive("subtract", _sub_f, _sub_b, 2, "``x - y`` with broadcasting.")
multiply = primitive("multiply", _mul_f, _mul_b, 2, "``x * y`` with broadcasting.")
divide = primitive("divide", _div_f, _div_b, 2, "``x / y`` (true division).")
true_divide = primitive("true_divide", _div_f, _div_b, 2, "``x / y`` (true division).")
power = primitive("power", _pow_f, _pow_b, 2, "``x ** y``.")
maximum = primitive("maximum", _max_f, _max_b, 2, "Element-wise maximum.")
minimum = primitive("minimum", _min_f, _min_b, 2, "Element-wise minimum.")


# ---------------------------------------------------------------------- unary ops
def _unary(name, fn, grad, doc):
    """``grad(x, y, g) -> dx`` for ``y = fn(x)``."""
    def f(x):
        y = fn(x)
        return y, (x, y)

    def b(c, g, need):
        return [grad(c[0], c[1], g)]
    return primitive(name, f, b, 1, doc)


negative = _unary("negative", np.negative, lambda x, y, g: -g, "``-x``.")
square = _unary("square", np.square, lambda x, y, g: 2 * x * g, "``x ** 2``.")
sqrt = _unary("sqrt", np.sqrt, lambda x, y, g: g / (2 * y), "Square root.")
absolute = _unary("absolute", np.abs, lambda x, y, g: g * np.sign(x), "``|x|``.")
abs = _unary("abs", np.abs, lambda x, y, g: g * np.sign(x), "``|x|``.")  # noqa: A001
log = _unary("log", np.log, lambda x, y, g: g / x, "Natural logarithm.")
log1p = _unary("log1p", np.log1p, lambda x, y, g: g / (1 + x), "``log(1 + x)``.")
expm1 = _unary("expm1", np.expm1, lambda x, y, g: g * (y + 1), "``exp(x) - 1``.")
sin = _unary("sin", np.sin, lambda x, y, g: g * np.cos(x), "Sine.")
cos = _unary("cos", np.cos, lambda x, y, g: -g * np.sin(x), "Cosine.")
tan = _unary("tan", np.tan, lambda x, y, g: g * (1 + y * y), "Tangent.")
sinh = _unary("sinh", np.sinh, lambda x, y, g: g * np.cosh(x), "Hyperbolic sine.")
cosh = _unary("cosh", np.cosh, lambda x, y, g: g * np.sinh(x), "Hyperbolic cosine.")
arctan = _unary("arctan", np.arctan, lambda x, y, g: g / (1 + x * x), "Inverse tangent.")
reciprocal = _unary("reciprocal", np.reciprocal, lambda x, y, g: -g * y * y, "``1 / x``.")
# Piecewise-constant functions: zero gradient almost everywhere.
sign = _unary("sign", np.sign, lambda x, y, g: np.zeros_like(g), "Sign of x.")
floor = _unary("floor", np.floor, lambda x, y, g: np.zeros_like(g), "Round down.")
ceil = _unary("ceil", np.ceil, lambda x, y, g: np.zeros_like(g), "Round up.")
# ``exp`` and ``tanh`` are the ``exponential`` and ``tanh`` activations as ops: one
# derivative each, shared with the Activation layer and Dense's fused ``activation=``
# (integer inputs compute in floatx, as Keras' ops.exp / ops.tanh).
exp = _activation_op("exp", AE.Exponential, "``e ** x``.")
tanh = _activation_op("tanh", AE.Tanh, "Hyperbolic tangent.")


def _round_f(x, decimals=0):
    return np.round(x, decimals), None


round = primitive("round", _round_f,  # noqa: A001
                  lambda c, g, need: [np.zeros_like(g)], 1, "Round half to even.")


def _clip_f(x, x_min, x_max):
    y = np.clip(x, x_min, x_max)
    return y, (x >= x_min) & (x <= x_max)


clip = primitive("clip", _clip_f, lambda c, g, need: [g * c], 1,
                 "Clip values to ``[x_min, x_max]``; the gradient passes inside the range.")


# ------------------------------------------------------ comparisons / logical ops
def _no_grad(name, fn, n, doc):
    def op(*args):
        arrays = args[:n]

        def f(*a):
            return fn(*a), None
        return run(name, f, None, arrays, differentiable=False)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


equal = _no_grad("equal", np.equal, 2, "``x == y``.")
not_equal = _no_grad("not_equal", np.not_equal, 2, "``x != y``.")
greater = _no_grad("greater", np.greater, 2, "``x > y``.")
greater_equal = _no_grad("greater_equal", np.greater_equal, 2, "``x >= y``.")
less = _no_grad("less", np.less, 2, "``x < y``.")
less_equal = _no_grad("less_equal", np.less_equal, 2, "``x <= y``.")
logical_and = _no_grad("logical_and", np.logical_and, 2, "Element-wise and.")
logical_or = _no_grad("logical_or", np.logical_or, 2, "Element-wise or.")
logical_xor = _no_grad("logical_xor", np.logical_xor, 2, "Element-wise xor.")
logical_not = _no_grad("logical_not", np.logical_not, 1, "Element-wise not.")
isnan = _no_grad("isnan", np.isnan, 1, "NaN test.")
isinf = _no_grad("isinf", np.isinf, 1, "Infinity test.")
isfinite = _no_grad("isfinite", np.isfinite, 1, "Finite test.")
floor_divide = _no_grad("floor_divide", np.floor_divide, 2, "``x // y`` (no gradient).")
mod = _no_grad("mod", np.mod, 2, "``x % y`` (no gradient).")
