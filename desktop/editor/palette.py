"""The layer palette, generated from the engine's layer registry only.

Every class in ``core.layers.spec.registered_layers()`` appears under its
``group``; a search box filters by name. Dragging an entry carries the class
name as ``LAYER_MIME``; double-click emits ``layerActivated(name)``.

>>> # palette = Palette(); palette.layer_names()  -> ['Input', 'Dense', 'Conv2D', ...]
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from desktop.editor import theme

LAYER_MIME = "application/x-netweaver-layer"


def layer_registry() -> dict:
    """Name -> class of every registered layer (importing ``core.layers`` registers them)."""
    import core.layers  # noqa: F401  (registration side effect)
    from core.layers.spec import registered_layers

    return registered_layers()


def group_order() -> tuple:
    from core.layers.spec import GROUPS

    return GROUPS


def _dot_icon(colour: str) -> QIcon:
    pm = QPixmap(12, 12)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor(colour))
    p.drawRoundedRect(1, 1, 10, 10, 3, 3)
    p.end()
    return QIcon(pm)


def _tooltip(name: str, cls) -> str:
    doc = (cls.__doc__ or "").strip().splitlines()
    lines = [f"<b>{name}</b>"]
    if doc and doc[0]:
        lines.append(doc[0].strip("`").strip())
    for p in getattr(cls, "params", ()):
        if not p.advanced:
            lines.append(f"&nbsp;&nbsp;{p.name} = {p.default!r}")
    return "<br>".join(lines)


class _LayerTree(QTreeWidget):
    def mimeTypes(self):
        return [LAYER_MIME]

    def mimeData(self, items):
        mime = QMimeData()
        names = [i.data(0, Qt.UserRole) for i in items if i.data(0, Qt.UserRole)]
        if names:
            mime.setData(LAYER_MIME, names[0].encode("utf-8"))
            mime.setText(names[0])
        return mime


class Palette(QWidget):
    layerActivated = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("palette")
        self.search = QLineEdit(self)
        self.search.setObjectName("paletteSearch")
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.tree = _LayerTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragOnly)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(12)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.no_results = QLabel("No layers match this search.", self)
        self.no_results.setObjectName("paletteNoResults")
        self.no_results.setWordWrap(True)
        self.no_results.hide()
        layout.addWidget(self.no_results)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._groups: dict[str, QTreeWidgetItem] = {}
        self._populate()
        self.search.textChanged.connect(self.filter)
        self.tree.itemDoubleClicked.connect(self._activated)

    def _populate(self) -> None:
        registry = layer_registry()
        order = list(group_order())
        by_group: dict[str, list] = {}
        for name, cls in registry.items():
            by_group.setdefault(getattr(cls, "group", "Core"), []).append((name, cls))
        groups = sorted(by_group, key=lambda g: (order.index(g) if g in order else len(order), g))
        for group in groups:
            top = QTreeWidgetItem([group])
            top.setFlags(Qt.ItemIsEnabled)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            self.tree.addTopLevelItem(top)
            self._groups[group] = top
            icon = _dot_icon(theme.group_colour(group))
            for name, cls in sorted(by_group[group], key=lambda t: t[0].lower()):
                item = QTreeWidgetItem(top, [name])
                item.setData(0, Qt.UserRole, name)
                item.setIcon(0, icon)
                item.setToolTip(0, _tooltip(name, cls))
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
                self._items[name] = item
            top.setExpanded(True)

    def refresh(self) -> None:
        """Rebuild from the registry (a project's layer code added classes)."""
        self.tree.clear()
        self._items.clear()
        self._groups.clear()
        self._populate()
        self.filter(self.search.text())

    def layer_names(self) -> list[str]:
        return list(self._items)

    def groups(self) -> dict[str, list[str]]:
        return {g: [top.child(i).text(0) for i in range(top.childCount())]
                for g, top in self._groups.items()}

    def item_for(self, name: str) -> QTreeWidgetItem:
        return self._items[name]

    def visible_names(self) -> list[str]:
        return [n for n, item in self._items.items() if not item.isHidden()]

    def filter(self, text: str) -> None:
        needle = text.strip().lower()
        for group, top in self._groups.items():
            any_shown = False
            for i in range(top.childCount()):
                child = top.child(i)
                show = not needle or needle in child.text(0).lower() or needle in group.lower()
                child.setHidden(not show)
                any_shown |= show
            top.setHidden(not any_shown)
        self.no_results.setVisible(bool(needle) and not self.visible_names())

    def mime_for(self, name: str) -> QMimeData:
        """The MIME data a drag of ``name`` carries (used by tests and drop targets)."""
        return self.tree.mimeData([self._items[name]])

    def _activated(self, item, _column) -> None:
        name = item.data(0, Qt.UserRole)
        if name:
            self.layerActivated.emit(name)
