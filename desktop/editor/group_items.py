"""Canvas items for nested models (``core.graph.groups``): a collapsed group is one
card (``GroupItem``) standing for all its layers; an open group is a titled frame
(``GroupFrame``) drawn behind its layers. Double-click the card to open the group,
double-click the frame's title bar to close it. Opening and closing is view state
only: the document (and undo) never sees it.

>>> # item = GroupItem("encoder"); item.update_group(doc)   (the scene does this)
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from desktop.editor import theme
from desktop.editor.node_item import NodeItem, format_count, format_shape

GROUP_PREFIX = "group:"
FRAME_PAD = 18.0
FRAME_TITLE = 24.0


def group_key(name: str) -> str:
    """The scene key of a group's card (node ids never contain ':')."""
    return GROUP_PREFIX + name


class GroupItem(NodeItem):
    """A collapsed nested model: its name, class, layer count, output shape and
    parameter total (the sum over its layers, as Keras' summary row)."""

    def __init__(self, name: str):
        super().__init__(group_key(name), "Model", has_input=True)
        self.group_name = name
        self.setFlag(QGraphicsItem.ItemIsMovable, False)  # its layers keep their places

    def update_group(self, doc) -> None:
        from core.graph.groups import boundary, members
        inside = members(doc, self.group_name)
        info = doc.groups.get(self.group_name, {})
        _, outputs = boundary(doc, self.group_name)
        counts = [doc.state(n).param_count for n in inside]
        errors = [doc.state(n).error for n in inside if doc.state(n).error]
        self.title = self.group_name
        self.type_name = f"{info.get('class_name', 'Model')} ▸ {len(inside)}"
        shapes = [format_shape(doc.state(o).output_shape) for o in outputs]
        self.shape_text = ", ".join(shapes)
        self.count_text = format_count(None if None in counts else sum(counts))
        self.error = errors[0] if errors else None
        self.setToolTip(f"{self.group_name} ({info.get('class_name', 'Model')}, "
                        f"{len(inside)} layers)\noutput {self.shape_text}\n{self.count_text}"
                        "\nDouble-click to open the group and edit its layers.")
        self.update()

    def paint(self, painter, option, widget=None):
        # A second card edge behind the first says "several layers in here".
        painter.setRenderHint(painter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(theme.NODE_BORDER), 1.0))
        painter.setBrush(QBrush(QColor(theme.NODE_BG)))
        painter.drawRoundedRect(QRectF(4, -4, theme.NODE_WIDTH, theme.NODE_HEIGHT), 6, 6)
        super().paint(painter, option, widget)

    def boundingRect(self) -> QRectF:
        return QRectF(-3, -7, theme.NODE_WIDTH + 10, theme.NODE_HEIGHT + 10)

    def mouseDoubleClickEvent(self, event):
        scene = self.scene()
        if scene is not None:
            scene.set_group_open(self.group_name, True)
        event.accept()


class GroupFrame(QGraphicsRectItem):
    """An open nested model: a frame around its layers with a title bar."""

    def __init__(self, name: str):
        super().__init__()
        self.group_name = name
        self.setZValue(-1)
        self.setPen(QPen(QColor(theme.NODE_BORDER), 1.5, Qt.DashLine))
        self.setBrush(QBrush(QColor(255, 255, 255, 12)))
        self.title = ""
        self.setToolTip("Double-click the title bar to close the group.")

    def fit(self, rect: QRectF, title: str) -> None:
        self.title = title
        self.setRect(rect.adjusted(-FRAME_PAD, -FRAME_PAD - FRAME_TITLE, FRAME_PAD, FRAME_PAD))

    def paint(self, painter, option, widget=None):
        super().paint(painter, option, widget)
        r = self.rect()
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(theme.group_colour("Model")))
        painter.drawRect(QRectF(r.x(), r.y(), r.width(), FRAME_TITLE))
        font = QFont(painter.font())
        font.setPixelSize(12)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(theme.TEXT))
        painter.drawText(QRectF(r.x() + 8, r.y(), r.width() - 16, FRAME_TITLE),
                         Qt.AlignLeft | Qt.AlignVCenter, "▾ " + self.title)

    def mouseDoubleClickEvent(self, event):
        r = self.rect()
        if event.pos().y() <= r.y() + FRAME_TITLE and self.scene() is not None:
            self.scene().set_group_open(self.group_name, False)
        event.accept()


def _shown(open_groups, groups_of: list[str]) -> bool:
    return all(g in open_groups for g in groups_of)


def representative(scene, node_id: str):
    """The item that stands for ``node_id``: its card, or its outermost closed group's."""
    from core.graph.groups import chain
    if node_id not in scene.doc.nodes:
        return scene.node_items.get(node_id)
    for g in reversed(chain(scene.doc, node_id)):  # outermost first
        if g not in scene.open_groups:
            return scene.group_items.get(g)
    return scene.node_items.get(node_id)


def sync_groups(scene) -> None:
    """Make the group cards, frames and hidden layer cards match ``doc.groups`` and the
    scene's open groups, then re-place every wire."""
    from core.graph.groups import chain, live_groups, members
    doc = scene.doc
    live = live_groups(doc) if doc is not None and doc.groups else []
    parents = {g: chain_of_group(doc, g) for g in live}
    closed = [g for g in live if g not in scene.open_groups
              and _shown(scene.open_groups, parents[g])]
    frames = [g for g in live if g in scene.open_groups
              and _shown(scene.open_groups, parents[g])]
    for store, want in ((scene.group_items, closed), (scene.group_frames, frames)):
        for g in [g for g in store if g not in want]:
            scene.removeItem(store.pop(g))
    for node_id, item in scene.node_items.items():
        item.setVisible(_shown(scene.open_groups, chain(doc, node_id)) if live else True)
    for g in closed:
        item = scene.group_items.get(g)
        if item is None:
            item = scene.group_items[g] = GroupItem(g)
            scene.addItem(item)
        inside = members(doc, g)
        item.setPos(min(doc.nodes[n].pos[0] for n in inside),
                    min(doc.nodes[n].pos[1] for n in inside))
        item.update_group(doc)
    for g in sorted(frames, key=lambda g: -len(parents[g])):  # inner frames first
        frame = scene.group_frames.get(g)
        if frame is None:
            frame = scene.group_frames[g] = GroupFrame(g)
            scene.addItem(frame)
        rect = QRectF()
        for n in members(doc, g):
            shown = representative(scene, n)
            if shown is not None and shown.isVisible():
                r = shown.sceneBoundingRect()
                inner = getattr(shown, "group_name", None)
                if inner in scene.group_frames:
                    r = scene.group_frames[inner].rect()
                rect = rect.united(r)
        frame.setZValue(-1 - len(parents[g]))
        frame.fit(rect, f"{g} ({doc.groups[g].get('class_name')})")
    for edge in scene.edge_items.values():
        scene._place_edge(edge)


def chain_of_group(doc, g: str) -> list[str]:
    """The groups around group ``g``, innermost first."""
    out, p = [], doc.groups.get(g, {}).get("parent", "")
    while p and p not in out and p in doc.groups:
        out.append(p)
        p = doc.groups[p].get("parent", "")
    return out
