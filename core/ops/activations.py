"""``keras.ops.nn`` activations (also exposed flat as ``core.ops.relu`` ...), with
Keras 3's defaults (``gelu(approximate=True)``, ``leaky_relu(negative_slope=0.2)``).

Each op is the engine's ``Activation`` object of the same name (``core.activations``:
``forward(x) -> (y, cache)``, ``backward(cache, dy) -> dx``, kernels on large arrays)
wrapped as an op: its forward is the op's forward and its ``backward`` the op's VJP.
So every activation has one hand-written derivative, the one Dense and Conv2D fuse
into their own backward, and the op, the ``Activation`` layer and ``activation=``
arguments cannot disagree about it (checked by central differences in float64 in
tests/core/test_ops_all.py and tests/core/test_activations.py).

>>> import numpy as np
>>> from core import ops
>>> ops.relu(np.array([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""

from __future__ import annotations

import functools
import inspect

from core import activation_elementwise as AE
from core import activation_ops as AO
from core.ops.engine import primitive


def _vjp(cache, g, need):
    act, inner = cache
    return [act.backward(inner, g)]


def _op(name, make, doc, keeps_int=False):
    """The op ``name`` computed by the ``Activation`` that ``make(**options)`` returns;
    ``make``'s parameters are the op's options, with Keras' defaults. Instances are
    cached per option values (building one costs more than a small op). Integer inputs
    compute in floatx, or keep their dtype with ``keeps_int`` (Keras' relu, relu6 and
    hard_tanh on the torch backend)."""
    make_cached = functools.lru_cache(maxsize=64)(make)
    options = list(inspect.signature(make).parameters.values())

    def forward(x, *args, **kw):
        kw.update(zip([p.name for p in options], args))
        act = make_cached(**{k: tuple(v) if isinstance(v, list) else v  # hashable
                             for k, v in kw.items()})
        if x.dtype.kind != "f":
            if keeps_int:  # exact: these only compare and clip
                y, inner = act.forward(x.astype("float64"))
                return y.astype(x.dtype), (act, inner)
            x = AO._as_float(x)  # as ``Activation.__call__``
        y, inner = act.forward(x)  # never in place: the op's input is the caller's
        return y, (act, inner)

    # ``primitive`` reads the option names that may be passed positionally from this.
    forward.__signature__ = inspect.Signature(
        [inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + options)
    return primitive(name, forward, _vjp, 1, doc)


def _relu_make():
    return AO.ReLU()


def _leaky_make(negative_slope=0.2):
    return AO.LeakyReLU(negative_slope)


def _elu_make(alpha=1.0):
    return AO.ELU(alpha)


def _gelu_make(approximate=True):
    return AO.GELU(approximate)


def _softmax_make(axis=-1):
    return AO.Softmax(axis)


def _log_softmax_make(axis=-1):
    return AO.LogSoftmax(axis)


relu = _op("relu", _relu_make, "``max(x, 0)``.", keeps_int=True)
relu6 = _op("relu6", AE.ReLU6, "``min(max(x, 0), 6)``.", keeps_int=True)
sigmoid = _op("sigmoid", AE.Sigmoid, "``1 / (1 + exp(-x))``.")
softplus = _op("softplus", AE.Softplus, "``log(1 + exp(x))``, stable.")
gelu = _op("gelu", _gelu_make, "Gaussian error linear unit; ``approximate=True`` (the "
           "Keras default) uses the tanh formula.")
elu = _op("elu", _elu_make, "Exponential linear unit.")
selu = _op("selu", AO.SELU, "Scaled ELU (Keras' constants).")
leaky_relu = _op("leaky_relu", _leaky_make, "``x`` if positive else ``negative_slope * x``.")
hard_sigmoid = _op("hard_sigmoid", AE.HardSigmoid, "``clip(x / 6 + 0.5, 0, 1)`` (Keras 3).")
silu = _op("silu", AE.SiLU, "``x * sigmoid(x)``.")
swish = _op("swish", AE.SiLU, "``x * sigmoid(x)`` (same as silu).")
softmax = _op("softmax", _softmax_make, "Softmax over ``axis``.")


def _celu_make(alpha=1.0):
    return AE.CELU(alpha)


def _hard_shrink_make(threshold=0.5):
    return AE.HardShrink(threshold)


def _soft_shrink_make(threshold=0.5):
    return AE.SoftShrink(threshold)


def _squareplus_make(b=4):
    return AE.Squareplus(b)


# Keras 3's newer activation ops: the same Activation objects, so no new derivative.
softsign = _op("softsign", AE.Softsign, "``x / (1 + |x|)``.")
celu = _op("celu", _celu_make, "``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.")
hard_tanh = _op("hard_tanh", AE.HardTanh, "``clip(x, -1, 1)``.", keeps_int=True)
hard_silu = _op("hard_silu", AE.HardSiLU, "``x * relu6(x + 3) / 6``.")
hard_swish = _op("hard_swish", AE.HardSiLU, "``x * relu6(x + 3) / 6`` (same as hard_silu).")
hard_shrink = _op("hard_shrink", _hard_shrink_make, "``x`` where ``|x| > threshold``, else 0.")
soft_shrink = _op("soft_shrink", _soft_shrink_make,
                  "``x`` moved ``threshold`` towards 0, 0 within ``threshold``.")
tanh_shrink = _op("tanh_shrink", AE.TanhShrink, "``x - tanh(x)``.")
log_sigmoid = _op("log_sigmoid", AE.LogSigmoid, "``log(sigmoid(x))``, stable.")
squareplus = _op("squareplus", _squareplus_make, "``(x + sqrt(x ** 2 + b)) / 2``.")
sparse_plus = _op("sparse_plus", AE.SparsePlus, "0 below -1, ``(x + 1) ** 2 / 4`` on (-1, 1), "
                  "``x`` above 1.")
sparse_sigmoid = _op("sparse_sigmoid", AE.SparseSigmoid, "0 below -1, ``(x + 1) / 2`` on "
                     "(-1, 1), 1 above 1.")
log_softmax = _op("log_softmax", _log_softmax_make, "Log of the softmax over ``axis``, stable.")

__all__ = ["relu", "relu6", "sigmoid", "softplus", "gelu", "elu", "selu", "leaky_relu",
           "hard_sigmoid", "silu", "swish", "softmax", "log_softmax", "softsign", "celu",
           "hard_tanh", "hard_silu", "hard_swish", "hard_shrink", "soft_shrink", "tanh_shrink",
           "log_sigmoid", "squareplus", "sparse_plus", "sparse_sigmoid"]
