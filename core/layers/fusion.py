"""Run a ``Conv2D`` and the ``MaxPooling2D`` right after it as one step.

Keras models keep the two layers separate, and so do ours: configs, weights,
``summary()`` and files are untouched. Only when a model *executes* (``Sequential``
and functional ``call``) a pair that qualifies is handed to
``core.kernels.conv_pool``. A conv with a small reduction (``Conv2D._direct``) never
stores its output: the seed CNN's 128 x 26 x 26 x 32 activation (11 MB a batch) is
neither written, pooled, nor read back by two backwards. A larger one (the deeper
CNN's second conv, 3x3x32 taps) goes im2col + GEMM in chunks of a few images on both
cores (``core.layers.conv_gemm``) and pools each chunk with the ReLU folded in: no
activation pass, no separate pooling layer, no batch-sized column matrix, and
backward turns the pooled gradient into the GEMMs' input chunk by chunk. Results
equal the separate layers' (the same sums; only dW's summation order differs, within
float rounding).

A pair qualifies when the conv is a built ``Conv2D`` with a ReLU or linear
activation, and the pool is a built ``MaxPooling2D`` with non-overlapping windows
(strides == pool_size, 'valid' padding) whose output is not a model output
(training reuses the pooled buffer between steps). Anything else runs layer by
layer.

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

from core import activations, aligned, backend
from core.kernels import conv as conv_kernels
from core.kernels import conv_pool, conv_window
from core.layers import conv_gemm
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
        tape = backend.get_tape()
        # Training reuses the pooled buffer (consumed within the step; fresh pages would
        # fault every step). Outside a tape the result may be kept by the caller (e.g.
        # predict through a Flatten view), so it is a new array.
        out = (conv._scratch.get("pool_out", slot, shape, x.dtype)[0] if tape is not None
               else aligned.empty(shape, x.dtype))
        win, _ = conv._scratch.get("pool_win", slot, shape, np.uint8)
        relu = conv.activation is _RELU
        gemm = not conv._direct(x.shape[3])
        if gemm:
            self._forward_gemm(x, relu, out, win)
        else:
            (sh, sw), (dh, dw) = conv.strides, conv.dilation_rate
            bias = conv.bias.value if conv.use_bias else np.zeros(conv.filters, x.dtype)
            conv_pool.conv2d_relu_maxpool(x, np.ascontiguousarray(conv.kernel.value), bias,
                                          sh, sw, dh, dw, pads[0], pads[2], relu, ph, pw,
                                          out, win)
        if tape is not None:
            # The tape links steps by array identity: record the array we were given
            # (a layer's Tracked output), not its contiguous copy, or the gradient
            # stops here and every layer upstream never trains.
            given = inputs if isinstance(inputs, np.ndarray) else x
            tape.record(self, given, out, (x, win, slot, gemm))
        return out

    # A large reduction goes the conv's GEMM route (``core.layers.conv_gemm``): chunks of
    # images on both cores, each chunk pooled (forward) or unpooled (backward) by the
    # thread that ran its GEMM while its rows are in that core's cache. Only the conv
    # outputs some pooling window covers are computed: an 11x11 output under a 2x2 pool
    # needs 10x10 (the rest is never read and has gradient 0).

    def _forward_gemm(self, x, relu, out, win):
        conv, f = self.conv, self.conv.filters
        (ph, pw) = self.pool.pool_size
        oh, ow = out.shape[1] * ph, out.shape[2] * pw

        def target(b0, b1, per):
            return conv_gemm.thread_buffer(conv, "chunk_z", per * oh * ow, f,
                                           x.dtype)[:(b1 - b0) * oh * ow]

        def pool(b0, b1, z):
            conv_window.maxpool_window(z.reshape(b1 - b0, oh, ow, f), relu, ph, pw,
                                       out[b0:b1], win[b0:b1])

        conv_gemm.forward(conv, x, oh, ow, target, pool)

    def _backward_gemm(self, x, dpool, win, slot, need_input_grad):
        conv, f = self.conv, self.conv.filters
        (ph, pw) = self.pool.pool_size
        oh, ow = dpool.shape[1] * ph, dpool.shape[2] * pw

        def unpooled(b0, b1, per):
            dz = conv_gemm.thread_buffer(conv, "chunk_z", per * oh * ow, f,
                                         x.dtype)[:(b1 - b0) * oh * ow]
            conv_window.unpool_window(dpool[b0:b1], win[b0:b1], ph, pw,
                                      dz.reshape(b1 - b0, oh, ow, f))
            return dz

        return conv_gemm.backward(conv, x, oh, ow, slot, unpooled, need_input_grad)

    def backward(self, cache, grad_output, need_input_grad=True):
        conv = self.conv
        x, win, slot, gemm = cache
        dpool = np.ascontiguousarray(grad_output, dtype=x.dtype)
        if gemm:
            gk, gb, dx = self._backward_gemm(x, dpool, win, slot, need_input_grad)
        else:
            gk, gb, dx = self._backward_direct(x, dpool, win, slot, need_input_grad)
        conv.write_grad(conv.kernel, gk)
        if conv.use_bias:
            conv.write_grad(conv.bias, gb)
        return dx

    def _backward_direct(self, x, dpool, win, slot, need_input_grad):
        conv = self.conv
        n, h, w, c = x.shape
        oh, ow, pads = conv._geometry(h, w)
        (ph, pw), (sh, sw), (dh, dw) = self.pool.pool_size, conv.strides, conv.dilation_rate
        f = conv.filters
        gk, gb = np.empty(conv.kernel.shape, x.dtype), np.empty(f, x.dtype)
        conv_pool.conv2d_relu_maxpool_backward_filter(
            x, dpool, win, sh, sw, dh, dw, pads[0], pads[2], ph, pw, gk, gb,
            conv_kernels.backward_chunks(n))
        dx = None
        if need_input_grad:
            dy, _ = conv._scratch.get("pool_dy", slot, (n, oh, ow, f), x.dtype)
            conv_pool.unpool_gradient(dpool, win, ph, pw, dy)
            dx, _ = conv._scratch.get("dx", slot, x.shape, x.dtype)
            conv_kernels.conv2d_direct_backward_input(np.ascontiguousarray(conv.kernel.value),
                                                      dy, dy, False, sh, sw, dh, dw,
                                                      pads[0], pads[2], dx)
        return gk, gb, dx


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
