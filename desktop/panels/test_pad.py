"""Draw a digit with the mouse and watch the trained model's class probabilities.

The drawing is turned into an MNIST-like 28x28 image the way the MNIST set was made:
crop to the ink, scale the longer side to 20 px keeping the aspect ratio (area
averaging, i.e. anti-aliased), then place it in 28x28 so its centre of mass is at
the centre. ``mnist_preprocess`` is plain numpy (two small matmuls) and cheap; the
model's ``predict`` never runs on the GUI thread: it runs in a one-thread
``QThreadPool`` and only the newest drawing is predicted when strokes come quickly.

>>> pad = TestPad()                                          # doctest: +SKIP
>>> pad.set_model(model, input_shape=(28, 28, 1), class_names=[str(i) for i in range(10)])
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

CANVAS = 280
PEN_WIDTH = 22


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix averaging input cells by their overlap with each output cell."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo = np.arange(n_in, dtype=float)
    overlap = np.clip(np.minimum(edges[1:, None], lo[None, :] + 1)
                      - np.maximum(edges[:-1, None], lo[None, :]), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def mnist_preprocess(ink: np.ndarray, box: int = 20, size: int = 28) -> np.ndarray:
    """Greyscale ``ink`` (H, W) in [0, 1], 1 = ink -> (size, size) float32 like MNIST.

    Returns zeros for an empty drawing.
    """
    ink = np.asarray(ink, dtype=np.float64)
    rows = np.flatnonzero(ink.max(axis=1) > 0.05)
    cols = np.flatnonzero(ink.max(axis=0) > 0.05)
    out = np.zeros((size, size), np.float32)
    if rows.size == 0:
        return out
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = _area_matrix(h, nh) @ crop @ _area_matrix(w, nw).T
    total = small.sum()
    cy = (small.sum(axis=1) @ np.arange(nh)) / total
    cx = (small.sum(axis=0) @ np.arange(nw)) / total
    top = int(round(size / 2 - 0.5 - cy))
    left = int(round(size / 2 - 0.5 - cx))
    top = min(max(top, 0), size - nh)
    left = min(max(left, 0), size - nw)
    out[top:top + nh, left:left + nw] = small
    return np.clip(out, 0.0, 1.0)


class _PredictSignals(QObject):
    done = Signal(int, object)  # request number, probabilities or an error string


class _PredictTask(QRunnable):
    def __init__(self, predict, x, number: int, signals: _PredictSignals):
        super().__init__()
        self.predict, self.x, self.number, self.signals = predict, x, number, signals

    def run(self):
        try:
            probs = np.asarray(self.predict(self.x)).reshape(-1)
        except Exception as exc:  # shown under the pad; the app goes on
            probs = f"{type(exc).__name__}: {exc}"
        self.signals.done.emit(self.number, probs)


class DrawArea(QWidget):
    """A 280x280 black-on-white canvas; emits ``changed`` after every stroke segment."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("testPadCanvas")
        self.setFixedSize(CANVAS, CANVAS)
        self.image = QImage(CANVAS, CANVAS, QImage.Format_Grayscale8)
        self.clear()
        self._last: QPointF | None = None

    def clear(self):
        self.image.fill(255)
        self.update()

    def ink(self) -> np.ndarray:
        """(280, 280) float array, 1 where drawn."""
        ptr = self.image.constBits()
        arr = np.frombuffer(ptr, np.uint8).reshape(CANVAS, self.image.bytesPerLine())[:, :CANVAS]
        return 1.0 - arr.astype(np.float32) / 255.0

    def _line(self, a: QPointF, b: QPointF):
        p = QPainter(self.image)
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(QPen(QColor(0, 0, 0), PEN_WIDTH, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
        p.drawLine(a, b)
        p.end()
        self.update()
        self.changed.emit()

    def mousePressEvent(self, ev):
        self._last = ev.position()
        self._line(self._last, self._last)

    def mouseMoveEvent(self, ev):
        if self._last is not None:
            pos = ev.position()
            self._line(self._last, pos)
            self._last = pos

    def mouseReleaseEvent(self, ev):
        self._last = None

    def paintEvent(self, ev):
        p = QPainter(self)
        p.drawImage(0, 0, self.image)
        p.setPen(QColor(200, 200, 200))
        p.drawRect(0, 0, CANVAS - 1, CANVAS - 1)
        p.end()


class TestPad(QWidget):
    """The drawing area, a 28x28 preview and one probability bar per class."""

    __test__ = False  # not a pytest test class despite the name

    predicted = Signal(object)  # probabilities (for tests and the status line)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("testPad")
        self.area = DrawArea()
        self.preview = QLabel()
        self.preview.setFixedSize(84, 84)
        self.preview.setStyleSheet("background: black;")
        self.status = QLabel("Train a model to try it here.")
        self.status.setWordWrap(True)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        self.bars: list[QProgressBar] = []
        self.bar_labels: list[QLabel] = []
        self.bar_grid = QGridLayout()
        side = QVBoxLayout()
        side.addWidget(QLabel("What the model sees:"))
        side.addWidget(self.preview)
        side.addLayout(self.bar_grid)
        side.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(self.area)
        row = QHBoxLayout()
        row.addWidget(clear)
        row.addWidget(self.status, 1)
        left.addLayout(row)
        lay = QHBoxLayout(self)
        lay.addLayout(left)
        lay.addLayout(side, 1)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _PredictSignals()
        self._signals.done.connect(self._on_done)
        self._predict = None
        self._input_shape = None
        self._requested = 0
        self._busy = False
        self._pending = False
        self.area.changed.connect(self._schedule)
        self.set_model(None)

    def set_model(self, model, input_shape=None, class_names=()):
        """Use ``model`` (or disable the pad with None). Only 784-value inputs are drawable."""
        self._predict = None
        self._input_shape = None
        if model is not None and input_shape is not None:
            shape = tuple(int(d) for d in input_shape)
            if int(np.prod(shape)) == 784:
                self._input_shape = shape
                self._predict = lambda x, m=model: m.predict(x, verbose=0)
                self.status.setText("Draw a digit with the mouse.")
            else:
                self.status.setText(f"The test pad draws 28x28 images; this model expects "
                                    f"inputs of shape {shape}.")
        elif model is None:
            self.status.setText("Train a model to try it here.")
        self._make_bars(list(class_names) or [str(i) for i in range(10)])
        self.area.setEnabled(self._predict is not None)

    def _make_bars(self, names):
        for w in self.bars + self.bar_labels:
            self.bar_grid.removeWidget(w)
            w.deleteLater()
        self.bars, self.bar_labels = [], []
        for i, name in enumerate(names):
            label = QLabel(str(name))
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(0)
            bar.setFormat("%p%")
            bar.setMaximumHeight(16)
            self.bar_grid.addWidget(label, i, 0)
            self.bar_grid.addWidget(bar, i, 1)
            self.bars.append(bar)
            self.bar_labels.append(label)

    def clear(self):
        self.area.clear()
        self.preview.clear()
        for b in self.bars:
            b.setValue(0)

    def current_input(self) -> np.ndarray:
        img = mnist_preprocess(self.area.ink())
        q = QImage((img * 255).astype(np.uint8).tobytes(), 28, 28, 28, QImage.Format_Grayscale8)
        from PySide6.QtGui import QPixmap
        self.preview.setPixmap(QPixmap.fromImage(q.scaled(84, 84)))
        return img

    def _schedule(self):
        if self._predict is None:
            return
        if self._busy:  # coalesce: predict the newest drawing once the current task ends
            self._pending = True
            return
        img = self.current_input()
        x = img.reshape((1,) + self._input_shape).astype(np.float32)
        self._requested += 1
        self._busy = True
        self.pool.start(_PredictTask(self._predict, x, self._requested, self._signals))

    def _on_done(self, number: int, probs):
        self._busy = False
        if isinstance(probs, str):
            self.status.setText("Prediction failed: " + probs)
        else:
            for bar, p in zip(self.bars, probs):
                bar.setValue(int(round(float(p) * 1000)))
                bar.setFormat(f"{float(p):.0%}")  # %p truncates: 99.6 % would read 99 %
            best = int(np.argmax(probs))
            name = self.bar_labels[best].text() if best < len(self.bar_labels) else best
            self.status.setText(f"Looks like {name} ({float(probs[best]):.0%}).")
            self.predicted.emit(probs)
        if self._pending:
            self._pending = False
            self._schedule()

    def shutdown(self):
        self._predict = None
        self.pool.waitForDone(5000)
