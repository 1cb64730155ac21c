"""``check_against_ops``: a layer's hand-written ``backward`` against the tape gradients
of the same forward written as a composition of ``core.ops`` (float64, rtol 1e-10), and
those compositions (convolutions as sums of strided slices @ taps, pools as maxima /
means of window slices, normalizations, ...), which share no code with the layers.
Used by ``tests/core/test_fused_backward_ops.py``.

>>> import numpy as np
>>> from core.layers import Dense
>>> check_against_ops(Dense(2, dtype="float64"), np.ones((3, 4)),
...                   lambda x, kernel, bias: ops.matmul(x, kernel) + bias)
"""

from __future__ import annotations

import functools

import numpy as np

from core import ops
from core.autodiff import Tape
from core.ops.engine import Tracked, plain
from core.ops.function_grad import _InputSink, record_function

RTOL, ATOL = 1e-10, 1e-12


def _randomize(layer, rng):
    for v in layer.weights:
        if "variance" in v.name:
            v.value[...] = rng.uniform(0.5, 1.5, v.shape)
        else:
            v.value[...] = rng.normal(0, 0.5, v.shape)


def _layer_run(layer, inputs, r, training):
    """Output, input gradients and weight gradients of the layer's own backward."""
    multi = isinstance(inputs, list)
    xs = [np.asarray(x).view(Tracked) if np.asarray(x).dtype.kind == "f" else np.asarray(x)
          for x in (inputs if multi else [inputs])]
    floats = [x for x in xs if type(x) is Tracked]
    sink = _InputSink()
    with Tape() as tape:
        tape.record(sink, [], floats, None)
        tape.watch(*floats)
        y = layer(xs if multi else xs[0], training=training)
    recorded = [rec.layer for rec in tape.records if rec.layer is not sink]
    assert recorded == [layer], f"{layer.name}: expected only its own backward, got {recorded}"
    tape.backward(y, r)
    dxs = [plain(g) if g is not None else np.zeros_like(x)
           for g, x in zip(sink.grads or [None] * len(floats), floats)]
    dws = []
    for v in layer._own_trainable_variables():
        assert v.grad_step == tape.step, f"{layer.name}: no gradient for {v.name}"
        dws.append(v.grad.copy())
    return plain(y), dxs, dws


def check_against_ops(layer, inputs, twin, training=False, seed=0, owner=None):
    """Assert that ``layer``'s output and hand-written gradients equal the tape gradients
    of ``twin(*inputs, **weights)``, a composition of ``core.ops`` (weights by name,
    the trainable ones differentiated). ``owner`` holds the weights when ``layer`` is a
    fused step of built layers (``ConvPool``)."""
    rng = np.random.default_rng(seed)
    multi = isinstance(inputs, list)
    xs = inputs if multi else [inputs]
    owner = owner or layer
    if not owner.built:
        layer(list(xs) if multi else xs[0], training=False)
    _randomize(owner, rng)
    variables = layer._own_trainable_variables()
    names = [v.name for v in owner.weights]
    consts = {v.name: v.value.copy() for v in owner.weights}
    y = np.asarray(layer(list(xs) if multi else xs[0], training=training))
    r = rng.normal(size=y.shape)
    got_y, got_dx, got_dw = _layer_run(layer, inputs, r, training)

    float_idx = [i for i, x in enumerate(xs) if np.asarray(x).dtype.kind == "f"]
    train_names = [v.name for v in variables]
    arrays = [np.asarray(x) for x in xs] + [consts[n].copy() for n in train_names]
    wrt = float_idx + list(range(len(xs), len(arrays)))

    def fn(*a):
        w = dict(consts)
        w.update(zip(train_names, a[len(xs):]))
        return twin(*a[:len(xs)], **{n: w[n] for n in names})

    want_y, backward = record_function(fn, arrays, wrt=wrt)
    grads = backward(r)
    np.testing.assert_allclose(got_y, want_y, rtol=RTOL, atol=ATOL, err_msg="output")
    for i, (g, w) in enumerate(zip(got_dx, grads[:len(float_idx)])):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"d input {i}")
    for n, g, w in zip(train_names, got_dw, grads[len(float_idx):]):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"d {n}")


def _x(shape, seed=1, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


# ------------------------------------------------- ops compositions (the twins)
def relu(z):
    return ops.maximum(z, 0.0)


def softmax(z, axis=-1):
    e = ops.exp(z - ops.stop_gradient(ops.max(z, axis=axis, keepdims=True)))
    return e / ops.sum(e, axis=axis, keepdims=True)


def sigmoid(z):
    return 1.0 / (1.0 + ops.exp(-z))


ACT = {None: lambda z: z, "linear": lambda z: z, "relu": relu, "tanh": ops.tanh,
       "sigmoid": sigmoid, "softmax": softmax}


def same_pads(n, k, s, d=1):
    """TensorFlow/Keras 'same' padding: (before, after)."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def conv_nd(x, kernel, strides, padding, dilation):
    """Channels-last convolution as a sum over kernel taps of strided slices @ tap."""
    nd = kernel.ndim - 2
    ks = kernel.shape[:nd]
    pads = [[0, 0]]
    for a in range(nd):
        n = x.shape[1 + a]
        if padding == "same":
            pads.append(list(same_pads(n, ks[a], strides[a], dilation[a])))
        elif padding == "causal":
            pads.append([(ks[a] - 1) * dilation[a], 0])
        else:
            pads.append([0, 0])
    pads.append([0, 0])
    if any(p != [0, 0] for p in pads):
        x = ops.pad(x, pads)
    outs = [(x.shape[1 + a] - (ks[a] - 1) * dilation[a] - 1) // strides[a] + 1
            for a in range(nd)]
    total = None
    for tap in np.ndindex(*ks):
        index = (slice(None),) + tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s)
            for t, d, o, s in zip(tap, dilation, outs, strides)) + (slice(None),)
        term = ops.matmul(x[index], kernel[tap])
        total = term if total is None else total + term
    return total


def pool_nd(x, size, strides, padding, kind):
    nd = len(size)
    if padding == "same":
        pads = [[0, 0]] + [list(same_pads(x.shape[1 + a], size[a], strides[a]))
                           for a in range(nd)] + [[0, 0]]
        if kind == "max":
            x = ops.pad(x, pads, constant_values=-np.inf)
        else:  # Keras averages over the window's valid elements only
            count = np.pad(np.ones(x.shape[1:1 + nd]), pads[1:1 + nd])
            x = ops.pad(x, pads)
    outs = [(x.shape[1 + a] - size[a]) // strides[a] + 1 for a in range(nd)]
    terms, counts = [], []
    for tap in np.ndindex(*size):
        index = tuple(slice(t, t + (o - 1) * s + 1, s) for t, o, s in zip(tap, outs, strides))
        terms.append(x[(slice(None),) + index + (slice(None),)])
        if kind == "avg" and padding == "same":
            counts.append(count[index])
    if kind == "max":
        return functools.reduce(ops.maximum, terms)
    total = functools.reduce(ops.add, terms)
    if padding == "same":
        return total / sum(counts)[(None,) + (slice(None),) * nd + (None,)]
    return total / float(np.prod(size))


def normalize(x, mean, var, gamma, beta, eps):
    out = (x - mean) / ops.sqrt(var + eps)
    if gamma is not None:
        out = out * gamma
    return out if beta is None else out + beta


def _dense(act):
    return lambda x, kernel, bias=None: ACT[act](
        ops.matmul(x, kernel) if bias is None else ops.matmul(x, kernel) + bias)


def _conv(act, strides, padding, dilation):
    def twin(x, kernel, bias=None):
        z = conv_nd(x, kernel, strides, padding, dilation)
        return ACT[act](z if bias is None else z + bias)
    return twin


def _bn_train(axes):
    def twin(x, gamma, beta, moving_mean, moving_variance):
        mean = ops.mean(x, axis=axes, keepdims=True)
        var = ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
        return normalize(x, mean, var, gamma, beta, 1e-3)
    return twin


def _bn_infer(x, gamma, beta, moving_mean, moving_variance):
    return normalize(x, moving_mean, moving_variance, gamma, beta, 1e-3)


def _ln(axis, rms=False):
    def twin(x, gamma=None, beta=None):
        mean = ops.mean(x, axis=axis, keepdims=True)
        var = ops.mean(ops.square(x - mean), axis=axis, keepdims=True)
        if rms:  # Keras 3's (deprecated) formula: scaled by the variance, not centred
            return x / ops.sqrt(var + 1e-3) * gamma
        return normalize(x, mean, var, gamma, beta, 1e-3)
    return twin


def _relu_layer(max_value, slope, threshold):
    def twin(x):
        below = slope * (x - threshold)
        return ops.where(x >= threshold, x if max_value is None else ops.minimum(x, max_value),
                         below)
    return twin


def _masked(x):
    keep = ops.cast(ops.greater(ops.sum(ops.cast(ops.not_equal(x, 0.5), "float64"), axis=-1,
                                        keepdims=True), 0.0), "float64")
    return x * keep


def _identity(x):
    return x


def _sum(*xs):
    return functools.reduce(ops.add, xs)


def conv_transpose_2d(x, kernel, strides):
    """'valid' transposed convolution, kernel >= strides: each input pixel's tap
    ``x @ kernel[i, j].T`` lands at ``(a * s + i, b * s + j)``; zero-stuffed and padded
    into place with ops."""
    kh, kw = kernel.shape[:2]
    (sh, sw), (_, h, w, _) = strides, x.shape
    oh, ow = (h - 1) * sh + kh, (w - 1) * sw + kw

    def stuff(t, axis, s, n):
        if s == 1:
            return t
        parts = [t] + [ops.zeros_like(t)] * (s - 1)
        shape = list(t.shape)
        shape[axis] *= s
        t = ops.reshape(ops.stack(parts, axis=axis + 1), shape)
        index = [slice(None)] * t.ndim
        index[axis] = slice(0, (n - 1) * s + 1)
        return t[tuple(index)]

    total = None
    for i in range(kh):
        for j in range(kw):
            t = ops.matmul(x, ops.transpose(kernel[i, j]))
            t = stuff(stuff(t, 1, sh, h), 2, sw, w)
            t = ops.pad(t, [[0, 0], [i, oh - i - t.shape[1]], [j, ow - j - t.shape[2]], [0, 0]])
            total = t if total is None else total + t
    return total
