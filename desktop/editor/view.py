"""``EditorView``: the canvas widget — grid, zoom, pan, rubber band, drops.

Wheel zooms around the cursor; middle-drag or Space+left-drag pans; a left
drag on empty canvas draws a rubber band. Dropping a palette entry emits
``layerDropped(type, scene_point)``; dropping a ``.nwproj`` (or Keras model) file emits
``fileDropped(path)``.

>>> # view = EditorView(scene); view.layerDropped.connect(window.add_layer_at)
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsView

from desktop.editor import theme
from desktop.editor.palette import LAYER_MIME

GRID = 20.0
MIN_ZOOM, MAX_ZOOM = 0.15, 3.0
EMPTY_HINT = ("Drag layers here from the Layers palette, starting with an InputLayer, "
              "or open File > New from Template.")
HINT_MARGIN = 24  # px between the hint and the canvas edges


class EditorView(QGraphicsView):
    layerDropped = Signal(str, QPointF)
    fileDropped = Signal(str)

    def __init__(self, scene, parent=None):
        super().__init__(scene, parent)
        self.setObjectName("canvas")
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setAcceptDrops(True)
        self.setSceneRect(QRectF(-50000, -50000, 100000, 100000))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self._pan_from = None
        self._space = False
        self._was_empty = None
        scene.changed.connect(lambda _rects: self._repaint_if_emptiness_changed())

    def _repaint_if_emptiness_changed(self) -> None:
        empty = not getattr(self.scene(), "node_items", None)
        if empty != self._was_empty:  # the hint appears/disappears outside item regions
            self._was_empty = empty
            self.viewport().update()

    # ----------------------------------------------------------------- zoom
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        f = target / self.zoom()
        if abs(f - 1.0) > 1e-9:
            self.scale(f, f)

    def zoom_in(self):
        self.zoom_by(1.2)

    def zoom_out(self):
        self.zoom_by(1 / 1.2)

    def reset_zoom(self):
        self.zoom_by(1.0 / self.zoom())

    def fit_all(self) -> None:
        items = [i for i in self.scene().items() if i.isVisible() and i.parentItem() is None]
        if not items:
            return
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        rect = rect.adjusted(-60, -60, 60, 60)
        self.fitInView(rect, Qt.KeepAspectRatio)
        if self.zoom() > 1.0:  # small graphs: centre at 100% rather than blow them up
            self.reset_zoom()
            self.centerOn(rect.center())
        elif self.zoom() < MIN_ZOOM:
            self.zoom_by(MIN_ZOOM / self.zoom())

    def wheelEvent(self, event):
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(math.pow(1.15, steps))
        event.accept()

    # ------------------------------------------------------------------ pan
    def keyPressEvent(self, event):
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.NoDrag)
            self.viewport().setCursor(Qt.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event):
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.RubberBandDrag)
            self.viewport().unsetCursor()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event):
        if event.button() == Qt.MiddleButton or (
                self._space and event.button() == Qt.LeftButton):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - int(delta.x()))
            v.setValue(v.value() - int(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self._pan_from is not None and event.button() in (Qt.MiddleButton, Qt.LeftButton):
            self._pan_from = None
            if self._space:
                self.viewport().setCursor(Qt.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # ----------------------------------------------------------------- grid
    def empty_hint_rect(self) -> QRectF | None:
        """Where the empty-canvas hint is drawn (viewport pixels), or None with nodes.

        The text wraps to the canvas width, so it is never cut (defect 16, issue 14)."""
        if getattr(self.scene(), "node_items", None):
            return None
        vp = self.viewport().rect()
        width = max(80, min(520, vp.width() - 2 * HINT_MARGIN))
        fm = self.fontMetrics()
        box = fm.boundingRect(0, 0, width, 10000, Qt.AlignCenter | Qt.TextWordWrap, EMPTY_HINT)
        return QRectF((vp.width() - box.width()) / 2, (vp.height() - box.height()) / 2,
                      box.width(), box.height())

    def drawForeground(self, painter, rect):
        super().drawForeground(painter, rect)
        hint = self.empty_hint_rect()
        if hint is None:
            return
        painter.save()
        painter.resetTransform()  # viewport pixels: the hint ignores zoom and pan
        painter.setFont(self.font())
        painter.setPen(QColor(theme.TEXT_DIM))
        painter.drawText(hint.adjusted(-2, -2, 2, 2), Qt.AlignCenter | Qt.TextWordWrap,
                         EMPTY_HINT)
        painter.restore()

    def drawBackground(self, painter, rect):
        painter.fillRect(rect, QColor(theme.BACKGROUND))
        if self.zoom() < 0.35:
            return  # a grid that dense is noise
        left = math.floor(rect.left() / GRID) * GRID
        top = math.floor(rect.top() / GRID) * GRID
        minor, major = [], []
        x = left
        while x < rect.right():
            line = (QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            (major if round(x / GRID) % 5 == 0 else minor).append(line)
            x += GRID
        y = top
        while y < rect.bottom():
            line = (QPointF(rect.left(), y), QPointF(rect.right(), y))
            (major if round(y / GRID) % 5 == 0 else minor).append(line)
            y += GRID
        for colour, lines in ((theme.GRID_MINOR, minor), (theme.GRID_MAJOR, major)):
            painter.setPen(QPen(QColor(colour), 0))
            for a, b in lines:
                painter.drawLine(a, b)

    # ---------------------------------------------------------------- drops
    def _drop_kind(self, mime) -> str | None:
        if mime.hasFormat(LAYER_MIME):
            return "layer"
        if mime.hasUrls() and any(_openable(u.toLocalFile()) for u in mime.urls()):
            return "file"
        return None

    def dragEnterEvent(self, event):
        if self._drop_kind(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        if self._drop_kind(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        mime = event.mimeData()
        kind = self._drop_kind(mime)
        if kind == "layer":
            name = bytes(mime.data(LAYER_MIME)).decode("utf-8")
            self.layerDropped.emit(name, self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
        elif kind == "file":
            path = next(u.toLocalFile() for u in mime.urls() if _openable(u.toLocalFile()))
            self.fileDropped.emit(path)
            event.acceptProposedAction()
        else:
            event.ignore()


def _openable(path: str) -> bool:
    """A project or a Keras model file (the window opens both)."""
    from core.graph.open_model import is_model_file
    return path.endswith(".nwproj") or is_model_file(path)
