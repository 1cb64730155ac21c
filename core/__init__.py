"""Netweaver's engine: a Keras-compatible deep-learning core on numpy + numba.

Submodules load on first use so ``import core`` stays fast::

    from core.models import Sequential
    from core.layers import Dense
    model = Sequential([Dense(10, activation="softmax", input_shape=(784,))])
"""

import importlib
import os

# OpenBLAS' idle threads spin for ~2^28 cycles after each call, fighting numba's kernels
# for the cores; 2^4 makes them yield at once. Only effective when core is imported
# before numpy (OpenBLAS reads it when it loads); harmless otherwise.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__version__ = "0.1.0"

_SUBMODULES = (
    "activations", "autodiff", "backend", "callbacks", "datasets", "graph", "initializers",
    "kernels", "layers", "losses", "metrics", "models", "optimizers", "saving", "utils",
)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"core.{name}")
    raise AttributeError(f"module 'core' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
