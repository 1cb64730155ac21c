""""Restore this run": a run's network, weights and settings back as one undo step.

The state comes from ``core.graph.run_states`` (kept for the most recent runs). The
command goes through the window's checked edit route (``push_edit``); undo returns the
network, settings and weights the project had before. After either, the test pad
predicts from the project's weights as they now are.

>>> # reason = restore_run(window.training_ui, "Run 2", last_epoch=False)
"""

from __future__ import annotations

from core.graph.run_states import restore_snapshot
from core.session.run_weights import restore_weights
from desktop.editor.commands import DocCommand


class RestoreRunCommand(DocCommand):
    """Redo: the run's network + settings + weights; undo: the state before."""

    def __init__(self, doc, run: dict, last_epoch: bool, on_weights=None):
        name = str(run.get("name", ""))
        super().__init__(doc, f"Restore {name}")
        self.name, self.settings, self.last_epoch = name, run.get("settings"), last_epoch
        self.on_weights = on_weights
        self.before = self.after = None
        self.old_weights = self.new_weights = None

    def _do(self):
        if self.after is None:
            snap, state = restore_snapshot(self.doc, self.name, self.settings)
            weights = state["last_weights"] if self.last_epoch else state["weights"]
            if weights is None:
                raise ValueError(f"{self.name} kept no last-epoch weights (its last "
                                 "epoch was its best).")
            self.before, self.old_weights = self.doc.snapshot(), self.doc.weights
            self.doc.restore_state(snap)
            self.after, self.new_weights = self.doc.snapshot(), weights
        else:
            self.doc.restore_state(self.after)
        self.doc.weights = self.new_weights
        self._changed()

    def _undo(self):
        self.doc.restore_state(self.before)
        self.doc.weights = self.old_weights
        self._changed()

    def _changed(self):
        if self.on_weights:
            self.on_weights()


def pad_model(doc):
    """The project's network with its weights, for the pads (None when they do not fit
    or the network needs more than one Input's data)."""
    if not doc.weights or doc.training.target == "input":  # an autoencoder: no classes
        return None, None
    try:
        model = doc.build_model()
    except ValueError:
        return None, None
    if len(model.inputs) != 1 or not restore_weights(model, doc.weights):
        return None, None
    return model, tuple(model.inputs[0].shape[1:])


def restore_run(ui, name: str, last_epoch: bool = False) -> str | None:
    """Restore run ``name`` of the window's project; the refusal reason or None."""
    window = ui.window
    doc = window.document
    if ui.controller.state != "idle":
        return "Stop training before restoring a run."
    run = next((r for r in doc.history if isinstance(r, dict) and r.get("name") == name),
               None)
    if run is None:
        return f"There is no run named {name!r}."

    def refresh():
        ui.controller.model = None  # export and the pads now use the project's weights
        ds = ui.data_panel.dataset
        names = list(ds.class_names) if ds is not None else []
        model, shape = pad_model(window.document)
        ui.results.set_model(model, shape, names, getattr(ds, "vocabulary", None))
        ui.form.refresh()
        project = getattr(window, "project", None)
        if project is not None and hasattr(project, "mark_dirty"):
            project.mark_dirty()

    cmd = RestoreRunCommand(doc, run, last_epoch, refresh)
    reason = window.push_edit(cmd)
    if reason:
        ui._status(f"Cannot restore {name}: {reason}")
        return reason
    which = "last epoch's" if last_epoch else "final"
    if run.get("test"):
        ui.results.show_summary(run["test"])
    ui._status(f"Restored {name}: its network, {which} weights and training settings "
               "(Undo brings back the previous ones).")
    return None
