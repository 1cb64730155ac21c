"""Every public ``core.ops`` name has a check case: forward against numpy, gradient against
finite differences, torch autograd (when a torch twin is given) and Variable inputs."""

import math

import numpy as np
import pytest

from core import ops
from tests.helpers.op_check import check_op

try:
    import torch
    import torch.nn.functional as F
except Exception:  # pragma: no cover
    torch = F = None

rng = np.random.default_rng(42)


def N(*shape):  # noqa: N802
    return rng.standard_normal(shape)


def away(*shape):
    """Normal values kept at least 0.1 from 0 (kinks of abs, relu, sign...)."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.1, 0.1 + np.abs(x), x) * np.sign(x + 1e-12)


def pos(*shape):
    return rng.uniform(0.5, 2.0, shape)


def spd(n):
    a = N(n, n)
    return a @ a.T + n * np.eye(n)


def T(fn):  # noqa: N802 - torch twin, only when torch is importable
    return fn if torch is not None else None


class C:
    def __init__(self, fn, inputs, ref=None, torch_fn=None, grad=True, wrt=None, rtol=1e-6):
        self.fn, self.inputs, self.ref, self.torch_fn = fn, inputs, ref, torch_fn
        self.grad, self.wrt, self.rtol = grad, wrt, rtol


def _erf_gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_conv2d(x, k, stride, pad):
    tx = torch.tensor(x).permute(0, 3, 1, 2)
    tk = torch.tensor(k).permute(3, 2, 0, 1)
    return F.conv2d(tx, tk, stride=stride, padding=pad).permute(0, 2, 3, 1).numpy()


def _unary(name, np_fn, maker=N, torch_name=None):
    tfn = getattr(torch, torch_name or name, None) if torch is not None else None
    return C(getattr(ops, name), [maker(3, 4)], np_fn, tfn)


CASES = {
    # elementwise binary (broadcasting)
    "add": C(ops.add, [N(3, 4), N(4)], np.add, T(torch.add) if torch else None),
    "subtract": C(ops.subtract, [N(3, 1), N(1, 4)], np.subtract, T(torch.sub) if torch else None),
    "multiply": C(ops.multiply, [N(2, 3, 4), N(3, 1)], np.multiply,
                  T(torch.mul) if torch else None),
    "divide": C(ops.divide, [N(3, 4), pos(4)], np.divide, T(torch.div) if torch else None),
    "true_divide": C(ops.true_divide, [N(3, 4), pos(3, 1)], np.true_divide),
    "power": C(ops.power, [pos(3, 4), N(4)], np.power, T(torch.pow) if torch else None),
    "maximum": C(ops.maximum, [N(3, 4), N(3, 4)], np.maximum),
    "minimum": C(ops.minimum, [N(3, 4), N(4)], np.minimum),
    # elementwise unary
    "negative": _unary("negative", np.negative, torch_name="neg"),
    "square": _unary("square", np.square),
    "sqrt": _unary("sqrt", np.sqrt, pos),
    "abs": _unary("abs", np.abs, away),
    "absolute": _unary("absolute", np.abs, away, "abs"),
    "exp": _unary("exp", np.exp),
    "log": _unary("log", np.log, pos),
    "log1p": _unary("log1p", np.log1p, pos),
    "expm1": _unary("expm1", np.expm1),
    "sin": _unary("sin", np.sin),
    "cos": _unary("cos", np.cos),
    "tan": _unary("tan", np.tan, lambda *s: rng.uniform(-1, 1, s)),
    "tanh": _unary("tanh", np.tanh),
    "sinh": _unary("sinh", np.sinh),
    "cosh": _unary("cosh", np.cosh),
    "arctan": _unary("arctan", np.arctan),
    "reciprocal": _unary("reciprocal", np.reciprocal, pos),
    "sign": _unary("sign", np.sign, away),
    "floor": C(ops.floor, [N(3, 4) * 3 + 0.5], np.floor),
    "ceil": C(ops.ceil, [N(3, 4) * 3 + 0.5], np.ceil),
    "round": C(ops.round, [N(3, 4) * 3 + 0.25], np.round),
    "clip": C(lambda x: ops.clip(x, -0.5, 0.5), [away(4, 5)], lambda x: np.clip(x, -0.5, 0.5)),
    # comparisons / logical: forward only
    "equal": C(ops.equal, [np.array([1.0, 2.0]), np.array([1.0, 3.0])], np.equal, grad=False),
    "not_equal": C(ops.not_equal, [N(3), N(3)], np.not_equal, grad=False),
    "greater": C(ops.greater, [N(3), N(3)], np.greater, grad=False),
    "greater_equal": C(ops.greater_equal, [N(3), N(3)], np.greater_equal, grad=False),
    "less": C(ops.less, [N(3), N(3)], np.less, grad=False),
    "less_equal": C(ops.less_equal, [N(3), N(3)], np.less_equal, grad=False),
    "logical_and": C(ops.logical_and, [N(4) > 0, N(4) > 0], np.logical_and, grad=False),
    "logical_or": C(ops.logical_or, [N(4) > 0, N(4) > 0], np.logical_or, grad=False),
    "logical_xor": C(ops.logical_xor, [N(4) > 0, N(4) > 0], np.logical_xor, grad=False),
    "logical_not": C(ops.logical_not, [N(4) > 0], np.logical_not, grad=False),
    "isnan": C(ops.isnan, [np.array([1.0, np.nan])], np.isnan, grad=False),
    "isinf": C(ops.isinf, [np.array([1.0, np.inf])], np.isinf, grad=False),
    "isfinite": C(ops.isfinite, [np.array([1.0, np.inf])], np.isfinite, grad=False),
    "floor_divide": C(ops.floor_divide, [N(4) * 5, pos(4)], np.floor_divide, grad=False),
    "mod": C(ops.mod, [N(4) * 5, pos(4)], np.mod, grad=False),
    # products
    "matmul": C(ops.matmul, [N(2, 3, 4), N(4, 5)], np.matmul,
                T(torch.matmul) if torch else None),
    "dot": C(ops.dot, [N(3, 4), N(4, 2)], np.dot),
    "einsum": C(lambda a, b: ops.einsum("bij,jk->bik", a, b), [N(2, 3, 4), N(4, 5)],
                lambda a, b: np.einsum("bij,jk->bik", a, b)),
    "tensordot": C(lambda a, b: ops.tensordot(a, b, axes=([1, 2], [0, 1])),
                   [N(2, 3, 4), N(3, 4, 5)],
                   lambda a, b: np.tensordot(a, b, axes=([1, 2], [0, 1]))),
    # reductions
    "sum": C(lambda x: ops.sum(x, axis=1), [N(3, 4, 2)], lambda x: np.sum(x, axis=1)),
    "mean": C(lambda x: ops.mean(x, axis=(0, 2), keepdims=True), [N(3, 4, 2)],
              lambda x: np.mean(x, axis=(0, 2), keepdims=True)),
    "max": C(lambda x: ops.max(x, axis=-1), [N(3, 5)], lambda x: np.max(x, axis=-1),
             T(lambda x: torch.amax(x, dim=-1)) if torch else None),
    "min": C(lambda x: ops.min(x, axis=0), [N(3, 5)], lambda x: np.min(x, axis=0)),
    "amax": C(lambda x: ops.amax(x), [N(3, 5)], np.max),
    "amin": C(lambda x: ops.amin(x, axis=1, keepdims=True), [N(3, 5)],
              lambda x: np.min(x, axis=1, keepdims=True)),
    "prod": C(lambda x: ops.prod(x, axis=1), [pos(3, 4)], lambda x: np.prod(x, axis=1)),
    "std": C(lambda x: ops.std(x, axis=1), [N(3, 5)], lambda x: np.std(x, axis=1),
             T(lambda x: torch.std(x, dim=1, correction=0)) if torch else None),
    "var": C(lambda x: ops.var(x, axis=0), [N(4, 3)], lambda x: np.var(x, axis=0)),
    "logsumexp": C(lambda x: ops.logsumexp(x, axis=1), [N(3, 5)],
                   lambda x: np.log(np.exp(x).sum(1)),
                   T(lambda x: torch.logsumexp(x, dim=1)) if torch else None),
    "cumsum": C(lambda x: ops.cumsum(x, axis=1), [N(3, 4)], lambda x: np.cumsum(x, axis=1)),
    "argmax": C(lambda x: ops.argmax(x, axis=1), [N(3, 4)], lambda x: np.argmax(x, 1),
                grad=False),
    "argmin": C(lambda x: ops.argmin(x, axis=0), [N(3, 4)], lambda x: np.argmin(x, 0),
                grad=False),
    # shapes
    "reshape": C(lambda x: ops.reshape(x, (4, -1)), [N(2, 3, 2)], lambda x: x.reshape(4, -1)),
    "transpose": C(lambda x: ops.transpose(x, (2, 0, 1)), [N(2, 3, 4)],
                   lambda x: x.transpose(2, 0, 1)),
    "expand_dims": C(lambda x: ops.expand_dims(x, 1), [N(3, 4)], lambda x: x[:, None]),
    "squeeze": C(lambda x: ops.squeeze(x, 1), [N(3, 1, 4)], lambda x: x[:, 0]),
    "broadcast_to": C(lambda x: ops.broadcast_to(x, (2, 3, 4)), [N(3, 1)],
                      lambda x: np.broadcast_to(x, (2, 3, 4))),
    "concatenate": C(lambda a, b: ops.concatenate([a, b], axis=1), [N(2, 3), N(2, 2)],
                     lambda a, b: np.concatenate([a, b], 1)),
    "stack": C(lambda a, b: ops.stack([a, b], axis=1), [N(2, 3), N(2, 3)],
               lambda a, b: np.stack([a, b], 1)),
    "split": C(lambda x: ops.split(x, 3, axis=1), [N(2, 6)], lambda x: np.split(x, 3, 1)),
    "take": C(lambda x: ops.take(x, np.array([2, 0, 2]), axis=1), [N(3, 4)],
              lambda x: np.take(x, [2, 0, 2], axis=1)),
    "take_along_axis": C(lambda x: ops.take_along_axis(x, np.array([[0, 2], [1, 1]]), axis=1),
                         [N(2, 3)], lambda x: np.take_along_axis(x, np.array([[0, 2], [1, 1]]),
                                                                 axis=1)),
    "getitem": C(lambda x: ops.getitem(x, (slice(None), [0, 2, 2])), [N(3, 4)],
                 lambda x: x[:, [0, 2, 2]]),
    "where": C(lambda x, y: ops.where(np.array([True, False, True]), x, y), [N(2, 3), N(3)],
               lambda x, y: np.where([True, False, True], x, y)),
    "tile": C(lambda x: ops.tile(x, (2, 3)), [N(2, 3)], lambda x: np.tile(x, (2, 3))),
    "repeat": C(lambda x: ops.repeat(x, 2, axis=1), [N(2, 3)], lambda x: np.repeat(x, 2, 1)),
    "pad": C(lambda x: ops.pad(x, ((1, 0), (2, 1))), [N(2, 3)],
             lambda x: np.pad(x, ((1, 0), (2, 1)))),
    "flip": C(lambda x: ops.flip(x, axis=1), [N(2, 3)], lambda x: np.flip(x, 1)),
    "sort": C(lambda x: ops.sort(x, axis=-1), [N(3, 4)], lambda x: np.sort(x, -1)),
    "argsort": C(lambda x: ops.argsort(x), [N(3, 4)], lambda x: np.argsort(x, -1), grad=False),
    "one_hot": C(lambda x: ops.one_hot(x, 4), [np.array([0, 3, 1])],
                 lambda x: np.eye(4, dtype="float32")[x], grad=False),
    "cast": C(lambda x: ops.cast(x, "float64"), [N(2, 3)], lambda x: x),
    # core
    "identity": C(ops.identity, [N(2, 3)], lambda x: x),
    "convert_to_tensor": C(ops.convert_to_tensor, [N(2, 3)], lambda x: x),
    "convert_to_numpy": C(ops.convert_to_numpy, [N(2, 3)], lambda x: x, grad=False),
    "stop_gradient": C(ops.stop_gradient, [N(2, 3)], lambda x: x, grad=False),
    "shape": C(lambda x: np.array(ops.shape(x)), [N(2, 3)], lambda x: np.array([2, 3]),
               grad=False),
    "ndim": C(lambda x: np.array(ops.ndim(x)), [N(2, 3)], lambda x: np.array(2), grad=False),
    "zeros": C(lambda: ops.zeros((2, 3)), [], lambda: np.zeros((2, 3)), grad=False),
    "ones": C(lambda: ops.ones((2,)), [], lambda: np.ones(2), grad=False),
    "full": C(lambda: ops.full((2,), 3.0), [], lambda: np.full(2, 3.0), grad=False),
    "zeros_like": C(ops.zeros_like, [N(2, 3)], np.zeros_like, grad=False),
    "ones_like": C(ops.ones_like, [N(2, 3)], np.ones_like, grad=False),
    "full_like": C(lambda x: ops.full_like(x, 2.0), [N(2)], lambda x: np.full_like(x, 2.0),
                   grad=False),
    "arange": C(lambda: ops.arange(1, 7, 2), [], lambda: np.arange(1, 7, 2), grad=False),
    "linspace": C(lambda: ops.linspace(0, 1, 5), [], lambda: np.linspace(0, 1, 5), grad=False),
    "eye": C(lambda: ops.eye(3), [], lambda: np.eye(3), grad=False),
    "cond": C(lambda x: ops.cond(True, lambda: ops.sin(x), lambda: ops.cos(x)), [N(3)],
              np.sin),
    "fori_loop": C(lambda x: ops.fori_loop(0, 3, lambda i, v: ops.multiply(v, x), x), [N(3)],
                   lambda x: x ** 4),
    "while_loop": C(lambda x: ops.while_loop(lambda i, v: i < 2,
                                             lambda i, v: (i + 1, ops.tanh(v)), (0, x))[1],
                    [N(3)], lambda x: np.tanh(np.tanh(x))),
    "scan": C(lambda x: ops.scan(lambda c, r: (ops.add(c, r), ops.multiply(c, r)),
                                 ops.zeros_like(x[0]), x),
              [N(4, 3)], lambda x: (x.sum(0), np.concatenate(
                  [np.zeros((1, 3)), np.cumsum(x, 0)[:-1]]) * x)),
    # activations
    "relu": C(ops.relu, [away(3, 4)], lambda x: np.maximum(x, 0), T(torch.relu) if torch else None),
    "relu6": C(ops.relu6, [away(3, 4) * 4], lambda x: np.clip(x, 0, 6),
               T(F.relu6) if torch else None),
    "sigmoid": C(ops.sigmoid, [N(3, 4) * 3], lambda x: 1 / (1 + np.exp(-x)),
                 T(torch.sigmoid) if torch else None),
    "softplus": C(ops.softplus, [N(3, 4) * 3], lambda x: np.log1p(np.exp(x)),
                  T(F.softplus) if torch else None),
    "gelu": C(ops.gelu, [N(3, 4)], lambda x: 0.5 * x * (1 + np.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
        T(lambda x: F.gelu(x, approximate="tanh")) if torch else None),
    "elu": C(ops.elu, [away(3, 4)], lambda x: np.where(x > 0, x, np.expm1(x)),
             T(F.elu) if torch else None),
    "selu": C(ops.selu, [away(3, 4)], None, T(F.selu) if torch else None),
    "leaky_relu": C(ops.leaky_relu, [away(3, 4)], lambda x: np.where(x > 0, x, 0.2 * x),
                    T(lambda x: F.leaky_relu(x, 0.2)) if torch else None),
    "hard_sigmoid": C(ops.hard_sigmoid, [away(3, 4) * 2], lambda x: np.clip(x / 6 + .5, 0, 1)),
    "silu": C(ops.silu, [N(3, 4)], lambda x: x / (1 + np.exp(-x)), T(F.silu) if torch else None),
    "swish": C(ops.swish, [N(3, 4)], lambda x: x / (1 + np.exp(-x))),
    "softmax": C(lambda x: ops.softmax(x, axis=0), [N(3, 4)], lambda x: _np_softmax(x, 0),
                 T(lambda x: torch.softmax(x, 0)) if torch else None),
    "log_softmax": C(ops.log_softmax, [N(3, 4)], lambda x: np.log(_np_softmax(x)),
                     T(lambda x: torch.log_softmax(x, -1)) if torch else None),
    # Keras 3's newer activation ops (the Activation objects' derivatives)
    "softsign": C(ops.softsign, [N(3, 4) * 3], lambda x: x / (1 + np.abs(x)),
                  T(F.softsign) if torch else None),
    "celu": C(lambda x: ops.celu(x, alpha=0.7), [away(3, 4)],
              lambda x: np.maximum(x, 0) + np.minimum(0, 0.7 * np.expm1(x / 0.7)),
              T(lambda x: F.celu(x, 0.7)) if torch else None),
    "hard_tanh": C(ops.hard_tanh, [away(3, 4) * 0.5 + 0.0], lambda x: np.clip(x, -1, 1),
                   T(F.hardtanh) if torch else None),
    "hard_silu": C(ops.hard_silu, [away(3, 4) * 2], lambda x: x * np.clip(x + 3, 0, 6) / 6,
                   T(F.hardswish) if torch else None),
    "hard_swish": C(ops.hard_swish, [away(3, 4) * 2], lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hard_shrink": C(lambda x: ops.hard_shrink(x, 0.3), [away(3, 4)],
                     lambda x: np.where(np.abs(x) > 0.3, x, 0),
                     T(lambda x: F.hardshrink(x, 0.3)) if torch else None),
    "soft_shrink": C(lambda x: ops.soft_shrink(x, threshold=0.3), [away(3, 4)],
                     lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.3, 0),
                     T(lambda x: F.softshrink(x, 0.3)) if torch else None),
    "tanh_shrink": C(ops.tanh_shrink, [N(3, 4)], lambda x: x - np.tanh(x),
                     T(F.tanhshrink) if torch else None),
    "log_sigmoid": C(ops.log_sigmoid, [N(3, 4) * 3], lambda x: -np.log1p(np.exp(-x)),
                     T(F.logsigmoid) if torch else None),
    "squareplus": C(lambda x: ops.squareplus(x, 2), [N(3, 4)],
                    lambda x: (x + np.sqrt(x * x + 2)) / 2),
    "sparse_plus": C(ops.sparse_plus, [away(3, 4) * 2],
                     lambda x: np.piecewise(x, [x <= -1, (x > -1) & (x < 1), x >= 1],
                                            [0, lambda v: (v + 1) ** 2 / 4, lambda v: v])),
    "sparse_sigmoid": C(ops.sparse_sigmoid, [away(3, 4) * 2],
                        lambda x: np.clip((x + 1) / 2, 0, 1)),
    # nn
    "conv": C(lambda x, k: ops.conv(x, k, strides=2, padding="valid"), [N(2, 7, 6, 3),
                                                                          N(3, 2, 3, 4)],
              (lambda x, k: _np_conv2d(x, k, 2, 0)) if torch else None),
    "max_pool": C(lambda x: ops.max_pool(x, 2), [N(2, 4, 6, 3)],
                  lambda x: x.reshape(2, 2, 2, 3, 2, 3).max(axis=(2, 4))),
    "average_pool": C(lambda x: ops.average_pool(x, (2, 3)), [N(1, 4, 6, 2)],
                      lambda x: x.reshape(1, 2, 2, 2, 3, 2).mean(axis=(2, 4))),
    "binary_crossentropy": C(ops.binary_crossentropy, [rng.uniform(0, 1, (3, 2)),
                                                       rng.uniform(0.1, 0.9, (3, 2))],
                             lambda t, p: -(t * np.log(p) + (1 - t) * np.log(1 - p))),
    "categorical_crossentropy": C(ops.categorical_crossentropy,
                                  [np.eye(4)[[0, 2, 3]], _np_softmax(N(3, 4))],
                                  lambda t, p: -(t * np.log(p)).sum(-1), wrt=[1]),
    "sparse_categorical_crossentropy": C(
        lambda p: ops.sparse_categorical_crossentropy(np.array([1, 0, 3]), p, from_logits=True),
        [N(3, 4)], lambda p: -np.log(_np_softmax(p))[np.arange(3), [1, 0, 3]],
        T(lambda p: F.cross_entropy(p, torch.tensor([1, 0, 3]), reduction="none"))
        if torch else None),
    "moments": C(lambda x: ops.moments(x, axes=[0]), [N(5, 3)],
                 lambda x: (x.mean(0), x.var(0))),
    "normalize": C(ops.normalize, [N(3, 4)],
                   lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True),
                   T(lambda x: F.normalize(x, dim=-1)) if torch else None),
    # linalg
    "norm": C(lambda x: ops.norm(x, axis=1), [N(3, 4)], lambda x: np.linalg.norm(x, axis=1)),
    "inv": C(ops.inv, [spd(3)], np.linalg.inv, T(torch.linalg.inv) if torch else None),
    "solve": C(ops.solve, [spd(3), N(3, 2)], np.linalg.solve,
               T(torch.linalg.solve) if torch else None),
    "det": C(ops.det, [N(3, 3) + 2 * np.eye(3)], np.linalg.det,
             T(torch.linalg.det) if torch else None),
    "cholesky": C(lambda a: ops.cholesky(ops.add(ops.matmul(a, ops.transpose(a)), 3 * np.eye(3))),
                  [N(3, 3)], lambda a: np.linalg.cholesky(a @ a.T + 3 * np.eye(3))),
    "qr": C(ops.qr, [N(4, 3)], lambda a: np.linalg.qr(a),
            T(lambda a: torch.linalg.qr(a)) if torch else None, rtol=1e-5),
}


@pytest.mark.parametrize("name", ["argmax", "argmin", "argsort"])
def test_index_ops_return_int32_as_keras(name):
    assert getattr(ops, name)(N(3, 4)).dtype == np.int32


def test_every_public_op_has_a_case():
    missing = sorted(set(ops.__all__) - set(CASES))
    assert not missing, f"ops without a check case: {missing}"
    extra = sorted(set(CASES) - set(ops.__all__))
    assert not extra, f"cases for names that are not public ops: {extra}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_op(name):
    c = CASES[name]
    check_op(c.fn, c.inputs, c.ref, c.torch_fn, wrt=c.wrt, grad=c.grad, rtol=c.rtol)
