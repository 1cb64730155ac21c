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


class SeedGenerator:
    """Keras' ``keras.random.SeedGenerator``: a seed state that yields a new draw each call,
    so ``normal(shape, seed=sg)`` twice gives two different, reproducible tensors.

    >>> sg = SeedGenerator(1)
    >>> a, b = normal((2,), seed=sg), normal((2,), seed=sg)
    >>> bool((a != b).all()), bool((normal((2,), seed=SeedGenerator(1)) == a).all())
    (True, True)
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"SeedGenerator: seed must be an integer or None, got {seed!r}")
        self.name = name or "seed_generator"
        self._gen = np.random.default_rng(None if seed is None else int(seed))

    def next(self) -> np.random.Generator:
        return self._gen


def _gen_for(seed) -> np.random.Generator:
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if seed is None:
        return _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, a SeedGenerator or None, got {seed!r}")
    return np.random.default_rng(int(seed))


def _float_dtype(dtype):
    from core.backend import floatx
    return np.dtype(dtype or floatx())


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> np.ndarray:
    """Draws from N(mean, stddev^2), as ``keras.random.normal``."""
    return _gen_for(seed).normal(mean, stddev, tuple(shape)).astype(_float_dtype(dtype))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> np.ndarray:
    """Draws from U[minval, maxval), as ``keras.random.uniform``."""
    return _gen_for(seed).uniform(minval, maxval, tuple(shape)).astype(_float_dtype(dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> np.ndarray:
    """Normal draws redrawn until within two ``stddev`` of ``mean`` (Keras' rule)."""
    gen = _gen_for(seed)
    out = gen.normal(0.0, 1.0, tuple(shape))
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = gen.normal(0.0, 1.0, int(bad.sum()))
        bad = np.abs(out) > 2.0
    return (out * stddev + mean).astype(_float_dtype(dtype))


def randint(shape, minval, maxval, dtype="int32", seed=None) -> np.ndarray:
    """Integers in ``[minval, maxval)``, as ``keras.random.randint``."""
    return _gen_for(seed).integers(minval, maxval, tuple(shape)).astype(dtype)


def dropout(inputs, rate, noise_shape=None, seed=None) -> np.ndarray:
    """Zero a ``rate`` fraction of ``inputs`` and scale the rest by ``1/(1-rate)``;
    ``noise_shape`` broadcasts one mask over axes of size 1 (Keras' ``random.dropout``)."""
    x = np.asarray(inputs)
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate!r}")
    shape = x.shape if noise_shape is None else tuple(
        d if n is None else n for n, d in zip(noise_shape, x.shape))
    keep = _gen_for(seed).uniform(size=shape) >= rate
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    scale = np.where(keep, 1.0 / (1.0 - rate), 0.0).astype(dtype)
    # An op (multiply by the scaled mask), not plain numpy: a user layer calling
    # keras.random.dropout in call() must pass the gradient on to the weights upstream.
    from core import ops

    return ops.multiply(inputs, scale)


def shuffle(x, axis=0, seed=None) -> np.ndarray:
    """A copy of ``x`` with its entries permuted along ``axis``."""
    x = np.asarray(x)
    return np.take(x, _gen_for(seed).permutation(x.shape[axis]), axis=axis)
