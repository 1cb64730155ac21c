"""One large matrix product shared by several threads, each a single-threaded BLAS call.

``core.runtime.matmul`` decides *whether* a product is split (its policy,
``gemm_threads``); this module does the split. Why our own split instead of a
multi-threaded BLAS: OpenBLAS' idle workers spin for as long as it read at load
time and then fought numba's kernels for the two cores (issue 12); threads of a
``ThreadPoolExecutor`` sleep on a lock between products.

How a product is cut: along the output's longer side, rows when ``m >= n`` and
columns otherwise, into ``threads`` parts of at least ``MIN_SIDE``. Every element of
the output is still one BLAS dot product over all of ``k``, so cutting rows or
columns changes no value (BLAS may block a thinner product differently: float
rounding at most). On the 2-core machine the seed CNN's Dense products
(128x5408 @ 5408x128 and its two gradients) took 1.8-2.0 ms whole and 1.0-1.4 ms cut
in two.

Why *shared* and not *handed out*: the calling thread and the helpers take parts
from one counter, and the caller does not wait for a helper that has not started.
On a loaded machine a helper may not get a core for milliseconds; the caller then
computes every part itself, so a split product is never much slower than an unsplit
one (a fixed hand-out made the seed CNN 10-20 % slower at load 10, ``core.runtime``).

>>> import numpy as np
>>> a, b = np.ones((256, 8), "float32"), np.ones((8, 4), "float32")
>>> parts = cut(256, 4, 2)
>>> parts
('rows', [(0, 128), (128, 256)])
>>> float(run(a, b, np.empty((256, 4), "float32"), parts, None)[0, 0])
8.0
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MIN_SIDE = 64  # rows or columns per part at least: thinner parts run BLAS far below rate

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def executor(workers: int) -> ThreadPoolExecutor:
    """The process' pool of helper threads, grown to ``workers`` on demand (idle helpers
    sleep on its queue: they cost nothing between products)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="netweaver-gemm")
        return _pool


def cut(m: int, n: int, threads: int):
    """``(axis, [(start, stop), ...])`` splitting an ``m x n`` output over ``threads``,
    or None when a part would be thinner than ``MIN_SIDE``."""
    axis, side = ("rows", m) if m >= n else ("columns", n)
    parts = min(threads, side // MIN_SIDE)
    if parts < 2:
        return None
    step = -(-side // parts)
    return axis, [(s, min(s + step, side)) for s in range(0, side, step)]


def run(a, b, out, parts, executor, mark=None):
    """``out[...] = a @ b`` computed part by part (``cut``); ``executor``: the pool the
    helpers run in (None: the caller computes every part). ``mark()`` runs first on
    each helper thread (the engine marks it as a parallel thread). Returns ``out``."""
    axis, ranges = parts

    def part(i):
        s, e = ranges[i]
        if axis == "rows":
            np.matmul(a[s:e], b, out=out[s:e])
        else:  # out[:, s:e] keeps unit stride along a row: BLAS writes it in place
            np.matmul(a, b[:, s:e], out=out[:, s:e])

    claim = itertools.count()  # next() is atomic under the GIL

    def share(on_helper):
        if on_helper and mark is not None:
            mark()
        for i in claim:
            if i >= len(ranges):
                return
            part(i)

    helpers = [] if executor is None else \
        [executor.submit(share, True) for _ in range(len(ranges) - 1)]
    try:
        share(False)
    finally:
        for f in helpers:
            if not f.cancel():  # started: it may hold a part, so wait for it
                f.result()
    return out
