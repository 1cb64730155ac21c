"""The engine's one random number generator.

Initializers and ``Dropout`` draw from the module generator returned by
``rng()``; ``set_seed(seed)`` replaces it, so the same seed gives the same
weights and the same dropout masks (``core.utils.set_random_seed`` calls it).
An explicit integer ``seed`` on an initializer or layer uses its own generator
instead (``generator(seed)``), as Keras' seeded objects do.

>>> from core import random
>>> random.set_seed(42)
>>> a = random.rng().random(3)
>>> random.set_seed(42)
>>> bool((a == random.rng().random(3)).all())
True
"""

from __future__ import annotations

import threading

import numpy as np

_lock = threading.Lock()
_rng = np.random.default_rng()
_seed: int | None = None


def set_seed(seed: int | None) -> None:
    """Reseed the module generator (``None`` draws fresh entropy from the OS)."""
    global _rng, _seed
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"set_seed: seed must be a non-negative integer or None, "
                             f"got seed={seed!r}")
        seed = int(seed)
    with _lock:
        _rng = np.random.default_rng(seed)
        _seed = seed


def get_seed() -> int | None:
    """The seed last given to ``set_seed`` (None when unseeded)."""
    return _seed


def rng() -> np.random.Generator:
    """The current module generator."""
    return _rng


def generator(seed: int | None = None) -> np.random.Generator:
    """A fresh generator for an explicit integer ``seed``, else the module generator."""
    if seed is None:
        return _rng
    return np.random.default_rng(int(seed))
