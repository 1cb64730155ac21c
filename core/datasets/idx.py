"""Reader for the IDX format used by MNIST and Fashion-MNIST (gzipped or raw).

IDX: a big-endian header ``0x00 0x00 <type code> <ndim>``, then ``ndim`` uint32
dimension sizes, then the raw data. Every inconsistency (bad magic, unknown
type, truncated or oversized data) raises ``ValueError`` naming the file.

>>> from core.datasets.idx import read_idx
>>> x = read_idx("train-images-idx3-ubyte.gz")  # doctest: +SKIP
>>> x.shape, x.dtype  # doctest: +SKIP
((60000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import math
import os
import struct

import numpy as np

from core import safety

# IDX type code -> big-endian numpy dtype.
_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Refuse absurd headers before allocating (a corrupt header could ask for terabytes).
MAX_BYTES = 2 * 1024**3


def _read_bytes(path: str) -> bytes:
    # Regular files only (a FIFO would hang, /dev/zero never ends); gzip streamed
    # with a bound, so a 2 MB bomb stops after the floor instead of its gigabytes.
    limit = min(MAX_BYTES, safety.memory_budget() // 2)
    with safety.open_regular(path, ValueError, "IDX file") as f:
        data = safety.read_gzip_or_plain(f, path, ValueError, limit=limit)
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into a native-endian array; ``name`` is used in error messages."""
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file (only {len(data)} bytes, header needs 4).")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(f"{name}: not an IDX file (magic starts with "
                         f"{data[:4].hex()}, expected 0000xxxx).")
    if code not in _TYPES:
        raise ValueError(f"{name}: unknown IDX data type code 0x{code:02x}; expected one of "
                         + ", ".join(f"0x{c:02x}" for c in _TYPES) + ".")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated IDX header ({len(data)} bytes, "
                         f"{ndim} dimensions need {header}).")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _TYPES[code]
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow to 0
    got = len(data) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise ValueError(f"{name}: IDX data {what}: dimensions {tuple(dims)} of "
                         f"{dtype.name} need {expected} bytes, file has {got}.")
    try:
        arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    except ValueError as e:  # dimensions numpy cannot index (their product overflows)
        raise ValueError(f"{name}: IDX dimensions {tuple(dims)} cannot form an array "
                         f"({e}).") from None
    # Native byte order, writable, owning its memory (frombuffer is read-only).
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path) -> np.ndarray:
    """Read one IDX file (``.gz`` detected by content) into a numpy array."""
    path = os.fspath(path)
    return parse_idx(_read_bytes(path), name=path)


def read_idx_pair(images_path, labels_path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) and labels (N,) from two IDX files, checked against each other."""
    x = read_idx(images_path)
    y = read_idx(labels_path)
    if x.ndim != 3:
        raise ValueError(f"{os.fspath(images_path)}: expected images of shape (N, H, W), "
                         f"file has shape {x.shape}.")
    if y.ndim != 1:
        raise ValueError(f"{os.fspath(labels_path)}: expected labels of shape (N,), "
                         f"file has shape {y.shape}.")
    if len(x) != len(y):
        raise ValueError(f"{os.fspath(images_path)} has {len(x)} images but "
                         f"{os.fspath(labels_path)} has {len(y)} labels.")
    return x, y
