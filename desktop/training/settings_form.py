"""The training settings form: edits ``document.training`` through the undo stack.

Every change is one ``SetTrainingCommand`` (``doc.set_training(**changes)`` in redo,
the old values in undo); the document validates, so a refused value shows its
reason and leaves the settings unchanged. While training runs only the learning
rate stays editable, and only while paused (``learningRateChanged`` tells the
controller, which applies it to ``model.optimizer.learning_rate``).

>>> form = TrainingSettingsForm(get_document=lambda: doc, undo_stack=stack)  # doctest: +SKIP
>>> form.refresh()                                                           # doctest: +SKIP
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from desktop.editor.commands import DocCommand, push_checked

LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy",
          "binary_crossentropy", "mean_squared_error", "mean_absolute_error")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw", "adagrad")  # what core.optimizers provides
METRICS = ("accuracy", "mean_squared_error", "mean_absolute_error")
_SHORT = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}  # Keras aliases


MERGE_ID = 0x7E57  # QUndoCommand.id(): consecutive edits of one field merge into one step


class SetTrainingCommand(DocCommand):
    """One undo step for a training-settings change; consecutive edits of the same
    field (spin-box arrows, typing) merge into one step, as ``QUndoCommand.mergeWith``."""

    def __init__(self, doc, changes: dict):
        super().__init__(doc, "Change training settings (" + ", ".join(changes) + ")")
        self.changes = dict(changes)
        self.old: dict | None = None

    def _do(self):
        old = self.doc.set_training(**self.changes)
        if self.old is None:
            self.old = old

    def _undo(self):
        self.doc.set_training(**self.old)

    def id(self) -> int:
        return MERGE_ID

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SetTrainingCommand) or set(other.changes) != set(self.changes):
            return False
        if len(self.changes) != 1 or self.doc is not other.doc:
            return False
        self.changes = dict(other.changes)  # keep our `old`: undo returns to before the run
        return True


def parse_learning_rate(text: str, optimizer: str = "adam") -> tuple[float | None, str]:
    """``(value, message)``: value None with the reason when refused; a warning text
    when accepted but absurd (> 1 for the adaptive optimizers).

    >>> parse_learning_rate("1e-4")
    (0.0001, '')
    >>> parse_learning_rate("-0.5")[0] is None
    True
    """
    raw = text.strip().replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        return None, f"Learning rate {text.strip()!r} is not a number (e.g. 0.001 or 1e-4)."
    if not math.isfinite(value) or value <= 0:
        return None, f"Learning rate must be a positive number; got {text.strip()!r}."
    limit = 1.0 if optimizer in ("adam", "adamw", "rmsprop", "adagrad") else 10.0
    if value > limit:
        return value, (f"Learning rate {value:g} is very high for {optimizer} "
                       f"(typical: 1e-4 to 1e-2); training will likely diverge.")
    return value, ""


class LearningRateEdit(QLineEdit):
    """A text field for the learning rate: scientific notation, no rounding to a fixed
    number of decimals, committed on Enter / focus out (``valueCommitted``)."""

    valueCommitted = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._value = 0.001
        self.editingFinished.connect(self._commit)

    def value(self) -> float:
        return self._value

    def setValue(self, value: float, commit: bool = True) -> None:
        self._value = float(value)
        self.setText(f"{float(value):g}")
        if commit:
            self.valueCommitted.emit(self.text())

    def _commit(self) -> None:
        self.valueCommitted.emit(self.text())


class TrainingSettingsForm(QWidget):
    learningRateChanged = Signal(float)
    refused = Signal(str)

    def __init__(self, get_document, undo_stack=None, parent=None, push=None):
        super().__init__(parent)
        self.setObjectName("trainingSettings")
        # The window's checked route (``push_edit``) when there is one: every edit
        # passes the same trained-weights check as the canvas.
        self.push = push
        self.get_document = get_document
        self.undo_stack = undo_stack
        self._loading = False
        self._training = False
        self.loss = QComboBox()
        self.loss.setObjectName("lossCombo")
        self.loss.addItems(LOSSES)
        self.optimizer = QComboBox()
        self.optimizer.setObjectName("optimizerCombo")
        self.optimizer.addItems(OPTIMIZERS)
        self.learning_rate = LearningRateEdit()
        self.learning_rate.setObjectName("learningRate")
        self.metric_boxes = {}
        metrics_row = QHBoxLayout()
        for m in METRICS:
            box = QCheckBox(_SHORT.get(m, m))
            box.setObjectName(f"metric_{m}")
            box.toggled.connect(lambda _checked: self._metrics_changed())
            self.metric_boxes[m] = box
            metrics_row.addWidget(box)
        self.epochs = QSpinBox()
        self.epochs.setObjectName("epochsSpin")
        self.epochs.setRange(1, 100000)
        self.batch_size = QSpinBox()
        self.batch_size.setObjectName("batchSizeSpin")
        self.batch_size.setRange(1, 65536)
        self.shuffle = QCheckBox("shuffle each epoch")
        self.seed = QSpinBox()
        self.seed.setObjectName("seedSpin")
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setSpecialValueText("random")
        self.validation_split = QDoubleSpinBox()
        self.validation_split.setObjectName("validationSplit")
        self.validation_split.setRange(0.0, 0.9)
        self.validation_split.setSingleStep(0.05)
        self.validation_split.setDecimals(2)
        # Callbacks as patience in epochs; 0 shows "off" and stores None.
        self.early_stopping = _patience_spin("earlyStoppingSpin",
                                             "Stop when the validation loss (the training "
                                             "loss without validation) has not improved for "
                                             "this many epochs, and keep the best epoch's "
                                             "weights (Keras EarlyStopping, "
                                             "restore_best_weights=True).")
        self.reduce_lr = _patience_spin("reduceLrSpin",
                                        "Divide the learning rate by 10 when the validation "
                                        "loss has not improved for this many epochs (Keras "
                                        "ReduceLROnPlateau).")
        self.class_weight = QComboBox()
        self.class_weight.setObjectName("classWeightCombo")
        self.class_weight.addItems(["none", "balanced"])
        self.class_weight.setToolTip("balanced: every class weighs as much in the loss, "
                                     "however rare it is in the training data "
                                     "(fit(class_weight=...)).")
        for spin in (self.epochs, self.batch_size, self.seed, self.validation_split,
                     self.early_stopping, self.reduce_lr):
            spin.setKeyboardTracking(False)  # commit when typing ends, not per keystroke
        # The loss names are long: as wide as their text, the combo set the whole right
        # column's minimum width; 14 characters and the dock can stay narrow.
        for combo in (self.loss, self.optimizer, self.class_weight):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #b03a2e;")
        form = QFormLayout(self)
        form.setContentsMargins(4, 4, 4, 4)
        form.addRow("Loss", self.loss)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Metrics", metrics_row)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("", self.shuffle)
        form.addRow("Seed", self.seed)
        form.addRow("Validation split", self.validation_split)
        form.addRow("Early stopping", self.early_stopping)
        form.addRow("LR ÷10 on plateau", self.reduce_lr)
        form.addRow("Class weights", self.class_weight)
        form.addRow(self.status)
        self.loss.currentTextChanged.connect(lambda v: self._set(loss=v))
        self.optimizer.currentTextChanged.connect(lambda v: self._set(optimizer=v))
        self.learning_rate.valueCommitted.connect(self._lr_text_committed)
        self.epochs.valueChanged.connect(lambda v: self._set(epochs=int(v)))
        self.batch_size.valueChanged.connect(lambda v: self._set(batch_size=int(v)))
        self.shuffle.toggled.connect(lambda v: self._set(shuffle=bool(v)))
        self.seed.valueChanged.connect(lambda v: self._set(seed=None if v < 0 else int(v)))
        self.validation_split.valueChanged.connect(
            lambda v: self._set(validation_split=round(float(v), 4)))
        self.early_stopping.valueChanged.connect(
            lambda v: self._set(early_stopping=int(v) or None))
        self.reduce_lr.valueChanged.connect(lambda v: self._set(reduce_lr=int(v) or None))
        self.class_weight.currentTextChanged.connect(lambda v: self._set(class_weight=v))
        self.refresh()

    # ---------------------------------------------------------------- document
    def _set(self, **changes) -> bool:
        if self._loading:
            return False
        doc = self.get_document()
        if doc is None:
            return False
        if self.push is not None:
            reason = self.push(SetTrainingCommand(doc, changes))
            if reason == "cancelled":  # the user kept the weights: show the old value
                self.refresh()
                return False
        elif self.undo_stack is not None:
            reason = push_checked(self.undo_stack, SetTrainingCommand(doc, changes))
        else:
            try:
                doc.set_training(**changes)
                reason = None
            except ValueError as exc:
                reason = str(exc)
        self.status.setText(reason or "")
        if reason:
            self.refused.emit(reason)
            self.refresh()
        return reason is None

    def _lr_text_committed(self, text: str) -> None:
        if self._loading:
            return
        doc = self.get_document()
        value, message = parse_learning_rate(text, doc.training.optimizer if doc else "adam")
        if value is None:
            self.status.setText(message)
            self.refused.emit(message)
            self.refresh()
            return
        if doc is not None and value == doc.training.learning_rate:
            self.status.setText(message)
            return
        if self._set(learning_rate=value):
            self.status.setText(message)
            if self._training:
                self.learningRateChanged.emit(value)

    def _metrics_changed(self) -> None:
        self._set(metrics=[m for m, b in self.metric_boxes.items() if b.isChecked()])

    def refresh(self) -> None:
        """Show the document's settings (after load, undo, or a refused edit)."""
        doc = self.get_document()
        if doc is None:
            return
        s = doc.training
        self._loading = True
        try:
            for combo, value in ((self.loss, s.loss), (self.optimizer, s.optimizer)):
                if combo.findText(value) < 0:
                    combo.addItem(value)
                combo.setCurrentText(value)
            self.learning_rate.setValue(s.learning_rate, commit=False)
            for m, b in self.metric_boxes.items():
                # a template or a Keras file may name it by Keras' alias ("mae")
                b.setChecked(m in s.metrics or _SHORT.get(m) in s.metrics)
            self.epochs.setValue(s.epochs)
            self.batch_size.setValue(s.batch_size)
            self.shuffle.setChecked(s.shuffle)
            self.seed.setValue(-1 if s.seed is None else s.seed)
            self.validation_split.setValue(s.validation_split)
            self.early_stopping.setValue(s.early_stopping or 0)
            self.reduce_lr.setValue(s.reduce_lr or 0)
            self.class_weight.setCurrentText(s.class_weight)
        finally:
            self._loading = False

    def set_training_state(self, state: str) -> None:
        """Lock the form while training; the learning rate is editable when paused."""
        self._training = state != "idle"
        for w in (self.loss, self.optimizer, self.epochs, self.batch_size, self.shuffle,
                  self.seed, self.validation_split, self.early_stopping, self.reduce_lr,
                  self.class_weight,
                  *self.metric_boxes.values()):
            w.setEnabled(state == "idle")
        self.learning_rate.setEnabled(state in ("idle", "paused"))


def _patience_spin(name: str, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(0, 10000)
    spin.setSpecialValueText("off")
    spin.setSuffix(" epochs patience")
    spin.setToolTip(tip)
    return spin
