"""The GEMM route of a 2-D convolution (``Conv2D`` and the fused conv + pool step): im2col
and one GEMM, in chunks of a few images spread over the cores.

Why chunks: each chunk runs whole on one thread (a serial im2col of its images, a
single-threaded BLAS GEMM, whatever consumes its rows), and every core takes chunks
from one counter (``core.models.batch_threads.run``). So both cores work outside BLAS
too, with one hand-over per layer call instead of one per kernel (numba's pool, then
BLAS', then numba's), a chunk's column rows stay in its core's L2 from im2col through
the GEMM, and no column matrix of the whole batch is ever written: backward rebuilds
each chunk's columns from the input (the deeper CNN's second conv kept 15 MB a step
and read it back from memory). Chunks never share a buffer, and the weight gradient is
summed per chunk in chunk order, so results do not depend on which thread ran what.

The conv outputs computed are an explicit window ``oh`` x ``ow`` of the output's top
left: all of it for ``Conv2D``, only what a pooling window covers for the fused step.

>>> import numpy as np
>>> from core.layers import Conv2D
>>> conv = Conv2D(4, 3)
>>> conv.build((None, 6, 6, 2))
>>> x = np.ones((3, 6, 6, 2), "float32")
>>> z = np.empty((3 * 16, 4), "float32")
>>> forward(conv, x, 4, 4, lambda b0, b1, per: z[b0 * 16:b1 * 16])
>>> bool(np.allclose(z, conv(x).reshape(-1, 4)))
True
"""

from __future__ import annotations

import threading

import numpy as np

from core import runtime
from core.kernels import conv_window

# Bytes of column rows (plus conv outputs) per chunk of images: a chunk's columns stay
# in its core's L2 (2 MB here) from im2col through the GEMM. Single-threaded sgemm of
# the deeper CNN's second conv, CPU time, load 6: 94-98 GFLOP/s for 400-800 rows
# (0.5-1 MB of columns), 70-78 for 1600 rows and more.
CHUNK_BYTES = 512 << 10


def geometry(conv, x, oh, ow) -> tuple:
    """im2col_window's geometry arguments for ``conv`` on ``x``, window ``oh`` x ``ow``."""
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.strides, conv.dilation_rate
    pads = conv._geometry(x.shape[1], x.shape[2])[2]
    return (kh, kw, sh, sw, dh, dw, pads[0], pads[2], oh, ow)


def chunking(conv, n, rows_per_image, itemsize) -> tuple[int, int]:
    """``(images per chunk, chunks)`` for a batch of ``n``."""
    width = _taps(conv) + 1 + conv.filters
    per = max(1, min(n, CHUNK_BYTES // max(1, rows_per_image * width * itemsize)))
    return per, -(-n // per)


def _taps(conv) -> int:
    return conv.kernel.size // conv.filters


def _weights(conv):
    """(taps [+1], filters): the kernel, and the bias as last row riding on the columns'
    ones column."""
    k = _taps(conv)
    w2 = conv.kernel.value.reshape(k, conv.filters)
    if not conv.use_bias:
        return w2
    wb, _ = conv._scratch.get("gemm_weights", 0, (k + 1, conv.filters), w2.dtype)
    wb[:k] = w2
    wb[k] = conv.bias.value
    return wb


def thread_buffer(conv, name, rows, width, dtype, ones_at=None):
    """This thread's ``rows`` x ``width`` buffer ``name`` of ``conv`` (reused every call;
    a column buffer gets its ones column once, at ``ones_at``)."""
    buf, fresh = conv._scratch.get(name, ("thread", threading.get_ident()), (rows, width),
                                   dtype)
    if fresh and ones_at is not None:
        buf[:, ones_at] = 1.0
    return buf


def _columns(conv, x, b0, b1, geo, per):
    """The column rows of images b0..b1 in this thread's buffer."""
    k = _taps(conv)
    kb = k + 1 if conv.use_bias else k
    rpi = geo[-2] * geo[-1]
    cols = thread_buffer(conv, "chunk_cols", per * rpi, kb, x.dtype,
                         ones_at=k if kb > k else None)[:(b1 - b0) * rpi]
    conv_window.im2col_window(x[b0:b1], *geo, cols)
    return cols


def forward(conv, x, oh, ow, target, consume=None) -> None:
    """Conv outputs (bias added, no activation) of the ``oh`` x ``ow`` window, chunk by
    chunk: ``target(b0, b1, per)`` gives the (rows, filters) array a chunk's GEMM
    writes (rows in (image, oy, ox) order), then ``consume(b0, b1, z)`` runs on it."""
    n = x.shape[0]
    geo = geometry(conv, x, oh, ow)
    w2 = _weights(conv)
    per, chunks = chunking(conv, n, oh * ow, x.itemsize)

    def work(t):
        b0, b1 = t * per, min(n, (t + 1) * per)
        z = target(b0, b1, per)
        runtime.matmul(_columns(conv, x, b0, b1, geo, per), w2, out=z)
        if consume is not None:
            consume(b0, b1, z)

    run_chunks(chunks, work)


def backward(conv, x, oh, ow, slot, grad_rows, need_input_grad):
    """``(kernel gradient, bias gradient or None, dx or None)`` of the window's conv
    outputs, ``grad_rows(b0, b1, per)`` giving a chunk's (rows, filters) output
    gradient; ``dx`` is the layer's reused buffer for ``slot``."""
    n, f = x.shape[0], conv.filters
    geo = geometry(conv, x, oh, ow)
    rpi, k = oh * ow, _taps(conv)
    kb = k + 1 if conv.use_bias else k
    per, chunks = chunking(conv, n, rpi, x.itemsize)
    parts, _ = conv._scratch.get("gemm_gw_parts", slot, (chunks, kb, f), x.dtype)
    dx = conv._scratch.get("dx", slot, x.shape, x.dtype)[0] if need_input_grad else None
    w_t = np.ascontiguousarray(conv.kernel.value.reshape(k, f).T)

    def work(t):
        b0, b1 = t * per, min(n, (t + 1) * per)
        cols = _columns(conv, x, b0, b1, geo, per)
        dz = grad_rows(b0, b1, per)
        runtime.matmul(cols.T, dz, out=parts[t])  # kernel rows, then the bias row
        if dx is not None:
            dcols = thread_buffer(conv, "chunk_dcols", per * rpi, k, x.dtype)[:len(dz)]
            runtime.matmul(dz, w_t, out=dcols)
            conv_window.col2im_window(dcols, *geo, dx[b0:b1])

    run_chunks(chunks, work)
    gw = parts.sum(axis=0)  # in chunk order: the same sums whichever thread ran them
    return gw[:k].reshape(conv.kernel.shape), (gw[k] if kb > k else None), dx


def run_chunks(chunks, work) -> None:
    """``work(t)`` for every chunk, on every core when that pays (``batch_threads.run``);
    in turn inside threads the engine already runs in parallel (no pool in a pool)."""
    from core.models import batch_threads  # (core.models imports core.layers)

    if runtime.in_parallel_region() or not batch_threads.run(
            chunks, work, alone=0):
        for t in range(chunks):
            work(t)
