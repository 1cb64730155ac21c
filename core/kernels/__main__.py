"""``python -m core.kernels``: compile every kernel into numba's on-disk cache.

The app runs this in a child process at start-up, so compiling never competes with
its own threads for the GIL or numba's compiler lock; a model trained meanwhile
compiles just the kernels it calls (numba compiles lazily) and, once the child is
done, every later process loads them from the cache. Prints ``done total module`` per
module, one line each.
"""

import os

from core import kernels


def main() -> None:
    # A background cache filler: the training it serves (and the child compiling the
    # kernels that training waits for, core.kernels._cold) come first.
    if hasattr(os, "nice"):
        os.nice(10)
    kernels.warmup(progress=lambda done, total, name: print(done, total, name, flush=True))


if __name__ == "__main__":
    main()
