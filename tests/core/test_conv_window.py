"""Single-threaded chunk kernels of the fused conv + pool GEMM route
(``core.kernels.conv_window``) against their numpy twins, the twins against the
whole-output im2col of ``core.kernels.conv``, and the fused step run in many chunks on
both cores against the same layers run one by one."""

from __future__ import annotations

import numpy as np
import pytest

from core import runtime
from core.autodiff import Tape
from core.kernels import conv as C
from core.kernels import conv_window as W
from core.layers import Conv2D, Dense, Flatten, MaxPooling2D, conv_gemm, fusion
from core.models import Sequential

# (N, H, W, C, k, stride, dilation, (pad_top, pad_left), window (oh, ow))
CASES = [
    (3, 13, 13, 4, 3, 1, 1, (0, 0), (10, 10)),  # the deeper CNN's conv under a 2x2 pool
    (2, 9, 8, 3, 3, 2, 1, (1, 1), (4, 4)),      # strided, padded
    (2, 10, 10, 2, 2, 1, 2, (0, 0), (6, 6)),    # dilated, 3x3 pool over 8x8
    (2, 6, 6, 5, 1, 1, 1, (0, 0), (6, 6)),      # pointwise, whole output
]


def _geo(case):
    _, _, _, _, k, s, d, (pt, pl), (oh, ow) = case
    return (k, k, s, s, d, d, pt, pl, oh, ow)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_and_col2im_window_match_numpy_twins(case, dtype):
    n, h, w, c, k = case[:5]
    oh, ow = case[-1]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    cols = np.full((n * oh * ow, k * k * c + 1), 7.0, dtype)
    want = np.empty((n * oh * ow, k * k * c), dtype)
    W.im2col_window(x, *_geo(case), cols)
    W.im2col_window_ref(x, *_geo(case), want)
    np.testing.assert_array_equal(cols[:, :-1], want)
    assert (cols[:, -1] == 7.0).all()  # the ones column's place is left alone
    dcols = rng.standard_normal(want.shape).astype(dtype)
    dx, want_dx = np.full_like(x, np.nan), np.empty_like(x)
    W.col2im_window(dcols, *_geo(case), dx)
    W.col2im_window_ref(dcols, *_geo(case), want_dx)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(dx, want_dx, rtol=tol, atol=tol)
    # adjoint: <im2col(x), dcols> == <x, col2im(dcols)>
    np.testing.assert_allclose(np.vdot(want.astype(np.float64), dcols),
                               np.vdot(x.astype(np.float64), want_dx), rtol=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_window_twin_is_the_top_left_of_the_whole_output(case):
    """Independent of the window code: the whole-output im2col of ``core.kernels.conv``,
    rows of the outputs inside the window."""
    n, h, w, c, k, s, d, (pt, pl), (oh, ow) = case
    x = np.random.default_rng(1).standard_normal((n, h, w, c))
    pb, pr = pt, pl
    full_h = C.conv_output_size(h, k, s, d, pt, pb)
    full_w = C.conv_output_size(w, k, s, d, pl, pr)
    full = np.empty((n * full_h * full_w, k * k * c))
    C.im2col_ref(x, k, k, s, s, d, d, pt, pb, pl, pr, full)
    got = np.empty((n * oh * ow, k * k * c))
    W.im2col_window_ref(x, *_geo(case), got)
    want = full.reshape(n, full_h, full_w, -1)[:, :oh, :ow].reshape(got.shape)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("pool", [2, 3])
def test_maxpool_and_unpool_window_match_numpy_twins(relu, pool):
    z = np.random.default_rng(2).standard_normal((3, 7, 8, 5)).astype(np.float32)
    z[0, 0, 0, 0] = z[0, 0, 1, 0]  # a tie: the first position must win
    shape = (3, 7 // pool, 8 // pool, 5)
    out, win = np.full(shape, np.nan, np.float32), np.full(shape, 7, np.uint8)
    want, want_win = np.empty(shape, np.float32), np.empty(shape, np.uint8)
    W.maxpool_window(z, relu, pool, pool, out, win)
    W.maxpool_window_ref(z, relu, pool, pool, want, want_win)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(win, want_win)
    dpool = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    dz = np.full((3, shape[1] * pool, shape[2] * pool, 5), np.nan, np.float32)
    want_dz = np.empty_like(dz)
    W.unpool_window(dpool, win, pool, pool, dz)
    W.unpool_window_ref(dpool, win, pool, pool, want_dz)
    np.testing.assert_array_equal(dz, want_dz)


def _through(steps, x, dout):
    """Output, input gradient and (kernel, bias) gradients of ``steps`` run in a chain."""
    with Tape() as tape:
        h = x
        for step in steps:
            h = step(h, training=True)
    conv = steps[0] if isinstance(steps[0], Conv2D) else steps[0].conv
    for v in conv.trainable_weights:
        v.grad_step = object()  # a new step: the gradient is written, not added
    g = np.ones(h.shape, h.dtype) if dout is None else dout
    for rec in reversed(tape.records):
        g = rec.layer.backward(rec.cache, g, need_input_grad=True)
    return h.copy(), g.copy(), [v.grad.copy() for v in conv.trainable_weights]


@pytest.mark.parametrize("kw", [{}, {"activation": None}, {"use_bias": False},
                                {"kernel_size": 1}, {"padding": "same", "strides": 2}])
def test_many_chunks_on_threads_equal_separate_layers(kw, monkeypatch):
    """A chunk of one image: 7 chunks over both cores, input gradient included."""
    monkeypatch.setattr(conv_gemm, "CHUNK_BYTES", 1)
    model = Sequential([Conv2D(**{"filters": 6, "kernel_size": 3, "activation": "relu",
                                  "input_shape": (11, 11, 5), **kw}),
                        MaxPooling2D(2), Flatten(), Dense(3)])
    conv, pool = model.layers[:2]
    step = fusion.execution_plan(model.layers)[0]
    assert isinstance(step, fusion.ConvPool)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 11, 11, 5)).astype(np.float32)
    dout = rng.standard_normal((7, *pool.output_shape[1:])).astype(np.float32)
    want = _through([conv, pool], x, dout)
    with runtime.engine_call():  # one BLAS thread: the chunks go to both cores
        got = _through([step], x, dout)
    assert conv_gemm.chunking(conv, 7, 1, 4) == (1, 7)
    for g, w in zip([got[0], got[1], *got[2]], [want[0], want[1], *want[2]]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw", [{}, {"strides": 2, "padding": "same"}, {"kernel_size": 1},
                                {"use_bias": False, "dilation_rate": 2}])
def test_conv2d_chunks_on_threads_match_the_direct_twins(kw, monkeypatch):
    """Conv2D's GEMM route in one-image chunks on both cores against the per-tap numpy
    twins of ``core.kernels.conv`` (no im2col there): output, dW, db and dx."""
    monkeypatch.setattr(conv_gemm, "CHUNK_BYTES", 1)
    conv = Conv2D(**{"filters": 6, "kernel_size": 3, **kw})
    conv.build((None, 9, 9, 5))
    assert not conv._direct(5)
    rng = np.random.default_rng(5)
    conv.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in conv.weights])
    x = rng.standard_normal((5, 9, 9, 5)).astype(np.float32)
    with runtime.engine_call():
        y, dx, grads = _through([conv], x, None)
    (sh, sw), (dh, dw) = conv.strides, conv.dilation_rate
    pt, _, pl, _ = conv._geometry(9, 9)[2]
    kernel = conv.kernel.value
    bias = conv.bias.value if conv.use_bias else np.zeros(6, np.float32)
    want = np.empty(y.shape)
    C.conv2d_direct_forward_ref(x, kernel, bias, sh, sw, dh, dw, pt, pl, False, want)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    dy = np.ones(y.shape)  # _through's default output gradient
    gk, gb, want_dx = np.empty(kernel.shape), np.empty(6), np.empty(x.shape)
    C.conv2d_direct_backward_filter_ref(x, dy, dy, False, sh, sw, dh, dw, pt, pl, gk, gb)
    C.conv2d_direct_backward_input_ref(kernel, dy, dy, False, sh, sw, dh, dw, pt, pl, want_dx)
    np.testing.assert_allclose(grads[0], gk, rtol=1e-4, atol=1e-3)
    if conv.use_bias:
        np.testing.assert_allclose(grads[1], gb, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-4)
