"""Guards every loader shares: regular files only, memory budgets, bounded decompression.

A file someone downloaded may be a FIFO that never ends, ``/dev/zero``, a zip or
gzip "bomb" that inflates a thousandfold, or a header that claims a terabyte.
These helpers refuse such input *before* the allocation or the endless read,
with a message that names the file and the figure.

>>> with open_regular("data.csv", ValueError) as f:       # doctest: +SKIP
...     raw = read_gzip_or_plain(f, "data.csv", ValueError)
>>> check_allocation(10**12, "layer 'dense' kernel")       # doctest: +SKIP
Traceback (most recent call last):
AllocationTooLarge: layer 'dense' kernel would need 931.3 GB ...

Sizes taken from configs and data (weight shapes, one-hot widths, batch buffers)
go through ``check_allocation`` too, before anything is allocated.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib

try:
    import resource
except ImportError:  # Windows: no RLIMIT_AS
    resource = None

# Deflate cannot exceed ~1032:1; real data sets and models stay far below 100:1,
# so more than this (past the floor) is a bomb, as Keras' ``_reject_zip_bomb``.
MAX_EXPANSION = 100
EXPANSION_FLOOR = 64 * 1024**2
_CHUNK = 1 << 20


class AllocationTooLarge(ValueError, MemoryError):
    """A size read from a file or a config would not fit in memory. Both a
    ``ValueError`` (bad input) and a ``MemoryError`` (what it would have become)."""


def fmt_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KB'`` (binary units, up to TB)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} TB"


def available_memory() -> int | None:
    """Bytes the OS says a new allocation can get (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _available_memory() -> int:
    free = available_memory()
    return 8 * 1024**3 if free is None else free


def _address_space_left() -> int | None:
    """What an ``RLIMIT_AS`` leaves of the address space (None: no limit)."""
    if resource is None:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - used)


def memory_budget() -> int:
    """Bytes one load may allocate: half of what is free (RAM, and address space
    under an ``RLIMIT_AS``), so a refused file never pushes the machine into swap."""
    free = _available_memory()
    left = _address_space_left()
    if left is not None:
        free = min(free, left)
    return free // 2


def check_allocation(nbytes: int, what: str, error=AllocationTooLarge) -> None:
    """Refuse ``nbytes`` for ``what`` when it exceeds ``memory_budget()``."""
    budget = memory_budget()
    if nbytes > budget:
        raise error(f"{what} would need {fmt_bytes(nbytes)} ({nbytes} bytes); only "
                    f"{fmt_bytes(budget)} may be used (half the free memory). Refusing "
                    "to allocate it.")


def array_bytes(shape, itemsize: int) -> int:
    """Bytes of an array of ``shape``, in Python ints (a product of huge dimensions
    cannot overflow to a small number as it would in int64)."""
    n = 1
    for d in shape:
        n *= int(d)
    return n * int(itemsize)


# An initializer draws in float64 and keeps one float64 temporary while scaling the
# draw (``core.initializers``): the peak of creating a weight is its own bytes plus
# these per value.
INIT_WORKING_BYTES = 16


def check_weight(layer: str, weight: str, shape, dtype) -> None:
    """Refuse creating weight ``weight`` of ``layer`` when the weight, with its
    initializer's float64 working copies, exceeds ``memory_budget()``.

    >>> check_weight("dense", "kernel", (10, 10**9), "float32")  # doctest: +SKIP
    Traceback (most recent call last):
    AllocationTooLarge: Layer 'dense' weight 'kernel' of shape (10, 1000000000) ...
    """
    import numpy as np

    itemsize = np.dtype(dtype).itemsize
    own = array_bytes(shape, itemsize)
    values = own // itemsize if itemsize else 0
    check_allocation(own + values * INIT_WORKING_BYTES,
                     f"Layer '{layer}' weight '{weight}' of shape {tuple(shape)} "
                     f"({values} {np.dtype(dtype).name} values, {fmt_bytes(own)} itself, "
                     "plus its initializer's float64 working copies)")


def check_regular_file(path, error=ValueError, what="file") -> os.stat_result:
    """``os.stat`` of ``path`` when it is a regular file (symlinks followed), else ``error``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found.") from None
    except OSError as e:
        raise error(f"{path}: cannot read the {what} ({e.strerror}).") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else
                "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise error(f"{path}: is {kind}, not a regular {what}; refusing to read it "
                    "(it could block forever or never end).")
    return st


def open_regular(path, error=ValueError, what="file"):
    """Open ``path`` for binary reading, refusing anything but a regular file.

    Opened non-blocking first, so a FIFO cannot hang the ``open`` itself, then
    checked with ``fstat`` on the open descriptor (no swap between check and use).
    """
    path = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{path}: {what} not found.") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a regular {what}.") from None
    except OSError as e:
        raise error(f"{path}: cannot open the {what} ({e.strerror}).") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            check_regular_file(path, error, what)  # names the kind
            raise error(f"{path}: not a regular {what}.")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_bounded(f, limit: int, path, error=ValueError, what="data") -> bytes:
    """Read all of ``f`` in chunks, stopping with ``error`` once past ``limit`` bytes."""
    chunks, total = [], 0
    while True:
        chunk = f.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise error(f"{path}: {what} is larger than {fmt_bytes(limit)} "
                        f"({limit} bytes); refusing to load it.")
        chunks.append(chunk)
    return b"".join(chunks)


def read_gzip_or_plain(f, path, error=ValueError, limit: int | None = None) -> bytes:
    """Bytes of an open file, gunzipped when it starts with the gzip magic.

    Decompression is streamed and stops (with ``error``) once the output passes
    ``limit`` (default ``memory_budget() // 4``) or ``MAX_EXPANSION`` times the
    compressed size past ``EXPANSION_FLOOR``: a 2 MB gzip bomb is refused after
    reading at most the floor, never its gigabytes.
    """
    if limit is None:
        limit = memory_budget() // 4
    head = f.read(2)
    f.seek(0)
    if head != b"\x1f\x8b":
        return read_bounded(f, limit, path, error)
    compressed = os.fstat(f.fileno()).st_size
    bound = min(limit, max(EXPANSION_FLOOR, MAX_EXPANSION * compressed))
    try:
        with gzip.GzipFile(fileobj=f) as g:
            chunks, total = [], 0
            while True:
                chunk = g.read(min(_CHUNK, bound + 1 - total))
                if not chunk:
                    break
                total += len(chunk)
                if total > bound:
                    ratio = "" if bound == limit else (
                        f", over {MAX_EXPANSION}x its {fmt_bytes(compressed)} on disk")
                    raise error(f"{path}: the gzip data inflates past {fmt_bytes(bound)}"
                                f"{ratio}; refusing a likely decompression bomb.")
                chunks.append(chunk)
    except (OSError, EOFError, zlib.error) as e:
        raise error(f"{path}: corrupt or truncated gzip data ({e}).") from None
    return b"".join(chunks)


def nesting_depth(obj, limit: int) -> int:
    """Depth of nested lists/dicts in ``obj``, counted without recursion; stops
    counting (returns ``limit + 1``) as soon as it passes ``limit``."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict):
            o = list(o.values())
        elif not isinstance(o, list):
            continue
        deepest = max(deepest, d)
        if deepest > limit:
            return limit + 1
        stack.extend((v, d + 1) for v in o if isinstance(v, (list, dict)))
    return deepest


def _refuse_constant(name):
    raise ValueError(f"the number {name} is not allowed (only finite numbers)")


def loads_json(text: str | bytes, max_depth: int = 64):
    """``json.loads`` for untrusted text: NaN/Infinity refused, nesting past
    ``max_depth`` refused (``ValueError`` in every case, never ``RecursionError``)."""
    import json

    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"nests deeper than {max_depth} levels") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"is not valid JSON ({e})") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"is not UTF-8 text ({e.reason} at byte {e.start})") from None
    if nesting_depth(data, max_depth) > max_depth:
        raise ValueError(f"nests deeper than {max_depth} levels")
    return data
