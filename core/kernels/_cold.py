"""Cold start: a kernel that is not compiled yet runs its numpy version meanwhile.

On an empty numba cache (a fresh install) the seed CNN's first ``fit`` spent ~50 s of a
~55 s first epoch compiling, most of it the parallel conv + pool kernels. Wrapped with
``with_fallback``, a kernel's first call for a new argument-type signature never waits:

* compiled already (in this process): the numba kernel runs;
* in numba's on-disk cache and the compiler is idle: loaded there and then (milliseconds);
* otherwise the signature goes to one child process (``python -m core.kernels._cold``,
  started at the first such call) that compiles it into the on-disk cache, and the
  numpy version runs until the child reports it done; the kernel then loads from the
  cache. The next call after the compile finishes runs the numba kernel: switching is
  seamless because both write the same outputs (same arithmetic, float rounding aside;
  ``tests/core/test_cold_start.py``).

Measured on the shared 2-core box (``benchmarks/cold_start.py --modes fallback,compile``,
12,000 images, paired runs at load 5.6-8.4): seed CNN first batch 2.1 s (61 s compiling
at the call), deeper CNN 1.2 s (72 s); first epoch minus the cached epoch +48 s / +15 s
against +63 s / +68 s. On a machine that crowded every figure moves by 2x between runs.
The recurrent step kernels and the Embedding gradient too (``recurrent_numpy.py``): the
*Text classifier* template (``--models text``, 2,400 sentences, four paired runs at load
8.2-11) first batch 0.3-0.5 s (11-17 s compiling at the call), first epoch minus the
cached one +3.5 to +4.6 s (+9.7 to +16 s).

A child, not a thread: compiling in a thread of this process took the GIL from training
(every numpy call that released it waited up to the 5 ms switch interval to get it
back): 2.6 s a batch instead of ~0.1 s, seed CNN first epoch 181 s. ``set_mode("compile")`` (or
``NETWEAVER_COLD_START=compile``) restores plain lazy numba: compile at the first call
and wait, as the kernel tests do so they test the compiled code, not the fallback.

>>> import numpy as np
>>> from core.kernels._jit import njit
>>> k = with_fallback(njit(lambda a: a.sum()), lambda a: a.sum())  # doctest: +SKIP
>>> k(np.ones(3))  # numpy now, numba once its compile is done  # doctest: +SKIP
3.0
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from numba.core import types
from numba.extending import typeof_impl
from numba.np import numpy_support

try:  # numba's C type key of an argument (what its dispatcher looks signatures up by)
    from numba._dispatcher import compute_fingerprint
except ImportError:  # another numba's layout: ``typeof`` of each argument at each call
    compute_fingerprint = None

_MODES = ("fallback", "compile", "numpy")
_mode = os.environ.get("NETWEAVER_COLD_START", "fallback")
_lock = threading.Lock()
_pending: dict[int, tuple] = {}  # request id -> (kernel, signature)
_unsent: dict[int, str] = {}  # request id -> its line, waiting until the child is free
_inflight = [None]  # the request id the child is compiling
_sent_to: dict[int, object] = {}  # request id -> the child process it was written to
_child: subprocess.Popen | None = None
_next_id = [0]
_fallback_calls = [0]


def set_mode(mode: str) -> None:
    """``"fallback"`` (default): never wait for a compile; ``"compile"``: numba's lazy
    compile at the first call; ``"numpy"``: every wrapped kernel runs its numpy version
    (tests, and a way to rule the numba kernels out when hunting a bug)."""
    global _mode
    if mode not in _MODES:
        raise ValueError(f"cold-start mode must be one of {_MODES}, got {mode!r}")
    _mode = mode


def mode() -> str:
    return _mode


def compiling() -> list[str]:
    """Names of the kernels the child process is compiling or has queued."""
    with _lock:
        return sorted({k.__name__ for k, _ in _pending.values()})


def fallback_calls() -> int:
    """How many kernel calls ran their numpy version (the status bar, benchmarks)."""
    return _fallback_calls[0]


def wait(timeout: float = 600.0) -> bool:
    """Block until the child compiled everything asked of it; False on timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with _lock:
            if not _pending:
                return True
        time.sleep(0.05)
    return False


# ------------------------------------------------ signatures as JSON (no eval)
def _encode(t):
    if isinstance(t, types.Array):
        return ["array", str(numpy_support.as_dtype(t.dtype)), t.ndim, t.layout,
                bool(t.mutable)]
    return ["scalar", str(numpy_support.as_dtype(t))]  # NotImplementedError: not a scalar


def _decode(e):
    dtype = numpy_support.from_dtype(np.dtype(e[1]))
    if e[0] == "array":
        return types.Array(dtype, int(e[2]), str(e[3]), readonly=not e[4])
    return dtype


def _in_disk_cache(dispatcher, sig) -> bool:
    """True when numba's on-disk cache index lists ``sig`` (reads the index, no load)."""
    try:
        cache = dispatcher._cache
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # noqa: BLE001  (no cache, or another numba's layout: not cached)
        return False


# ----------------------------------------------------------- the child process
def _start_child() -> subprocess.Popen:
    root = str(Path(__file__).resolve().parents[2])  # the folder holding core/
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p))
    child = subprocess.Popen([sys.executable, "-m", "core.kernels._cold"], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    threading.Thread(target=_read_child, args=(child,), name="netweaver-kernel-compile",
                     daemon=True).start()
    return child


def _read_child(child) -> None:
    for line in child.stdout:
        try:
            reply = json.loads(line)
        except ValueError:
            continue
        _on_reply(reply.get("id"), bool(reply.get("ok")))
    _child_gone(child)


def _child_gone(child) -> None:
    """``child`` exited: what it still owed compiles here, at its call. When a newer
    child has already taken over the queue (``_ask_child`` found this one dead), only
    the request written to this one is lost; the newer child's are left alone."""
    with _lock:
        lost = [rid for rid, c in _sent_to.items() if c is child]
        if _child is child:  # no newer child: nothing queued will be answered
            lost = list(_pending)
            _unsent.clear()
            _inflight[0] = None
        left = [_pending.pop(rid) for rid in lost if rid in _pending]
        for rid in lost:
            _sent_to.pop(rid, None)
            _unsent.pop(rid, None)
    for kernel, sig in left:
        kernel._compiled_elsewhere(sig, False)


def _on_reply(rid, ok) -> None:
    with _lock:
        entry = _pending.pop(rid, None)
        _sent_to.pop(rid, None)
        if _inflight[0] == rid:
            _inflight[0] = None
        _send_next()
    if entry is not None:
        entry[0]._compiled_elsewhere(entry[1], ok)


def _send_next() -> None:
    """(Under ``_lock``.) Give the free child the queued kernel that has spent the most
    time in its numpy version so far. First come, first served compiled the default
    template's Adam last, as its first call comes last in a step, while numpy Adam was
    a third of every numpy step (batch 32: the Dense kernel's 692k weights)."""
    if _inflight[0] is not None or not _unsent:
        return
    rid = max(_unsent, key=lambda i: _pending[i][0]._numpy_seconds)
    line = _unsent.pop(rid)
    try:
        _child.stdin.write(line)
        _child.stdin.flush()
        _inflight[0] = rid
        _sent_to[rid] = _child
    except OSError:
        pass  # the child is gone: its reader fails what is pending (compiled at the call)


def _ask_child(kernel, sig) -> bool:
    """Queue ``sig`` of ``kernel`` for the child; False when it cannot be sent."""
    global _child
    try:
        encoded = [_encode(t) for t in sig]
    except (NotImplementedError, TypeError, ValueError):
        return False
    with _lock:
        if any(k is kernel and s == sig for k, s in _pending.values()):
            return True
        try:
            if _child is None or _child.poll() is not None:
                _child = _start_child()
                _inflight[0] = None
        except OSError:
            return False
        _next_id[0] += 1
        _pending[_next_id[0]] = (kernel, sig)
        _unsent[_next_id[0]] = json.dumps({"id": _next_id[0], "module": kernel._module,
                                           "name": kernel._attr, "sig": encoded}) + "\n"
        _send_next()
    return True


def serve() -> None:
    """The child: compile each requested (module, kernel, signature) into the on-disk
    cache, answering ``{"id", "ok"}`` per request, in order. Not nice'd: the numpy
    versions train on one thread (one BLAS thread, no numba), so on two cores the
    compile takes the other one. Nice'd (5) it got a few percent of a crowded machine:
    the app's default template (``benchmarks/cold_start_app.py``, load 10-12) had 8 of
    its 9 kernels compiling when its 69 s first training ended and the last came at
    111 s; not nice'd, the last came at 72 s (training 72 s: at that load the numpy
    versions and the compile share what the machine gives this user)."""
    for line in sys.stdin:
        req = json.loads(line)
        ok = True
        try:
            kernel = getattr(importlib.import_module(req["module"]), req["name"])
            disp = kernel.dispatcher if isinstance(kernel, ColdStart) else kernel
            disp.compile(tuple(_decode(e) for e in req["sig"]))
        except Exception:  # noqa: BLE001  the parent compiles it at the call and raises
            ok = False
        print(json.dumps({"id": req["id"], "ok": ok}), flush=True)


# ------------------------------------------------------------------ the wrapper
class ColdStart:
    """A numba dispatcher plus the numpy function with the same signature and effect
    that runs while the dispatcher compiles (see the module docstring). Attribute
    access (``signatures``, ``py_func``...) goes to the dispatcher."""

    def __init__(self, dispatcher, fallback, module="", attr=""):
        self.dispatcher = dispatcher
        self.fallback = fallback
        self._module, self._attr = module, attr
        self._waiting: set = set()  # signatures the child is compiling
        self._any_live = False
        self._compile_here = False  # the child failed: compile at the call (and raise)
        self._numpy_seconds = 0.0  # time in the fallback: the child compiles the most used first
        self._sig_of: dict = {}  # argument fingerprints -> numba signature
        functools.update_wrapper(self, dispatcher.py_func)

    def __getattr__(self, name):
        return getattr(self.__dict__["dispatcher"], name)

    def _compiled_elsewhere(self, sig, ok) -> None:
        # Called from the reader thread: only drop the wait; the training thread loads
        # the kernel from the cache at its next call (or compiles it there if not ok).
        if not ok:
            self._compile_here = True
        self._waiting.discard(sig)

    def __call__(self, *args):
        # Once one signature is live, calls go straight to numba (no per-call type
        # tuple: ~1 us an argument, 10% of an MLP step); a later new signature then
        # compiles at its call, as plain numba does.
        if self._any_live or _mode == "compile":
            if _mode != "numpy":
                return self.dispatcher(*args)
        if _mode == "numpy":
            return self.fallback(*args)
        _prepare_threads()  # a kernel's first call: before numba may start its threads
        disp = self.dispatcher
        sig = self._signature(args)
        if sig not in self._waiting:
            if (self._compile_here or disp.overloads.get(sig) is not None
                    or _in_disk_cache(disp, sig) or not self._module or not self._send(sig)):
                self._any_live = True  # compiled, cached (loads in ms) or compile here
                return disp(*args)
        _fallback_calls[0] += 1
        t = time.perf_counter()
        out = self.fallback(*args)
        self._numpy_seconds += time.perf_counter() - t
        return out

    def _signature(self, args):
        """The numba signature of ``args``, remembered by the arguments' fingerprints
        (numba's own C type key, ~0.5 us an argument): ``typeof`` of every argument at
        every call was most of the text classifier's numpy steps (a step kernel takes up
        to 13 arguments, ~1.7 s of a 3.9 s cold first epoch under cProfile)."""
        try:
            key = None if compute_fingerprint is None else tuple(
                map(compute_fingerprint, args))
        except (TypeError, ValueError, NotImplementedError):
            key = None  # an argument numba fingerprints not: type it each time
        sig = self._sig_of.get(key) if key is not None else None
        if sig is None:
            sig = tuple(self.dispatcher.typeof_pyval(a) for a in args)
            if key is not None:
                self._sig_of[key] = sig
        return sig

    def _send(self, sig) -> bool:
        self._waiting.add(sig)
        if _ask_child(self, sig):
            return True
        self._waiting.discard(sig)
        return False


def _prepare_threads():
    from core.runtime import prepare_threads  # (core.runtime imports no kernels)

    prepare_threads()


def with_fallback(dispatcher, fallback, module="", attr="") -> ColdStart:
    """Wrap a kernel with the numpy ``fallback`` it runs while compiling; without
    ``module``/``attr`` (where the child finds it) it compiles at its first call."""
    return ColdStart(dispatcher, fallback, module, attr)


def wrap(namespace: dict, names, fallbacks=None) -> None:
    """Replace each kernel ``namespace[name]`` by ``with_fallback(kernel, fallback)``, the
    fallback being ``fallbacks[name]`` or else its twin ``namespace[name + "_ref"]``."""
    fallbacks = fallbacks or {}
    for name in names:
        namespace[name] = with_fallback(namespace[name],
                                        fallbacks.get(name) or namespace[name + "_ref"],
                                        namespace["__name__"], name)


@typeof_impl.register(ColdStart)
def _typeof_cold_start(val, c):
    # Another kernel calling a wrapped one compiles against the dispatcher inside.
    return typeof_impl(val.dispatcher, c)


if __name__ == "__main__":
    serve()
