"""The data panel's "Target" row: what the network learns to output, the data set's
labels or the input itself (reconstruction, for an autoencoder).

Shown when it matters: the network's output is an image, or the target is already the
input. "The input itself" is offered when the output has the input's shape and the loss
compares values (``core.session.reconstruction.reconstruction_fit``); otherwise it is
greyed out and its tooltip says why. A choice is one undo step through the window's
checked edit route (``TrainingSettings.target``).

>>> # row = TargetChoice(get_document, push=window.push_edit); row.refresh()
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QWidget

from core.session.reconstruction import image_output, reconstruction_fit
from desktop.panels.data_edits import push_edit

CHOICES = (("labels", "the data set's labels"),
           ("input", "the input itself (reconstruction)"))


def _ends(doc):
    from core.graph.target_rules import _ends as ends

    return ends(doc)


class TargetChoice(QWidget):
    def __init__(self, get_document, undo_stack=None, push=None, parent=None):
        super().__init__(parent)
        self.setObjectName("targetChoice")
        self.get_document, self.undo_stack, self.push = get_document, undo_stack, push
        self.combo = QComboBox()
        self.combo.setObjectName("targetCombo")
        for value, text in CHOICES:
            self.combo.addItem(f"Target: {text}", value)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo, 1)
        self._loading = False
        self.combo.currentIndexChanged.connect(self._chosen)
        self.refresh()

    def refresh(self) -> None:
        doc = self.get_document()
        ends = _ends(doc) if doc is not None else None
        shapes = None
        if ends is not None:
            shapes = (doc.state(ends[0].id).output_shape, doc.state(ends[1].id).output_shape)
        target = doc.training.target if doc is not None else "labels"
        show = target == "input" or (shapes is not None and None not in shapes
                                     and image_output(shapes[1]))
        self.setVisible(show)
        if not show:
            return
        reason = "the network needs one Input and one output" if shapes is None or \
            None in shapes else reconstruction_fit(shapes[0], shapes[1], doc.training.loss,
                                                   doc.nodes[ends[1].id].config.get(
                                                       "activation"))
        item = self.combo.model().item(1)
        item.setEnabled(reason is None or target == "input")
        item.setToolTip("" if reason is None else f"Not for this network: {reason}.")
        self._loading = True
        try:
            self.combo.setCurrentIndex(1 if target == "input" else 0)
        finally:
            self._loading = False
        self.combo.setToolTip("The network learns to give back its input (an "
                              "autoencoder)." if target == "input" else
                              item.toolTip() or "The network learns the data set's labels.")

    def _chosen(self, index: int) -> None:
        if self._loading:
            return
        doc = self.get_document()
        value = self.combo.itemData(index, Qt.UserRole)
        if doc is None or value is None or doc.training.target == value:
            return
        from desktop.training.settings_form import SetTrainingCommand

        reason = push_edit(SetTrainingCommand(doc, {"target": value}), self.push,
                           self.undo_stack)
        if reason:
            self.refresh()
