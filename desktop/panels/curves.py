"""Live training curves: loss and metrics, train and validation, per batch and per epoch.

The training controller calls ``begin_run`` once, then ``add_batches`` / ``add_epoch``
from its 2 Hz timer (a handful of points per call, never one call per batch), and
``set_counters`` for the epoch/batch/samples-per-second/ETA line. Earlier runs from
the project's history can be overlaid (faded, dashed) for comparison.

x axis: epochs, fractional for batches (batch b of epoch e at ``e + (b+1)/steps``).

>>> panel = CurvesPanel()                       # doctest: +SKIP
>>> panel.begin_run("Run 1", ["accuracy"])      # doctest: +SKIP
>>> panel.add_epoch(0, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6})  # doctest: +SKIP
"""

from __future__ import annotations

from time import perf_counter as _clock

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

TRAIN_COLOR = (95, 168, 255)
VAL_COLOR = (255, 160, 60)
EXTRA_COLORS = [(44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
OVERLAY_COLORS = [(140, 146, 156), (170, 130, 210), (100, 180, 180), (200, 160, 100),
                  (120, 190, 120), (220, 120, 150), (150, 160, 220), (190, 190, 110)]


BACKGROUND = "#1b1e23"  # the app's dark theme (resources/styles)
# Per-batch curves redraw at most this often (seconds), each plot in turn: the two
# plots' repaints take GUI time and CPU from a 2-core training run (at 0.4 s they were
# the largest part of the GUI thread's time, benchmarks/app_throughput.py). With the
# controller's 2 Hz drain each plot redraws every second drain: a little under 1 s, as
# Qt's coarse timer may fire a few ms early. Pauses and the run's end redraw at once;
# the training controller's epoch ends take their plot's turn (add_epoch).
BATCH_REDRAW_S = 0.95
FOREGROUND = "#c9d1d9"


def _plot(object_name: str, title: str, ylabel: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background=BACKGROUND)
    w.setObjectName(object_name)
    w.setTitle(title, color=FOREGROUND, size="10pt")
    for axis in ("left", "bottom"):
        w.getAxis(axis).setPen(pg.mkPen("#5c6370"))
        w.getAxis(axis).setTextPen(pg.mkPen(FOREGROUND))
        w.getAxis(axis).enableAutoSIPrefix(False)  # "epoch (x0.001)" confuses people
    w.setLabel("bottom", "epoch")
    w.setLabel("left", ylabel)
    # No grid: pyqtgraph draws grid lines as part of each axis picture, and they made
    # 3/4 of every repaint (offscreen raster: 20-48 ms -> 8 ms per update, measured),
    # which is GUI-thread time taken from the drain timer's budget while training.
    # The legend sits in its own column right of the plot (PlotItem's grid: row 2 is the
    # view box), not over the data: anchored inside, it covered the newest points.
    item = w.getPlotItem()
    legend = pg.LegendItem(offset=None, labelTextSize="8pt", brush=(27, 30, 35, 210))
    legend.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
    item.legend = legend  # plot(name=...) adds its entry here, as with addLegend
    item.layout.addItem(legend, 2, 4)
    item.layout.setAlignment(legend, Qt.AlignTop)
    w.setClipToView(True)
    w.setDownsampling(auto=True, mode="peak")
    w.setMinimumHeight(150)
    return w


class _Series:
    """One curve: growing python lists, pushed to pyqtgraph in one ``setData``."""

    def __init__(self, item: pg.PlotDataItem, plot: pg.PlotWidget):
        self.item = item
        self.plot = plot
        self.x: list[float] = []
        self.y: list[float] = []
        self.dirty = False

    def add(self, x: float, y: float) -> None:
        self.x.append(x)
        self.y.append(y)
        self.dirty = True

    def flush(self) -> None:
        if self.dirty:
            self.item.setData(np.asarray(self.x), np.asarray(self.y))
            self.dirty = False


class CurvesPanel(QWidget):
    """Two plots (``lossPlot``, ``metricPlot``) and a counters line."""

    fixRequested = Signal(dict)  # a diagnosis' settings remedy, for the checked edit route

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("curvesPanel")
        self.counters = QLabel("No training yet.")
        self.counters.setObjectName("trainCounters")
        self.counters.setTextInteractionFlags(Qt.TextSelectableByMouse)
        # Its width must not follow its text: with the default policy every new count
        # (2 Hz while training) re-laid the panel and repainted both plots 2-3 times.
        # Wide enough, once, for a usual run's line.
        self.counters.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.counters.setMinimumWidth(self.counters.fontMetrics().horizontalAdvance(
            "Epoch 10/10 · batch 1875/1875 · 9,999 samples/s · ETA 00:00") + 8)
        self.overlay_box = QCheckBox("Overlay earlier runs")
        self.overlay_box.setObjectName("overlayRuns")
        self.overlay_box.setChecked(True)
        # A lambda, not a *args slot: PySide6 6.12 mis-counts references to the bool it
        # passes to varargs slots and crashes at exit ("bool_dealloc").
        self.overlay_box.toggled.connect(lambda _checked: self._redraw_overlays())
        # What the curves say (core.graph.curve_diagnosis), in words, above the plots.
        self.diagnosis = QLabel("")
        self.diagnosis.setObjectName("curveDiagnosis")
        self.diagnosis.setWordWrap(True)
        self.diagnosis.setStyleSheet("color: #e3b341;")
        self.diagnosis.hide()
        self.diagnoses: list = []
        self.fix_buttons: list[QPushButton] = []
        self._fix_row = QHBoxLayout()
        self.loss_plot = _plot("lossPlot", "Loss", "loss")
        self.metric_plot = _plot("metricPlot", "Metrics", "value")
        # the counters get a row of their own: beside the check box their fixed width
        # (below) would widen the dock, and so the main window
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.overlay_box)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.counters)
        lay.addLayout(top)
        lay.addWidget(self.diagnosis)
        lay.addLayout(self._fix_row)
        lay.addWidget(self.loss_plot, 1)
        lay.addWidget(self.metric_plot, 1)
        self.series: dict[str, _Series] = {}
        # when each plot last took its pending batch points (see add_batches)
        self._flushed_at = {id(self.loss_plot): float("-inf"),
                            id(self.metric_plot): float("-inf")}
        self._color_index: dict[str, int] = {}
        self._history: list[dict] = []
        self._overlay_items: list = []
        self.hidden_runs: set = set()  # run names the Runs panel unticked
        self.run_name = ""
        self.epoch_offset = 0

    # ------------------------------------------------------------- run lifecycle
    def begin_run(self, run_name: str, metric_names, epoch_offset: int = 0) -> None:
        """Clear the live curves (earlier runs stay as overlays) and create the series.

        ``epoch_offset``: epochs the starting weights were already trained for (a run
        that continues shows epochs ``offset + 1 ...``, after the run it continues).
        """
        for plot in (self.loss_plot, self.metric_plot):
            for s in list(self.series.values()):
                if s.item in plot.listDataItems():
                    plot.removeItem(s.item)
            plot.enableAutoRange()  # an old run's (or a user's zoomed) range must not stay
        self.series.clear()
        self.epoch_offset = int(epoch_offset)
        self.set_diagnoses([])
        self._color_index: dict[str, int] = {}
        self.run_name = run_name
        # Train series now (their legend entries first); validation ones with their first
        # point, so a run without validation lists none. Empty curves still cost training:
        # benchmarks/app_throughput.py, 2 x 2 alternating processes of 20 pairs, in-app
        # throughput 89-93 % of headless with the two empty validation curves, 97-99 %
        # without. The GUI thread's CPU and its Python calls stayed the same; the worker's
        # CPU did not. Likely cause: every virtual call Qt makes on a Python-made item
        # (boundingRect, paint, item changes, legend rows) takes the GIL to look for a
        # Python override, and each take makes the training thread hand the GIL over.
        self._ensure("loss")
        for m in metric_names:
            self._ensure(m)
        self._redraw_overlays()

    def reset(self) -> None:
        """A new project: no live curves, no overlays, no counters (File > New)."""
        for plot in (self.loss_plot, self.metric_plot):
            for s in list(self.series.values()):
                if s.item in plot.listDataItems():
                    plot.removeItem(s.item)
            # with nothing left to fit, auto range would keep the old run's axes
            plot.getPlotItem().vb.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            plot.enableAutoRange()
        self.series.clear()
        self._color_index = {}
        self.run_name = ""
        self.epoch_offset = 0
        self.set_diagnoses([])
        self._history = []
        self._redraw_overlays()
        self.counters.setText("No training yet.")

    def _ensure(self, key: str, batch: bool = False) -> _Series:
        full = key + ("#batch" if batch else "")
        s = self.series.get(full)
        if s is not None:
            return s
        base = key.removeprefix("val_")
        plot = self.loss_plot if base == "loss" else self.metric_plot
        if base not in self._color_index:  # loss and the first metric share the main pair
            self._color_index[base] = 0 if base == "loss" else len(
                [b for b in self._color_index if b != "loss"])
        idx = self._color_index[base]
        if idx == 0:
            color = VAL_COLOR if key.startswith("val_") else TRAIN_COLOR
        else:
            color = EXTRA_COLORS[(idx - 1) % len(EXTRA_COLORS)]
        if batch:  # thin, light line under the per-epoch points
            pen = pg.mkPen(color=color + (110,), width=1)
            item = plot.plot([], [], pen=pen)
        else:
            label = ("validation " if key.startswith("val_") else "train ") + base
            pen = pg.mkPen(color=color, width=2.5)
            item = plot.plot([], [], pen=pen, symbol="o", symbolSize=7, symbolBrush=color,
                             name=label)
        item.setZValue(10 if not batch else 5)
        s = _Series(item, plot)
        self.series[full] = s
        return s

    def add_batches(self, points) -> None:
        """``points``: iterable of ``(x, logs)`` from batch ends (train values only)."""
        for x, logs in points:
            for k, v in logs.items():
                if k.startswith("val_") or not np.isfinite(v):
                    continue
                self._ensure(k, batch=True).add(x + self.epoch_offset, v)
        # Redrawing a plot takes GUI time (and the GIL) from training: per-batch curves
        # refresh at most every BATCH_REDRAW_S, and one plot per call (the one waiting
        # longest), so the controller's 2 Hz drain staggers them and no event-loop turn
        # paints both (measured: both at once blocked the loop 50-70 ms under load 10).
        # Pauses, the end and add_epoch(redraw=True) flush everything at once.
        now = _clock()
        due = [p for p in (self.loss_plot, self.metric_plot)
               if now - self._flushed_at[id(p)] >= BATCH_REDRAW_S]
        if due:
            self._flush_plot(min(due, key=lambda p: self._flushed_at[id(p)]), now)

    def add_epoch(self, epoch: int, logs: dict, redraw: bool = True) -> None:
        """One epoch's logs as points. ``redraw=False`` (the controller while training):
        both plots become due and the next ``add_batches`` calls redraw them one per
        call, as batch points; an immediate redraw of both at every epoch end doubled the
        plots' repaints when an epoch takes about a second (seed CNN, 12,000 images)."""
        for k, v in logs.items():
            if np.isfinite(v) and k not in ("learning_rate", "lr"):
                self._ensure(k).add(self.epoch_offset + epoch + 1.0, v)
        if redraw:
            self.flush()
        else:
            for key in self._flushed_at:
                self._flushed_at[key] = float("-inf")

    def flush(self) -> None:
        now = _clock()
        for plot in (self.loss_plot, self.metric_plot):
            self._flush_plot(plot, now)

    def _flush_plot(self, plot, now: float) -> None:
        self._flushed_at[id(plot)] = now
        dirty = [s for s in self.series.values() if s.plot is plot and s.dirty]
        for s in dirty:
            s.flush()
        if dirty:
            # Auto range now, not in the paint: pyqtgraph fits the range when the paint
            # starts, and the range change then asked for a second full paint of the plot.
            plot.getPlotItem().vb.prepareForPaint()

    def set_counters(self, text: str) -> None:
        self.counters.setText(text)

    def set_diagnoses(self, diagnoses) -> None:
        """Show ``core.graph.curve_diagnosis.diagnose`` results (empty: hide the line)."""
        self.diagnoses = list(diagnoses)
        self.diagnosis.setText("\n".join("⚠ " + d.message for d in self.diagnoses))
        self.diagnosis.setVisible(bool(self.diagnoses))
        for b in self.fix_buttons:
            self._fix_row.removeWidget(b)
            b.deleteLater()
        self.fix_buttons = []
        for d in self.diagnoses:
            if d.fix_label and d.settings_fix:
                b = QPushButton(d.fix_label)
                b.setObjectName("diagnosisFix")
                b.clicked.connect(lambda _=False, c=d.changes: self.fixRequested.emit(c))
                self._fix_row.addWidget(b)
                self.fix_buttons.append(b)
        if self.fix_buttons:
            self._fix_row.addStretch(0)

    # --------------------------------------------------------------- history
    def set_history(self, runs) -> None:
        """Earlier runs (``document.history``: dicts with ``name`` and ``epochs``, a list
        of per-epoch logs) to overlay."""
        self._history = [r for r in (runs or []) if isinstance(r, dict) and r.get("epochs")]
        self._redraw_overlays()

    def set_hidden_runs(self, names) -> None:
        """Leave these earlier runs (by name) off the plots (the Runs panel's ticks)."""
        self.hidden_runs = set(names)
        self._redraw_overlays()

    def _redraw_overlays(self) -> None:
        for plot, item in self._overlay_items:
            plot.removeItem(item)
        self._overlay_items.clear()
        if not self.overlay_box.isChecked():
            return
        for i, run in enumerate(self._history):  # every run: the legend names each one
            if run.get("name") in self.hidden_runs:
                continue
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            first = int(run.get("first_epoch", 1))
            keys = sorted({k for logs in run["epochs"] if isinstance(logs, dict) for k in logs})
            for key in keys:
                vals = np.asarray([logs.get(key, np.nan) for logs in run["epochs"]], float)
                if vals.size == 0 or key in ("learning_rate", "lr"):
                    continue
                base = key.removeprefix("val_")
                plot = self.loss_plot if base == "loss" else self.metric_plot
                style = Qt.DashLine if key.startswith("val_") else Qt.DotLine
                # one legend entry per run and plot (its train curve); validation dashed
                name = None if key.startswith("val_") else (
                    run.get("name", "earlier") + ("" if base == "loss" else f": {key}"))
                item = plot.plot(np.arange(first, first + vals.size), vals,
                                 pen=pg.mkPen(color=color, width=1.5, style=style), name=name)
                item.setZValue(1)
                self._overlay_items.append((plot, item))

    # ---------------------------------------------------------------- tests
    def point_count(self, key: str, batch: bool = False) -> int:
        s = self.series.get(key + ("#batch" if batch else ""))
        return 0 if s is None else len(s.x)
