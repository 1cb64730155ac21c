"""Netweaver's engine: a Keras-compatible deep-learning core on numpy + numba.

Submodules load on first use so ``import core`` stays fast::

    from core.models import Sequential
    from core.layers import Dense
    model = Sequential([Dense(10, activation="softmax", input_shape=(784,))])
"""

import importlib

# No environment writes here: the thread policy is applied at run time by core.runtime,
# so it holds whatever the script imported first (numpy, torch...).

__version__ = "0.1.0"

_SUBMODULES = (
    "activations", "autodiff", "backend", "callbacks", "config", "constraints", "datasets",
    "graph", "initializers", "kernels", "layers", "losses", "metrics", "models", "ops",
    "optimizers", "random", "regularizers", "runtime", "saving", "utils",
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
