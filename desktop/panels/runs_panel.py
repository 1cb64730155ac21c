"""The Runs panel: the project's runs side by side (rows from ``core.graph.run_table``).

Each row: a tick (overlay this run on the curves), the run's name, the settings in which
the runs differ, epochs, duration, what restoring the run brings back, the data set it
trained on (by name: not a setting, and not brought back by a restore), every logged
metric as ``final (best)``, and the test accuracy. "Restore this run" asks for the run's
network, weights and settings (the most recent runs keep them: ``core.graph.run_states``),
optionally its last epoch's weights where early stopping kept its best; "Use this run's
settings" puts only its training settings back. Both are one undo step through the
window's checked edit route.

>>> # panel = RunsPanel(); panel.set_history(doc.history, restorable(doc))
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.graph.run_table import run_rows

FIXED = ("Show", "Run", "Changed settings", "Epochs", "Time", "Restore", "Data")
RESTORE_TEXT = {"weights": "network + weights", "weights+last": "network + best/last weights",
                "": "settings only"}


class RunsPanel(QWidget):
    overlayChanged = Signal(object)      # set of run names left off the curves
    settingsRequested = Signal(dict)     # a run's training settings, to apply
    restoreRequested = Signal(str, bool)  # run name, last epoch's weights (not the best)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("runsPanel")
        self.rows: list[dict] = []
        self.hidden: set[str] = set()
        self.table = QTableWidget(0, len(FIXED), self)
        self.table.setObjectName("runTable")
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.empty = QLabel("No runs yet: press Train, and each run is listed here.")
        self.empty.setAlignment(Qt.AlignCenter)
        self.empty.setWordWrap(True)
        self.use_button = QPushButton("Use this run's settings")
        self.use_button.setObjectName("useRunSettings")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self._use_settings)
        self.restore_button = QPushButton("Restore this run")
        self.restore_button.setObjectName("restoreRun")
        self.restore_button.setToolTip("Put the selected run's network, trained weights and "
                                       "settings back (one undo step).")
        self.restore_button.setEnabled(False)
        self.restore_button.clicked.connect(self._restore)
        self.last_box = QCheckBox("last epoch's weights (not the best)")
        self.last_box.setObjectName("restoreLastEpoch")
        self.last_box.setToolTip("Early stopping kept this run's best epoch; restore the "
                                 "weights of its last epoch instead.")
        self.last_box.setEnabled(False)
        # Two short rows, not one long one: the bottom docks share their width with the
        # Summary dock, whose table a wide button row would squeeze.
        bar = QHBoxLayout()
        bar.addStretch(1)
        bar.addWidget(self.restore_button)
        bar.addWidget(self.use_button)
        below = QHBoxLayout()
        below.addStretch(1)
        below.addWidget(self.last_box)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.empty)
        lay.addWidget(self.table, 1)
        lay.addLayout(bar)
        lay.addLayout(below)
        self._loading = False
        self.set_history([])

    def set_history(self, history, restorable=None) -> None:
        self.rows = run_rows(history, restorable)
        names = {r["name"] for r in self.rows}
        self.hidden &= names
        metrics: list[str] = []
        for r in self.rows:
            metrics += [k for k in r["final"] if k not in metrics]
        headers = [*FIXED, *(f"{k} final (best)" for k in metrics), "Test accuracy"]
        self._loading = True
        try:
            self.table.clearContents()
            self.table.setColumnCount(len(headers))
            self.table.setHorizontalHeaderLabels(headers)
            self.table.setRowCount(len(self.rows))
            for i, r in enumerate(self.rows):
                tick = QTableWidgetItem()
                tick.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                tick.setCheckState(Qt.Unchecked if r["name"] in self.hidden else Qt.Checked)
                tick.setToolTip("Overlay this run on the curves")
                self.table.setItem(i, 0, tick)
                secs = r["seconds"]
                cells = [r["name"], r["changed"] or "—", str(r["epochs"]),
                         "—" if secs is None else f"{float(secs):.1f} s",
                         RESTORE_TEXT.get(r["restore"], "settings only"),
                         r["dataset"] or "—"]  # what it trained on (not a setting)
                for k in metrics:
                    cells.append(f"{r['final'][k]:.4g} ({r['best'][k]:.4g})"
                                 if k in r["final"] else "—")
                acc = r["test_accuracy"]
                cells.append("—" if acc is None else f"{100 * float(acc):.2f}%")
                for j, text in enumerate(cells, start=1):
                    self.table.setItem(i, j, QTableWidgetItem(text))
            # Every column as wide as its text (a stretched column was squeezed to
            # "learning_rat…" beside the metrics); the table scrolls sideways instead.
            head = self.table.horizontalHeader()
            head.setSectionResizeMode(QHeaderView.ResizeToContents)
            head.setStretchLastSection(True)
        finally:
            self._loading = False
        self.empty.setVisible(not self.rows)
        self.table.setVisible(bool(self.rows))
        self._selection_changed()

    def _item_changed(self, item) -> None:
        if self._loading or item.column() != 0:
            return
        name = self.rows[item.row()]["name"]
        if item.checkState() == Qt.Checked:
            self.hidden.discard(name)
        else:
            self.hidden.add(name)
        self.overlayChanged.emit(set(self.hidden))

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return rows[0].row() if rows else None

    def _selection_changed(self) -> None:
        i = self.selected_row()
        self.use_button.setEnabled(i is not None and bool(self.rows[i]["settings"]))
        kept = self.rows[i]["restore"] if i is not None else ""
        self.restore_button.setEnabled(bool(kept))
        self.last_box.setEnabled(kept == "weights+last")
        if kept != "weights+last":
            self.last_box.setChecked(False)

    def _use_settings(self) -> None:
        i = self.selected_row()
        if i is not None:
            self.settingsRequested.emit(dict(self.rows[i]["settings"]))

    def _restore(self) -> None:
        i = self.selected_row()
        if i is not None and self.rows[i]["restore"]:
            self.restoreRequested.emit(self.rows[i]["name"], self.last_box.isChecked())
