"""Reading the members of an ``.npz`` without trusting them.

``np.load`` returns a member without the ``.npy`` magic as raw bytes, lets a
malformed header escape as ``tokenize.TokenError``/``SyntaxError``, and allocates
whatever a header claims (1e12 elements) before noticing the data is not there.
Here every member must be an ``.npy`` of a plain numeric dtype whose header size
matches the bytes it stores, within the memory budget, or a ``ValueError`` names
the file and the member.

>>> with zipfile.ZipFile("data.npz") as zf:                      # doctest: +SKIP
...     arrays = read_npz_arrays(zf, "data.npz", ("x", "y"), 4 * 1024**3)
"""

from __future__ import annotations

import math
import zipfile

import numpy as np

from core import safety


def _header(f, path, key):
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
    except ValueError:
        raise ValueError(f"{path}: member '{key}' is not an .npy array (raw bytes).") from None
    try:
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as e:  # noqa: BLE001 - numpy lets tokenize/syntax errors escape here
        raise ValueError(f"{path}: member '{key}' has a malformed .npy header "
                         f"({type(e).__name__}: {e}).") from None
    return shape, fortran, dtype


_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what numpy's savez writes


def read_npz_arrays(zf, path, keys, max_total: int) -> dict:
    """``{key: array}`` for ``keys`` of the open zip ``zf`` (members ``key.npy``)."""
    infos = {i.filename: i for i in zf.infolist()}
    total = sum(i.file_size for i in infos.values())
    limit = min(max_total, safety.memory_budget())
    if total > limit:
        raise ValueError(f"{path}: arrays would take {safety.fmt_bytes(total)} ({total} "
                         f"bytes) uncompressed (limit {limit}); refusing to load.")
    out = {}
    for key in keys:
        info = infos[key + ".npy"]
        if info.file_size > safety.EXPANSION_FLOOR and \
                info.file_size > safety.MAX_EXPANSION * max(1, info.compress_size):
            raise ValueError(f"{path}: member '{key}' declares "
                             f"{safety.fmt_bytes(info.file_size)} but stores "
                             f"{safety.fmt_bytes(info.compress_size)}; refusing a likely "
                             "decompression bomb.")
        if info.flag_bits & 0x1 or info.compress_type not in _METHODS:
            # zipfile raises RuntimeError / NotImplementedError for these: say it plainly
            raise ValueError(f"{path}: member '{key}' is encrypted or uses compression "
                             f"method {info.compress_type}; only stored or deflated "
                             "members are read.")
        with zf.open(info) as f:
            shape, fortran, dtype = _header(f, path, key)
            if dtype.hasobject or dtype.kind not in "biufc":
                raise ValueError(f"{path}: member '{key}' has dtype {dtype}; pickled or "
                                 "non-numeric arrays are never loaded (allow_pickle=False).")
            need = math.prod(shape) * dtype.itemsize
            have = info.file_size - f.tell()
            if need != have:
                raise ValueError(f"{path}: member '{key}' claims shape {shape} of {dtype} "
                                 f"({safety.fmt_bytes(need)}) but stores {have} bytes.")
            data = safety.read_bounded(f, have, path, ValueError, f"member '{key}'")
        arr = np.frombuffer(data, dtype=dtype)
        arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
        out[key] = arr.astype(dtype.newbyteorder("="), copy=True)
    return out
