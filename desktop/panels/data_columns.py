"""The data panel's choices for the user's own data: a CSV preview with a column picker,
and the options of image folders, tables, texts and time series.

``OwnDataOptions.show_table(table)`` fills the preview and the pickers from
``core.datasets.table_data.peek_table``; ``fields()`` gives the ``DataSpec`` fields the
user chose and ``show_fields(spec)`` shows a stored spec again. Numeric columns are
ticked as features by default, except the target.

>>> opts = OwnDataOptions(); opts.set_kind("table")                 # doctest: +SKIP
>>> opts.show_table(peek_table("houses.csv")); opts.fields()["target_column"]  # doctest: +SKIP
'price'
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

PREVIEW_ROWS = 6


def _spin(lo, hi, value, tip, name):
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setToolTip(tip)
    box.setObjectName(name)
    box.setKeyboardTracking(False)  # one value per finished edit, not per keystroke
    return box


class OwnDataOptions(QWidget):
    """Column picker + per-kind options (see the module doc)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("ownDataOptions")
        self.kind = "table"
        self.table = None
        self.preview = QTableWidget(0, 0)
        self.preview.setObjectName("csvPreview")
        self.preview.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.preview.setMaximumHeight(150)
        self.preview.verticalHeader().setVisible(False)
        self.features = QListWidget()
        self.features.setObjectName("featureColumns")
        self.features.setMaximumHeight(110)
        self.features.setToolTip("Tick the columns the network reads")
        self.target = QComboBox()
        self.target.setObjectName("targetColumn")
        self.target.setToolTip("The column the network predicts (text or whole numbers: "
                               "classes; fractional numbers: regression)")
        self.text_column = QComboBox()
        self.text_column.setObjectName("textColumn")
        self.task = QComboBox()
        self.task.setObjectName("tableTask")
        for label, value in (("decide from the target", "auto"),
                             ("classification", "classification"),
                             ("regression", "regression")):
            self.task.addItem(label, value)
        self.height_box = _spin(4, 512, 28, "Image height after resizing", "imageHeight")
        self.width_box = _spin(4, 512, 28, "Image width after resizing", "imageWidth")
        self.color = QComboBox()
        self.color.setObjectName("colorMode")
        self.color.addItem("greyscale (1 channel)", "grayscale")
        self.color.addItem("colour (RGB, 3 channels)", "rgb")
        self.window_box = _spin(1, 10000, 24, "Time steps the network sees per sample",
                                "seriesWindow")
        self.horizon_box = _spin(1, 10000, 1, "How many steps after the window's last one "
                                 "the target lies", "seriesHorizon")
        self.tokens_box = _spin(10, 1000000, 20000, "Largest vocabulary (special tokens "
                                "included)", "maxTokens")
        self.length_box = _spin(0, 5000, 0, "Tokens per text (0: the 95th percentile of "
                                "the training texts)", "sequenceLength")
        self.length_box.setSpecialValueText("automatic")
        size_row = QHBoxLayout()
        size_row.addWidget(self.height_box)
        size_row.addWidget(self.width_box)
        size = QWidget()
        size.setLayout(size_row)
        size_row.setContentsMargins(0, 0, 0, 0)
        self.form = QFormLayout()
        self.form.setContentsMargins(0, 0, 0, 0)
        self._rows = {}
        for key, label, widget in (
                ("size", "Image size (h, w)", size), ("color", "Colour", self.color),
                ("text", "Text column", self.text_column), ("target", "Target column",
                                                             self.target),
                ("features", "Feature columns", self.features), ("task", "Task", self.task),
                ("window", "Window length", self.window_box),
                ("horizon", "Horizon", self.horizon_box),
                ("tokens", "Vocabulary size", self.tokens_box),
                ("length", "Sequence length", self.length_box)):
            self.form.addRow(label, widget)
            self._rows[key] = self.form.rowCount() - 1
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.preview)
        lay.addLayout(self.form)
        self.target.currentIndexChanged.connect(lambda _i: self._untick_target())
        self.set_kind("table")

    # ------------------------------------------------------------------ kinds
    def set_kind(self, kind: str) -> None:
        self.kind = kind
        shown = {"image_folder": {"size", "color"},
                 "table": {"target", "features", "task"},
                 "text": {"text", "target", "tokens", "length"},
                 "series": {"target", "features", "window", "horizon"}}.get(kind, set())
        for key, row in self._rows.items():
            self.form.setRowVisible(row, key in shown)
        self.preview.setVisible(kind in ("table", "text", "series") and self.table is not None)
        self.form.labelForField(self.target).setText(
            "Label column" if kind == "text" else "Target column")
        self.form.labelForField(self.features).setText(
            "Other input columns" if kind == "series" else "Feature columns")

    # ------------------------------------------------------------------ table
    def show_table(self, table) -> None:
        """Preview ``table`` and offer its columns (numeric ones ticked as features)."""
        self.table = table
        cols = list(table.columns)
        self.preview.clear()
        rows = table.preview(PREVIEW_ROWS)
        self.preview.setColumnCount(len(cols))
        self.preview.setRowCount(len(rows))
        self.preview.setHorizontalHeaderLabels(
            [f"{c}\n({k})" for c, k in zip(cols, table.kinds)])
        for i, row in enumerate(rows):
            for j, cell in enumerate(row):
                self.preview.setItem(i, j, QTableWidgetItem(cell[:60]))
        self.preview.resizeColumnsToContents()
        numeric = [c for c, k in zip(cols, table.kinds) if k == "number"]
        texts = [c for c, k in zip(cols, table.kinds) if k == "text"]
        for box, choices, default in (
                (self.target, cols, cols[-1]),
                (self.text_column, cols, max(texts or cols, key=lambda c: self._mean_len(c)))):
            box.blockSignals(True)
            box.clear()
            box.addItems(choices)
            box.setCurrentText(default)
            box.blockSignals(False)
        if self.kind == "text":  # labels: the last column with a few distinct values
            labels = [c for c in cols if c != self.text_column.currentText()
                      and 2 <= self._levels(c) <= 50]
            self.target.setCurrentText(labels[-1] if labels else cols[-1])
        if self.kind == "series" and numeric:  # a measured value, not a counter/index
            measured = [c for c in numeric if not self._whole(c)]
            self.target.setCurrentText((measured or numeric)[0])
        self.features.clear()
        for c in cols:
            item = QListWidgetItem(c)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            wanted = c in numeric and c != self.target.currentText() and self.kind != "series"
            item.setCheckState(Qt.Checked if wanted else Qt.Unchecked)
            if c not in numeric:
                item.setToolTip("not numeric: cannot be a feature")
            self.features.addItem(item)
        self._untick_target()
        self.set_kind(self.kind)

    def _mean_len(self, col) -> float:
        j = self.table.columns.index(col)
        rows = self.table.rows[:200]
        return sum(len(r[j]) for r in rows) / max(len(rows), 1)

    def _levels(self, col) -> int:
        j = self.table.columns.index(col)
        return len({r[j] for r in self.table.rows[:500]})

    def _whole(self, col) -> bool:
        j = self.table.columns.index(col)
        cells = [r[j].strip() for r in self.table.rows[:500] if r[j].strip()]
        return all(float(c) == int(float(c)) for c in cells)

    def _untick_target(self) -> None:
        target = self.target.currentText()
        for i in range(self.features.count()):
            item = self.features.item(i)
            if item.text() == target:
                item.setCheckState(Qt.Unchecked)

    def set_features(self, names) -> None:
        for i in range(self.features.count()):
            item = self.features.item(i)
            item.setCheckState(Qt.Checked if item.text() in names else Qt.Unchecked)

    def checked_features(self) -> tuple:
        return tuple(self.features.item(i).text() for i in range(self.features.count())
                     if self.features.item(i).checkState() == Qt.Checked)

    # ------------------------------------------------------------------ spec
    def fields(self) -> dict:
        """The ``DataSpec`` fields chosen here."""
        return {"image_size": (self.height_box.value(), self.width_box.value()),
                "color_mode": self.color.currentData(),
                "feature_columns": self.checked_features(),
                "target_column": self.target.currentText(),
                "text_column": self.text_column.currentText() if self.kind == "text" else "",
                "task": self.task.currentData(), "window": self.window_box.value(),
                "horizon": self.horizon_box.value(), "max_tokens": self.tokens_box.value(),
                "sequence_length": self.length_box.value()}

    def show_fields(self, spec) -> None:
        h, w = (tuple(spec.image_size) + (28, 28))[:2]
        self.height_box.setValue(int(h))
        self.width_box.setValue(int(w))
        self.color.setCurrentIndex(max(0, self.color.findData(spec.color_mode)))
        self.task.setCurrentIndex(max(0, self.task.findData(spec.task)))
        self.window_box.setValue(int(spec.window))
        self.horizon_box.setValue(int(spec.horizon))
        self.tokens_box.setValue(int(spec.max_tokens))
        self.length_box.setValue(int(spec.sequence_length))
        if spec.target_column:
            self.target.setCurrentText(spec.target_column)
        if spec.text_column:
            self.text_column.setCurrentText(spec.text_column)
        if self.table is not None:
            self.set_features(spec.feature_columns)
