"""The results views that depend on the task: a forecast plot and a misclassified-text list.

Both only draw what ``core.session.task_results.compute_results`` computed off the GUI
thread; nothing here predicts.

* ``ForecastView.set_results(results)``: actual, predicted and the naive "stays the last
  value" forecast against time (top), and each forecast's absolute error (bottom), so the
  gap to the baseline is visible where it opens.
* ``MistakenTexts.set_results(results, class_names)``: one row per misclassified text:
  the sentence, then predicted class (with its confidence) / true class.
* ``fill_reconstructions(grid, results, pixmap)``: an autoencoder's inputs beside their
  reconstructions.

>>> view = ForecastView()                                   # doctest: +SKIP
>>> view.set_results({"time": t, "actual": a, "predicted": p, "baseline_predicted": b})
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

ACTUAL, PREDICTED, NAIVE = "#e6e6e6", "#3daee9", "#e67e22"


class ForecastView(pg.GraphicsLayoutWidget):
    """Predicted against actual over time, and the errors of model and naive forecast."""

    def __init__(self, parent=None):
        super().__init__(parent, show=False)
        self.setObjectName("forecastView")
        self.setBackground("#1b1e23")
        self.values = self.addPlot(row=0, col=0, title="Predicted against actual")
        self.values.addLegend(offset=(10, 10))
        self.values.setLabel("bottom", "time")
        self.errors = self.addPlot(row=1, col=0, title="Absolute error")
        self.errors.addLegend(offset=(10, 10))
        self.errors.setXLink(self.values)
        self.errors.setLabel("bottom", "time")
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 2)
        self.curves: dict[str, pg.PlotDataItem] = {}

    def set_results(self, results: dict) -> None:
        for plot in (self.values, self.errors):
            plot.clear()
        self.curves.clear()
        t = np.asarray(results["time"], np.float64)
        actual = np.asarray(results["actual"], np.float64)
        pred = np.asarray(results["predicted"], np.float64)
        naive = results.get("baseline_predicted")
        axis = "sample number" if results.get("time_is_index") else "time"
        for plot in (self.values, self.errors):
            plot.setLabel("bottom", axis)

        def line(plot, key, y, color, name, width=1.5, style=Qt.SolidLine):
            self.curves[key] = plot.plot(t, y, pen=pg.mkPen(color, width=width, style=style),
                                         name=name)

        line(self.values, "actual", actual, ACTUAL, "actual", 2.0)
        line(self.values, "predicted", pred, PREDICTED, "model")
        line(self.errors, "model_error", np.abs(pred - actual), PREDICTED, "model")
        if naive is not None:
            naive = np.asarray(naive, np.float64)
            line(self.values, "naive", naive, NAIVE, "naive (last value)", 1.0, Qt.DashLine)
            line(self.errors, "naive_error", np.abs(naive - actual), NAIVE,
                 "naive (last value)", 1.0, Qt.DashLine)


class MistakenTexts(QTableWidget):
    """Misclassified sentences with predicted / true label (the text task's gallery)."""

    def __init__(self, parent=None):
        super().__init__(0, 2, parent)
        self.setObjectName("mistakenTexts")
        self.setHorizontalHeaderLabels(["misclassified text", "predicted / true"])
        head = self.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.Stretch)
        head.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        self.setEditTriggers(QTableWidget.NoEditTriggers)
        self.setWordWrap(True)
        self.verticalHeader().setVisible(False)

    def set_results(self, results: dict, class_names=()) -> None:
        names = list(class_names)

        def nm(k):
            return names[k] if 0 <= k < len(names) else str(k)

        texts = results.get("wrong_texts") or []
        self.setRowCount(len(texts))
        for i, text in enumerate(texts):
            p, t = int(results["wrong_pred"][i]), int(results["wrong_true"][i])
            conf = float(results["wrong_conf"][i])
            cells = (QTableWidgetItem(text), QTableWidgetItem(f"{nm(p)} {conf:.0%}\n/ {nm(t)}"))
            cells[0].setToolTip(text)
            cells[1].setToolTip(f"predicted {nm(p)} ({conf:.0%}), true {nm(t)}")
            for j, c in enumerate(cells):
                self.setItem(i, j, c)
        self.resizeRowsToContents()


def fill_reconstructions(grid, results: dict, pixmap) -> None:
    """An autoencoder's first test inputs beside what it gives back (``examples`` of
    ``core.session.reconstruction.reconstruction_results``), two pairs a row."""
    from PySide6.QtWidgets import QLabel

    pairs = results.get("examples") or []
    grid.addWidget(QLabel(f"<b>Reconstructions</b> (first {len(pairs)}): input → output"),
                   0, 0, 1, 4)
    for k, (x, y) in enumerate(pairs):
        for j, (img, tip) in enumerate(((x, "input"), (y, "reconstruction"))):
            pic = QLabel()
            pm = pixmap(img)
            if pm is not None:
                pic.setPixmap(pm)
            else:
                pic.setText(tip)
            pic.setToolTip(f"sample {k + 1}: {tip}")
            pic.setObjectName("reconstructionInput" if j == 0 else "reconstructionOutput")
            grid.addWidget(pic, 1 + k // 2, 2 * (k % 2) + j)
