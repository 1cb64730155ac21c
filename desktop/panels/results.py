"""Results after training, in the form that fits the task, and the pads to try the model.

``show_results(results, class_names)`` takes the dict the training worker computes
off the GUI thread (``core.session.task_results.compute_results``):

* classification: scores, accuracy against the majority class, the confusion matrix
  (rows true, columns predicted; each cell's count printed) and the misclassified
  samples: up to 48 images, or for text a table of sentences with predicted / true label.
* reconstruction (an autoencoder): the error per value against always answering the
  mean image, and the first inputs beside their reconstructions.
* regression: MAE / RMSE / R² and, for a time series, the same against the naive
  "stays the last value" forecast; predicted against actual over time and both errors
  (``desktop.panels.task_views.ForecastView``).

``set_model(model, input_shape, class_names, vocabulary)`` hands the trained model to
the digit test pad, or for text to the sentence box (``SentencePad``). ``show_summary``
shows a finished run's kept summary (a reopened project) without the plots.

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
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.panels.sentence_pad import SentencePad
from desktop.panels.task_views import ForecastView, MistakenTexts, fill_reconstructions
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
        # the image spans its own min..max: a cell is bright (dark text) by its place there
        lo = np.log1p(cm.min()) if cm.size else 0.0
        span = (np.log1p(cm.max()) - lo) if cm.size else 1.0
        for i in range(n):
            for j in range(n):
                dark = span > 0 and (np.log1p(cm[i, j]) - lo) > 0.6 * span
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


def summary_html(res: dict) -> str:
    """One line of figures: scores, then accuracy against the majority class or the
    errors against the naive forecast (works on full results and on run summaries)."""
    scores = res.get("scores", res)
    parts = [f"<b>{res.get('source', 'Test set')}</b>: {res['count']} samples"]
    # a series trains on scaled changes: its loss and metrics are in those units
    scaled = "scaled " if res.get("baseline") else ""
    if "loss" in scores:
        parts.append(f"{scaled}loss {scores['loss']:.4f}")
    if res.get("accuracy") is not None:
        acc = f"accuracy {res['accuracy']:.2%}"
        if res.get("majority_accuracy") is not None:
            acc += f" (majority class {res['majority_accuracy']:.2%})"
        parts.append(acc)
    rec, mean_image = res.get("reconstruction"), res.get("mean_image")
    if rec:
        txt = f"reconstruction error (MSE per value) {rec['mean_squared_error']:.4g}"
        if mean_image:
            txt += (f" (always the mean image: "
                    f"{mean_image['mean_squared_error']:.4g})")
        parts.append(txt)
    reg, base = res.get("regression"), res.get("baseline")
    if reg:
        parts.append(f"MAE {reg['mean_absolute_error']:.4g} · RMSE "
                     f"{reg['root_mean_squared_error']:.4g} · R² {reg['r2_score']:.3f}")
    if base:
        txt = f"naive last-value MAE {base['mean_absolute_error']:.4g}"
        if res.get("mae_vs_baseline") is not None:
            txt += f" (model MAE {1.0 - res['mae_vs_baseline']:.0%} lower)"
        parts.append(txt)
    skip = {"loss", "accuracy", "compile_metrics", "source", "count", "task",
            "majority_accuracy", "mae_vs_baseline", "regression", "baseline",
            "reconstruction", "mean_image"}
    for k, v in scores.items():
        if k not in skip and isinstance(v, (int, float)):
            parts.append(f"{scaled}{k} {v:.4f}")
    return " &nbsp;·&nbsp; ".join(parts)


class ResultsPanel(QWidget):
    """Tabs: Results (summary, confusion matrix or forecast, mistakes), then the digit
    Test pad or, for a text model, Try a sentence."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("resultsPanel")
        self.summary = QLabel("Results appear here after training.")
        self.summary.setObjectName("resultsSummary")
        self.summary.setWordWrap(True)
        self.summary.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.confusion = ConfusionView()
        self.forecast = ForecastView()
        self.gallery = QWidget()
        self.gallery.setObjectName("mistakesGallery")
        self.gallery_grid = QGridLayout(self.gallery)
        self.gallery_grid.setSpacing(6)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.gallery)
        self.texts = MistakenTexts()
        # right side: the image gallery or the misclassified texts
        self.side = QStackedWidget()
        self.side.addWidget(scroll)
        self.side.addWidget(self.texts)
        self.pad = TestPad()
        self.sentence = SentencePad()
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.summary)
        tl.addWidget(self.confusion, 1)
        tl.addWidget(self.forecast, 1)
        self.split = QSplitter(Qt.Horizontal)
        self.split.addWidget(top)
        self.split.addWidget(self.side)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self.split.setSizes([560, 420])
        self.confusion.setVisible(False)  # an empty heatmap says nothing
        self.forecast.setVisible(False)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.split, "Results")
        self.pad_tab = self.tabs.addTab(self.pad, "Test pad")
        self.sentence_tab = self.tabs.addTab(self.sentence, "Try a sentence")
        self.tabs.setTabVisible(self.sentence_tab, False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.tabs)
        self.results: dict | None = None

    def clear(self) -> None:
        """Back to the empty state (a new project): no scores, matrix, gallery or ink."""
        self.results = None
        self.summary.setText("Results appear here after training.")
        self.confusion.setVisible(False)
        self.forecast.setVisible(False)
        self._clear_gallery()
        self.texts.setRowCount(0)
        self.side.setCurrentIndex(0)
        self.side.setVisible(True)
        self.pad.clear()
        self.sentence.edit.clear()

    def set_model(self, model, input_shape=None, class_names=(), vocabulary=None) -> None:
        """Give the trained model to the pad that fits its data (None: disable both)."""
        text = model is not None and bool(vocabulary)
        self.pad.set_model(None if text else model, input_shape, class_names)
        self.sentence.set_model(model if text else None, vocabulary, input_shape,
                                class_names)
        drawable = model is None or (input_shape is not None
                                     and int(np.prod(tuple(input_shape))) == 784)
        self.tabs.setTabVisible(self.sentence_tab, text)
        self.tabs.setTabVisible(self.pad_tab, drawable and not text)

    def show_results(self, results: dict, class_names=()) -> None:
        self.results = results
        names = list(class_names)
        self.summary.setText(summary_html(results))
        if results.get("task") == "reconstruction":  # an autoencoder: inputs and outputs
            self.confusion.setVisible(False)
            self.forecast.setVisible(False)
            self.side.setVisible(True)
            self.side.setCurrentIndex(0)
            self._clear_gallery()
            fill_reconstructions(self.gallery_grid, results, image_pixmap)
            return
        regression = results.get("task") == "regression"
        self.confusion.setVisible(not regression)
        self.forecast.setVisible(regression)
        self.side.setVisible(not regression)
        if regression:
            self.forecast.set_results(results)
            return
        self.confusion.set_matrix(np.asarray(results["confusion"]), names)
        if results.get("wrong_texts") is not None:
            self.texts.set_results(results, names)
            self.side.setCurrentIndex(1)
            total = sum(self.split.sizes()) or 980
            self.split.setSizes([total * 2 // 5, total - total * 2 // 5])  # sentences are wide
        else:
            self.side.setCurrentIndex(0)
            self._fill_gallery(results, names)

    def show_summary(self, summary: dict) -> None:
        """A run's kept summary (``core.session.task_results.run_summary``), no plots."""
        self.results = None
        self.summary.setText(summary_html(summary) + "<br><i>Kept with the project; train "
                             "again for the plots and the misclassified samples.</i>")
        self.confusion.setVisible(False)
        self.forecast.setVisible(False)
        self.side.setVisible(False)  # no gallery kept: the figures get the width

    def _clear_gallery(self) -> None:
        while self.gallery_grid.count():
            w = self.gallery_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()

    def _fill_gallery(self, results: dict, names) -> None:
        self._clear_gallery()

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
