"""Set OpenBLAS' thread count while a model trains, evaluates or predicts.

By default the count is left as it is: on a quiet 2-core machine two BLAS
threads make the seed CNN's dense layer twice as fast, once OpenBLAS' and
numba's idle threads stop spinning against each other (``core/__init__.py``
sets ``OPENBLAS_THREAD_TIMEOUT`` and ``core/kernels/_jit.py`` sets
``OMP_WAIT_POLICY=PASSIVE``; measured with ``benchmarks/train_speed.py``: seed
CNN 13.6 s -> 5.6 s per epoch). On a machine crowded by other processes one
BLAS thread can be much faster (the MLP epoch went from 2.6 s to 116 s under
load 10 with two): set ``NETWEAVER_BLAS_THREADS=1`` for that. Other BLAS builds
(no ``*_set_num_threads`` symbol) are left alone.

>>> with training_blas_threads():
...     pass  # numpy matmuls here use NETWEAVER_BLAS_THREADS threads, if set
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


def _target() -> int | None:
    value = os.environ.get("NETWEAVER_BLAS_THREADS")
    if value is None:
        return None
    try:
        return max(1, int(value))
    except ValueError:
        return None


class training_blas_threads:
    """Context manager; nests (fit -> evaluate) and restores the previous count."""

    def __enter__(self):
        global _api, _depth, _saved
        with _lock:
            if _api is None:
                _api = _find_openblas()
            if _depth == 0 and _api:
                current = _api[0]()
                target = _target()
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


def blas_threads() -> int | None:
    """OpenBLAS' current thread count, or None when it cannot be controlled."""
    global _api
    with _lock:
        if _api is None:
            _api = _find_openblas()
        return _api[0]() if _api else None
