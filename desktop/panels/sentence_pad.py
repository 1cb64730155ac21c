"""Type a sentence and watch the trained text classifier's class probabilities.

The text is turned into token ids with the vocabulary the data set was vectorized with
(``core.layers.TextVectorization``, the same standardize/split rules) and predicted in a
one-thread ``QThreadPool``, as the digit test pad does: the GUI thread never runs the
model. While a prediction runs, only the newest text is queued.

>>> pad = SentencePad()                                             # doctest: +SKIP
>>> pad.set_model(model, vocabulary, (40,), ["negative", "positive"])   # doctest: +SKIP
>>> pad.edit.setText("what a lovely day")                           # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QLineEdit, QProgressBar, QVBoxLayout, QWidget

from core.session.task_results import class_probabilities
from desktop.panels.test_pad import _PredictSignals, _PredictTask


def sentence_predictor(model, vocabulary, length: int):
    """``texts -> class probabilities``: vectorize then predict (run off the GUI thread)."""
    from core.layers import TextVectorization

    tv = TextVectorization(output_sequence_length=int(length), vocabulary=list(vocabulary))

    def predict(texts):
        ids = np.asarray(tv(list(texts))).astype(np.float32)
        return class_probabilities(model.predict(ids, verbose=0))[0]

    return predict


class SentencePad(QWidget):
    """A line edit and one probability bar per class."""

    predicted = Signal(object)  # probabilities of the last text predicted (tests wait on it)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("sentencePad")
        self.edit = QLineEdit()
        self.edit.setObjectName("sentenceEdit")
        self.edit.setPlaceholderText("Type a sentence...")
        self.status = QLabel("Train a text classifier to try it here.")
        self.status.setWordWrap(True)
        self.bar_grid = QGridLayout()
        self.bars: list[QProgressBar] = []
        self.bar_labels: list[QLabel] = []
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Sentence:"))
        lay.addWidget(self.edit)
        lay.addLayout(self.bar_grid)
        lay.addWidget(self.status)
        lay.addStretch(1)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _PredictSignals()
        self._signals.done.connect(self._on_done)
        self._predict = None
        self._requested = 0
        self._busy = False
        self._pending = False
        self.edit.textChanged.connect(self._schedule)
        self.set_model(None)

    def set_model(self, model, vocabulary=None, input_shape=None, class_names=()) -> None:
        """Use ``model`` on token ids of ``input_shape`` (one axis); None disables the box."""
        self._predict = None
        shape = tuple(input_shape or ())
        if model is not None and vocabulary and len(shape) == 1:
            self._predict = sentence_predictor(model, vocabulary, shape[0])
            self.status.setText("Type a sentence: the probabilities follow as you type.")
        elif model is not None:
            self.status.setText("This model was not trained on text.")
        else:
            self.status.setText("Train a text classifier to try it here.")
        self._make_bars(list(class_names) or ["0", "1"])
        self.edit.setEnabled(self._predict is not None)
        if self._predict is not None and self.edit.text():
            self._schedule()

    def _make_bars(self, names) -> None:
        for w in self.bars + self.bar_labels:
            self.bar_grid.removeWidget(w)
            w.deleteLater()
        self.bars, self.bar_labels = [], []
        for i, name in enumerate(names):
            label, bar = QLabel(str(name)), QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(0)
            bar.setFormat("")
            self.bar_grid.addWidget(label, i, 0)
            self.bar_grid.addWidget(bar, i, 1)
            self.bars.append(bar)
            self.bar_labels.append(label)

    def _schedule(self) -> None:
        if self._predict is None:
            return
        if self._busy:  # coalesce fast typing: the newest text once this one is done
            self._pending = True
            return
        self._requested += 1
        self._busy = True
        self.pool.start(_PredictTask(self._predict, [self.edit.text()], self._requested,
                                     self._signals))

    def _on_done(self, number: int, probs) -> None:
        self._busy = False
        if isinstance(probs, str):
            self.status.setText("Prediction failed: " + probs)
        else:
            for bar, p in zip(self.bars, probs):
                bar.setValue(int(round(float(p) * 1000)))
                bar.setFormat(f"{float(p):.0%}")
            best = int(np.argmax(probs))
            name = self.bar_labels[best].text() if best < len(self.bar_labels) else best
            self.status.setText(f"Reads as {name} ({float(probs[best]):.0%}).")
            self.predicted.emit(probs)
        if self._pending:
            self._pending = False
            self._schedule()

    def shutdown(self) -> None:
        self._predict = None
        self.pool.waitForDone(5000)
