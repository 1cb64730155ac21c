"""Netweaver's engine: a Keras-compatible deep-learning core on numpy + numba.

Submodules load on first use so ``import core`` stays fast::

    from core.models import Sequential
    from core.layers import Dense
    model = Sequential([Dense(10, activation="softmax", input_shape=(784,))])
"""

import importlib
import os
import sys

# OpenBLAS' idle threads spin for ~2^28 cycles (0.1 s) after each call, fighting numba's
# kernels for the cores; 2^18 cycles (0.1 ms) lets them catch the next product of a run
# of matmuls (predict: 12.4 vs 14.3 ms over 10k images at 2^4) without taking the cores
# from the kernels after it (seed CNN epoch 3.0-3.1 s at 2^18 and 2^4, 3.6-3.8 s at
# 2^22; benchmarks/train_speed.py). Only effective when core is imported before numpy
# (OpenBLAS reads it when it loads); harmless otherwise.
try:  # what OpenBLAS reads (or read, if numpy came first: unset means its default, 28)
    OPENBLAS_SPIN_LOG2 = int(os.environ.get("OPENBLAS_THREAD_TIMEOUT",
                                            "28" if "numpy" in sys.modules else "18"))
except ValueError:
    OPENBLAS_SPIN_LOG2 = 28
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "18")

__version__ = "0.1.0"

_SUBMODULES = (
    "activations", "autodiff", "backend", "callbacks", "config", "constraints", "datasets",
    "graph", "initializers", "kernels", "layers", "losses", "metrics", "models", "ops",
    "optimizers", "random", "regularizers", "saving", "utils",
)

# ``keras.Input``, ``keras.Sequential`` ... : name -> the module that defines it, imported
# on first use (``import core as keras; keras.Sequential([...])``).
_TOP_LEVEL = {
    "Input": "core.layers", "InputLayer": "core.layers", "Layer": "core.layers",
    "Sequential": "core.models", "Model": "core.models", "Functional": "core.models",
    "Variable": "core.variables", "Loss": "core.losses", "Metric": "core.metrics",
    "Optimizer": "core.optimizers", "KerasTensor": "core.layers",
}


def version() -> str:
    """The engine's version string, as ``keras.version()``."""
    return __version__


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"core.{name}")
    if name in _TOP_LEVEL:
        return getattr(importlib.import_module(_TOP_LEVEL[name]), name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + list(_TOP_LEVEL))
