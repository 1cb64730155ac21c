"""Port circles on a node: one input port on top, one output port at the bottom.

A port knows only its node id and direction; dragging from it is handled by
the scene (``EditorScene.start_wire``) so the wiring rules live in one place.

>>> # PortItem(node_item, "out") sits at the bottom centre of its node
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem

from desktop.editor import theme

RADIUS = 6.0


class PortItem(QGraphicsEllipseItem):
    """``direction`` is "in" or "out"; parent is the ``NodeItem``."""

    def __init__(self, node_item, direction: str):
        super().__init__(QRectF(-RADIUS, -RADIUS, 2 * RADIUS, 2 * RADIUS), node_item)
        self.node_item = node_item
        self.direction = direction
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CrossCursor)
        self.setZValue(2)
        self._set_look(False)
        self.setToolTip("Drag to an input port to connect" if direction == "out"
                        else "Input: drop a wire from an output port here")

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def _set_look(self, hot: bool) -> None:
        colour = QColor(theme.PORT_HOT if hot else theme.PORT)
        self.setBrush(QBrush(colour))
        self.setPen(QPen(QColor(theme.NODE_BG), 2))

    def hoverEnterEvent(self, event):
        self._set_look(True)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event):
        self._set_look(False)
        super().hoverLeaveEvent(event)

    def mousePressEvent(self, event):
        if event.button() == Qt.LeftButton:
            self.scene().start_wire(self, event.scenePos())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        self.scene().drag_wire(event.scenePos())

    def mouseReleaseEvent(self, event):
        self.scene().finish_wire(event.scenePos())
