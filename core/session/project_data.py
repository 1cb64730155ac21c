"""The data a project trains on, stored in and read back from the project (no Qt).

The project remembers its data as ``training.dataset`` (a built-in set's kind, or the
user's file/folder) plus plain-text ``meta`` entries (own-data options as JSON text).
``spec_from_document`` reads that back as a ``DataSpec``; ``load_project_data`` loads
it: the same data the app's data panel picks for the project, so the command line
trains a text classifier on the shipped sentences without being told.

>>> from core.graph.document import GraphDocument
>>> doc = GraphDocument()
>>> doc.training = doc.training.replaced(dataset="series_sample")
>>> spec_from_document(doc).kind
'series_sample'
"""

from __future__ import annotations

import json

from core.session.data_source import KINDS, OWN_KINDS, Dataset, DataSpec

_OWN_FIELDS = ("image_size", "color_mode", "feature_columns", "target_column", "text_column",
               "task", "window", "horizon", "max_tokens", "sequence_length")


def dataset_name(spec: DataSpec) -> str:
    """What ``training.dataset`` holds for ``spec``: the kind, or the user's path."""
    return spec.path if spec.kind in ("file",) + OWN_KINDS else spec.kind


def spec_meta(spec: DataSpec) -> dict:
    """The ``meta`` entries that remember ``spec`` (plain values only)."""
    meta = {"data_kind": spec.kind}
    if spec.kind == "file":
        meta.update(data_labels_path=spec.labels_path, data_test_path=spec.test_path,
                    data_label_column=spec.label_column)
    elif spec.kind in OWN_KINDS:
        options = {k: getattr(spec, k) for k in _OWN_FIELDS}
        meta["data_options"] = json.dumps(options, sort_keys=True)
    elif spec.kind != "sample":
        meta["data_path"] = spec.path
    return meta


def spec_from_document(doc) -> DataSpec:
    """The ``DataSpec`` the project remembers (a built-in sample when it names none)."""
    name = doc.training.dataset or "sample"
    meta = doc.meta
    split = doc.training.validation_split
    if name in KINDS and name not in ("file",) + OWN_KINDS:
        return DataSpec(kind=name, path=str(meta.get("data_path") or ""),
                        validation_split=split)
    kind = meta.get("data_kind")
    if kind in OWN_KINDS:
        try:
            options = json.loads(meta.get("data_options") or "{}")
        except ValueError:
            options = {}  # a hand-edited project: fall back to the defaults
        spec = DataSpec.from_dict({**(options if isinstance(options, dict) else {}),
                                   "kind": kind, "path": name, "validation_split": split})
        return spec
    return DataSpec(kind="file", path=name, labels_path=str(meta.get("data_labels_path") or ""),
                    test_path=str(meta.get("data_test_path") or ""),
                    label_column=str(meta.get("data_label_column") or "-1"),
                    validation_split=split)


def load_project_data(doc) -> Dataset:
    """The data set ``doc`` names, loaded (slow: off the GUI thread); ``DataError``
    says why when it cannot be read."""
    from core.session.own_data import load_any

    return load_any(spec_from_document(doc))[0]
