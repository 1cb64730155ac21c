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
  ``core.ops.matmul``) shares a large product among ``gemm_threads`` threads
  (default: one per core, never more than numba's kernels run on), each a
  single-threaded BLAS call on its own rows or columns of the output
  (``core.gemm_split``): the engine's own data-parallel split, as ``predict`` splits
  batches (``core.models.batch_threads``). The caller never waits for a helper that
  has not started, so a busy machine costs the split nothing. Seed CNN, 10,000
  Fashion-MNIST images, numpy imported first, 3 alternating pairs of fresh processes
  (wall s per epoch, split against whole): quiet 0.50-0.70 against 0.74-0.85; beside
  two busy processes 0.76-0.91 against 1.02-1.41; beside six (load 5-7) 2.7-3.4
  against 3.5-3.7. (An earlier split that handed each helper a fixed part was slower
  at load 10: 2.8-3.7 s against 2.5-3.2 s.)
- **numba kernel threads.** ``kernel_threads`` (default: numba's own count, one per
  core) is applied with ``numba.set_num_threads`` on the calling thread for the call.
- **Idle kernel threads sleep.** numba's OpenMP workers spin after each parallel
  kernel unless libgomp read ``OMP_WAIT_POLICY=PASSIVE`` when it loaded, which
  happens at numba's first parallel kernel, not at ``import numba``.
  ``prepare_threads()`` supplies it just before that (first engine call,
  ``configure()``, ``core.kernels.warmup()``, a kernel's first call), unless the
  user set it; ``report()["kernel_wait"]`` says whether it came in time. When another
  OpenMP runtime is loaded already (``import torch`` loads torch's libgomp, spinning),
  numba's pool is loaded with ``RTLD_DEEPBIND`` so it runs on its own libgomp: with
  torch imported first the deeper CNN took 2.5-2.8 CPU-s before, 1.12-1.14 after,
  as with numpy first (4,000 images, load 9-12). Measured
  (deeper CNN, 4,000 images, numpy imported first, load 11-14, 2 alternating rounds
  of fresh processes): spinning 7.3-11.0 s wall / 2.72-2.75 CPU-s, passive 1.8-4.6 s
  / 1.06-1.13 CPU-s, numba's ``workqueue`` layer (no OpenMP) 3.0-4.3 s / 1.15-1.18
  CPU-s. Passive OpenMP is kept:
  as fast, and safe when two threads run parallel kernels at once (the app's test
  pad predicts while a model trains), where ``workqueue`` aborts the process.

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

import numpy as np

from core import gemm_split

SPLIT_MIN = 1 << 24  # multiply-adds below which a split costs more (~50 us) than it saves

_policy = {"blas_threads": 1, "gemm_threads": 1, "kernel_threads": None}
_lock = threading.RLock()
_depth = 0
_saved: list = []  # (library controller, its count before the outermost engine call)
_controllers = None  # threadpoolctl's BLAS controllers, found on first use
_local = threading.local()  # .in_split / .in_parallel: this thread must not split again
_kernel_wait = {"prepared": False, "state": "not prepared"}


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_policy["gemm_threads"] = min(cores(), 8)  # (8: past that, parts fall under MIN_SIDE)


def configure(blas_threads: int | None = None, gemm_threads: int | None = None,
              kernel_threads: int | None = None) -> dict:
    """Set the thread policy of engine calls (running ones switch their BLAS count at
    once); returns ``report()``.

    ``blas_threads``: BLAS threads while the engine runs (1: the default, robust on a
    busy machine and whatever was imported first). ``gemm_threads``: threads a large
    product is shared by (1: no split; default one per core, never more than the
    numba kernels run on). ``kernel_threads``: numba's
    parallel kernels (None: numba's default). Also looks again for BLAS libraries
    loaded since the first call.

    >>> configure(gemm_threads=1)["gemm_threads"]
    1
    """
    global _controllers
    prepare_threads()
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


def prepare_threads() -> str:
    """Make numba's OpenMP workers sleep when idle (see the module docstring): sets
    ``OMP_WAIT_POLICY=PASSIVE`` for libgomp if numba has not started its threads yet
    and the user chose no policy. Idempotent and cheap; returns what is in force.

    >>> prepare_threads() in ("passive", "passive, own OpenMP", "user", "too late",
    ...                       "no numba")
    True
    """
    if _kernel_wait["prepared"]:
        return _kernel_wait["state"]
    with _lock:
        if not _kernel_wait["prepared"]:
            _kernel_wait["state"] = _set_kernel_wait()
            _kernel_wait["prepared"] = True
    return _kernel_wait["state"]


def _set_kernel_wait() -> str:
    try:
        from numba.np.ufunc import parallel
    except ImportError:
        return "no numba"
    if "OMP_WAIT_POLICY" in os.environ:
        return "user"
    if parallel._is_initialized:  # a parallel kernel ran before the engine was asked
        return "too late"
    # Run time, just before libgomp loads (it reads its environment then, once).
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    if _other_openmp_loaded() and _bind_numba_to_its_own_openmp():
        return "passive, own OpenMP"
    return "passive"


def _other_openmp_loaded() -> bool:
    """Whether an OpenMP runtime is mapped already (torch ships its own libgomp), Linux."""
    try:
        with open("/proc/self/maps") as maps:
            return any("libgomp" in line or "libiomp" in line for line in maps)
    except OSError:
        return False


def _bind_numba_to_its_own_openmp() -> bool:
    """Load numba's OpenMP pool now with ``RTLD_DEEPBIND``, so its OpenMP calls bind to
    the libgomp it links (loaded now, reading the policy above) and not to a copy an
    earlier library put in the global scope: ``import torch`` loads torch's libgomp
    with its default (spinning) policy, and numba's workers then ran on it, costing
    the deeper CNN 2.5-2.8 CPU-s instead of 1.1 (4,000 images, load 10-12)."""
    flags = getattr(os, "RTLD_DEEPBIND", None)
    if flags is None or "numba.np.ufunc.omppool" in sys.modules:
        return False
    previous = sys.getdlopenflags()
    sys.setdlopenflags(previous | flags)
    try:
        import numba.np.ufunc.omppool  # noqa: F401  (numba imports the same module later)
    except ImportError:  # numba built without OpenMP: it picks another layer itself
        return False
    finally:
        sys.setdlopenflags(previous)
    return True


def report() -> dict:
    """What is in force: the policy, the cores, each BLAS library with its thread count,
    each OpenMP runtime loaded (two after ``import torch``: torch's and the one numba's
    workers run on), numba's threading layer and thread count (when numba has started
    them), and the environment variables those libraries read when they load (for the
    record only: the policy does not depend on them). What differs between two
    processes that imported things in another order shows here."""
    with _lock:
        blas = [{"library": c.prefix, "version": c.version, "threads": c.num_threads,
                 "path": c.filepath} for c in _blas_controllers()]
    openmp = _openmp_runtimes()
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
    return {**_policy, "cores": cores(), "blas": blas, "openmp": openmp, "numba": numba_info,
            "kernel_wait": _kernel_wait["state"],
            "torch_loaded": "torch" in sys.modules, "environment": env,
            "engine_calls_running": _depth}


def _openmp_runtimes() -> list:
    """Each OpenMP runtime threadpoolctl finds loaded (looked for anew: torch or numba may
    have loaded one since), with its path and thread count."""
    try:
        from threadpoolctl import ThreadpoolController
        found = [c for c in ThreadpoolController().lib_controllers if c.user_api == "openmp"]
    except Exception:  # threadpoolctl missing or a library it cannot drive
        return []
    return [{"library": c.prefix, "threads": c.num_threads, "path": c.filepath}
            for c in found]


class engine_call:
    """The policy while the engine runs; a context manager and a method decorator.

    Nests (fit -> evaluate) and restores each BLAS' own count when the outermost call
    ends, also when calls on several threads overlap.

    >>> with engine_call():
    ...     pass  # numpy products here run on runtime.report()["blas_threads"] threads
    """

    def __enter__(self):
        global _depth
        if not _kernel_wait["prepared"]:
            prepare_threads()
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


def in_parallel_region() -> bool:
    """Whether the calling thread is already one of the engine's parallel threads
    (``parallel_region``, a pool thread): code that would start threads of its own
    (the conv GEMM chunks) runs serially there instead of nesting pools.

    >>> in_parallel_region()
    False
    """
    return getattr(_local, "in_parallel", False)


def _split_parts(a, b):
    """How to cut ``a @ b`` over ``gemm_threads`` threads (``core.gemm_split.cut``), or
    None to run it whole."""
    threads = _policy["gemm_threads"]
    if threads < 2 or _depth == 0 or getattr(_local, "in_parallel", False):
        return None
    # Never more threads than the kernels run on here (``kernel_threads``, or numba's
    # own count, e.g. NUMBA_NUM_THREADS=1): one thread count for the whole engine.
    import numba
    threads = min(threads, numba.get_num_threads())
    if threads < 2:
        return None
    if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype.char not in "fd":
        return None
    m, k = a.shape
    n = b.shape[1]
    if m * k * n < SPLIT_MIN:
        return None
    return gemm_split.cut(m, n, threads)


def _mark_parallel():
    _local.in_parallel = True  # (a pool thread: never splits again)


def matmul(a, b, out=None):
    """``np.matmul(a, b, out=out)``; a large 2-D product inside an engine call is shared
    by ``gemm_threads`` threads (``core.gemm_split``; see the module docstring). numpy's
    values to float rounding: each part is a single-threaded BLAS call.

    >>> matmul(np.ones((2, 3), "float32"), np.ones((3, 4), "float32")).shape
    (2, 4)
    """
    # Small products (every one of an MLP step's five) skip looking for a split: a
    # shape product costs ~0.2 us, the full look ~1.5 us.
    if _policy["gemm_threads"] < 2 or a.ndim != 2 or b.ndim != 2 or \
            a.shape[0] * a.shape[1] * b.shape[1] < SPLIT_MIN:
        return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)
    parts = _split_parts(a, b) if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) \
        else None
    if parts is None:
        return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    elif np.shares_memory(out, a) or np.shares_memory(out, b):
        return np.matmul(a, b, out=out)  # in place: numpy's own buffering, not ours
    return gemm_split.run(a, b, out, parts, gemm_split.executor(len(parts[1]) - 1),
                          _mark_parallel)
