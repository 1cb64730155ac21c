"""``EdgeItem``: a wire from a node's output port to another node's input port,
labelled with the tensor shape that flows through it, e.g. ``(None, 26, 26, 32)``.

>>> # EdgeItem(edge) then item.set_ends(p_out, p_in) and item.set_label("(None, 10)")
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QGraphicsSimpleTextItem

from desktop.editor import theme
from desktop.editor.node_item import FULL_DETAIL


def wire_path(a: QPointF, b: QPointF) -> QPainterPath:
    """A vertical S-curve from ``a`` (an output, going down) to ``b`` (an input)."""
    path = QPainterPath(a)
    dy = max(40.0, abs(b.y() - a.y()) * 0.5)
    path.cubicTo(QPointF(a.x(), a.y() + dy), QPointF(b.x(), b.y() - dy), b)
    return path


class ShapeLabel(QGraphicsSimpleTextItem):
    """Small monospace text with a dark pill behind it so it reads over the grid."""

    def __init__(self, parent=None):
        super().__init__(parent)
        font = QFont("DejaVu Sans Mono")
        font.setPixelSize(11)
        self.setFont(font)
        self.setBrush(QBrush(QColor(theme.TEXT_DIM)))
        self.setZValue(3)

    def setText(self, text):
        self.prepareGeometryChange()
        super().setText(text)
        self._rect = None

    def boundingRect(self):
        # Cached: the view asks for it many times per repaint of a big graph.
        rect = getattr(self, "_rect", None)
        if rect is None:
            rect = self._rect = super().boundingRect().adjusted(-4, -2, 4, 2)
        return rect

    def paint(self, painter, option, widget=None):
        if option.levelOfDetailFromTransform(painter.worldTransform()) < FULL_DETAIL:
            # 11 px text under ~9 px on screen does not read, and the zoomed-out cards
            # show each layer's output shape themselves; skipping keeps big graphs fluid
            return
        painter.setRenderHint(painter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(theme.LABEL_BG))
        painter.drawRoundedRect(self.boundingRect(), 4, 4)
        super().paint(painter, option, widget)


class EdgeItem(QGraphicsPathItem):
    """Selectable wire; the scene sets its ends and label from the document."""

    def __init__(self, edge):
        super().__init__()
        self.edge = edge
        self.setFlag(QGraphicsItem.ItemIsSelectable, True)
        self.setZValue(0)
        self.setPen(QPen(QColor(theme.WIRE), 2.0))
        self.label = ShapeLabel(self)
        self._shape_text = ""
        self.mask_text = None  # the core's sentence about a Keras mask on this wire

    @property
    def key(self):
        return (self.edge.src, self.edge.dst, self.edge.dst_port)

    def set_ends(self, a: QPointF, b: QPointF) -> None:
        path = wire_path(a, b)
        self.prepareGeometryChange()
        self.setPath(path)
        self._rect = super().boundingRect().adjusted(-6, -6, 6, 6)
        mid = path.pointAtPercent(0.5)
        r = self.label.boundingRect()
        self.label.setPos(mid.x() + 8, mid.y() - r.height() / 2)

    def set_label(self, text: str) -> None:
        if text != self._shape_text:
            self._shape_text = text
            self._show_label()

    def _show_label(self) -> None:
        self.label.setText(self._shape_text + ("  ◐ mask" if self.mask_text else ""))
        tip = f"{self.edge.src} → {self.edge.dst}: {self._shape_text}"
        self.setToolTip(tip + (f"\n{self.mask_text}" if self.mask_text else ""))

    def set_mask(self, doc, src: str, dst: str) -> None:
        """Mark the wire (dashed, amber, a "mask" badge on its label) when the core's
        inference says a Keras mask rides on it (``core.graph.validate.wire_mask``)."""
        from core.graph.validate import wire_mask
        try:
            text = wire_mask(doc, src, dst)
        except (AttributeError, KeyError, ValueError):  # a document without masks
            text = None
        if text != self.mask_text:
            self.mask_text = text
            self._show_label()
            self.update()

    def shape(self):
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        return stroker.createStroke(self.path())

    def boundingRect(self) -> QRectF:
        rect = getattr(self, "_rect", None)
        return rect if rect is not None else super().boundingRect().adjusted(-6, -6, 6, 6)

    def paint(self, painter, option, widget=None):
        painter.setRenderHint(painter.RenderHint.Antialiasing, True)
        colour = theme.WIRE_SELECTED if self.isSelected() else \
            theme.WIRE_MASK if self.mask_text else theme.WIRE
        pen = QPen(QColor(colour), 2.5 if self.isSelected() else 2.0)
        if self.mask_text:
            pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self.path())
