"""Batch-norm numba kernels against their numpy twins and the textbook formulas."""

from __future__ import annotations

import numpy as np
import pytest

from core.kernels import norm as B

SHAPES = [(7, 3), (100, 5), (1000, 17), (1, 4), (33, 1), (5000, 32)]


def _rel(a, b):
    return float(np.abs(np.asarray(a, np.float64) - b).max() / max(np.abs(b).max(), 1e-30))


def _tol(dtype):
    return 1e-5 if dtype == np.float32 else 1e-12


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    gamma = rng.standard_normal(c).astype(dtype)
    beta = rng.standard_normal(c).astype(dtype)
    return x, gamma, beta


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_train_forward_matches_twin_and_formula(shape, dtype):
    x, gamma, beta = _data(shape, dtype)
    c = shape[1]
    got = [np.empty_like(x)] + [np.empty(c) for _ in range(3)]
    want = [np.empty_like(x)] + [np.empty(c) for _ in range(3)]
    B.batch_norm_train_forward(x, gamma, beta, 1e-3, *got)
    B.batch_norm_train_forward_ref(x, gamma, beta, 1e-3, *want)
    for g, w in zip(got, want):
        assert _rel(g, w) < _tol(dtype)
    # Keras' formula, written out: biased variance, eps inside the sqrt.
    xd = x.astype(np.float64)
    var = xd.var(axis=0)
    y = (xd - xd.mean(axis=0)) / np.sqrt(var + 1e-3) * gamma + beta
    assert _rel(got[0], y) < _tol(dtype)
    assert _rel(got[2], var) < 1e-12


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infer_forward_matches_twin(shape, dtype):
    x, gamma, beta = _data(shape, dtype, 1)
    rng = np.random.default_rng(2)
    mean = rng.standard_normal(shape[1]).astype(dtype)
    var = rng.uniform(0.5, 2, shape[1]).astype(dtype)
    y1, y2 = np.empty_like(x), np.empty_like(x)
    i1, i2 = np.empty(shape[1]), np.empty(shape[1])
    B.batch_norm_infer_forward(x, gamma, beta, mean, var, 1e-3, y1, i1)
    B.batch_norm_infer_forward_ref(x, gamma, beta, mean, var, 1e-3, y2, i2)
    assert _rel(y1, y2) < _tol(dtype)
    assert _rel(i1, i2) < 1e-12


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_backward_matches_twin(shape, dtype, training):
    x, gamma, _ = _data(shape, dtype, 3)
    c = shape[1]
    dy = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    mean = x.astype(np.float64).mean(axis=0)
    inv = 1.0 / np.sqrt(x.astype(np.float64).var(axis=0) + 1e-3)
    got = [np.full_like(x, 9.0), np.empty(c), np.empty(c)]
    want = [np.empty_like(x), np.empty(c), np.empty(c)]
    B.batch_norm_backward(x, dy, gamma, mean, inv, training, *got, True)
    B.batch_norm_backward_ref(x, dy, gamma, mean, inv, training, *want, True)
    for g, w in zip(got, want):
        assert _rel(g, w) < _tol(dtype)


def test_backward_without_input_grad_only_writes_weight_grads():
    x, gamma, _ = _data((50, 4), np.float32)
    dy = np.ones_like(x)
    mean, inv = np.zeros(4), np.ones(4)
    dgamma, dbeta = np.empty(4), np.empty(4)
    B.batch_norm_backward(x, dy, gamma, mean, inv, True, np.empty((0, 4), np.float32),
                          dgamma, dbeta, False)
    assert np.allclose(dbeta, 50.0)
    assert np.allclose(dgamma, x.astype(np.float64).sum(axis=0), rtol=1e-6)


def test_statistics_are_accurate_for_large_float32_batches():
    # 200k rows with a large offset: float32 accumulation would lose ~1e-3 of the variance.
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((200_000, 2)) * 0.1 + 1000.0).astype(np.float32)
    out = [np.empty_like(x)] + [np.empty(2) for _ in range(3)]
    B.batch_norm_train_forward(x, np.ones(2, np.float32), np.zeros(2, np.float32), 1e-3, *out)
    xd = x.astype(np.float64)
    assert _rel(out[1], xd.mean(axis=0)) < 1e-12
    assert _rel(out[2], xd.var(axis=0)) < 1e-9
