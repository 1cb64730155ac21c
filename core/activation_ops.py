"""The activation classes behind ``core.activations`` (forward + exact gradient).

Use ``core.activations.get(name)`` rather than these classes directly. Each
``Activation`` has ``forward(x, inplace=False) -> (y, cache)``,
``backward(cache, dy) -> dx``, ``__call__(x) -> y`` and ``.name``. ``linear``
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

# Below this many elements numpy is as fast as a (parallel) kernel launch.
_KERNEL_MIN = 4096


def _use_kernel(*arrays) -> bool:
    return arrays[0].size >= _KERNEL_MIN and all(a.flags.c_contiguous for a in arrays)


def _out(x, inplace):
    return x if inplace and x.flags.writeable else np.empty_like(x)


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

    def backward(self, cache, dy):
        return dy

    def __call__(self, x):
        return self.forward(_as_float(x))[0]

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

    def backward(self, cache, dy):
        dy = np.asarray(dy, dtype=cache.dtype)
        if self._plain:
            out = np.empty_like(cache)
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
        return dy * d


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

    def backward(self, cache, dy):
        dy = np.asarray(dy, dtype=cache.dtype)
        out = np.empty_like(cache)
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
            if _use_kernel(x, out):
                K.softmax_forward(x2, o2)
            else:
                K.softmax_forward_ref(x2, o2)
            return out, out
        ax = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        e = np.exp(x - x.max(axis=ax, keepdims=True))
        y = e / e.sum(axis=ax, keepdims=True)
        return y, y

    def backward(self, cache, dy):
        y = cache
        dy = np.asarray(dy, dtype=y.dtype)
        if self._last(y):
            out = np.empty_like(y)
            n = y.shape[-1]
            if _use_kernel(y, dy):
                K.softmax_backward(y.reshape(-1, n), dy.reshape(-1, n), out.reshape(-1, n))
            else:
                K.softmax_backward_ref(y.reshape(-1, n), dy.reshape(-1, n), out.reshape(-1, n))
            return out
        ax = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        return y * (dy - (dy * y).sum(axis=ax, keepdims=True))


class LogSoftmax(Softmax):
    name = "log_softmax"

    def forward(self, x, inplace=False):
        ax = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        z = x - x.max(axis=ax, keepdims=True)
        y = z - np.log(np.exp(z).sum(axis=ax, keepdims=True))
        return y, y

    def backward(self, cache, dy):
        ax = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        return dy - np.exp(cache) * dy.sum(axis=ax, keepdims=True)


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

    def backward(self, cache, dy):
        if self.alpha > 0:
            return np.where(cache > 0, dy, dy * (cache + self.alpha))
        return np.where(cache > 0, dy, dy * self.alpha * np.exp(cache))


class SELU(Activation):
    name = "selu"
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def forward(self, x, inplace=False):
        y = self.scale * np.where(x > 0, x, self.alpha * np.expm1(x))
        return y.astype(x.dtype, copy=False), y.astype(x.dtype, copy=False)

    def backward(self, cache, dy):
        return np.where(cache > 0, self.scale * dy, dy * (cache + self.scale * self.alpha))


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

    def backward(self, cache, dy):
        x = cache
        dy = np.asarray(dy, dtype=x.dtype)
        if self.approximate:
            t = np.tanh(self._C * (x + 0.044715 * x ** 3))
            dt = (1.0 - t * t) * self._C * (1.0 + 3 * 0.044715 * x * x)
            return dy * (0.5 * (1.0 + t) + 0.5 * x * dt)
        out = np.empty_like(x)
        if _use_kernel(x, dy):
            K.gelu_backward(x.reshape(-1), dy.reshape(-1), out.reshape(-1))
        else:
            K.gelu_backward_ref(x, dy, out)
        return out


class _Elementwise(Activation):
    """An activation given by ``f(x)`` and ``f'`` from the cache (x or y)."""

    uses_output = False  # True: cache is y and forward may run in place

    def f(self, x, out):
        raise NotImplementedError

    def df(self, cache):
        raise NotImplementedError

    def forward(self, x, inplace=False):
        if self.uses_output:
            out = _out(x, inplace)
            self.f(x, out)
            return out, out
        out = np.empty_like(x)
        self.f(x, out)
        return out, x

    def backward(self, cache, dy):
        return dy * self.df(cache)


class Sigmoid(_Elementwise):
    name, uses_output = "sigmoid", True

    def f(self, x, out):
        np.copyto(out, _stable_sigmoid(x))

    def df(self, y):
        return y * (1 - y)


class Tanh(_Elementwise):
    name, uses_output = "tanh", True

    def f(self, x, out):
        np.tanh(x, out=out)

    def df(self, y):
        return 1 - y * y


class Exponential(_Elementwise):
    name, uses_output = "exponential", True

    def f(self, x, out):
        np.exp(x, out=out)

    def df(self, y):
        return y


class ReLU6(_Elementwise):
    name, uses_output = "relu6", True

    def f(self, x, out):
        np.clip(x, 0, 6, out=out)

    def df(self, y):
        return ((y > 0) & (y < 6)).astype(y.dtype)


class HardSigmoid(_Elementwise):
    """Keras 3: ``relu6(x + 3) / 6`` (slope 1/6; Keras 2 used 0.2)."""

    name, uses_output = "hard_sigmoid", True

    def f(self, x, out):
        np.clip(x / 6 + 0.5, 0, 1, out=out)

    def df(self, y):
        return ((y > 0) & (y < 1)).astype(y.dtype) / 6


class Softplus(_Elementwise):
    name = "softplus"

    def f(self, x, out):
        np.copyto(out, np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))

    def df(self, x):
        return _stable_sigmoid(x)


class Softsign(_Elementwise):
    name = "softsign"

    def f(self, x, out):
        np.divide(x, 1 + np.abs(x), out=out)

    def df(self, x):
        return 1 / (1 + np.abs(x)) ** 2


class SiLU(_Elementwise):
    name = "silu"

    def f(self, x, out):
        np.multiply(x, _stable_sigmoid(x), out=out)

    def df(self, x):
        s = _stable_sigmoid(x)
        return s * (1 + x * (1 - s))


class HardSiLU(_Elementwise):
    name = "hard_silu"

    def f(self, x, out):
        np.multiply(x, np.clip(x + 3, 0, 6) / 6, out=out)

    def df(self, x):
        return np.where(x > 3, 1, np.where(x < -3, 0, (2 * x + 3) / 6)).astype(x.dtype)


class Mish(_Elementwise):
    name = "mish"

    def f(self, x, out):
        sp = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
        np.multiply(x, np.tanh(sp), out=out)

    def df(self, x):
        t = np.tanh(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))
        return t + x * (1 - t * t) * _stable_sigmoid(x)


def _as_float(x):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(backend.floatx())
    return x
