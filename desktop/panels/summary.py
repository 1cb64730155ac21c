"""The model summary panel: exactly what ``model.summary()`` prints.

It builds the model from the document (``doc.build_model()``) and captures the
engine's own summary through ``print_fn``, so rows and totals are the same as
in a terminal. Rebuilding is coalesced and only done while the panel is shown.

>>> # panel = SummaryPanel(); panel.set_document(doc); panel.text()
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

MIN_LINE = 60  # narrower, Keras cuts even the header "Param #" to "Pa…"


def summary_text(doc, line_length=None) -> str:
    """The engine's ``model.summary(line_length=...)`` text for ``doc``, or why it cannot
    be built. ``line_length`` None: Keras' own default width."""
    if not doc.nodes:
        return "The canvas is empty: drag an InputLayer and some layers from the palette."
    try:
        model = doc.build_model()
    except Exception as exc:  # noqa: BLE001 - any refusal is shown as text
        return f"The model cannot be built yet:\n{exc}"
    lines: list[str] = []
    model.summary(line_length=line_length,
                  print_fn=lambda line, *a, **k: lines.append(str(line)))
    return "\n".join(lines)


class SummaryPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("summary")
        self.doc = None
        self.view = QPlainTextEdit(self)
        self.view.setObjectName("summaryText")
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.NoWrap)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.Monospace)
        font.setPointSizeF(9.0)
        self.view.setFont(font)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view)
        self._stale = True
        self._timer = QTimer(self, singleShot=True, interval=250, timeout=self.refresh)
        self._line_length = None

    def line_length(self) -> int:
        """Characters that fit the view's width: the table is laid out for the dock (as
        Keras lays it out for a terminal), so every column shows, not just the first."""
        fm = self.view.fontMetrics()
        usable = self.view.viewport().width() - 2 * self.view.document().documentMargin()
        return max(MIN_LINE, int(usable // max(1, fm.horizontalAdvance("M"))) - 1)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self.doc is not None and self.line_length() != self._line_length:
            self._stale = True
            self._schedule()

    def set_document(self, doc) -> None:
        if self.doc is not None:
            self.doc.unsubscribe(self._on_event)
        self.doc = doc
        if doc is not None:
            doc.subscribe(self._on_event)
        self._stale = True
        self._schedule()

    def _on_event(self, event) -> None:
        if event.kind in ("nodes_moved", "training", "meta"):
            return
        self._stale = True
        self._schedule()

    def _schedule(self) -> None:
        if self.isVisible():
            self._timer.start()

    def showEvent(self, event):
        super().showEvent(event)
        if self._stale:
            self._timer.start()

    def refresh(self) -> None:
        self._timer.stop()
        self._stale = False
        self._line_length = self.line_length()
        text = summary_text(self.doc, self._line_length) if self.doc is not None else ""
        # The table must not wrap (its lines are laid out to fit); a sentence must, or the
        # empty-canvas and "cannot be built" messages are cut at the dock's edge.
        table = text.startswith("Model:")
        self.view.setLineWrapMode(QPlainTextEdit.NoWrap if table else
                                  QPlainTextEdit.WidgetWidth)
        self.view.setPlainText(text)

    def text(self) -> str:
        return self.view.toPlainText()
