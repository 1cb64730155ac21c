"""``NodeItem``: the picture of one document node (it holds no truth).

It shows the layer name, its type, the inferred output shape and the
parameter count, all copied from ``doc.nodes[id]`` / ``doc.state(id)`` by the
scene through ``update_from``; a node with an error is drawn red and carries
the error as its tooltip.

>>> # item = NodeItem("n1", "Convolution"); item.update_from(doc)
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject

from core.graph.calls import describe_call, share_set
from desktop.editor import theme
from desktop.editor.port_item import PortItem


def format_shape(shape) -> str:
    """Keras' way of printing a shape: ``(None, 26, 26, 32)``; lists joined."""
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(format_shape(s) for s in shape)
    return str(tuple(shape))


MIN_LABEL_PX = 10.0  # smallest text height on screen that still reads (defect 9, issue 14)
FULL_DETAIL = 0.8    # below this zoom the 11-13 px texts would be under ~9 px on screen


def compact_lines(lod: float) -> list[tuple[str, float]]:
    """Which texts a card shows when zoomed out, and their font size in scene pixels.

    Each size is at least ``MIN_LABEL_PX`` on screen; a line that no longer fits the
    card's height at that size is left out (the name goes last).

    >>> [k for k, _ in compact_lines(0.5)], [k for k, _ in compact_lines(0.1)]
    (['name', 'shape'], ['name'])
    """
    name = max(13.0, MIN_LABEL_PX / lod)
    shape = max(12.0, 0.9 * MIN_LABEL_PX / lod)
    if name + shape + 10 <= theme.NODE_HEIGHT:
        return [("name", name), ("shape", shape)]
    return [("name", min(name, theme.NODE_HEIGHT - 8))]


def format_count(n) -> str:
    return "—" if n is None else f"{int(n):,} params"


class NodeItem(QGraphicsObject):
    """A movable, selectable card with an input port on top and an output port below."""

    def __init__(self, node_id: str, group: str, has_input: bool = True):
        super().__init__()
        self.node_id = node_id
        self.group = group
        self.title = node_id
        self.type_name = ""
        self.shape_text = ""
        self.count_text = ""
        self.shared_with = ""  # name of the card owning this shared layer's weights
        self.call_text = ""  # the recorded call arguments, in words
        self.error = None
        self.warnings: tuple = ()  # Problems-panel warnings on this node (amber border)
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.in_port = PortItem(self, "in") if has_input else None
        if self.in_port is not None:
            self.in_port.setPos(theme.NODE_WIDTH / 2, 0)
        self.out_port = PortItem(self, "out")
        self.out_port.setPos(theme.NODE_WIDTH / 2, theme.NODE_HEIGHT)

    # ------------------------------------------------------------- mirroring
    def update_from(self, doc, state_cache=None) -> None:
        """Copy what to draw from the document (called by the scene only)."""
        node = doc.nodes[self.node_id]
        state = doc.state(self.node_id) if state_cache is None else state_cache
        self.title = str(getattr(node, "name", None) or node.config.get("name") or self.node_id)
        self.type_name = node.type
        self.shape_text = format_shape(getattr(state, "output_shape", None))
        self.count_text = format_count(getattr(state, "param_count", None))
        self.error = getattr(state, "error", None)
        # A shared layer (core.graph.calls): each call is a card; the later ones name
        # the card that owns the weights, and the owner says how many calls there are.
        self.shared_with = ""
        calls = share_set(doc, self.node_id)
        if calls[0] != self.node_id:
            self.shared_with = doc.nodes[calls[0]].name
            self.count_text = f"shares weights of {self.shared_with}"
        elif len(calls) > 1:
            self.count_text += f" · shared, {len(calls)} calls"
        self.call_text = describe_call(node.call)
        self._set_tooltip()
        self.update()

    def set_warnings(self, messages) -> None:
        """Warnings the Problems panel shows for this node: an amber border and tooltip."""
        messages = tuple(messages)
        if messages != self.warnings:
            self.warnings = messages
            self._set_tooltip()
            self.update()

    def _set_tooltip(self) -> None:
        text = self.error or (f"{self.title} ({self.type_name})\n"
                              f"output {self.shape_text}\n{self.count_text}")
        if self.call_text and not self.error:
            text += f"\n{self.call_text}"
        if self.warnings and not self.error:
            text += "".join("\n⚠ " + m for m in self.warnings)
        self.setToolTip(text)

    def in_anchor(self, index: int = 0, count: int = 1) -> QPointF:
        """Scene point where the ``index``-th of ``count`` incoming wires ends."""
        x = theme.NODE_WIDTH * (index + 1) / (count + 1) if count > 1 else theme.NODE_WIDTH / 2
        return self.mapToScene(QPointF(x, 0))

    def out_anchor(self) -> QPointF:
        return self.mapToScene(QPointF(theme.NODE_WIDTH / 2, theme.NODE_HEIGHT))

    # --------------------------------------------------------------- drawing
    def boundingRect(self) -> QRectF:
        return QRectF(-3, -3, theme.NODE_WIDTH + 6, theme.NODE_HEIGHT + 6)

    def shape(self):
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, theme.NODE_WIDTH, theme.NODE_HEIGHT), 6, 6)
        return path

    def paint(self, painter, option, widget=None):
        w, h = theme.NODE_WIDTH, theme.NODE_HEIGHT
        rect = QRectF(0, 0, w, h)
        painter.setRenderHint(painter.RenderHint.Antialiasing, True)
        border = QColor(theme.NODE_ERROR if self.error else
                        theme.NODE_SELECTED if self.isSelected() else
                        theme.NODE_WARNING if self.warnings else theme.NODE_BORDER)
        strong = self.error or self.isSelected() or self.warnings
        pen = QPen(border, 2.0 if strong else 1.0)
        if self.shared_with:
            pen.setStyle(Qt.DashLine)  # a later call of a layer shown elsewhere
        painter.setPen(pen)
        painter.setBrush(QBrush(QColor("#3a2326" if self.error else theme.NODE_BG)))
        painter.drawRoundedRect(rect, 6, 6)
        # Coloured strip on the left tells the palette group at a glance.
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(theme.group_colour(self.group)))
        painter.drawRoundedRect(QRectF(0, 0, theme.HEADER, h), 3, 3)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < FULL_DETAIL:  # zoomed out: fewer, larger texts that stay readable
            self._paint_compact(painter, lod)
            return
        x0 = theme.HEADER + 10
        inner = w - x0 - 10
        small = QFont(painter.font())
        small.setPixelSize(11)
        painter.setFont(small)
        type_w = min(painter.fontMetrics().horizontalAdvance(self.type_name) + 8, inner / 2)
        painter.setPen(QColor(theme.TEXT_DIM))
        painter.drawText(QRectF(w - 10 - type_w, 8, type_w, 20), Qt.AlignRight | Qt.AlignVCenter,
                         _elide(painter, self.type_name, type_w))
        bold = QFont(painter.font())
        bold.setPixelSize(13)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(QColor(theme.TEXT))
        painter.drawText(QRectF(x0, 8, inner - type_w, 20), Qt.AlignLeft | Qt.AlignVCenter,
                         _elide(painter, self.title, inner - type_w - 4))
        mono = QFont("DejaVu Sans Mono")
        mono.setPixelSize(12)
        painter.setFont(mono)
        painter.setPen(QColor(theme.NODE_ERROR if self.error else theme.TEXT))
        painter.drawText(QRectF(x0, 32, inner, 18), Qt.AlignLeft | Qt.AlignVCenter,
                         _elide(painter, "⚠ " + self.error if self.error else self.shape_text,
                                inner))
        painter.setFont(small)
        painter.setPen(QColor(theme.TEXT_DIM))
        painter.drawText(QRectF(x0, 53, inner, 16), Qt.AlignLeft | Qt.AlignVCenter,
                         self.count_text)

    def _paint_compact(self, painter, lod: float) -> None:
        lines = compact_lines(lod)
        x0, w = theme.HEADER + 8, theme.NODE_WIDTH - theme.HEADER - 14
        total = sum(size for _, size in lines) + 4 * (len(lines) - 1)
        y = (theme.NODE_HEIGHT - total) / 2
        for kind, size in lines:
            font = QFont("DejaVu Sans Mono") if kind == "shape" else QFont(painter.font())
            font.setPixelSize(int(round(size)))
            font.setBold(kind == "name")
            painter.setFont(font)
            if kind == "name":
                painter.setPen(QColor(theme.TEXT))
                text = self.title
            else:
                painter.setPen(QColor(theme.NODE_ERROR if self.error else theme.TEXT_DIM))
                text = "⚠" if self.error else self.shape_text
            painter.drawText(QRectF(x0, y, w, size + 2), Qt.AlignLeft | Qt.AlignVCenter,
                             _elide(painter, text, w))
            y += size + 4

    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemPositionHasChanged and self.scene() is not None:
            self.scene().node_item_moved(self)
        return super().itemChange(change, value)


def _elide(painter, text: str, width: float) -> str:
    return painter.fontMetrics().elidedText(text, Qt.ElideRight, int(max(width, 10)))
