"""The activation ops' VJPs (the ``Activation`` objects' ``backward``: one derivative per
activation, shared with Dense/Conv2D's fused paths) against central differences in
float64, on arrays large enough for the numba kernel paths (>= 256 elements) and on
small ones (numpy paths), including the options and several axes.
``ops.tanh`` and ``ops.exp`` are the ``tanh`` and ``exponential`` activations as ops.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import ops
from core.autodiff import Tape
from core.ops.function_grad import record_function

CASES = [
    ("relu", {}), ("relu6", {}), ("sigmoid", {}), ("softplus", {}), ("gelu", {}),
    ("gelu", {"approximate": False}), ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}),
    ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.05}), ("hard_sigmoid", {}),
    ("silu", {}), ("swish", {}), ("softmax", {}), ("softmax", {"axis": 0}),
    ("softmax", {"axis": [0, 1]}), ("log_softmax", {}), ("log_softmax", {"axis": 1}),
    ("softsign", {}), ("celu", {"alpha": 0.7}), ("hard_tanh", {}), ("hard_silu", {}),
    ("hard_swish", {}), ("hard_shrink", {"threshold": 0.3}), ("soft_shrink", {}),
    ("tanh_shrink", {}), ("log_sigmoid", {}), ("squareplus", {"b": 2}), ("sparse_plus", {}),
    ("sparse_sigmoid", {}), ("tanh", {}), ("exp", {}),
]


def _x(shape, seed):
    x = np.random.default_rng(seed).normal(0, 2, shape)
    # keep away from kinks (relu at 0, relu6 at 6, hard_sigmoid at +-3, hard_tanh and
    # the sparse ones at +-1, the shrinks at +-0.3 and +-0.5) by 0.05
    for k in (0.0, 6.0, -3.0, 3.0, -1.0, 1.0, -0.3, 0.3, -0.5, 0.5):
        near = np.abs(x - k) < 0.05
        x[near] += 0.1
    return x


@pytest.mark.parametrize("shape", [(20, 16), (3, 4)], ids=["kernel", "small"])
@pytest.mark.parametrize("name, options", CASES, ids=lambda c: str(c))
def test_vjp_equals_central_differences(name, options, shape):
    op = getattr(ops, name)
    x = _x(shape, len(name))
    rng = np.random.default_rng(1)
    r, v = rng.standard_normal(shape), rng.standard_normal(shape)
    y, backward = record_function(lambda a: op(a, **options), [x])
    assert y.dtype == np.float64 and y.shape == shape
    (vjp,) = backward(r)
    h = 1e-6
    up = np.asarray(op(x + h * v, **options))
    down = np.asarray(op(x - h * v, **options))
    numeric = np.sum(r * (up - down)) / (2 * h)  # r . (J v), by central differences
    assert np.isclose(np.sum(vjp * v), numeric, rtol=1e-6, atol=1e-8), (name, options)


def test_the_op_records_on_the_models_tape_and_positional_options_work():
    x = _x((4, 5), 0)
    with Tape() as tape:
        tape.watch(x)
        y = ops.leaky_relu(x, 0.3)
    np.testing.assert_allclose(np.asarray(y), np.where(x > 0, x, 0.3 * x))
    assert tape.needs_grad(y)
    np.testing.assert_allclose(np.asarray(ops.softmax(x, 0)).sum(axis=0), np.ones(5))


@pytest.mark.parametrize("op_name, activation", [("tanh", "tanh"), ("exp", "exponential"),
                                                 ("relu", "relu"), ("sigmoid", "sigmoid")])
def test_the_math_ops_are_the_activations(op_name, activation, monkeypatch):
    """ops.tanh / ops.exp have no VJP of their own: they differentiate through the same
    Activation.backward as the activation of that name (a broken backward breaks both)."""
    from core import activations

    cls = type(activations.get(activation))
    calls = []
    original = cls.backward

    def spy(self, cache, dy, out=None):
        calls.append(cls)
        return original(self, cache, dy, out)

    monkeypatch.setattr(cls, "backward", spy)
    x = _x((3, 4), 2)
    y, backward = record_function(getattr(ops, op_name), [x])
    (dx,) = backward(np.ones_like(x))
    assert calls == [cls]
    want = {"tanh": 1 - np.tanh(x) ** 2, "exp": np.exp(x), "relu": (x > 0) * 1.0,
            "sigmoid": np.exp(-x) / (1 + np.exp(-x)) ** 2}[op_name]
    np.testing.assert_allclose(dx, want, rtol=1e-12)
    if op_name in ("tanh", "exp"):  # integers compute in floatx, as Keras' ops
        assert getattr(ops, op_name)(np.array([1, 2])).dtype == np.float32
