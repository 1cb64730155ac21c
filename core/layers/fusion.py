"""Run a ``Conv2D`` and the ``MaxPooling2D`` right after it as one step.

Keras models keep the two layers separate, and so do ours: configs, weights,
``summary()`` and files are untouched. Only when a model *executes* (``Sequential``
and functional ``call``) a pair that qualifies is handed to
``core.kernels.conv_pool``. A conv with a small reduction (``Conv2D._direct``) never
stores its output: the seed CNN's 128 x 26 x 26 x 32 activation (11 MB a batch) is
neither written, pooled, nor read back by two backwards. A larger one (the deeper
CNN's second conv, 3x3x32 taps) keeps the conv's im2col + GEMM, into a buffer reused
every step, and pools it with the ReLU folded in: no activation pass, no separate
pooling layer, and backward turns the pooled gradient into the GEMMs' input in one
pass. Results equal the separate layers' (the same sums; only dW's summation order
differs, within float rounding).

A pair qualifies when the conv is a built ``Conv2D`` with a ReLU or linear
activation, and the pool is a built ``MaxPooling2D`` with non-overlapping windows
(strides == pool_size, 'valid' padding) whose output is not a model output
(training reuses the pooled buffer between steps). Anything else runs layer by
layer, and so does a batch of images so large that the conv works in blocks.

This is a swap on the layer list at execution time (the model's plan), not yet a
registered rewrite of one execution plan (project structure note 6).

>>> from core.layers import Conv2D, Flatten, MaxPooling2D
>>> from core.models import Sequential
>>> m = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
...                 MaxPooling2D(), Flatten()])
>>> [type(s).__name__ for s in execution_plan(m.layers)]
['ConvPool', 'Flatten']
"""

from __future__ import annotations

import numpy as np

from core import activations, backend, runtime
from core.kernels import conv as conv_kernels
from core.kernels import conv_pool
from core.layers.convolutional import Conv2D
from core.layers.pooling import MaxPooling2D
from core.layers.values import _as_arrays

_RELU = activations.get("relu")
_LINEAR = activations.get(None)


def fusable(conv, pool) -> bool:
    """True when ``conv`` then ``pool`` can run as one ``ConvPool`` step."""
    if type(conv) is not Conv2D or type(pool) is not MaxPooling2D:
        return False
    if not (conv.built and pool.built) or conv.activation not in (_RELU, _LINEAR):
        return False
    if conv.activity_regularizer is not None or pool.activity_regularizer is not None:
        return False  # the step calls neither layer, so neither could add its penalty
    shape = conv.input_shape
    if not isinstance(shape, tuple) or len(shape) != 4 or shape[3] is None:
        return False
    (ph, pw), strides = pool.pool_size, pool.strides
    return (tuple(strides) == (ph, pw) and pool.padding == "valid"
            and ph * pw < conv_pool.DEAD and pool.dtype == conv.dtype)


class ConvPool:
    """One tape step for ``conv`` + ``pool`` (see the module docstring). Called like a
    layer, ``step(x, training=...)``; records itself on the active tape with the
    conv's variables."""

    _tracked_layers = ()

    def __init__(self, conv: Conv2D, pool: MaxPooling2D):
        self.conv, self.pool = conv, pool
        self.name = f"{conv.name}+{pool.name}"

    def _own_trainable_variables(self):
        return self.conv._own_trainable_variables()

    def __call__(self, inputs, training=False):
        conv = self.conv
        x = _as_arrays(inputs, conv.dtype)
        conv._validate_input_shape(x.shape)
        x = np.ascontiguousarray(x, dtype=conv.kernel.dtype)
        n, h, w, _ = x.shape
        oh, ow, pads = conv._geometry(h, w)
        (ph, pw) = self.pool.pool_size
        poh, pow_ = oh // ph, ow // pw
        if poh <= 0 or pow_ <= 0:  # let the pool layer raise its own error
            return self.pool(conv(inputs, training=training), training=training)
        slot = conv._scratch.slot()
        shape = (n, poh, pow_, conv.filters)
        gemm = not conv._direct(x.shape[3])
        width = self._cols_width(x.shape[3]) + conv.filters
        if gemm and len(conv._blocks(n, oh * ow, width)[0]) > 1:
            # Images so large that the conv works in blocks to bound memory: unfused.
            return self.pool(conv(inputs, training=training), training=training)
        tape = backend.get_tape()
        # Training reuses the pooled buffer (consumed within the step; fresh pages would
        # fault every step). Outside a tape the result may be kept by the caller (e.g.
        # predict through a Flatten view), so it is a new array.
        out = (conv._scratch.get("pool_out", slot, shape, x.dtype)[0] if tape is not None
               else np.empty(shape, x.dtype))
        win, _ = conv._scratch.get("pool_win", slot, shape, np.uint8)
        relu = conv.activation is _RELU
        if gemm:
            cols = self._forward_gemm(x, oh, ow, pads, slot, relu, out, win)
        else:
            (sh, sw), (dh, dw) = conv.strides, conv.dilation_rate
            bias = conv.bias.value if conv.use_bias else np.zeros(conv.filters, x.dtype)
            conv_pool.conv2d_relu_maxpool(x, np.ascontiguousarray(conv.kernel.value), bias,
                                          sh, sw, dh, dw, pads[0], pads[2], relu, ph, pw,
                                          out, win)
            cols = None
        if tape is not None:
            # The tape links steps by array identity: record the array we were given
            # (a layer's Tracked output), not its contiguous copy, or the gradient
            # stops here and every layer upstream never trains.
            given = inputs if isinstance(inputs, np.ndarray) else x
            tape.record(self, given, out, (x, win, slot, cols))
        return out

    def _forward_gemm(self, x, oh, ow, pads, slot, relu, out, win):
        """Large reduction: the conv's own im2col + GEMM into a reused buffer, then the
        pooling kernel on it; returns the column matrix (kept for backward)."""
        conv = self.conv
        n, c, f, rpi = x.shape[0], x.shape[3], conv.filters, oh * ow
        kh, kw = conv.kernel_size
        k = kh * kw * c
        w2 = conv._weight_matrix(k)
        cols = None if conv._pointwise() else conv._col_buffer(
            "cols", slot, n, rpi, w2.shape[0], x.dtype, ones_at=k if w2.shape[0] > k else None)
        cols = conv._columns(x, 0, n, cols, pads, rpi)
        z, _ = conv._scratch.get("z", slot, (n * rpi, f), x.dtype)
        runtime.matmul(cols, w2, out=z)  # the engine's GEMM policy, as Conv2D's own
        if conv.use_bias and conv._pointwise():
            z += conv.bias.value
        conv_pool.relu_maxpool(z.reshape(n, oh, ow, f), relu, *self.pool.pool_size, out, win)
        return cols

    def _cols_width(self, c):
        """Columns of the conv's column matrix: the taps, plus the bias's ones column."""
        conv = self.conv
        k = conv.kernel_size[0] * conv.kernel_size[1] * c
        return k + 1 if conv.use_bias and not conv._pointwise() else k

    def backward(self, cache, grad_output, need_input_grad=True):
        conv = self.conv
        x, win, slot, cols = cache
        n, h, w, c = x.shape
        oh, ow, pads = conv._geometry(h, w)
        (ph, pw), (sh, sw), (dh, dw) = self.pool.pool_size, conv.strides, conv.dilation_rate
        dpool = np.ascontiguousarray(grad_output, dtype=x.dtype)
        f = conv.filters
        dy = None
        if cols is not None or need_input_grad:  # the conv output gradient, in full
            dy, _ = conv._scratch.get("pool_dy", slot, (n, oh, ow, f), x.dtype)
            conv_pool.unpool_gradient(dpool, win, ph, pw, dy)
        if cols is None:
            gk, gb = np.empty(conv.kernel.shape, x.dtype), np.empty(f, x.dtype)
            conv_pool.conv2d_relu_maxpool_backward_filter(
                x, dpool, win, sh, sw, dh, dw, pads[0], pads[2], ph, pw, gk, gb,
                conv_kernels.backward_chunks(n))
        else:  # GEMM path: dW (and db on the ones column) = cols.T @ dz
            dz = dy.reshape(-1, f)
            gw, _ = conv._scratch.get("gw", slot, (cols.shape[1], f), x.dtype)
            runtime.matmul(cols.T, dz, out=gw)
            k = conv.kernel.size // f
            gk = gw[:k].reshape(conv.kernel.shape)
            gb = gw[k] if gw.shape[0] > k else dz.sum(axis=0)  # ones column, or none
        dx = None
        if need_input_grad:
            dx, _ = conv._scratch.get("dx", slot, x.shape, x.dtype)
            kernel = np.ascontiguousarray(conv.kernel.value)
            if cols is None:
                conv_kernels.conv2d_direct_backward_input(kernel, dy, dy, False, sh, sw, dh, dw,
                                                          pads[0], pads[2], dx)
            elif conv._pointwise():
                runtime.matmul(dy.reshape(-1, f), kernel.reshape(c, f).T, out=dx.reshape(-1, c))
            else:
                kh, kw = conv.kernel_size
                dcols, _ = conv._scratch.get("dcols", slot, (n * oh * ow, kh * kw * c), x.dtype)
                runtime.matmul(dy.reshape(-1, f), kernel.reshape(-1, f).T, out=dcols)
                conv_kernels.col2im(dcols, kh, kw, sh, sw, dh, dw, *pads, dx)
        conv.write_grad(conv.kernel, gk)
        if conv.use_bias:
            conv.write_grad(conv.bias, gb)
        return dx


def _fused(conv, pool) -> ConvPool:
    step = getattr(conv, "_conv_pool", None)
    if step is None or step.pool is not pool:
        step = ConvPool(conv, pool)
        conv._conv_pool = step
    return step


def execution_plan(layers, keep=()) -> list:
    """``layers`` (a chain) with each qualifying Conv2D + MaxPooling2D pair replaced
    by its ``ConvPool``; a pool in ``keep`` (e.g. the last layer) is never fused."""
    plan, i = [], 0
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if nxt is not None and nxt not in keep and fusable(layer, nxt):
            plan.append(_fused(layer, nxt))
            i += 2
        else:
            plan.append(layer)
            i += 1
    return plan


def functional_plan(plan, output_ids) -> list:
    """A functional model's execution plan (``core.models.graph.PlanStep`` entries in
    topological order) with qualifying pairs fused: the conv's output must feed only the
    pool, and neither output may be a model output."""
    uses: dict[int, int] = {}
    for entry in plan:
        for i in entry.in_ids:
            uses[i] = uses.get(i, 0) + 1
    consumer = {entry.in_ids[0]: k for k, entry in enumerate(plan) if len(entry.in_ids) == 1}
    out, dropped = [], set()
    for k, entry in enumerate(plan):
        if k in dropped:
            continue
        out_ids = entry.out_ids
        j = consumer.get(out_ids[0]) if len(out_ids) == 1 and not entry.multi_out else None
        pool = plan[j] if j is not None else None
        if (pool is not None and uses.get(out_ids[0]) == 1 and out_ids[0] not in output_ids
                and not entry.kwargs and not pool.kwargs and not pool.multi_out
                and pool.out_ids[0] not in output_ids and fusable(entry.layer, pool.layer)):
            out.append(entry._replace(layer=_fused(entry.layer, pool.layer),
                                      out_ids=pool.out_ids, multi_out=False, kwargs={}))
            dropped.add(j)
        else:
            out.append(entry)
    return out
