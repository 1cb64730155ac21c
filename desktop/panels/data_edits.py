"""The data panel's edits of the project, each one undo command through the window's
checked route (``push_edit``: the "discard trained weights?" check included), and the
data choice stored in / read back from the project.

* ``SetDataSourceCommand``: which data set the project trains on and its settings
  (paths, chosen columns, window...), ONE document call (``doc.set_data_source``).
* ``FitNetworkToDataCommand``: the Input shape and the output units from the data.
* ``spec_from_document(doc)`` / ``spec_meta(spec)``: the ``DataSpec`` <-> the project
  (``training.dataset`` + plain-text ``meta`` entries; own-data options as JSON text).

>>> cmd = SetDataSourceCommand(doc, "houses.csv", spec_meta(spec))   # doctest: +SKIP
>>> window.push_edit(cmd)                                              # doctest: +SKIP
"""

from __future__ import annotations

import json

from desktop.editor.commands import DocCommand, push_checked
from desktop.training.data_source import KINDS, OWN_KINDS, DataSpec

_OWN_FIELDS = ("image_size", "color_mode", "feature_columns", "target_column", "text_column",
               "task", "window", "horizon", "max_tokens", "sequence_length")


class SetDataSourceCommand(DocCommand):
    """The data the project trains on, as one undo step and one document call."""

    def __init__(self, doc, dataset: str, meta: dict):
        super().__init__(doc, "Choose training data")
        self.dataset, self.meta = dataset, dict(meta)
        self.old = None

    def _do(self):
        old = self.doc.set_data_source(self.dataset, **self.meta)
        if self.old is None:
            self.old = old

    def _undo(self):
        training, meta = self.old
        self.doc.set_data_source(training["dataset"], **meta)


class FitNetworkToDataCommand(DocCommand):
    """Input shape and output units from the data, as one undo step."""

    def __init__(self, doc, input_id, shape, output_id, units):
        super().__init__(doc, "Fit network to data")
        self.input_id, self.shape = input_id, [int(d) for d in shape]
        self.output_id, self.units = output_id, units
        self.old_shape = self.old_units = None

    def _do(self):
        with self.doc.batch():  # both or neither
            self.old_shape = self.doc.fix_input_shape_from_data(self.shape, self.input_id)
            if self.units is not None:
                self.old_units = self.doc.set_config(self.output_id, "units", self.units)

    def _undo(self):
        with self.doc.batch():
            if self.units is not None:
                self.doc.set_config(self.output_id, "units", self.old_units)
            self.doc.set_config(self.input_id, "shape", self.old_shape)


def push_edit(cmd, push=None, undo_stack=None) -> str | None:
    """Run ``cmd`` through the window's checked route when there is one (the app always
    has it); a bare panel in a test falls back to the stack, then to running it."""
    if push is not None:
        return push(cmd)
    if undo_stack is not None:
        return push_checked(undo_stack, cmd)
    try:
        cmd.do_first()
    except ValueError as exc:
        return str(exc)
    return None


def dataset_name(spec: DataSpec) -> str:
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
