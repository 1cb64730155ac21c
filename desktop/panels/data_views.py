"""What the data panel shows about text and time-series data (views only).

* ``VocabularyView``: the vocabulary the panel built (size, coverage of the training and
  test tokens, share of texts cut short) and a histogram of the texts' token counts,
  with the chosen sequence length marked.
* ``SeriesView``: the target series over time, the training part and the test part
  in two colours, split where the test part starts.

>>> view = VocabularyView(); view.show_details(details)   # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.panels.curves import BACKGROUND, FOREGROUND, TRAIN_COLOR, VAL_COLOR


def _plot(name: str, title: str, xlabel: str, ylabel: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background=BACKGROUND)
    w.setObjectName(name)
    w.setTitle(title, color=FOREGROUND, size="9pt")
    for axis in ("left", "bottom"):
        w.getAxis(axis).setPen(pg.mkPen("#5c6370"))
        w.getAxis(axis).setTextPen(pg.mkPen(FOREGROUND))
        w.getAxis(axis).enableAutoSIPrefix(False)
    w.setLabel("bottom", xlabel)
    w.setLabel("left", ylabel)
    w.setMenuEnabled(False)
    w.setMinimumHeight(150)
    return w


class VocabularyView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("vocabularyView")
        self.summary = QLabel()
        self.summary.setObjectName("vocabularySummary")
        self.summary.setWordWrap(True)
        self.plot = _plot("lengthHistogram", "Tokens per training text", "tokens",
                          "texts")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.summary)
        lay.addWidget(self.plot)

    def show_details(self, d: dict) -> None:
        test = d.get("coverage_test")
        test_text = "" if test is None else f", {test:.1%} of the test tokens"
        self.summary.setText(
            f"Vocabulary: <b>{d['vocabulary_size']:,}</b> tokens (the 2 special ones "
            f"included); it covers {d['coverage_train']:.1%} of the training tokens"
            f"{test_text}. Each text becomes {d['sequence_length']} token ids; "
            f"{d['truncated']:.1%} of the texts are longer and are cut.")
        lengths = np.asarray(d["lengths"])
        self.plot.clear()
        if lengths.size:
            counts, edges = np.histogram(lengths, bins=min(30, max(int(lengths.max()), 1)))
            self.bars = pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts,
                                        brush=pg.mkBrush(TRAIN_COLOR + (200,)), pen=None)
            self.plot.addItem(self.bars)
            self.plot.addItem(pg.InfiniteLine(d["sequence_length"], angle=90,
                                              pen=pg.mkPen(VAL_COLOR, width=2)))
            self.histogram = (counts, edges)


class SeriesView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("seriesView")
        self.summary = QLabel()
        self.summary.setObjectName("seriesSummary")
        self.summary.setWordWrap(True)
        self.plot = _plot("seriesPlot", "The series", "row (time)", "value")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.summary)
        lay.addWidget(self.plot)

    def show_details(self, d: dict, ds) -> None:
        values = np.asarray(d["values"], float)
        cut = int(d["split_row"])
        self.plot.clear()
        self.plot.setLabel("left", d["target"])
        t = np.arange(values.size)
        self.train_curve = self.plot.plot(t[:cut], values[:cut], pen=pg.mkPen(TRAIN_COLOR))
        self.test_curve = self.plot.plot(t[cut - 1:], values[cut - 1:], pen=pg.mkPen(VAL_COLOR))
        self.plot.addItem(pg.InfiniteLine(cut, angle=90,
                                          pen=pg.mkPen("#8b949e", style=Qt.DashLine)))
        others = ", ".join(ds.feature_names[1:]) or "none"
        self.summary.setText(
            f"<b>{d['target']}</b>: {values.size:,} rows. Windows of {ds.window} steps "
            f"predict {ds.horizon} step(s) ahead; other inputs: {others}. Training: rows "
            f"before {cut:,} (<span style='color:#5fa8ff'>blue</span>; validation is its "
            f"latest part), test: from row {cut:,} on "
            f"(<span style='color:#ffa03c'>orange</span>).")


def describe_dataset(ds) -> str:
    """The panel's one-paragraph summary of a loaded data set (rich text)."""
    test = f", {len(ds.x_test):,} test" if ds.x_test is not None else ", no test set " \
        "(results use the validation split)"
    if ds.task == "regression":
        what = f"regression of {ds.target_name or 'the target'}"
    else:
        names = ", ".join(ds.class_names[:6]) + (" ..." if len(ds.class_names) > 6 else "")
        what = f"{ds.num_classes} classes ({names})"
    return (f"<b>{ds.name}</b>: {len(ds.x_train):,} training samples{test}; "
            f"sample shape {ds.sample_shape} (network input {ds.suggested_input_shape()}), "
            f"{what}, dtype {ds.x_train.dtype}.")
