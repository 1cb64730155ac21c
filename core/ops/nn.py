"""``keras.ops.nn`` beyond activations: N-D ``conv``, ``max_pool``, ``average_pool``
(channels_last), the crossentropies (per-sample values, no reduction, as Keras' ops),
``moments`` and ``normalize``.

Convolution and pooling loop over the window offsets (a few per kernel) and do one
batched product or comparison per offset, so they are plain numpy for any rank; they
are meant for user code, not as fast as the built-in Conv2D/MaxPooling2D kernels.

>>> import numpy as np
>>> from core import ops
>>> ops.conv(np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 4))).shape
(1, 3, 3, 4)
"""

from __future__ import annotations

import itertools

import numpy as np

from core import backend
from core.ops import activations as A
from core.ops import elementwise as E
from core.ops import reduce as R
from core.ops.activations import (  # noqa: F401  (ops.nn.relu ... as in Keras)
    celu,
    elu,
    gelu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_shrink,
    softmax,
    softplus,
    softsign,
    sparse_plus,
    sparse_sigmoid,
    squareplus,
    swish,
    tanh_shrink,
)
from core.ops.elementwise import tanh  # noqa: F401
from core.ops.engine import primitive


def _tuple(v, n, what):
    t = (v,) * n if isinstance(v, int) else tuple(v)
    if len(t) != n:
        raise ValueError(f"{what} must have {n} values, got {v!r}")
    return t


def _check_format(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"data_format={data_format!r} is not supported (channels_last only)")


def _padding(n_in, k, s, d, padding):
    """(left, right, out) of one spatial axis, TensorFlow's rule for "same"."""
    eff = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0, max((n_in - eff) // s + 1, 0)
    if padding != "same":
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    out = -(-n_in // s)
    total = max((out - 1) * s + eff - n_in, 0)
    return total // 2, total - total // 2, out


def _geometry(shape, window, strides, padding, dilation):
    pads, outs = [], []
    for n, k, s, d in zip(shape, window, strides, dilation):
        lo, hi, o = _padding(n, k, s, d, padding)
        pads.append((lo, hi))
        outs.append(o)
    return pads, outs


def _slices(offset, strides, dilation, outs):
    return (slice(None),) + tuple(
        slice(o * d, o * d + (n - 1) * s + 1, s)
        for o, s, d, n in zip(offset, strides, dilation, outs)) + (slice(None),)


def _conv_f(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    _check_format(data_format)
    nd = inputs.ndim - 2
    if kernel.ndim != nd + 2 or kernel.shape[-2] != inputs.shape[-1]:
        raise ValueError(f"kernel shape {kernel.shape} does not fit input shape "
                         f"{inputs.shape} (expected (*window, {inputs.shape[-1]}, filters))")
    st, dl = _tuple(strides, nd, "strides"), _tuple(dilation_rate, nd, "dilation_rate")
    pads, outs = _geometry(inputs.shape[1:-1], kernel.shape[:nd], st, padding.lower(), dl)
    xp = np.pad(inputs, [(0, 0)] + pads + [(0, 0)])
    out = np.zeros((inputs.shape[0], *outs, kernel.shape[-1]),
                   np.result_type(inputs, kernel))
    for off in itertools.product(*(range(k) for k in kernel.shape[:nd])):
        out += xp[_slices(off, st, dl, outs)] @ kernel[off]
    return out, (xp, kernel, st, dl, outs, pads, inputs.shape)


def _conv_b(c, g, need):
    xp, kernel, st, dl, outs, pads, shape = c
    nd = len(st)
    gxp = np.zeros_like(xp) if need[0] else None
    gk = np.zeros_like(kernel) if need[1] else None
    axes = list(range(nd + 1))
    for off in itertools.product(*(range(k) for k in kernel.shape[:nd])):
        sl = _slices(off, st, dl, outs)
        if need[1]:
            gk[off] = np.tensordot(xp[sl], g, axes=(axes, axes))
        if need[0]:
            gxp[sl] += g @ kernel[off].T
    gx = None
    if need[0]:
        gx = gxp[(slice(None),) + tuple(slice(lo, lo + n) for (lo, _), n
                                        in zip(pads, shape[1:-1])) + (slice(None),)]
    return [gx, gk]


conv = primitive("conv", _conv_f, _conv_b, 2,
                 "N-D convolution (channels_last): kernel ``(*window, in, out)``, ``strides``, "
                 "``padding`` ('valid'/'same'), ``dilation_rate``.")


def _pool_setup(inputs, pool_size, strides, padding, data_format):
    _check_format(data_format)
    nd = inputs.ndim - 2
    window = _tuple(pool_size, nd, "pool_size")
    st = window if strides is None else _tuple(strides, nd, "strides")
    pads, outs = _geometry(inputs.shape[1:-1], window, st, padding.lower(), (1,) * nd)
    return nd, window, st, pads, outs


def _max_pool_f(inputs, pool_size, strides=None, padding="valid", data_format=None):
    nd, window, st, pads, outs = _pool_setup(inputs, pool_size, strides, padding, data_format)
    xp = np.pad(inputs, [(0, 0)] + pads + [(0, 0)], constant_values=-np.inf)
    offsets = list(itertools.product(*(range(k) for k in window)))
    out = None
    for off in offsets:
        v = xp[_slices(off, st, (1,) * nd, outs)]
        out = v.copy() if out is None else np.maximum(out, v)
    return out.astype(inputs.dtype, copy=False), (xp, out, st, offsets, outs, pads, inputs.shape)


def _max_pool_b(c, g, need):
    xp, out, st, offsets, outs, pads, shape = c
    nd = len(st)
    gxp = np.zeros(xp.shape, g.dtype)
    taken = np.zeros(out.shape, bool)
    for off in offsets:  # the first maximum of each window gets the gradient
        sl = _slices(off, st, (1,) * nd, outs)
        hit = (xp[sl] == out) & ~taken
        taken |= hit
        gxp[sl] += g * hit
    return [gxp[(slice(None),) + tuple(slice(lo, lo + n) for (lo, _), n
                                       in zip(pads, shape[1:-1])) + (slice(None),)]]


def _avg_pool_f(inputs, pool_size, strides=None, padding="valid", data_format=None):
    nd, window, st, pads, outs = _pool_setup(inputs, pool_size, strides, padding, data_format)
    spec = [(0, 0)] + pads + [(0, 0)]
    xp = np.pad(inputs, spec)
    ones = np.pad(np.ones((1, *inputs.shape[1:-1], 1), inputs.dtype), spec)
    offsets = list(itertools.product(*(range(k) for k in window)))
    total = count = 0
    for off in offsets:  # "same" averages only the real (unpadded) values, as Keras
        sl = _slices(off, st, (1,) * nd, outs)
        total = total + xp[sl]
        count = count + ones[sl]
    return (total / count).astype(inputs.dtype, copy=False), (
        xp.shape, count, st, offsets, outs, pads, inputs.shape)


def _avg_pool_b(c, g, need):
    xshape, count, st, offsets, outs, pads, shape = c
    nd = len(st)
    gxp = np.zeros(xshape, g.dtype)
    gc = g / count
    for off in offsets:
        gxp[_slices(off, st, (1,) * nd, outs)] += gc
    return [gxp[(slice(None),) + tuple(slice(lo, lo + n) for (lo, _), n
                                       in zip(pads, shape[1:-1])) + (slice(None),)]]


max_pool = primitive("max_pool", _max_pool_f, _max_pool_b, 1,
                     "N-D max pooling (channels_last); ``strides`` default to ``pool_size``.")
average_pool = primitive("average_pool", _avg_pool_f, _avg_pool_b, 1,
                         "N-D average pooling (channels_last); 'same' ignores the padding.")


# ------------------------------------------------------------ crossentropies
def binary_crossentropy(target, output, from_logits=False):
    """Element-wise binary crossentropy (Keras' formula: output clipped to
    ``[eps, 1 - eps]``; with ``from_logits`` a sigmoid first)."""
    eps = backend.epsilon()
    if from_logits:
        output = A.sigmoid(output)
    output = E.clip(output, eps, 1 - eps)
    one = 1.0
    return E.negative(E.add(E.multiply(target, E.log(output)),
                            E.multiply(E.subtract(one, target),
                                       E.log(E.subtract(one, output)))))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample categorical crossentropy; probabilities are renormalized over
    ``axis`` and clipped to ``[eps, 1 - eps]`` as in Keras."""
    if np.shape(target) != np.shape(output):
        raise ValueError(f"ops.categorical_crossentropy: target shape {np.shape(target)} and "
                         f"output shape {np.shape(output)} must be equal")
    if from_logits:
        log_prob = A.log_softmax(output, axis=axis)
    else:
        eps = backend.epsilon()
        output = E.divide(output, R.sum(output, axis=axis, keepdims=True))
        log_prob = E.log(E.clip(output, eps, 1 - eps))
    return E.negative(R.sum(E.multiply(target, log_prob), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample crossentropy of integer labels ``target``."""
    from core.ops.engine import plain
    from core.ops.manipulation import one_hot
    t = np.asarray(plain(target))
    out_shape = np.shape(plain(output))
    if t.ndim == len(out_shape) and t.shape[-1] == 1:
        t = t[..., 0]
    if t.shape != out_shape[:-1]:
        raise ValueError(f"ops.sparse_categorical_crossentropy: target shape {np.shape(target)} "
                         f"does not fit output shape {out_shape}")
    onehot = one_hot(t, out_shape[axis], axis=axis, dtype=np.asarray(plain(output)).dtype)
    return categorical_crossentropy(onehot, output, from_logits=from_logits, axis=axis)


# --------------------------------------------------------------- statistics
def moments(x, axes, keepdims=False, synchronized=False):
    """``(mean, variance)`` over ``axes`` (population variance)."""
    mean = R.mean(x, axis=axes, keepdims=True)
    variance = R.mean(E.square(E.subtract(x, mean)), axis=axes, keepdims=True)
    if not keepdims:
        from core.ops.manipulation import squeeze
        axes_t = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
        mean, variance = squeeze(mean, axis=axes_t), squeeze(variance, axis=axes_t)
    return mean, variance


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its ``order``-norm over ``axis`` (Keras: ``x * rsqrt(max(sum(x^2),
    eps))`` for order 2)."""
    eps = backend.epsilon() if epsilon is None else epsilon
    if order == 2:
        sq = R.sum(E.square(x), axis=axis, keepdims=True)
        return E.divide(x, E.sqrt(E.maximum(sq, eps)))
    from core.ops.linalg import norm
    return E.divide(x, E.maximum(norm(x, ord=order, axis=axis, keepdims=True), eps))
