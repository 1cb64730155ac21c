"""The user's own data as a ``Dataset``: image folders, CSV tables, text and time series.

No Qt and no reading here: ``core.datasets`` (``image_folder``, ``table_data``,
``user_sequences``) reads and checks the files; this module turns their results into
the ``Dataset`` the app trains on, plus ``details`` the data panel shows (class counts,
the vocabulary statistics, the series to plot, skipped files). Every reader error
becomes a ``DataError`` that names the file, line and column.

>>> ds, details = load_own(DataSpec(kind="table", path="houses.csv",
...     feature_columns=("rooms", "area"), target_column="price"))   # doctest: +SKIP
>>> ds.task, details["kind"]                                           # doctest: +SKIP
('regression', 'table')
"""

from __future__ import annotations

import os

import numpy as np

from core.session.data_source import DataError, Dataset, DataSpec


def _name(path: str) -> str:
    return os.path.basename(os.path.normpath(path)) or path


def _image_folder(spec: DataSpec):
    from core.datasets.image_folder import load_image_folder
    from core.datasets.table_data import data_problems

    x, y, names, skipped = load_image_folder(spec.path, tuple(spec.image_size),
                                             spec.color_mode, seed=1337)
    name = _name(spec.path)
    warnings = []
    if skipped:
        shown = ", ".join(_name(p) for p, _ in skipped[:3])
        warnings.append(f"{name}: {len(skipped)} file(s) are not readable images and were "
                        f"skipped ({shown}{' ...' if len(skipped) > 3 else ''}).")
    warnings += data_problems(y, tuple(names), x, name)
    ds = Dataset(name, x, y, None, None, tuple(names), warnings=tuple(warnings))
    counts = np.bincount(y, minlength=len(names))
    return ds, {"kind": "image_folder", "class_counts": dict(zip(names, counts.tolist())),
                "skipped": skipped}


def _table(spec: DataSpec):
    from core.datasets.table_data import load_table

    d = load_table(spec.path, list(spec.feature_columns), spec.target_column, spec.task,
                   spec.validation_split)
    ds = Dataset(_name(spec.path), d.x, d.y, None, None, d.class_names, task=d.task,
                 feature_names=d.feature_names, target_name=d.target_name,
                 warnings=tuple(d.warnings))
    return ds, {"kind": "table", "mean": d.mean, "variance": d.variance}


def _text(spec: DataSpec):
    from core.datasets.user_sequences import load_text_table

    d = load_text_table(spec.path, spec.text_column, spec.target_column, spec.max_tokens,
                        spec.sequence_length or None, spec.validation_split)
    ds = Dataset(_name(spec.path), d.x_train, d.y_train, d.x_test, d.y_test, d.class_names,
                 feature_names=(spec.text_column,), target_name=spec.target_column,
                 texts_train=d.texts_train, texts_test=d.texts_test,
                 vocabulary=d.vocabulary, warnings=tuple(d.warnings))
    return ds, {"kind": "text", **d.stats}


def _series(spec: DataSpec):
    from core.datasets.user_sequences import load_series_table

    d = load_series_table(spec.path, spec.target_column, list(spec.feature_columns),
                          spec.window, spec.horizon, validation_split=spec.validation_split)
    ds = Dataset(_name(spec.path), d.x_train, d.y_train, d.x_test, d.y_test, (),
                 task="regression", feature_names=d.columns, target_name=d.columns[0],
                 window=int(spec.window), horizon=int(spec.horizon),
                 time_index_test=d.time_index_test, warnings=tuple(d.warnings))
    return ds, {"kind": "series", "values": d.values, "split_row": d.split_row,
                "target": d.columns[0]}


_LOADERS = {"image_folder": _image_folder, "table": _table, "text": _text, "series": _series}


def load_own(spec: DataSpec):
    """``(Dataset, details)`` for ``spec.kind`` in ``OWN_KINDS`` (slow: off the GUI thread)."""
    if not spec.path:
        raise DataError("Choose a folder first." if spec.kind == "image_folder" else
                        "Choose a CSV file first.")
    if spec.kind == "image_folder":
        if not os.path.isdir(spec.path):
            raise DataError(f"Image folder {spec.path!r} does not exist.")
    elif not os.path.isfile(spec.path):
        raise DataError(f"Data file {spec.path!r} does not exist.")
    if spec.kind in ("table", "series") and not spec.target_column:
        raise DataError(f"{_name(spec.path)}: choose the target column.")
    if spec.kind == "table" and not spec.feature_columns:
        raise DataError(f"{_name(spec.path)}: tick at least one feature column.")
    if spec.kind == "text" and not (spec.text_column and spec.target_column):
        raise DataError(f"{_name(spec.path)}: choose the text column and the label column.")
    try:
        return _LOADERS[spec.kind](spec)
    except DataError:
        raise
    except (ValueError, OSError) as exc:  # the readers name the file, line and column
        raise DataError(str(exc)) from exc


def load_any(spec: DataSpec):
    """``(Dataset, details)`` for any kind (the built-in sets have no details)."""
    if spec.kind in _LOADERS:
        return load_own(spec)
    from core.session.data_source import load_dataset

    return load_dataset(spec), {}
