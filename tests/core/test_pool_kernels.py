"""Max/average pooling numba kernels against their numpy twins (float32 < 1e-5, float64)."""

from __future__ import annotations

import numpy as np
import pytest

from core.kernels import pool as P
from core.kernels.conv import conv_output_size, same_padding

# (N, H, W, C, ph, pw, sh, sw, same)
CASES = [
    (2, 7, 6, 3, 2, 2, 2, 2, False),
    (3, 8, 9, 2, 3, 2, 2, 3, True),
    (2, 9, 9, 4, 3, 3, 1, 1, True),
    (2, 5, 5, 1, 2, 2, 1, 1, False),
    (1, 6, 6, 5, 3, 3, 2, 2, True),
    (2, 26, 26, 8, 2, 2, 2, 2, False),
    (1, 4, 5, 2, 4, 5, 1, 1, False),
]


def _geometry(case):
    n, h, w, c, ph, pw, sh, sw, same = case
    pt, pb = same_padding(h, ph, sh) if same else (0, 0)
    pl, pr = same_padding(w, pw, sw) if same else (0, 0)
    oh, ow = conv_output_size(h, ph, sh, 1, pt, pb), conv_output_size(w, pw, sw, 1, pl, pr)
    return (pt, pb, pl, pr), (n, oh, ow, c)


def _rel(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-30))


def _tol(dtype):
    return 1e-5 if dtype == np.float32 else 1e-12


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_forward_and_backward_match_twins(case, dtype):
    pads, yshape = _geometry(case)
    n, h, w, c, ph, pw, sh, sw, _ = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    y1, y2 = np.empty(yshape, dtype), np.empty(yshape, dtype)
    a1, a2 = np.empty(yshape, np.int32), np.empty(yshape, np.int32)
    P.max_pool2d(x, ph, pw, sh, sw, *pads, y1, a1)
    P.max_pool2d_ref(x, ph, pw, sh, sw, *pads, y2, a2)
    assert _rel(y1, y2) < _tol(dtype)
    assert np.array_equal(a1, a2)
    dy = rng.standard_normal(yshape).astype(dtype)
    d1, d2 = np.full(x.shape, 9.0, dtype), np.empty(x.shape, dtype)
    P.max_pool2d_backward(dy, a1, d1)
    P.max_pool2d_backward_ref(dy, a2, d2)
    assert _rel(d1, d2) < _tol(dtype)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool_forward_and_backward_match_twins(case, dtype):
    pads, yshape = _geometry(case)
    n, h, w, c, ph, pw, sh, sw, _ = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    y1, y2 = np.full(yshape, 5.0, dtype), np.empty(yshape, dtype)
    P.avg_pool2d(x, ph, pw, sh, sw, *pads, y1)
    P.avg_pool2d_ref(x, ph, pw, sh, sw, *pads, y2)
    assert _rel(y1, y2) < _tol(dtype)
    dy = rng.standard_normal(yshape).astype(dtype)
    d1, d2 = np.full(x.shape, 9.0, dtype), np.empty(x.shape, dtype)
    P.avg_pool2d_backward(dy, ph, pw, sh, sw, *pads, d1)
    P.avg_pool2d_backward_ref(dy, ph, pw, sh, sw, *pads, d2)
    assert _rel(d1, d2) < _tol(dtype)


def test_max_pool_never_picks_padding():
    # All-negative input: a zero-padded pool would return 0 at the borders.
    x = -1.0 - np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    pads = same_padding(3, 2, 2) + same_padding(3, 2, 2)
    y, a = np.empty((1, 2, 2, 1), np.float32), np.empty((1, 2, 2, 1), np.int32)
    P.max_pool2d(x, 2, 2, 2, 2, *pads, y, a)
    assert y.ravel().tolist() == [-1.0, -3.0, -7.0, -9.0]
    assert a.ravel().tolist() == [0, 2, 6, 8]


def test_avg_pool_same_divides_by_valid_count():
    x = np.arange(1, 10, dtype=np.float64).reshape(1, 3, 3, 1)
    pads = same_padding(3, 2, 2) + same_padding(3, 2, 2)
    y = np.empty((1, 2, 2, 1))
    P.avg_pool2d(x, 2, 2, 2, 2, *pads, y)
    # windows: [[1,2],[4,5]], [[3],[6]], [[7,8]], [[9]] (odd pixel padded after)
    assert y.ravel().tolist() == [3.0, 4.5, 7.5, 9.0]
