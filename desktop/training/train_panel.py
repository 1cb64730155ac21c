"""The Training panel's widgets: Train / Pause / Stop, the progress bar, Add epochs,
"continue from the trained weights", the settings form and the run's status texts.

A view only: ``desktop.training.dock.TrainingUI`` connects its buttons to the
``TrainingController`` and calls ``set_state`` / ``show_progress`` as the run goes.

>>> panel = TrainPanel(TrainingSettingsForm(doc, stack))   # doctest: +SKIP
>>> panel.set_state("running"); panel.train_button.isEnabled()   # doctest: +SKIP
False
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


class _ContentSizedScroll(QScrollArea):
    """A scroll area that asks for its content's first size (a plain one asks ~100 px).

    The size is taken once: a hint that followed a status text as it wraps would make the
    main window re-lay the docks and move Train / Pause / Stop under the pointer."""

    _hint = None

    def sizeHint(self):
        inner = self.widget()
        if inner is None:
            return super().sizeHint()
        if self._hint is None:
            self._hint = inner.sizeHint().grownBy(self.contentsMargins())
        return self._hint


class TrainPanel(QWidget):
    """The buttons on top (they never move), the form and the texts below them scroll."""

    def __init__(self, form: QWidget, parent=None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.form = form
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseButton")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.progress = QProgressBar()
        self.progress.setObjectName("trainProgress")
        self.reset_progress()
        self.add_epochs_spin = QSpinBox()
        self.add_epochs_spin.setRange(1, 1000)
        self.add_epochs_spin.setValue(1)
        self.add_epochs_button = QPushButton("Add epochs")
        self.add_epochs_button.setObjectName("addEpochsButton")
        self.add_epochs_button.setToolTip("Adds epochs to the run in progress (enabled while "
                                          "training or paused).")
        self.continue_box = QCheckBox("Continue from the project's trained weights")
        self.continue_box.setObjectName("continueWeights")
        self.continue_box.setChecked(True)
        self.kernel_label = QLabel()
        self.kernel_label.setObjectName("kernelState")
        # wraps like the status: unwrapped, the cold start's "compiling 7 for this
        # model..." widened the scrolled form and cut its right column off
        self.kernel_label.setWordWrap(True)
        self.state_label = QLabel()
        self.state_label.setObjectName("trainMessage")
        self.state_label.setWordWrap(True)
        row = QHBoxLayout()
        for b in (self.train_button, self.pause_button, self.stop_button):
            row.addWidget(b)
        more = QHBoxLayout()
        more.addWidget(self.add_epochs_spin)
        more.addWidget(self.add_epochs_button)
        more.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        # The buttons come first: texts that wrap (the form's refusal, the run status)
        # sit below them, so Train / Pause / Stop never move under the pointer.
        lay.addLayout(row)
        lay.addWidget(self.progress)
        lay.addLayout(more)
        lay.addWidget(self.continue_box)
        lay.addWidget(self._scrolled_body(), 1)

    def _scrolled_body(self) -> QScrollArea:
        # The form and the texts below it scroll: a long status text or a short dock
        # scrolls them instead of squeezing the form's rows until the combo boxes are cut
        # in half. The buttons stay outside, so a scroll bar appearing never moves them.
        body = QWidget()
        body.setObjectName("trainingForm")
        inner = QVBoxLayout(body)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(self.form)
        inner.addWidget(self.state_label)
        inner.addWidget(self.kernel_label)
        inner.addStretch(1)
        scroll = _ContentSizedScroll()
        scroll.setObjectName("trainingScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        # a scroll area does not pass on its content's minimum width: the dock could then
        # shrink until the combo boxes are cut off at the right
        scroll.setMinimumWidth(body.minimumSizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width())
        self.form_scroll = scroll
        return scroll

    def set_state(self, state: str) -> None:
        """Enable what the controller's state allows (idle, running, paused, stopping)."""
        idle, live = state == "idle", state in ("running", "paused")
        self.train_button.setEnabled(idle)
        self.pause_button.setEnabled(live)
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(live)
        self.add_epochs_button.setEnabled(live)
        self.continue_box.setEnabled(idle)
        self.form.set_training_state(state)

    def show_progress(self, done: int, total: int) -> None:
        # The bar shows whole percents; QProgressBar repaints synchronously on every
        # setValue, which took GUI time (and the GIL) from training 10 times a second.
        total = max(1, total)
        if self.progress.maximum() != total:
            self.progress.setRange(0, total)
        if done * 100 // total != self.progress.value() * 100 // total or done == total:
            self.progress.setValue(done)

    def reset_progress(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
