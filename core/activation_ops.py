"""The kernel-backed activations behind ``core.activations``: relu family, softmax,
elu/selu and gelu (forward + exact gradient); the rest are in ``activation_elementwise``.

Use ``core.activations.get(name)`` rather than these classes directly. Each
``Activation`` has ``forward(x, inplace=False) -> (y, cache)``,
``backward(cache, dy, out=None) -> dx``, ``__call__(x) -> y`` and ``.name``. ``linear``
returns its input itself (no copy). With ``inplace=True`` an activation *may*
write ``y`` over ``x`` (Dense/Conv2D pass their freshly computed
pre-activation); activations whose gradient needs ``x`` ignore it.
relu, leaky_relu, softmax and the exact gelu run numba kernels
(``core.kernels.activations``) on large contiguous arrays.

>>> import numpy as np
>>> act = ReLU()
>>> y, cache = act.forward(np.array([-1.0, 2.0]))
>>> y.tolist(), act.backward(cache, np.ones(2)).tolist()
([0.0, 2.0], [0.0, 1.0])
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.kernels import activations as K

# Below this many elements a kernel call's dispatch cost is not worth it.
_KERNEL_MIN = 256
# numpy's SIMD exp beats the scalar exp of the (serial) numba kernel on wide rows;
# with few classes (the usual output layer) the kernel is ~3x faster than numpy.
_SOFTMAX_KERNEL_MAX_COLS = 128


def _use_kernel(*arrays) -> bool:
    return arrays[0].size >= _KERNEL_MIN and all(a.flags.c_contiguous for a in arrays)


def _out(x, inplace):
    # Only a C-contiguous x can be written through the flat/2D views the kernels use.
    if inplace and x.flags.writeable and x.flags.c_contiguous:
        return x
    return np.empty(x.shape, x.dtype)


def _buffer(out, like):
    """``out`` when the caller lends a buffer (must match ``like``), else a new array."""
    if out is None:
        return np.empty(like.shape, like.dtype)
    if out.shape != like.shape or out.dtype != like.dtype or not out.flags.c_contiguous:
        raise ValueError(f"backward: out buffer {out.shape} {out.dtype} does not match "
                         f"the gradient {like.shape} {like.dtype} (or is not contiguous).")
    return out


def _into(result, out):
    if out is None:
        return result
    np.copyto(out, result, casting="same_kind")
    return out


def _stable_sigmoid(x):
    # exp(-|x|) never overflows: sigmoid(x) = 1/(1+e) for x >= 0, e/(1+e) otherwise.
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r)


class Activation:
    """Identity (``linear``); the base of every activation."""

    name = "linear"

    def forward(self, x, inplace=False):
        return x, None

    def forward_biased(self, z, bias):
        """``forward(z + bias)``, overwriting ``z`` (a layer's fresh matmul result);
        activations with a fused kernel for it override this."""
        z += bias
        return self.forward(z, inplace=True)

    def backward(self, cache, dy, out=None):
        """``dx`` for upstream gradient ``dy``. A caller may lend ``out`` (C-contiguous,
        shape and dtype of the result) to be written instead of a fresh array; always
        use the return value (linear returns ``dy`` itself)."""
        return dy

    def __call__(self, x):
        if getattr(backend._state, "tape", None) is None:
            return self.forward(_as_float(x))[0]
        # Under a tape a call is an op with this activation's backward as its VJP, so a
        # user layer's ``self.activation(x)`` or ``keras.activations.relu(x)`` passes
        # the gradient on (Keras' activations are differentiable functions).
        from core.ops.engine import run

        return run(self.name, self._op_forward, self._op_vjp, [x])

    def _op_forward(self, x):
        return self.forward(_as_float(x))

    def _op_vjp(self, cache, g, need):
        return [self.backward(cache, g)]

    def get_config(self) -> dict:
        return {}

    def __repr__(self):
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"<Activation {self.name}({cfg})>"


class ReLU(Activation):
    """Keras ``relu(x, negative_slope=0.0, max_value=None, threshold=0.0)``."""

    name = "relu"

    def __init__(self, negative_slope=0.0, max_value=None, threshold=0.0):
        self.negative_slope = float(negative_slope)
        self.max_value = None if max_value is None else float(max_value)
        self.threshold = float(threshold)
        self._plain = self.negative_slope == 0 and self.max_value is None and \
            self.threshold == 0

    def get_config(self):
        return {"negative_slope": self.negative_slope, "max_value": self.max_value,
                "threshold": self.threshold}

    def forward(self, x, inplace=False):
        if self._plain:
            out = _out(x, inplace)
            if _use_kernel(x, out):
                K.relu_forward(x.reshape(-1), out.reshape(-1))
            else:
                np.maximum(x, 0, out=out)
            return out, out  # the output's sign is all backward needs
        # General case, written as Keras' ReLU.static_call; backward needs x.
        t, s, m = self.threshold, self.negative_slope, self.max_value
        if t != 0:
            y = x * (x > t)
        else:
            y = np.maximum(x, 0)
        if m is not None:
            np.clip(y, 0, m, out=y)
        if s != 0:
            y -= s * np.maximum(t - x, 0)
        return y.astype(x.dtype, copy=False), x

    def backward(self, cache, dy, out=None):
        dy = np.asarray(dy, dtype=cache.dtype)
        if self._plain:
            out = _buffer(out, cache)
            if _use_kernel(cache, dy):
                K.relu_backward(cache.reshape(-1), dy.reshape(-1), out.reshape(-1))
            else:
                np.multiply(dy, cache > 0, out=out)
            return out
        x = cache
        t, s, m = self.threshold, self.negative_slope, self.max_value
        d = (x > t) if t != 0 else (x > 0)
        if m is not None:
            part = x * d
            d = d & (part > 0) & (part < m)
        d = d.astype(x.dtype)
        if s != 0:
            d += s * (x < t)
        return _into(dy * d, out)


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, negative_slope=0.2):
        self.negative_slope = float(negative_slope)

    def get_config(self):
        return {"negative_slope": self.negative_slope}

    def forward(self, x, inplace=False):
        s = self.negative_slope
        if s <= 0:  # the output's sign no longer tells x's; keep x instead
            y = np.where(x >= 0, x, x * x.dtype.type(s))
            return y, x
        out = _out(x, inplace)
        if _use_kernel(x, out):
            K.leaky_relu_forward(x.reshape(-1), s, out.reshape(-1))
        else:
            K.leaky_relu_forward_ref(x, s, out)
        return out, out

    def backward(self, cache, dy, out=None):
        dy = np.asarray(dy, dtype=cache.dtype)
        out = _buffer(out, cache)
        if _use_kernel(cache, dy):
            K.leaky_relu_backward(cache.reshape(-1), dy.reshape(-1), self.negative_slope,
                                  out.reshape(-1))
        else:
            K.leaky_relu_backward_ref(cache, dy, self.negative_slope, out)
        return out


class Softmax(Activation):
    name = "softmax"

    def __init__(self, axis=-1):
        self.axis = axis

    def get_config(self):
        return {"axis": self.axis}

    def _last(self, x) -> bool:
        return self.axis in (-1, x.ndim - 1) or (
            isinstance(self.axis, (list, tuple)) and list(self.axis) in ([-1], [x.ndim - 1]))

    def forward(self, x, inplace=False):
        if self._last(x) and x.ndim >= 1 and x.shape[-1] > 0:
            out = _out(x, inplace)
            x2, o2 = x.reshape(-1, x.shape[-1]), out.reshape(-1, x.shape[-1])
            if x.shape[-1] <= _SOFTMAX_KERNEL_MAX_COLS and _use_kernel(x, out):
                K.softmax_forward(x2, o2)
            else:  # in place on ``out``: no temporaries of the full size but one
                np.subtract(x2, x2.max(axis=1, keepdims=True), out=o2)
                np.exp(o2, out=o2)
                o2 /= o2.sum(axis=1, keepdims=True)
            return out, out
        ax = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        e = np.exp(x - x.max(axis=ax, keepdims=True))
        y = e / e.sum(axis=ax, keepdims=True)
        return y, y

    def forward_biased(self, z, bias):
        n = z.shape[-1] if z.ndim else 0
        if (self._last(z) and 0 < n <= _SOFTMAX_KERNEL_MAX_COLS and z.dtype.char in "fd"
                and z.flags.c_contiguous and bias.dtype == z.dtype):
            K.bias_softmax_forward(z.reshape(-1, n), bias)  # the add and softmax in one call
            return z, z
        return super().forward_biased(z, bias)

    def backward(self, cache, dy, out=None):
        y = cache
        dy = np.asarray(dy, dtype=y.dtype)
        if self._last(y):
            out = _buffer(out, y)
            n = y.shape[-1]
            if _use_kernel(y, dy):
                K.softmax_backward(y.reshape(-1, n), dy.reshape(-1, n), out.reshape(-1, n))
            else:
                K.softmax_backward_ref(y.reshape(-1, n), dy.reshape(-1, n), out.reshape(-1, n))
            return out
        ax = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        return _into(y * (dy - (dy * y).sum(axis=ax, keepdims=True)), out)


class LogSoftmax(Softmax):
    name = "log_softmax"
    # Softmax's fused bias + softmax kernel would return probabilities, not their log.
    forward_biased = Activation.forward_biased

    def forward(self, x, inplace=False):
        ax = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        z = x - x.max(axis=ax, keepdims=True)
        y = z - np.log(np.exp(z).sum(axis=ax, keepdims=True))
        return y, y

    def backward(self, cache, dy, out=None):
        ax = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        return _into(dy - np.exp(cache) * dy.sum(axis=ax, keepdims=True), out)


class ELU(Activation):
    name = "elu"

    def __init__(self, alpha=1.0):
        self.alpha = float(alpha)

    def get_config(self):
        return {"alpha": self.alpha}

    def forward(self, x, inplace=False):
        y = np.where(x > 0, x, self.alpha * np.expm1(x)).astype(x.dtype, copy=False)
        # For alpha > 0 the output's sign is x's and f'(x) = y + alpha below 0.
        return y, (y if self.alpha > 0 else x)

    def backward(self, cache, dy, out=None):
        if self.alpha > 0:
            return _into(np.where(cache > 0, dy, dy * (cache + self.alpha)), out)
        return _into(np.where(cache > 0, dy, dy * self.alpha * np.exp(cache)), out)


class SELU(Activation):
    name = "selu"
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def forward(self, x, inplace=False):
        y = self.scale * np.where(x > 0, x, self.alpha * np.expm1(x))
        return y.astype(x.dtype, copy=False), y.astype(x.dtype, copy=False)

    def backward(self, cache, dy, out=None):
        return _into(np.where(cache > 0, self.scale * dy, dy * (cache + self.scale * self.alpha)),
                     out)


class GELU(Activation):
    """Exact ``x * Phi(x)`` (Keras 3 default) or the tanh approximation."""

    name = "gelu"
    _C = np.sqrt(2.0 / np.pi)

    def __init__(self, approximate=False):
        self.approximate = bool(approximate)

    def get_config(self):
        return {"approximate": self.approximate}

    def forward(self, x, inplace=False):
        if self.approximate:
            t = np.tanh(self._C * (x + 0.044715 * x ** 3))
            return (0.5 * x * (1.0 + t)).astype(x.dtype, copy=False), x
        y = np.empty_like(x)
        if _use_kernel(x):
            K.gelu_forward(x.reshape(-1), y.reshape(-1))
        else:
            K.gelu_forward_ref(x, y)
        return y, x

    def backward(self, cache, dy, out=None):
        x = cache
        dy = np.asarray(dy, dtype=x.dtype)
        if self.approximate:
            t = np.tanh(self._C * (x + 0.044715 * x ** 3))
            dt = (1.0 - t * t) * self._C * (1.0 + 3 * 0.044715 * x * x)
            return _into(dy * (0.5 * (1.0 + t) + 0.5 * x * dt), out)
        out = _buffer(out, x)
        if _use_kernel(x, dy):
            K.gelu_backward(x.reshape(-1), dy.reshape(-1), out.reshape(-1))
        else:
            K.gelu_backward_ref(x, dy, out)
        return out


def _as_float(x):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(backend.floatx())
    return x
