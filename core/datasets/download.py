"""Fetch a file once into the Keras cache, with progress and a checksum (``get_file``).

Follows ``keras.utils.get_file``: the cache is ``$KERAS_HOME`` or ``~/.keras``,
files go to ``<cache>/<cache_subdir>/<fname>``, the hash algorithm is picked
from the digest length (64 hex digits: SHA-256, 32: MD5), and a cached file
with a wrong hash is downloaded again. The download goes to a temporary file
in the target folder that replaces the target only after the hash matched, so
an interrupted or corrupt download never leaves a half file under the real name.

>>> path = get_file("mnist.npz", KERAS_DATASETS + "mnist.npz",
...                 file_hash=MNIST_SHA256)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request

KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_CHUNK = 1 << 16


class ChecksumError(ValueError):
    """A downloaded or cached file does not have the expected hash."""


def keras_home() -> str:
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def _hasher(file_hash: str):
    n = len(file_hash)
    if n == 64:
        return hashlib.sha256()
    if n == 32:
        return hashlib.md5(usedforsecurity=False)
    raise ValueError(f"file_hash {file_hash!r} is neither a SHA-256 (64 hex digits) "
                     "nor an MD5 (32 hex digits).")


def file_digest(path, file_hash: str) -> str:
    """Hex digest of ``path`` with the algorithm that ``file_hash``'s length implies."""
    h = _hasher(file_hash)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def text_progress(stream=None):
    """A ``progress(done, total)`` callback drawing ``[=====>    ]  45% 12.3/26.4 MB``."""
    stream = stream or sys.stderr

    def show(done: int, total: int | None) -> None:
        mb = done / 1e6
        if total:
            frac = min(1.0, done / total)
            bar = "=" * int(frac * 30)
            bar = (bar[:-1] + ">") if 0 < frac < 1 else bar
            stream.write(f"\r[{bar:<30}] {frac * 100:5.1f}% {mb:.1f}/{total / 1e6:.1f} MB")
        else:
            stream.write(f"\r{mb:.1f} MB")
        if total and done >= total:
            stream.write("\n")
        stream.flush()

    return show


def get_file(fname: str, origin: str, file_hash: str | None = None,
             cache_subdir: str = "datasets", cache_dir: str | None = None,
             progress=None, opener=None, timeout: float = 60.0) -> str:
    """Return the local path of ``fname``, downloading it from ``origin`` when needed.

    progress: ``callable(done_bytes, total_bytes_or_None)``; default draws a text
    bar on stderr. opener: ``callable(url, timeout=...) -> file-like`` (default
    ``urllib.request.urlopen``; ``file://`` URLs work too).
    """
    if os.path.isabs(fname):
        target = fname
    else:
        if ".." in fname.replace("\\", "/").split("/"):
            raise ValueError(f"get_file: fname {fname!r} must not contain '..'.")
        target = os.path.join(cache_dir or keras_home(), cache_subdir, fname)
    if os.path.exists(target):
        if file_hash is None or file_digest(target, file_hash) == file_hash.lower():
            return target
        # A stale or corrupt cached copy: fetch it again, as Keras does.
    folder = os.path.dirname(target) or "."
    os.makedirs(folder, exist_ok=True)
    opener = opener or urllib.request.urlopen
    progress = progress if progress is not None else text_progress()
    h = _hasher(file_hash) if file_hash else None
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".",
                               suffix=".part", dir=folder)
    try:
        try:
            with os.fdopen(fd, "wb") as out, opener(origin, timeout=timeout) as src:
                total = _content_length(src)
                done = 0
                progress(done, total)
                while True:
                    chunk = src.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    if h is not None:
                        h.update(chunk)
                    done += len(chunk)
                    progress(done, total)
                if total is None:
                    progress(done, done)  # size now known: lets the bar finish its line
                out.flush()
                os.fsync(out.fileno())
        except OSError as e:  # URLError is an OSError
            raise OSError(f"Could not download {fname} from {origin}: {e}") from e
        if h is not None and h.hexdigest() != file_hash.lower():
            raise ChecksumError(
                f"{fname}: downloaded file from {origin} has hash {h.hexdigest()}, "
                f"expected {file_hash.lower()}; the file is corrupt or was changed. "
                "Nothing was saved; try again.")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _content_length(src) -> int | None:
    headers = getattr(src, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
