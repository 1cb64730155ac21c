"""The problems list: every ``doc.problems()`` entry with its one-click fixes.

Clicking a message selects the node on the canvas; a fix button runs the fix
as one undo command (``ApplyFixCommand``). The list refreshes shortly after
each document change (coalesced, so a burst of edits costs one refresh).

>>> # panel = ProblemsPanel(push=window.push_edit); panel.set_document(doc)
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.editor.commands import ApplyFixCommand


class ProblemsPanel(QWidget):
    nodeActivated = Signal(str)
    countChanged = Signal(int)
    warningsChanged = Signal(dict)  # node id -> its warning texts (the canvas marks them)

    def __init__(self, push, parent=None):
        super().__init__(parent)
        self.setObjectName("problems")
        self.push = push
        self.doc = None
        self.problems = []
        self.fix_buttons: list[QPushButton] = []
        self.list = QListWidget(self)
        self.list.setObjectName("problemsList")
        self.list.setSelectionMode(QListWidget.SingleSelection)
        self.list.itemClicked.connect(self._clicked)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.empty = QLabel("No problems — the network can be built.")
        self.empty.setObjectName("problemsEmpty")
        self.empty.setAlignment(Qt.AlignCenter)
        self.empty.setWordWrap(True)  # keep the dock narrow-able beside other panels
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.empty)
        lay.addWidget(self.list)
        self._timer = QTimer(self, singleShot=True, interval=40, timeout=self.refresh)
        self._refit_timer = QTimer(self, singleShot=True, interval=0, timeout=self._refit_rows)

    def set_document(self, doc) -> None:
        if self.doc is not None:
            self.doc.unsubscribe(self._on_event)
        self.doc = doc
        if doc is not None:
            doc.subscribe(self._on_event)
        self.refresh()

    def _on_event(self, event) -> None:
        if event.kind != "nodes_moved":
            self._timer.start()

    def refresh(self) -> None:
        self._timer.stop()
        self.list.clear()
        self.fix_buttons = []
        self.problems = list(self.doc.problems()) if self.doc is not None else []
        for problem in self.problems:
            self._add_row(problem)
        self.empty.setText("No problems — the network can be built." if self.doc is not None
                           and self.doc.nodes else "The canvas is empty: nothing to check yet.")
        self.empty.setVisible(not self.problems)
        self.list.setVisible(bool(self.problems))
        # Rows were sized while the list may still have been hidden (a viewport a few
        # pixels wide makes every wrapped row hundreds of pixels tall): size them again
        # once the list has its real width.
        self._refit_timer.start()  # owned by the panel: never fires after it is deleted
        self.countChanged.emit(sum(p.severity == "error" for p in self.problems))
        warned: dict = {}
        for p in self.problems:
            if p.severity == "warning" and p.node_id:
                warned.setdefault(p.node_id, []).append(p.message)
        self.warningsChanged.emit(warned)

    def _add_row(self, problem) -> None:
        # Message on top (wrapping), fix buttons under it: the dock is often narrow.
        row = QWidget()
        row.setObjectName("problemRow")
        v = QVBoxLayout(row)
        v.setContentsMargins(6, 4, 6, 4)
        v.setSpacing(4)
        top = QHBoxLayout()
        icon = QLabel("●")
        colour = "#e5534b" if problem.severity == "error" else "#e3b341"
        icon.setStyleSheet(f"color: {colour};")
        icon.setAlignment(Qt.AlignTop)
        top.addWidget(icon)
        where = ""
        if problem.node_id and problem.node_id in self.doc.nodes:
            where = f"<b>{_escape(self.doc.nodes[problem.node_id].name)}</b>: "
        text = QLabel(where + _escape(problem.message))
        text.setWordWrap(True)
        text.setTextFormat(Qt.RichText)
        top.addWidget(text, 1)
        v.addLayout(top)
        if problem.fixes:
            buttons = QHBoxLayout()
            buttons.addSpacing(16)
            for fix in problem.fixes:
                button = QPushButton(fix.label)
                button.setObjectName("fixButton")
                button.setCursor(Qt.PointingHandCursor)
                button.clicked.connect(lambda _=False, f=fix: self.apply_fix(f))
                buttons.addWidget(button)
                self.fix_buttons.append(button)
            buttons.addStretch(1)
            v.addLayout(buttons)
        item = QListWidgetItem()
        item.setData(Qt.UserRole, problem.node_id)
        item.setToolTip(problem.message)
        self.list.addItem(item)
        self.list.setItemWidget(item, row)
        self._fit_row(item, row)

    def _fit_row(self, item, row) -> None:
        width = max(120, self.list.viewport().width())
        h = row.layout().heightForWidth(width) if row.layout().hasHeightForWidth() else -1
        item.setSizeHint(QSize(width, h if h > 0 else row.sizeHint().height()))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._refit_rows()

    def _refit_rows(self) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            self._fit_row(item, self.list.itemWidget(item))

    def apply_fix(self, fix) -> str | None:
        reason = self.push(ApplyFixCommand(self.doc, fix))
        self.refresh()
        return reason

    def _clicked(self, item) -> None:
        node_id = item.data(Qt.UserRole)
        if node_id:
            self.nodeActivated.emit(node_id)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
