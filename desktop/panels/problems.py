"""The problems list: every ``doc.problems()`` entry with its one-click fixes.

Clicking a message selects the node on the canvas; a fix button runs the fix
as one undo command (``ApplyFixCommand``). The list refreshes shortly after
each document change (coalesced, so a burst of edits costs one refresh).

>>> # panel = ProblemsPanel(push=window.push_edit); panel.set_document(doc)
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
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
        self.empty = QLabel("No problems — the network can be built.")
        self.empty.setObjectName("problemsEmpty")
        self.empty.setAlignment(Qt.AlignCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.empty)
        lay.addWidget(self.list)
        self._timer = QTimer(self, singleShot=True, interval=40, timeout=self.refresh)

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
        self.empty.setVisible(not self.problems)
        self.list.setVisible(bool(self.problems))
        self.countChanged.emit(sum(p.severity == "error" for p in self.problems))

    def _add_row(self, problem) -> None:
        row = QWidget()
        row.setObjectName("problemRow")
        h = QHBoxLayout(row)
        h.setContentsMargins(6, 3, 6, 3)
        icon = QLabel("●")
        colour = "#e5534b" if problem.severity == "error" else "#e3b341"
        icon.setStyleSheet(f"color: {colour};")
        h.addWidget(icon)
        where = ""
        if problem.node_id and problem.node_id in self.doc.nodes:
            where = f"<b>{self.doc.nodes[problem.node_id].name}</b>: "
        text = QLabel(where + _escape(problem.message))
        text.setWordWrap(True)
        text.setTextFormat(Qt.RichText)
        h.addWidget(text, 1)
        for fix in problem.fixes:
            button = QPushButton(fix.label)
            button.setObjectName("fixButton")
            button.setCursor(Qt.PointingHandCursor)
            button.clicked.connect(lambda _=False, f=fix: self.apply_fix(f))
            h.addWidget(button)
            self.fix_buttons.append(button)
        item = QListWidgetItem()
        item.setData(Qt.UserRole, problem.node_id)
        item.setToolTip(problem.message)
        item.setSizeHint(row.sizeHint())
        self.list.addItem(item)
        self.list.setItemWidget(item, row)

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
