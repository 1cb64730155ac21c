"""Results after training: test scores, confusion matrix, misclassified gallery, test pad.

``show_results(results, class_names)`` takes the dict the training worker computes
off the GUI thread (``core.session.task_results.compute_results``): scores, the
confusion matrix (rows true, columns predicted) and up to 48 misclassified images.
The heatmap prints each cell's count.

>>> panel = ResultsPanel()                               # doctest: +SKIP
>>> panel.show_results(results, class_names=["0", "1"])  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.test_pad import TestPad

GALLERY_COLUMNS = 4


def image_pixmap(x: np.ndarray, size: int = 56) -> QPixmap | None:
    """A greyscale/RGB sample (any of (H,W), (H,W,1), (H,W,3), values in [0,1]) as a pixmap."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        side = int(round(np.sqrt(a.size)))
        if side * side != a.size:
            return None
        a = a.reshape(side, side)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    hi = float(a.max()) if a.size else 1.0
    a = np.clip(a / (hi if hi > 1.0 else 1.0), 0.0, 1.0)
    u8 = np.ascontiguousarray((a * 255).astype(np.uint8))
    if u8.ndim == 2:
        img = QImage(u8.tobytes(), u8.shape[1], u8.shape[0], u8.shape[1],
                     QImage.Format_Grayscale8)
    elif u8.ndim == 3 and u8.shape[-1] == 3:
        img = QImage(u8.tobytes(), u8.shape[1], u8.shape[0], 3 * u8.shape[1],
                     QImage.Format_RGB888)
    else:
        return None
    return QPixmap.fromImage(img.scaled(size, size, Qt.KeepAspectRatio))


class ConfusionView(pg.GraphicsLayoutWidget):
    """Heatmap of counts with the numbers written in the cells."""

    def __init__(self, parent=None):
        super().__init__(parent, show=False)
        self.setObjectName("confusionMatrix")
        self.setBackground("#1b1e23")
        self.plot = self.addPlot(title="Confusion matrix")  # axes say true / predicted
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.image = pg.ImageItem()
        # dark (few) -> bright (many) suits the dark theme; text colour flips with it
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        self.plot.setLabel("left", "true")
        self.plot.setLabel("bottom", "predicted")
        self._texts: list[pg.TextItem] = []
        self.matrix = np.zeros((0, 0), np.int64)

    def set_matrix(self, cm: np.ndarray, class_names) -> None:
        self.matrix = np.asarray(cm)
        n = cm.shape[0]
        for t in self._texts:
            self.plot.removeItem(t)
        self._texts.clear()
        # ImageItem is column-major (x first): transpose so rows are true classes (y).
        self.image.setImage(np.log1p(cm.T.astype(float)), autoLevels=True)
        hi = np.log1p(cm.max()) if cm.size else 1.0
        for i in range(n):
            for j in range(n):
                dark = np.log1p(cm[i, j]) > 0.6 * hi
                t = pg.TextItem(str(int(cm[i, j])), anchor=(0.5, 0.5),
                                color="k" if dark else "w")
                t.setPos(j + 0.5, i + 0.5)
                self.plot.addItem(t)
                self._texts.append(t)
        names = [str(c) for c in class_names][:n] + [str(k) for k in range(len(class_names), n)]
        ticks = [[(k + 0.5, names[k][:8]) for k in range(n)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)
        self.plot.setRange(xRange=(0, n), yRange=(0, n), padding=0.02)


class ResultsPanel(QWidget):
    """Tabs: Summary (scores + confusion matrix), Mistakes (gallery), Test pad."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("resultsPanel")
        self.summary = QLabel("Results appear here after training.")
        self.summary.setObjectName("resultsSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.confusion = ConfusionView()
        self.gallery = QWidget()
        self.gallery.setObjectName("mistakesGallery")
        self.gallery_grid = QGridLayout(self.gallery)
        self.gallery_grid.setSpacing(6)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.gallery)
        self.pad = TestPad()
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.summary)
        tl.addWidget(self.confusion, 1)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(top)
        split.addWidget(scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([560, 420])
        self.confusion.setVisible(False)  # an empty heatmap says nothing
        self.tabs = QTabWidget()
        self.tabs.addTab(split, "Results")
        self.tabs.addTab(self.pad, "Test pad")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.tabs)
        self.results: dict | None = None

    def clear(self) -> None:
        """Back to the empty state (a new project): no scores, matrix, gallery or ink."""
        self.results = None
        self.summary.setText("Results appear here after training.")
        self.confusion.setVisible(False)
        while self.gallery_grid.count():
            w = self.gallery_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.pad.clear()

    def show_results(self, results: dict, class_names=()) -> None:
        self.results = results
        names = list(class_names)
        cm = np.asarray(results["confusion"])
        scores = results.get("scores", {})
        parts = [f"<b>{results.get('source', 'Test set')}</b>: {results['count']} samples"]
        if "loss" in scores:
            parts.append(f"loss {scores['loss']:.4f}")
        parts.append(f"accuracy {results['accuracy']:.2%}")
        for k, v in scores.items():
            if k not in ("loss", "accuracy", "compile_metrics"):
                parts.append(f"{k} {v:.4f}")
        self.summary.setText(" &nbsp;·&nbsp; ".join(parts))
        self.confusion.set_matrix(cm, names)
        self.confusion.setVisible(True)
        self._fill_gallery(results, names)

    def _fill_gallery(self, results: dict, names) -> None:
        while self.gallery_grid.count():
            w = self.gallery_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()

        def nm(k):
            return names[k] if 0 <= k < len(names) else str(k)

        imgs = results.get("wrong_images")
        if imgs is None or len(imgs) == 0:
            self.gallery_grid.addWidget(QLabel("No misclassified examples."), 0, 0)
            return
        title = QLabel(f"<b>Misclassified</b> (first {len(imgs)}): predicted / true")
        self.gallery_grid.addWidget(title, 0, 0, 1, GALLERY_COLUMNS)
        for i, (x, t, p) in enumerate(zip(imgs, results["wrong_true"], results["wrong_pred"])):
            cell = QWidget()
            v = QVBoxLayout(cell)
            v.setContentsMargins(1, 1, 1, 1)
            v.setSpacing(0)
            pic = QLabel()
            pm = image_pixmap(x)
            if pm is not None:
                pic.setPixmap(pm)
            cap = QLabel(f"<span style='color:#c0392b'>{nm(int(p))}</span> / {nm(int(t))}")
            cap.setAlignment(Qt.AlignCenter)
            cell.setToolTip(f"predicted {nm(int(p))}, true {nm(int(t))}")
            v.addWidget(pic, 0, Qt.AlignCenter)
            v.addWidget(cap)
            self.gallery_grid.addWidget(cell, 1 + i // GALLERY_COLUMNS, i % GALLERY_COLUMNS)
