"""Load user data sets from ``.npz``, ``.csv`` (optionally gzipped) and IDX files.

Every loader returns ``((x_train, y_train), test)`` where ``test`` is the pair
``(x_test, y_test)`` when the file holds a split and ``None`` when it holds one
set, so callers handle all formats alike. Problems raise ``ValueError`` naming
the file and what is wrong. Nothing here executes code from the file
(``np.load(..., allow_pickle=False)``).

>>> (x, y), test = load_csv("digits.csv", label_column=-1)  # doctest: +SKIP
>>> (x_train, y_train), (x_test, y_test) = load_npz("mnist.npz")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib

import numpy as np

from core import safety
from core.datasets.idx import read_idx_pair
from core.datasets.npz_reader import read_npz_arrays

# A .npz is a zip: refuse archives that would inflate past this (zip bombs).
MAX_NPZ_BYTES = 4 * 1024**3
_SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _check_pair(path, x, y, xname, yname):
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{path}: '{xname}' and '{yname}' must be arrays with a sample axis, "
                         f"got shapes {x.shape} and {y.shape}.")
    if len(x) != len(y):
        raise ValueError(f"{path}: '{xname}' has {len(x)} samples but '{yname}' has {len(y)}.")


def load_npz(path):
    """Arrays from an ``.npz`` with keys x_train/y_train/x_test/y_test, or x/y."""
    path = os.fspath(path)
    try:
        with safety.open_regular(path, ValueError, ".npz file") as raw, \
                zipfile.ZipFile(raw) as zf:
            keys = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
            if set(_SPLIT_KEYS) <= keys:
                wanted = _SPLIT_KEYS
            elif {"x", "y"} <= keys:
                wanted = ("x", "y")
            else:
                raise ValueError(
                    f"{path}: expected arrays named x_train, y_train, x_test, y_test "
                    f"(or x, y); file has {sorted(keys) or 'no arrays'}.")
            arrs = read_npz_arrays(zf, path, wanted, MAX_NPZ_BYTES)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as e:
        # NotImplementedError: zipfile meets a zip version or compression method it
        # cannot read (found by tests/security/test_fuzz_loaders.py)
        raise ValueError(f"{path}: not a readable .npz file ({e}).") from None
    for key, a in arrs.items():
        if a.dtype.kind not in "buif":
            raise ValueError(f"{path}: array '{key}' has dtype {a.dtype}; only real numbers "
                             "(bool, int, float) can be trained on.")
    if "x" in arrs:
        _check_pair(path, arrs["x"], arrs["y"], "x", "y")
        return (arrs["x"], arrs["y"]), None
    _check_pair(path, arrs["x_train"], arrs["y_train"], "x_train", "y_train")
    _check_pair(path, arrs["x_test"], arrs["y_test"], "x_test", "y_test")
    if arrs["x_train"].shape[1:] != arrs["x_test"].shape[1:]:
        raise ValueError(f"{path}: x_train samples have shape {arrs['x_train'].shape[1:]} "
                         f"but x_test samples have shape {arrs['x_test'].shape[1:]}.")
    return (arrs["x_train"], arrs["y_train"]), (arrs["x_test"], arrs["y_test"])


def _narrowest(values: np.ndarray) -> np.ndarray:
    """uint8 when every value is an integer in 0..255 (pixels, class ids), int64 for
    other integers, else float32 — so a pixel CSV loads like the IDX/npz files."""
    if values.size and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        if values.min() >= 0 and values.max() <= 255:
            return values.astype(np.uint8)
        return values.astype(np.int64)
    return values.astype(np.float32)


def _read_text(path: str) -> str:
    with safety.open_regular(path, ValueError, "CSV file") as f:
        raw = safety.read_gzip_or_plain(f, path, ValueError)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start}).") from None


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def load_csv(path, label_column=-1, delimiter=",", header="auto"):
    """Features and labels from a CSV (``.csv`` or gzipped) of numbers.

    label_column: index (negative counts from the end) or, with a header row,
    the column name. header: True, False or "auto" (a first row that is not all
    numbers is a header).
    """
    path = os.fspath(path)
    lines = [ln for ln in _read_text(path).splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{path}: the file is empty.")
    first = [c.strip() for c in lines[0].split(delimiter)]
    has_header = (not all(_is_number(c) for c in first)) if header == "auto" else bool(header)
    names = first if has_header else None
    body = lines[1:] if has_header else lines
    if not body:
        raise ValueError(f"{path}: no data rows after the header.")
    ncols = len(body[0].split(delimiter))
    if ncols < 2:
        raise ValueError(f"{path}: need at least 2 columns (features and a label), "
                         f"found {ncols} with delimiter {delimiter!r}.")
    if isinstance(label_column, str):
        if names is None or label_column not in names:
            raise ValueError(f"{path}: label_column {label_column!r} is not a column name; "
                             f"header is {names}.")
        label_column = names.index(label_column)
    if not isinstance(label_column, int) or not -ncols <= label_column < ncols:
        raise ValueError(f"{path}: label_column={label_column!r} is out of range for "
                         f"{ncols} columns.")
    try:
        data = np.loadtxt(io.StringIO("\n".join(body)), delimiter=delimiter,
                          dtype=np.float64, ndmin=2)
    except ValueError as e:
        for i, ln in enumerate(body):
            cells = ln.split(delimiter)
            line_no = i + 1 + has_header
            if len(cells) != ncols:
                raise ValueError(f"{path}: line {line_no} has {len(cells)} columns, "
                                 f"expected {ncols}.") from None
            bad = [c for c in cells if not _is_number(c)]
            if bad:
                raise ValueError(f"{path}: line {line_no}: value {bad[0].strip()!r} is not "
                                 "a number.") from None
        raise ValueError(f"{path}: cannot parse the CSV ({e}).") from None
    if not np.all(np.isfinite(data)):
        row, col = np.argwhere(~np.isfinite(data))[0]
        raise ValueError(f"{path}: line {row + 1 + has_header}, column {col + 1}: value "
                         f"{data[row, col]} is not a finite number; NaN and infinity "
                         "cannot be trained on.")
    label_column %= ncols
    y = _narrowest(data[:, label_column])
    x = _narrowest(np.delete(data, label_column, axis=1))
    return (x, y), None


def load_idx(images_path, labels_path):
    """Images and labels from an IDX pair (as MNIST ships them)."""
    return read_idx_pair(images_path, labels_path), None
