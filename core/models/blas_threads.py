"""Set OpenBLAS' thread count while a model trains, evaluates or predicts.

Two BLAS threads make the seed CNN's dense layer (128 x 5408 x 128) twice as
fast on a quiet 2-core machine, once OpenBLAS' and numba's idle threads stop
spinning against each other (``core/__init__.py`` sets
``OPENBLAS_THREAD_TIMEOUT`` and ``core/kernels/_jit.py`` sets
``OMP_WAIT_POLICY=PASSIVE``; seed CNN 13.6 s -> 5.6 s per epoch). But a
sleeping worker must be woken for every product, and for small ones the wake-up
costs more than the second core saves: the Fashion-MNIST MLP at batch 32 (largest
product 32 x 784 x 128 = 3.2M multiply-adds) trains in 0.42 s per 30k images
with one thread and 0.60 s with two; the two break even near 16M multiply-adds
(``benchmarks/train_speed.py``). So while a model runs, OpenBLAS gets one
thread when the model's largest matrix product at the call's batch size is
below ``SMALL_MATMUL``; otherwise its count is left as it is.
``NETWEAVER_BLAS_THREADS=N`` overrides both (one thread is much faster on a
machine crowded by other processes: the MLP epoch went from 2.6 s to 116 s under
load 10 with two). Other BLAS builds (no ``*_set_num_threads`` symbol) are left
alone.

>>> with training_blas_threads():
...     pass  # numpy matmuls here use NETWEAVER_BLAS_THREADS threads, if set
>>> with training_blas_threads(largest_matmul=3_211_264):
...     pass  # ...or one thread for a model whose products are this small
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import math
import os
import threading

SMALL_MATMUL = 1 << 24  # multiply-adds; below this one BLAS thread is faster (see above)

_lock = threading.Lock()
_depth = 0
_saved = None
_api = None  # (get, set) or () when no controllable OpenBLAS is loaded


def _find_openblas():
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return ()
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in (
                ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
                ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                ("openblas_get_num_threads", "openblas_set_num_threads")):
            getter, setter = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if getter is not None and setter is not None:
                getter.restype = ctypes.c_int
                setter.argtypes = [ctypes.c_int]
                return getter, setter
    return ()


def _target(largest_matmul=None) -> int | None:
    value = os.environ.get("NETWEAVER_BLAS_THREADS")
    if value is not None:
        try:
            return max(1, int(value))
        except ValueError:
            pass
    if largest_matmul is not None and largest_matmul < SMALL_MATMUL:
        return 1
    return None


def largest_matmul(model, batch_size) -> int | None:
    """Multiply-adds of the largest Dense/Conv product one batch of ``model`` needs.

    A layer with a 2-D kernel (Dense) or 4-D kernel (Conv2D) does
    ``batch * prod(output spatial dims) * prod(kernel.shape)`` of them. None when
    the model has no built layer with a kernel.

    >>> from core.layers import Dense
    >>> from core.models import Sequential
    >>> largest_matmul(Sequential([Dense(128, input_shape=(784,)), Dense(10)]), 32)
    3211264
    """
    best = None
    stack = list(getattr(model, "layers", None) or [])
    while stack:
        layer = stack.pop()
        stack.extend(getattr(layer, "layers", None) or [])  # nested models
        kernel = getattr(layer, "kernel", None)
        shape = getattr(kernel, "shape", None)
        if shape is None or len(shape) not in (2, 4):
            continue
        try:
            out = layer.output_shape
        except Exception:  # unbuilt or multi-input: no estimate from this layer
            continue
        if not isinstance(out, tuple) or not out or isinstance(out[0], tuple):
            continue
        rows = math.prod(d for d in out[1:-1] if d)
        macs = int(batch_size or 32) * rows * math.prod(shape)
        best = macs if best is None else max(best, macs)
    return best


class training_blas_threads:
    """Context manager; nests (fit -> evaluate) and restores the previous count.

    ``largest_matmul``: the model's largest product at this batch size (see
    ``largest_matmul()``); below ``SMALL_MATMUL`` OpenBLAS gets one thread.
    """

    def __init__(self, largest_matmul=None):
        self.largest_matmul = largest_matmul

    def __enter__(self):
        global _api, _depth, _saved
        with _lock:
            if _api is None:
                _api = _find_openblas()
            if _depth == 0 and _api:
                current = _api[0]()
                target = _target(self.largest_matmul)
                if target is not None and current != target:
                    _saved = current
                    _api[1](target)
            _depth += 1
        return self

    def __exit__(self, *exc):
        global _depth, _saved
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                _api[1](_saved)
                _saved = None
        return False


class one_blas_thread:
    """OpenBLAS on one thread inside, at any nesting depth, for a caller that runs
    BLAS from several threads of its own (``core.models.batch_threads``).

    ``active`` says whether it could: False when no controllable OpenBLAS is
    loaded or ``NETWEAVER_BLAS_THREADS`` is set (the user's count then stands).

    >>> with one_blas_thread() as blas:
    ...     pass  # when blas.active, each numpy matmul here runs on its caller's thread
    """

    def __enter__(self):
        global _api
        with _lock:
            if _api is None:
                _api = _find_openblas()
            self.active = bool(_api) and "NETWEAVER_BLAS_THREADS" not in os.environ
            if self.active:
                self._saved = _api[0]()
                _api[1](1)
        return self

    def __exit__(self, *exc):
        if self.active:
            with _lock:
                _api[1](self._saved)
        return False


def blas_threads() -> int | None:
    """OpenBLAS' current thread count, or None when it cannot be controlled."""
    global _api
    with _lock:
        if _api is None:
            _api = _find_openblas()
        return _api[0]() if _api else None


def blas_threads_for_call(method):
    """Decorator for ``fit``/``evaluate``/``predict``/``*_on_batch``: run the method under
    ``training_blas_threads`` sized by the model's largest product at the call's batch."""
    params = list(inspect.signature(method).parameters)
    at = params.index("batch_size") - 1 if "batch_size" in params else None

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if at is None:  # *_on_batch: the batch is the whole of x
            batch = _first_len(args[0] if args else kwargs.get("x"))
        else:
            batch = kwargs.get("batch_size", args[at] if len(args) > at else None)
        with training_blas_threads(largest_matmul(self, batch)):
            return method(self, *args, **kwargs)
    return wrapper


def _first_len(x):
    while isinstance(x, (list, tuple, dict)) and x:
        x = next(iter(x.values())) if isinstance(x, dict) else x[0]
    return len(x) if hasattr(x, "__len__") else None
