"""The engine's thread policy, in one place: BLAS threads, GEMM splitting, numba threads.

Why run time, not environment variables: OpenBLAS reads ``OPENBLAS_THREAD_TIMEOUT``
once, when numpy loads it, so a policy written into ``os.environ`` at ``import core``
only held when core was imported before numpy; a script that starts with
``import numpy`` trained ~30% slower (issue 12). What the engine controls at run
time works whatever was imported first:

- **BLAS threads.** While ``fit``/``evaluate``/``predict``/``*_on_batch`` run
  (``engine_call``), every BLAS that threadpoolctl finds (numpy's OpenBLAS, a
  second copy loaded by another library) runs on ``blas_threads`` threads, one by
  default, and gets its own count back afterwards. With one thread a BLAS never
  wakes its workers, so how long they would spin (OpenBLAS' 0.1 s default, that
  fought numba's kernels for the two cores) no longer matters. The count is set
  process-wide, so a user's layer written with ``core.ops.matmul`` or plain
  ``np.matmul`` gets the same policy as the built-in ``Dense``.
- **GEMM splitting.** ``matmul`` (used by Dense, Conv2D's im2col GEMMs and
  ``core.ops.matmul``) splits a large product by rows over ``gemm_threads``
  threads, each a single-threaded BLAS call on its own rows of the output: the
  engine's own data-parallel split, as ``predict`` splits batches
  (``core.models.batch_threads``). Off by default (``gemm_threads=1``): on the
  shared 2-core machine (load 9-10) the seed CNN's epoch over 4,000 images took
  2.5-3.2 s without it and 2.8-3.7 s with it, the deeper CNN 7.2-8.2 s and 6.0-7.5 s;
  with the old policy (two BLAS threads for large products) they took 12.9-15.8 s
  with numpy imported first, 10.0-14.7 s and 6.7-7.2 s with core first.
- **numba kernel threads.** ``kernel_threads`` (default: numba's own count, one per
  core) is applied with ``numba.set_num_threads`` on the calling thread for the call.

``configure()`` changes the policy, ``report()`` says what is loaded and in force:

>>> from core import runtime
>>> runtime.configure(blas_threads=1)["blas_threads"]
1
>>> sorted(runtime.report())[:3]
['blas', 'blas_threads', 'cores']
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SPLIT_MIN = 1 << 24  # multiply-adds below which a split costs more (~50 us) than it saves
MIN_ROWS = 64  # rows per part at least: thinner parts run BLAS far below its rate

_policy = {"blas_threads": 1, "gemm_threads": 1, "kernel_threads": None}
_lock = threading.RLock()
_depth = 0
_saved: list = []  # (library controller, its count before the outermost engine call)
_controllers = None  # threadpoolctl's BLAS controllers, found on first use
_local = threading.local()  # .in_split / .in_parallel: this thread must not split again
_pool: ThreadPoolExecutor | None = None


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def configure(blas_threads: int | None = None, gemm_threads: int | None = None,
              kernel_threads: int | None = None) -> dict:
    """Set the thread policy of engine calls (running ones switch their BLAS count at
    once); returns ``report()``.

    ``blas_threads``: BLAS threads while the engine runs (1: the default, robust on a
    busy machine and whatever was imported first). ``gemm_threads``: threads a large
    product is split over by the engine (1: no split). ``kernel_threads``: numba's
    parallel kernels (None: numba's default). Also looks again for BLAS libraries
    loaded since the first call.

    >>> configure(gemm_threads=1)["gemm_threads"]
    1
    """
    global _controllers
    for name, value in (("blas_threads", blas_threads), ("gemm_threads", gemm_threads),
                        ("kernel_threads", kernel_threads)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"runtime.configure: {name}={value!r} must be an "
                                 "integer >= 1.")
            _policy[name] = value
    with _lock:
        if _depth == 0:
            _controllers = None  # re-scanned at the next engine call
        elif blas_threads is not None:  # running engine calls switch now
            _apply_blas(blas_threads)
    return report()


def _apply_blas(target):
    """Set every BLAS to ``target`` threads, noting the counts to restore (under _lock)."""
    noted = {id(c) for c, _ in _saved}
    for c in _blas_controllers():
        current = c.num_threads
        if current != target:
            if id(c) not in noted:
                _saved.append((c, current))
            _set_threads(c, target)


def _set_threads(controller, count) -> None:
    """``controller.set_num_threads(count)`` from whichever thread the engine runs on.

    threadpoolctl (3.6+) lets one Python thread at a time "control" a shared OpenBLAS
    pool and silently ignores the others until that thread ends. The main thread never
    ends, and a finished QThread's dummy ``Thread`` object never dies either: once
    either had made an engine call, every ``fit`` on another thread (the app's worker)
    ran BLAS on the machine's full count, 5-10x slower per GEMM on the shared box
    (seed CNN at load 5: 570 against 7,700 samples/s on the main thread). The engine's
    policy is process-wide by design and set under ``_lock``, so it takes the control
    for the call and gives it back at once.
    """
    clear = getattr(type(controller), "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)
    controller.set_num_threads(count)
    if clear is not None:
        clear(force=True)


def _blas_controllers():
    global _controllers
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController
            _controllers = [c for c in ThreadpoolController().lib_controllers
                            if c.user_api == "blas"]
        except Exception:  # threadpoolctl missing or a library it cannot drive
            _controllers = []
    return _controllers


def report() -> dict:
    """What is in force: the policy, the cores, each BLAS library with its thread count,
    numba's threading layer and thread count (when numba has started them), and the
    environment variables those libraries read when they load (for the record only:
    the policy does not depend on them)."""
    with _lock:
        blas = [{"library": c.prefix, "version": c.version, "threads": c.num_threads,
                 "path": c.filepath} for c in _blas_controllers()]
    numba_info = None
    if "numba" in sys.modules:
        import numba
        try:
            layer = numba.threading_layer()
        except ValueError:  # no parallel kernel has run yet
            layer = None
        numba_info = {"threading_layer": layer, "threads": numba.get_num_threads(),
                      "max_threads": numba.config.NUMBA_NUM_THREADS}
    env = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_THREAD_TIMEOUT",
                                      "OMP_NUM_THREADS", "OMP_WAIT_POLICY",
                                      "NUMBA_NUM_THREADS") if k in os.environ}
    return {**_policy, "cores": cores(), "blas": blas, "numba": numba_info,
            "torch_loaded": "torch" in sys.modules, "environment": env,
            "engine_calls_running": _depth}


class engine_call:
    """The policy while the engine runs; a context manager and a method decorator.

    Nests (fit -> evaluate) and restores each BLAS' own count when the outermost call
    ends, also when calls on several threads overlap.

    >>> with engine_call():
    ...     pass  # numpy products here run on runtime.report()["blas_threads"] threads
    """

    def __enter__(self):
        global _depth
        with _lock:
            if _depth == 0:
                _apply_blas(_policy["blas_threads"])
            _depth += 1
        self._numba_saved = None
        if _policy["kernel_threads"] is not None:
            import numba
            self._numba_saved = numba.get_num_threads()
            numba.set_num_threads(min(_policy["kernel_threads"],
                                      numba.config.NUMBA_NUM_THREADS))
        return self

    def __exit__(self, *exc):
        global _depth
        if self._numba_saved is not None:
            import numba
            numba.set_num_threads(self._numba_saved)
        with _lock:
            _depth -= 1
            if _depth == 0:
                while _saved:
                    c, count = _saved.pop()
                    _set_threads(c, count)
        return False

    def __call__(self, method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            with engine_call():
                return method(*args, **kwargs)
        return wrapper


def blas_threads() -> int | None:
    """The first BLAS library's current thread count, or None when none is controllable."""
    with _lock:
        found = _blas_controllers()
        return found[0].num_threads if found else None


class parallel_region:
    """Marks the calling thread as one of several the engine already runs in parallel
    (``predict``'s batch threads): ``matmul`` does not split there.

    >>> with parallel_region():
    ...     pass
    """

    def __enter__(self):
        self._previous = getattr(_local, "in_parallel", False)
        _local.in_parallel = True
        return self

    def __exit__(self, *exc):
        _local.in_parallel = self._previous
        return False


def _executor(workers):
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="netweaver-gemm")
        return _pool


def _split_parts(a, b):
    """Row ranges to split ``a @ b`` over, or None to run it whole."""
    parts = _policy["gemm_threads"]
    if parts < 2 or _depth == 0 or getattr(_local, "in_parallel", False):
        return None
    if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype.char not in "fd":
        return None
    m, k = a.shape
    n = b.shape[1]
    if m * k * n < SPLIT_MIN:
        return None
    parts = min(parts, m // MIN_ROWS)
    if parts < 2:
        return None
    step = -(-m // parts)
    return [(s, min(s + step, m)) for s in range(0, m, step)]


def matmul(a, b, out=None):
    """``np.matmul(a, b, out=out)``; a large 2-D product inside an engine call is split by
    rows over ``gemm_threads`` threads (see the module docstring). numpy's values to
    float rounding: each part is a single-threaded BLAS call on its own rows.

    >>> matmul(np.ones((2, 3), "float32"), np.ones((3, 4), "float32")).shape
    (2, 4)
    """
    parts = _split_parts(a, b) if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) \
        else None
    if parts is None:
        return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    elif np.shares_memory(out, a) or np.shares_memory(out, b):
        return np.matmul(a, b, out=out)  # in place: numpy's own buffering, not ours

    def part(s, e):
        _local.in_parallel = True  # (a pool thread: never splits again)
        np.matmul(a[s:e], b, out=out[s:e])

    futures = [_executor(len(parts) - 1).submit(part, s, e) for s, e in parts[1:]]
    try:
        np.matmul(a[parts[0][0]:parts[0][1]], b, out=out[parts[0][0]:parts[0][1]])
    finally:
        for f in futures:
            f.result()
    return out
