"""Numerical kernels: the only place that imports numba.

Every kernel is a free ``@njit(nogil=True, cache=True)`` function with a plain
numpy twin named ``<kernel>_ref`` beside it (the test oracle). Each module
exposes ``warmup()``, which compiles (or loads from the on-disk cache) the
float32 signatures used in training; ``warmup()`` here runs them all. Nothing
compiles at import time, and training does not call ``warmup()``: numba compiles a
kernel at its first call, so a model pays only for the kernels it uses (an MLP's
first fit on an empty cache: 5.7 s, against 215 s when ``fit`` warmed everything
up first; measured on the shared 2-core box at load 3.6). A kernel not compiled yet
runs its numpy version while a child process compiles it (``core.kernels._cold``), so
a first fit never waits for numba. The app fills the whole cache in another, nice'd
child (``python -m core.kernels``) and then calls ``mark_warm()``.

>>> from core import kernels
>>> kernels.warmup()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import pkgutil
import threading

from core.kernels import _cold

_lock = threading.Lock()
_done = False


def kernel_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def warmup(progress=None) -> None:
    """Compile or load every kernel; ``progress(done, total, name)`` is called per module.

    Safe to call from any thread and more than once: the second call returns at once.
    """
    global _done
    with _lock:
        if _done:
            return
        from core.runtime import prepare_threads

        prepare_threads()  # before the first parallel kernel starts numba's threads
        names = kernel_modules()
        previous = _cold.mode()
        _cold.set_mode("compile")  # warmup's whole point: compile, not the numpy versions
        try:
            for i, name in enumerate(names):
                mod = importlib.import_module(f"{__name__}.{name}")
                fn = getattr(mod, "warmup", None)
                if fn is not None:
                    fn()
                if progress is not None:
                    progress(i + 1, len(names), name)
        finally:
            _cold.set_mode(previous)
        _done = True


def compiling() -> list[str]:
    """Kernels this process runs in numpy while a child compiles them (``_cold``)."""
    return _cold.compiling()


def is_warm() -> bool:
    return _done


def mark_warm() -> None:
    """Record that every kernel is in the on-disk cache (another process compiled it)."""
    global _done
    _done = True
