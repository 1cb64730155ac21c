"""im2col / col2im numba kernels against their numpy twins (float32 < 1e-5, float64 too)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from core.kernels import conv as K
from tests.conftest import REPO

# (N, H, W, C, kh, kw, sh, sw, dh, dw, pads(top, bottom, left, right))
CASES = [
    (2, 7, 6, 3, 3, 3, 1, 1, 1, 1, (0, 0, 0, 0)),
    (3, 8, 9, 2, 3, 2, 2, 3, 1, 1, (1, 2, 0, 1)),
    (2, 9, 9, 4, 3, 3, 1, 1, 2, 2, (2, 2, 2, 2)),
    (1, 5, 5, 1, 5, 5, 1, 1, 1, 1, (2, 2, 2, 2)),
    (4, 28, 28, 1, 3, 3, 1, 1, 1, 1, (0, 0, 0, 0)),
    (2, 6, 7, 5, 1, 1, 2, 2, 1, 1, (0, 0, 0, 0)),
    (2, 4, 4, 3, 2, 2, 1, 1, 1, 1, (0, 1, 0, 1)),
    (1, 3, 3, 2, 1, 1, 1, 1, 1, 1, (3, 3, 3, 3)),  # padding wider than the kernel
]


def _out(case):
    n, h, w, c, kh, kw, sh, sw, dh, dw, (pt, pb, pl, pr) = case
    return (K.conv_output_size(h, kh, sh, dh, pt, pb), K.conv_output_size(w, kw, sw, dw, pl, pr))


def _rel(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_matches_numpy_twin(case, dtype):
    n, h, w, c, kh, kw, sh, sw, dh, dw, pads = case
    oh, ow = _out(case)
    x = np.random.default_rng(0).standard_normal((n, h, w, c)).astype(dtype)
    got = np.full((n * oh * ow, kh * kw * c), np.nan, dtype)
    want = np.full_like(got, np.nan)
    K.im2col(x, kh, kw, sh, sw, dh, dw, *pads, got)
    K.im2col_ref(x, kh, kw, sh, sw, dh, dw, *pads, want)
    assert not np.isnan(got).any()
    assert _rel(got, want) < (1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_col2im_matches_numpy_twin(case, dtype):
    n, h, w, c, kh, kw, sh, sw, dh, dw, pads = case
    oh, ow = _out(case)
    d = np.random.default_rng(1).standard_normal((n * oh * ow, kh * kw * c)).astype(dtype)
    got = np.full((n, h, w, c), 7.0, dtype)  # stale contents must be overwritten
    want = np.empty_like(got)
    K.col2im(d, kh, kw, sh, sw, dh, dw, *pads, got)
    K.col2im_ref(d, kh, kw, sh, sw, dh, dw, *pads, want)
    assert _rel(got, want) < (1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("case", CASES[:4])
def test_col2im_is_the_adjoint_of_im2col(case):
    # <im2col(x), d> == <x, col2im(d)> for every x, d: col2im is exactly the transpose.
    n, h, w, c, kh, kw, sh, sw, dh, dw, pads = case
    oh, ow = _out(case)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, h, w, c))
    d = rng.standard_normal((n * oh * ow, kh * kw * c))
    cols = K.im2col(x, kh, kw, sh, sw, dh, dw, *pads, np.empty_like(d))
    dx = K.col2im(d, kh, kw, sh, sw, dh, dw, *pads, np.empty_like(x))
    assert np.isclose(np.sum(cols * d), np.sum(x * dx), rtol=1e-12)


def test_im2col_leaves_extra_columns_alone():
    x = np.random.default_rng(3).standard_normal((2, 5, 5, 2)).astype(np.float32)
    cols = np.full((2 * 3 * 3, 3 * 3 * 2 + 1), 1.0, np.float32)
    K.im2col(x, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, cols)
    assert (cols[:, -1] == 1.0).all()
    want = K.im2col_ref(x, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, np.zeros_like(cols))
    assert np.array_equal(cols[:, :-1], want[:, :-1])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
def test_direct_conv_kernels_match_numpy_twins(case, dtype, relu):
    n, h, w, c, kh, kw, sh, sw, dh, dw, (pt, pb, pl, pr) = case
    oh, ow = _out(case)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    kernel = rng.standard_normal((kh, kw, c, 5)).astype(dtype)
    bias = rng.standard_normal(5).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    geo = (sh, sw, dh, dw, pt, pl)
    got = np.full((n, oh, ow, 5), np.nan, dtype)
    want = np.empty_like(got)
    K.conv2d_direct_forward(x, kernel, bias, *geo, relu, got)
    K.conv2d_direct_forward_ref(x, kernel, bias, *geo, relu, want)
    assert _rel(got, want) < tol
    if relu:
        assert (got == 0).any() and (got > 0).any()  # the mask is exercised
    dy = rng.standard_normal(got.shape).astype(dtype)
    gk, gb = np.full_like(kernel, np.nan), np.full_like(bias, np.nan)
    gk_want, gb_want = np.empty_like(kernel), np.empty_like(bias)
    for chunks in (1, 2, 3):   # per-chunk partial sums, also uneven chunks
        K.conv2d_direct_backward_filter(x, dy, got, relu, *geo, gk, gb, chunks)
        K.conv2d_direct_backward_filter_ref(x, dy, want, relu, *geo, gk_want, gb_want)
        assert _rel(gk, gk_want) < tol and _rel(gb, gb_want) < tol
    dx = np.full_like(x, 7.0)  # stale contents must be overwritten
    dx_want = np.empty_like(x)
    K.conv2d_direct_backward_input(kernel, dy, got, relu, *geo, dx)
    K.conv2d_direct_backward_input_ref(kernel, dy, want, relu, *geo, dx_want)
    assert _rel(dx, dx_want) < tol


def test_direct_conv_twins_are_the_convolution_and_its_adjoint():
    # Independent of the numba kernels: the forward twin against im2col @ W, and
    # <conv(x), dz> == <x, dx(dz)> == <W, dW(dz)> (bias 0, no relu).
    n, h, w, c, kh, kw, sh, sw, dh, dw, (pt, pb, pl, pr) = CASES[1]
    oh, ow = _out(CASES[1])
    rng = np.random.default_rng(6)
    x = rng.standard_normal((n, h, w, c))
    kernel = rng.standard_normal((kh, kw, c, 4))
    cols = K.im2col_ref(x, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr,
                        np.empty((n * oh * ow, kh * kw * c)))
    geo = (sh, sw, dh, dw, pt, pl)
    y = K.conv2d_direct_forward_ref(x, kernel, np.zeros(4), *geo, False,
                                    np.empty((n, oh, ow, 4)))
    np.testing.assert_allclose(y.reshape(-1, 4), cols @ kernel.reshape(-1, 4), rtol=1e-12)
    dz = rng.standard_normal(y.shape)
    dx = K.conv2d_direct_backward_input_ref(kernel, dz, y, False, *geo, np.empty_like(x))
    gk = K.conv2d_direct_backward_filter_ref(x, dz, y, False, *geo, np.empty_like(kernel),
                                             np.empty(4))
    assert np.isclose(np.sum(y * dz), np.sum(x * dx), rtol=1e-12)
    assert np.isclose(np.sum(y * dz), np.sum(kernel * gk), rtol=1e-12)


@pytest.mark.parametrize("size,k,stride,dilation,expected", [
    (5, 2, 1, 1, (0, 1)),    # odd total: the extra pixel goes after
    (4, 4, 1, 1, (1, 2)),
    (6, 3, 2, 1, (0, 1)),
    (7, 3, 2, 1, (1, 1)),
    (5, 3, 1, 2, (2, 2)),
    (5, 1, 1, 1, (0, 0)),
    (3, 5, 4, 1, (1, 1)),
])
def test_same_padding_puts_the_odd_pixel_after(size, k, stride, dilation, expected):
    assert K.same_padding(size, k, stride, dilation) == expected
    before, after = expected
    assert K.conv_output_size(size, k, stride, dilation, before, after) == -(-size // stride)


def test_nothing_compiles_at_import_and_warmup_compiles():
    code = (
        "import core.kernels.conv as c, core.kernels.pool as p, core.kernels.norm as n\n"
        "fns = [c.im2col, c.col2im, c.conv2d_direct_forward, c.conv2d_direct_backward_filter,\n"
        "       c.conv2d_direct_backward_input, p.max_pool2d, p.max_pool2d_backward,\n"
        "       p.avg_pool2d, p.avg_pool2d_backward, n.batch_norm_train_forward,\n"
        "       n.batch_norm_infer_forward, n.batch_norm_backward]\n"
        "assert all(not f.signatures for f in fns), 'compiled at import'\n"
        "c.warmup(); p.warmup(); n.warmup()\n"
        "assert all(f.signatures for f in fns), 'warmup missed a kernel'\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
