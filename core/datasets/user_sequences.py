"""A user's text CSV and numeric time-series CSV as training arrays (no Qt).

* ``load_text_table(path, text_column, label_column, max_tokens=20000,
  sequence_length=None)`` -> ``TextData``: rows shuffled once (seed 1337, so a file
  sorted by label still gives every class to both parts), the last ``test_fraction``
  kept for testing; a ``TextVectorization`` vocabulary is adapted on the training rows
  that ``fit`` trains on (not its validation tail, not the test rows) and turns every
  text into ``sequence_length`` token ids (default: the 95th percentile of the training
  texts' token counts). ``stats`` holds what the panel shows: vocabulary size, coverage
  (share of the tokens found in the vocabulary, training and test), every training
  text's token count (the histogram) and the share cut short.
* ``load_series_table(path, target, features=(), window=24, horizon=1)`` ->
  ``SeriesData``: windows ``x[i] = rows i .. i+window-1`` of the target (first) and
  feature columns, target ``y[i] = target[i + window + horizon - 1]``
  (``core.utils.timeseries_dataset_from_array``); split by time: windows whose target
  lies in the last ``test_fraction`` of the rows are the test set, the rest train
  (``fit``'s validation split then takes the latest training windows). Feature columns
  are normalised on the training part only; empty cells are interpolated and counted.

Bad cells raise ``ValueError`` naming the file, the line and the column.

>>> t = load_text_table("reviews.csv", "review", "score")          # doctest: +SKIP
>>> t.x_train.shape, t.stats["vocabulary_size"]                    # doctest: +SKIP
((3600, 120), 20000)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from core.datasets.table_data import _index, _is_missing, _number, data_problems, read_table
from core.sequence_utils import timeseries_dataset_from_array

SHUFFLE_SEED = 1337


@dataclass
class TextData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    texts_train: list
    texts_test: list
    class_names: tuple
    vocabulary: list
    sequence_length: int
    stats: dict
    warnings: list = field(default_factory=list)


@dataclass
class SeriesData:
    x_train: np.ndarray              # float32 (n, window, 1 + features)
    y_train: np.ndarray              # float32 (n,)
    x_test: np.ndarray
    y_test: np.ndarray
    time_index_test: np.ndarray      # row index (0-based) of each test target
    values: np.ndarray               # the target column, gaps filled (for the plot)
    split_row: int                   # first row of the test part
    columns: tuple                   # target first
    warnings: list = field(default_factory=list)


def _tokens_in(layer, texts) -> tuple[np.ndarray, int, int]:
    """Token counts per text, and (known, all) token totals under ``layer``'s vocabulary."""
    rows = layer._rows(np.asarray(texts, dtype=object))
    vocab = set(layer.get_vocabulary(include_special_tokens=False))
    lengths = np.array([len(r) for r in rows], np.int64)
    known = sum(t in vocab for r in rows for t in r)
    return lengths, known, int(lengths.sum())


def load_text_table(path, text_column, label_column, max_tokens=20000, sequence_length=None,
                    validation_split=0.1, test_fraction=0.2) -> TextData:
    """See the module doc."""
    from core.layers.text_vectorization import TextVectorization

    table = path if not isinstance(path, (str, os.PathLike)) else read_table(path)
    ti, li = _index(table, text_column), _index(table, label_column)
    if ti == li:
        raise ValueError(f"{table.path}: the text and the label are the same column "
                         f"{text_column!r}.")
    keep = [i for i, r in enumerate(table.rows)
            if not _is_missing(r[li]) and r[ti].strip()]
    warnings = []
    if len(keep) < len(table.rows):
        first = next(i for i in range(len(table.rows)) if i not in set(keep))
        warnings.append(f"{os.path.basename(table.path)}: {len(table.rows) - len(keep)} "
                        f"row(s) with an empty text or label were left out (first: line "
                        f"{first + 2}).")
    order = np.random.RandomState(SHUFFLE_SEED).permutation(len(keep))
    rows = [table.rows[keep[k]] for k in order]
    texts = [r[ti] for r in rows]
    names = tuple(sorted({r[li].strip() for r in rows}))
    if len(names) < 2:
        raise ValueError(f"{table.path}: column {table.columns[li]!r} holds a single label "
                         f"{list(names)}; a classifier needs at least two.")
    if len(names) > 200:
        raise ValueError(f"{table.path}: column {table.columns[li]!r} has {len(names)} "
                         "different labels; is it really the label column?")
    index = {c: k for k, c in enumerate(names)}
    y = np.array([index[r[li].strip()] for r in rows], np.int64)
    n_test = int(round(len(rows) * float(test_fraction)))
    n_train = len(rows) - n_test
    n_fit = max(1, int(np.floor(n_train * (1.0 - float(validation_split)))))
    layer = TextVectorization(max_tokens=max_tokens, output_mode="int")
    layer.adapt(texts[:n_fit])
    lengths, known_tr, all_tr = _tokens_in(layer, texts[:n_train])
    if sequence_length is None:
        sequence_length = int(np.clip(np.percentile(lengths, 95), 4, 400)) if len(lengths) \
            else 4
    seq = TextVectorization(max_tokens=max_tokens, output_mode="int",
                            output_sequence_length=int(sequence_length),
                            vocabulary=layer.get_vocabulary(include_special_tokens=False))
    x = np.asarray(seq(np.asarray(texts, dtype=object)), np.int64)
    _, known_te, all_te = _tokens_in(layer, texts[n_train:]) if n_test else (None, 0, 0)
    vocabulary = seq.get_vocabulary()
    stats = {"vocabulary_size": len(vocabulary),
             "coverage_train": known_tr / all_tr if all_tr else 0.0,
             "coverage_test": known_te / all_te if all_te else None,
             "lengths": lengths, "sequence_length": int(sequence_length),
             "truncated": float(np.mean(lengths > sequence_length)) if len(lengths) else 0.0}
    warnings += data_problems(y[:n_train], names, None, os.path.basename(table.path))
    return TextData(x[:n_train], y[:n_train], x[n_train:], y[n_train:], texts[:n_train],
                    texts[n_train:], names, vocabulary, int(sequence_length), stats, warnings)


def _series_column(table, j, warnings) -> np.ndarray:
    values = np.full(len(table.rows), np.nan)
    for i, row in enumerate(table.rows):
        cell = row[j]
        if _is_missing(cell):
            continue
        v = _number(cell)
        if v is None or not np.isfinite(v):
            raise ValueError(f"{table.path}: line {i + 2}, column {table.columns[j]!r}: "
                             f"{cell.strip()!r} is not a finite number.")
        values[i] = v
    gaps = np.isnan(values)
    if gaps.sum() > len(values) - 2:
        raise ValueError(f"{table.path}: column {table.columns[j]!r} has fewer than two "
                         "numbers.")
    if gaps.any():
        idx = np.arange(len(values))
        values[gaps] = np.interp(idx[gaps], idx[~gaps], values[~gaps])
        warnings.append(f"{os.path.basename(table.path)}: column {table.columns[j]!r} has "
                        f"{int(gaps.sum())} empty cell(s) (first: line "
                        f"{int(np.argmax(gaps)) + 2}); they were filled in linearly "
                        "between their neighbours.")
    return values


def load_series_table(path, target, features=(), window=24, horizon=1, test_fraction=0.2,
                      validation_split=0.1) -> SeriesData:
    """See the module doc."""
    from core.layers.preprocessing_normalization import Normalization

    table = path if not isinstance(path, (str, os.PathLike)) else read_table(path)
    features = [f for f in features if f != target]
    cols = [_index(table, target)] + [_index(table, f) for f in features]
    window, horizon = int(window), int(horizon)
    if window < 1 or horizon < 1:
        raise ValueError(f"window={window} and horizon={horizon} must both be at least 1.")
    n = len(table.rows)
    if n < window + horizon + 2:
        raise ValueError(f"{table.path}: {n} rows are too few for windows of {window} "
                         f"steps predicting {horizon} step(s) ahead.")
    warnings: list = []
    data = np.stack([_series_column(table, j, warnings) for j in cols], axis=1)
    split_row = int(np.floor(n * (1.0 - float(test_fraction))))
    first_target = window + horizon - 1
    if split_row - first_target < 2 or (test_fraction and n - split_row < 1):
        raise ValueError(f"{table.path}: {n} rows cannot give both training and test "
                         f"windows of {window} steps (test part: last {test_fraction:.0%}).")
    if features:  # target stays raw: the network data maps it to changes from 'now'
        fit_rows = max(2, int(np.floor((split_row - first_target) * (1 - validation_split)))
                       + first_target)
        norm = Normalization(axis=-1, dtype="float64")
        norm.adapt(data[:fit_rows, 1:])
        data[:, 1:] = np.asarray(norm(data[:, 1:]))
    targets = data[first_target:, 0]
    xs = [x for x, _ in timeseries_dataset_from_array(
        data[:n - horizon], targets, sequence_length=window, batch_size=4096)]
    x = np.concatenate(xs).astype(np.float32)
    t_index = np.arange(len(x)) + first_target
    train = t_index < split_row
    if train.sum() < 50:
        warnings.append(f"{os.path.basename(table.path)}: only {int(train.sum())} training "
                        "windows; a forecaster needs far more to learn the pattern.")
    return SeriesData(x[train], targets[:len(x)][train].astype(np.float32), x[~train],
                      targets[:len(x)][~train].astype(np.float32), t_index[~train],
                      data[:, 0].copy(), split_row,
                      tuple(table.columns[j] for j in cols), warnings)
