"""The data panel's edits of the project, each one undo command through the window's
checked route (``push_edit``: the "discard trained weights?" check included).

* ``SetDataSourceCommand``: which data set the project trains on and its settings
  (paths, chosen columns, window...), ONE document call (``doc.set_data_source``).
* ``FitNetworkToDataCommand``: the Input shape and the output units from the data.

The data choice itself is stored in and read from the project by
``core.session.project_data`` (the command line reads it the same way).

>>> cmd = SetDataSourceCommand(doc, "houses.csv", spec_meta(spec))   # doctest: +SKIP
>>> window.push_edit(cmd)                                              # doctest: +SKIP
"""

from __future__ import annotations

from desktop.editor.commands import DocCommand, push_checked


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
