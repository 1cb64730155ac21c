"""A user's CSV as a table: its columns, a preview, and the chosen columns as arrays.

* ``read_table(path)`` -> ``Table``: the header, the rows as text, and per column
  whether it is numeric (``Table.kinds``), for the data panel's column picker.
* ``load_table(path, features, target, task="auto", validation_split=0.1)`` ->
  ``TableData``: float32 features normalised by a ``Normalization`` layer adapted on
  the training rows only (the first ``1 - validation_split`` of the rows, as ``fit``
  takes validation from the end), targets as class ids (text or whole-number labels)
  or float32 values (regression: any fractional value, or ``task="regression"``).
  Rows with a missing or NaN cell in a chosen column are left out, counted, and named
  in ``warnings``; a cell that is not a number raises ``ValueError`` naming the file,
  the line and the column.
* ``data_problems(y, class_names, rows)`` -> plain-language warnings about what ruins
  training: too few samples, class imbalance, duplicate rows.

>>> t = read_table("houses.csv")                                   # doctest: +SKIP
>>> t.columns, t.kinds                                             # doctest: +SKIP
(['rooms', 'area', 'price'], ['number', 'number', 'number'])
>>> d = load_table("houses.csv", ["rooms", "area"], "price")      # doctest: +SKIP
>>> d.task, d.x.shape                                              # doctest: +SKIP
('regression', (506, 2))
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field

import numpy as np

from core.datasets.files import _read_text

MISSING = ("", "na", "nan", "null", "none", "?")
MAX_CLASS_LEVELS = 50  # whole-number targets with more distinct values are regression


@dataclass
class Table:
    path: str
    columns: list
    rows: list                       # list of lists of str (ragged rows refused)
    kinds: list = field(default_factory=list)  # "number" | "text" per column

    def preview(self, n=8) -> list:
        return self.rows[:n]


@dataclass
class TableData:
    x: np.ndarray                    # float32 (n, features), normalised
    y: np.ndarray                    # int64 class ids or float32 values
    task: str                        # "classification" | "regression"
    feature_names: tuple
    target_name: str
    class_names: tuple
    mean: np.ndarray                 # the adapted Normalization's statistics
    variance: np.ndarray
    warnings: list
    rows: np.ndarray                 # each sample's file line (for messages)


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def _number(cell: str):
    try:
        v = float(cell)
    except ValueError:
        return None
    return v


PEEK_BYTES = 256 * 1024


def _head_text(path: str) -> str:
    """The first ``PEEK_BYTES`` of a (possibly gzipped) text file, whole lines only."""
    import gzip

    from core import safety

    with safety.open_regular(path, ValueError, "CSV file") as f:
        magic = f.read(2)
        f.seek(0)
        raw = gzip.GzipFile(fileobj=f).read(PEEK_BYTES) if magic == b"\x1f\x8b" else \
            f.read(PEEK_BYTES)
    if len(raw) == PEEK_BYTES:
        raw = raw[:raw.rfind(b"\n") + 1] or raw
    return raw.decode("utf-8-sig", errors="replace")


def peek_table(path) -> Table:
    """``read_table`` of the file's first 256 KB: the column picker's quick preview."""
    return read_table(path, _head_text(os.fspath(path)), strict=False)


def read_table(path, text=None, strict=True) -> Table:
    """The CSV's header and rows (``ValueError`` naming the line of a ragged row)."""
    path = os.fspath(path)
    reader = csv.reader(io.StringIO(_read_text(path) if text is None else text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValueError(f"{path}: the file is empty.") from None
    if len(header) < 2:
        raise ValueError(f"{path}: found {len(header)} column; a CSV needs at least a "
                         "feature column and a target column, separated by commas.")
    if all(_number(h) is not None for h in header):
        raise ValueError(f"{path}: the first line {header[:4]}... holds numbers; the column "
                         "picker needs a header line naming the columns.")
    rows = []
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            if not strict:  # a preview may end inside a quoted field
                continue
            raise ValueError(f"{path}: line {line} has {len(row)} fields but the header has "
                             f"{len(header)} ({', '.join(header)}).")
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no data rows after the header.")
    kinds = []
    for j in range(len(header)):
        cells = [r[j] for r in rows if not _is_missing(r[j])]
        numeric = bool(cells) and all(_number(c) is not None for c in cells[:2000])
        kinds.append("number" if numeric else "text")
    return Table(path, header, rows, kinds)


def _index(table: Table, name) -> int:
    if name not in table.columns:
        raise ValueError(f"{table.path}: no column {name!r}; the columns are "
                         f"{table.columns}.")
    return table.columns.index(name)


def numeric_column(table: Table, j: int, keep: np.ndarray, what="feature"):
    """Column ``j`` as float64 over the rows ``keep``; a non-number names line/column."""
    out = np.empty(len(keep))
    for k, i in enumerate(keep):
        cell = table.rows[i][j]
        v = _number(cell)
        if v is None:
            raise ValueError(f"{table.path}: line {i + 2}, column {table.columns[j]!r}: "
                             f"{cell.strip()!r} is not a number (a {what} column must hold "
                             "numbers only; choose it as the target or leave it out).")
        out[k] = v
    return out


def missing_rows(table: Table, cols) -> tuple[np.ndarray, list]:
    """Row numbers with every chosen cell present, and warnings naming the others."""
    bad = []
    for i, row in enumerate(table.rows):
        for j in cols:
            cell = row[j]
            v = None if _is_missing(cell) else _number(cell)
            if _is_missing(cell) or (v is not None and not math.isfinite(v)):
                bad.append((i, j))
                break
    dropped = {i for i, _ in bad}
    keep = np.array([i for i in range(len(table.rows)) if i not in dropped], np.int64)
    warnings = []
    if bad:
        where = "; ".join(f"line {i + 2} column {table.columns[j]!r}" for i, j in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        warnings.append(f"{os.path.basename(table.path)}: {len(bad)} row(s) with a missing "
                        f"or NaN value were left out ({where}{more}).")
    return keep, warnings


def _targets(table: Table, j: int, keep, task: str):
    """Class ids and names, or float32 values: text labels and whole numbers (at most
    ``MAX_CLASS_LEVELS`` of them) are classes unless ``task`` says regression."""
    cells = [table.rows[i][j].strip() for i in keep]
    values = [_number(c) for c in cells]
    if all(v is not None for v in values):
        levels = sorted(set(values))
        whole = all(v == int(v) for v in levels)
        if task == "regression" or (task == "auto" and (
                not whole or len(levels) > MAX_CLASS_LEVELS)):
            return np.array(values, np.float32), "regression", ()
        if levels == list(range(len(levels))):  # already class ids 0..k-1
            return np.array(values, np.int64), "classification", tuple(
                str(k) for k in range(len(levels)))
        names = tuple(str(int(v)) if whole else str(v) for v in levels)
        index = {v: k for k, v in enumerate(levels)}
        return np.array([index[v] for v in values], np.int64), "classification", names
    if task == "regression":
        bad = next(k for k, v in enumerate(values) if v is None)
        raise ValueError(f"{table.path}: line {keep[bad] + 2}, column {table.columns[j]!r}: "
                         f"{cells[bad]!r} is not a number, so it cannot be a regression "
                         "target.")
    names = sorted(set(cells))
    index = {c: k for k, c in enumerate(names)}
    return np.array([index[c] for c in cells], np.int64), "classification", tuple(names)


def load_table(path, features, target, task="auto", validation_split=0.1) -> TableData:
    """The chosen columns as training arrays (see the module doc)."""
    table = path if isinstance(path, Table) else read_table(path)
    if not features:
        raise ValueError(f"{table.path}: choose at least one feature column.")
    if target in features:
        raise ValueError(f"{table.path}: column {target!r} is both a feature and the "
                         "target; a network must not see the answer in its inputs.")
    if task not in ("auto", "classification", "regression"):
        raise ValueError(f"task={task!r}: expected 'auto', 'classification' or "
                         "'regression'.")
    fcols = [_index(table, f) for f in features]
    tcol = _index(table, target)
    keep, warnings = missing_rows(table, fcols + [tcol])
    if len(keep) == 0:
        raise ValueError(f"{table.path}: every row has a missing value in the chosen "
                         "columns.")
    raw = np.stack([numeric_column(table, j, keep) for j in fcols], axis=1)
    y, task, names = _targets(table, tcol, keep, task)
    from core.layers.preprocessing_normalization import Normalization

    n_fit = max(1, int(np.floor(len(raw) * (1.0 - float(validation_split)))))
    norm = Normalization(axis=-1, dtype="float32")
    norm.adapt(raw[:n_fit])  # statistics of the training rows only: no validation leak
    x = np.asarray(norm(raw.astype(np.float32)), np.float32)
    warnings += data_problems(y if task == "classification" else None, names, raw,
                              os.path.basename(table.path))
    return TableData(x, y, task, tuple(features), target, names,
                     norm.mean.reshape(-1), norm.variance.reshape(-1), warnings, keep + 2)


def data_problems(y, class_names, rows=None, name="the data") -> list:
    """Warnings about data that trains badly (``y`` class ids, or None for regression)."""
    out = []
    n = len(rows) if rows is not None else (0 if y is None else len(y))
    if y is not None and len(y):
        counts = np.bincount(np.asarray(y, np.int64), minlength=len(class_names))
        present = counts[counts > 0]

        def label(k):
            return class_names[k] if k < len(class_names) else str(k)

        if len(present) < 2:
            only = label(int(np.argmax(counts)))
            out.append(f"{name}: every sample has the same class {only!r}; a classifier "
                       "needs at least two classes.")
        elif present.max() >= 3 * present.min():
            big, small = int(np.argmax(counts)), int(np.argmin(np.where(counts, counts, n + 1)))
            out.append(f"{name}: classes are imbalanced: {label(big)!r} has {counts[big]} "
                       f"samples, {label(small)!r} only {counts[small]}. Accuracy can look "
                       "good while the small class is never predicted; consider class "
                       "weights or more samples of it.")
        few = [label(k) for k in range(len(counts)) if 0 < counts[k] < 10]
        if few:
            out.append(f"{name}: too few samples for class(es) {', '.join(map(repr, few))} "
                       "(fewer than 10 each): the network cannot learn them reliably.")
    if 0 < n < 50:
        out.append(f"{name}: only {n} samples; a network needs far more to generalise "
                   "(results on so few will mostly measure chance).")
    if rows is not None and n:
        flat = np.ascontiguousarray(np.asarray(rows).reshape(n, -1))
        unique = np.unique(flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1]))))
        if len(unique) < n:
            out.append(f"{name}: {n - len(unique)} duplicate sample(s) (identical inputs); "
                       "duplicates can land in both training and validation and flatter "
                       "the validation score.")
    return out
