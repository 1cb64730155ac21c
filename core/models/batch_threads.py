"""Run ``predict``'s batches on several threads at once, one whole batch per thread.

Why: a model of Dense layers spends ~80 % of ``predict`` in one BLAS product per
layer and batch. OpenBLAS splitting each product over two threads hands work off
twice per call and leaves the second core idle through everything between the
products (bias, activations, the check, Python). Whole batches on every core, each
with single-threaded BLAS (``core.runtime``'s default policy), keep both cores busy:
measured on the 2-core target, the Fashion-MNIST MLP's predict over 10,000 images
(batch 256) took 8.9-9.6 ms this way against 9.9-11.0 ms batch after batch
(``benchmarks/train_speed.py`` has the figures against PyTorch).

Each thread takes the next batch number from one shared counter and writes its
outputs into that batch's own rows of the preallocated result; nothing else is
shared. ``deliver`` (``on_predict_batch_end``) still runs on the calling thread, in
batch order. The caller decides which models may run this way: every layer must
allocate its outputs and keep no buffers between calls (``Layer.reentrant_inference``).

>>> squares = [0] * 8
>>> def work(b):
...     squares[b] = b * b
>>> if not run(8, work, threads=2):  # False (nothing run) where it can't: run in turn
...     for b in range(8):
...         work(b)
>>> squares
[0, 1, 4, 9, 16, 25, 36, 49]
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from core import runtime

MIN_BATCHES = 3  # fewer: handing work to a thread (~50 us) costs more than it saves
MAX_THREADS = 8

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def cores() -> int:
    """CPUs this process may run on."""
    return runtime.cores()


def _executor(workers: int) -> ThreadPoolExecutor:
    # One pool for the process, grown on demand; its idle threads cost nothing.
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers,
                                       thread_name_prefix="netweaver-predict")
        return _pool


def single_threaded_blas() -> bool:
    """Whether BLAS runs on one thread under the engine's policy and can be driven
    (``core.runtime``): batches on every core next to multi-threaded BLAS products
    would put two threads on each core."""
    return runtime.blas_threads() == 1


def run(total: int, work, deliver=None, threads: int | None = None, alone: int = 1) -> bool:
    """Run ``work(b)`` for every batch ``0 <= b < total``: the first ``alone`` on the
    calling thread before any other starts (predict's batch 0 sizes the results), the
    rest on ``threads`` threads (default: one per core), the calling thread among
    them, with BLAS on one thread throughout (the engine call's policy). ``deliver(b)``
    runs on the calling thread, in order, for every batch once its work is done. The
    first exception from any thread stops the others after their current batch and is
    raised here.

    Returns False, having run nothing, when fewer than two threads would run, there
    are fewer than ``MIN_BATCHES`` to share, or BLAS is not single-threaded
    (``single_threaded_blas``); the caller then runs them in turn.
    """
    threads = min(threads or cores(), MAX_THREADS, total - alone)
    if threads < 2 or total - alone < MIN_BATCHES or not single_threaded_blas():
        return False
    with runtime.parallel_region():
        for b in range(alone):
            work(b)
            if deliver is not None:
                deliver(b)
        counter = itertools.count(alone)  # next() is atomic under the GIL
        done = [False] * total
        errors: list[BaseException] = []
        stop = threading.Event()

        def loop(on_caller: bool):
            nxt = alone
            try:
                with runtime.parallel_region():  # (thread-local: each pool thread too)
                    for b in counter:
                        if b >= total or stop.is_set():
                            break
                        work(b)
                        done[b] = True
                        while on_caller and deliver is not None and nxt < total and \
                                done[nxt]:
                            deliver(nxt)
                            nxt += 1
            except BaseException as e:  # re-raised on the caller's thread below
                errors.append(e)
                stop.set()
            return nxt

        futures = [_executor(threads - 1).submit(loop, False) for _ in range(threads - 1)]
        try:
            nxt = loop(True)
        finally:
            for f in futures:
                f.result()  # loop() never raises; wait so no thread outlives the call
        if errors:
            raise errors[0]
        while deliver is not None and nxt < total:  # every batch is done now
            deliver(nxt)
            nxt += 1
    return True
