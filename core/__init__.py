"""Netweaver's engine: a Keras-compatible deep-learning core on numpy + numba.

Submodules load on first use so ``import core`` stays fast::

    from core.models import Sequential
    from core.layers import Dense
    model = Sequential([Dense(10, activation="softmax", input_shape=(784,))])
"""

import importlib

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
