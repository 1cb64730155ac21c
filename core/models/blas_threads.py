"""Run OpenBLAS single-threaded while a model trains, evaluates or predicts.

Why: a training step issues many small matrix products (a batch of 32 through
a 784x128 layer is 3 MFLOP). OpenBLAS splits even those over its worker threads,
which spin while they wait; when the machine is busy (other programs, the GUI,
other processes) the spinning threads and the step's own thread fight for the
cores and a step gets 5-40x slower (measured on the 2-core target: the MLP epoch
went from 2.6 s to 116 s, the seed CNN from 3.0 s to 11.2 s per 10k images). The
engine's own numba kernels already use the cores where it pays (convolutions,
pooling, optimizer updates), so BLAS runs on the calling thread only.

Set ``NETWEAVER_BLAS_THREADS`` to keep a different count during training
(e.g. ``2``); other BLAS builds (no ``*_set_num_threads`` symbol) are left alone.

>>> with single_threaded_blas():
...     pass  # numpy matmuls here use one OpenBLAS thread
"""

from __future__ import annotations

import ctypes
import os
import threading

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


def _target() -> int:
    value = os.environ.get("NETWEAVER_BLAS_THREADS", "1")
    try:
        return max(1, int(value))
    except ValueError:
        return 1


class single_threaded_blas:
    """Context manager; nests (fit -> evaluate) and restores the previous count."""

    def __enter__(self):
        global _api, _depth, _saved
        with _lock:
            if _api is None:
                _api = _find_openblas()
            if _depth == 0 and _api:
                current = _api[0]()
                target = _target()
                if current != target:
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


def blas_threads() -> int | None:
    """OpenBLAS' current thread count, or None when it cannot be controlled."""
    global _api
    with _lock:
        if _api is None:
            _api = _find_openblas()
        return _api[0]() if _api else None
