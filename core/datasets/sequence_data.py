"""Text and time-series CSV loaders, and the two real samples shipped in ``resources/data``.

* ``load_text_csv(path, text_column, label_column)`` -> ``(texts, labels, classes)``:
  a CSV (optionally gzipped) with a header row; ``labels`` are indices into the sorted
  ``classes``. ``load_text_sample()`` gives the shipped VADER sentences (3,000, half
  positive, half negative; MIT), split 2,400 / 600 in file order.
* ``load_series_csv(path, column)`` -> float64 array in file order; empty cells (missing
  weeks) are filled by linear interpolation between their neighbours.
  ``series_windows(values, window, horizon)`` -> ``(x, y)`` with
  ``timeseries_dataset_from_array``: ``x[i] = values[i:i+window]`` (shape
  ``(n, window, 1)``), ``y[i] = values[i+window+horizon-1]``.
  ``load_series_sample()`` is Mauna Loa weekly CO2 (public domain).

Problems raise ``ValueError`` naming the file, the column and what is wrong.

>>> texts, labels, classes = load_text_sample()
>>> len(texts), classes
(3000, ['negative', 'positive'])
>>> x, y = series_windows(np.arange(10.0), window=3, horizon=1)
>>> x.shape, y[:2].tolist()
((7, 3, 1), [3.0, 4.0])
"""

from __future__ import annotations

import csv
import io
import math
import os

import numpy as np

from core.datasets.files import _read_text
from core.sequence_utils import timeseries_dataset_from_array

TEXT_SAMPLE = "vader_polar_sample.csv.gz"
SERIES_SAMPLE = "co2_weekly.csv"


def _rows(path):
    path = os.fspath(path)
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{path}: the file is empty.") from None
    return path, header, reader


def _column(path, header, name):
    if isinstance(name, int) and not isinstance(name, bool):
        if not -len(header) <= name < len(header):
            raise ValueError(f"{path}: column {name} does not exist (the file has "
                             f"{len(header)}: {header}).")
        return name % len(header)
    if name not in header:
        raise ValueError(f"{path}: no column {name!r}; the columns are {header}.")
    return header.index(name)


def load_text_csv(path, text_column="text", label_column="label"):
    """``(texts, labels, classes)`` of a CSV with a header row (see module doc)."""
    path, header, reader = _rows(path)
    ti, li = _column(path, header, text_column), _column(path, header, label_column)
    texts, raw = [], []
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if max(ti, li) >= len(row):
            raise ValueError(f"{path}: line {line} has {len(row)} fields, fewer than the "
                             f"header's {len(header)}.")
        texts.append(row[ti])
        raw.append(row[li])
    if not texts:
        raise ValueError(f"{path}: no rows after the header.")
    classes = sorted(set(raw))
    if len(classes) < 2:
        raise ValueError(f"{path}: column {header[li]!r} has a single class {classes}; "
                         "a classifier needs at least two.")
    index = {c: i for i, c in enumerate(classes)}
    return texts, np.array([index[c] for c in raw], np.int64), classes


def load_series_csv(path, column):
    """The numeric ``column`` of a CSV with a header row, gaps interpolated."""
    path, header, reader = _rows(path)
    ci = _column(path, header, column)
    values = []
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        cell = row[ci].strip() if ci < len(row) else ""
        if cell == "":
            values.append(math.nan)
            continue
        try:
            v = float(cell)
        except ValueError:
            raise ValueError(f"{path}: column {header[ci]!r} is not numeric: line {line} "
                             f"holds {cell!r}.") from None
        if not math.isfinite(v):
            raise ValueError(f"{path}: column {header[ci]!r}, line {line}: {cell!r} is not "
                             "a finite number.")
        values.append(v)
    arr = np.array(values, np.float64)
    known = ~np.isnan(arr)
    if known.sum() < 2:
        raise ValueError(f"{path}: column {header[ci]!r} has fewer than two numbers.")
    idx = np.arange(arr.size)
    arr[~known] = np.interp(idx[~known], idx[known], arr[known])
    return arr


def series_windows(values, window, horizon=1):
    """Windows of ``window`` steps and the value ``horizon`` steps after each one."""
    values = np.asarray(values, np.float64)
    if window < 1 or horizon < 1 or values.size < window + horizon:
        raise ValueError(f"series_windows: {values.size} values cannot give windows of "
                         f"{window} with horizon {horizon}.")
    targets = values[window + horizon - 1:]
    xs, ys = [], []
    for x, y in timeseries_dataset_from_array(values[:values.size - horizon], targets,
                                              sequence_length=window, batch_size=1024):
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs)[..., None], np.concatenate(ys)


def load_text_sample(text_column="text", label_column="sentiment"):
    from resources import resource_path
    return load_text_csv(resource_path("data", TEXT_SAMPLE), text_column, label_column)


def load_series_sample(column="co2_ppmv"):
    from resources import resource_path
    return load_series_csv(resource_path("data", SERIES_SAMPLE), column)
