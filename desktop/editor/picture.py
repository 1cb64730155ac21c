"""The canvas as a picture: PNG (2x pixels, for slides) or SVG (for papers).

Only the network is drawn — nodes, wires, their shape labels — on the canvas colour,
without the grid, the selection highlight or the cursor's wire label; the file is
written atomically (``core.safety_writes.atomic_write``), so a failed export leaves
no half-written picture.

>>> # export_picture(window.scene, "net.svg")
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator

from core.safety_writes import atomic_write
from desktop.editor import theme

FORMATS = {".png": "PNG", ".svg": "SVG"}
MARGIN = 24.0
PNG_SCALE = 2.0


def network_rect(scene) -> QRectF:
    """Bounding rectangle of the nodes and wires (hidden helper items left out)."""
    rect = QRectF()
    for item in list(scene.node_items.values()) + list(scene.edge_items.values()):
        if item.isVisible():
            rect = rect.united(item.sceneBoundingRect())
    return rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)


def export_picture(scene, path) -> str:
    """Write ``scene``'s network to ``path`` (.png or .svg); returns the path written.
    Raises ValueError for another suffix or an empty canvas."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"Cannot export a picture as '{suffix or path}': choose .png or .svg.")
    if not scene.node_items:
        raise ValueError("The canvas is empty: there is no network to export.")
    source = network_rect(scene)
    selected = scene.selectedItems()
    for item in selected:  # the picture shows the network, not the selection
        item.setSelected(False)
    try:
        data = _svg(scene, source) if suffix == ".svg" else _png(scene, source)
    finally:
        for item in selected:
            item.setSelected(True)
    return atomic_write(path, lambda f: f.write(data))


def _png(scene, source: QRectF) -> bytes:
    size = QSize(int(source.width() * PNG_SCALE), int(source.height() * PNG_SCALE))
    image = QImage(size, QImage.Format_ARGB32)
    image.fill(QColor(theme.BACKGROUND))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    painter.setRenderHint(QPainter.TextAntialiasing)
    scene.render(painter, QRectF(0, 0, size.width(), size.height()), source)
    painter.end()
    return _encoded(image)


def _svg(scene, source: QRectF) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.WriteOnly)
    svg = QSvgGenerator()
    svg.setOutputDevice(buffer)
    svg.setSize(source.size().toSize())
    svg.setViewBox(QRectF(0, 0, source.width(), source.height()))
    svg.setTitle("Netweaver network")
    painter = QPainter(svg)
    painter.fillRect(QRectF(0, 0, source.width(), source.height()), QColor(theme.BACKGROUND))
    scene.render(painter, QRectF(0, 0, source.width(), source.height()), source)
    painter.end()
    return bytes(buffer.data())


def _encoded(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ValueError("The picture could not be encoded as PNG.")
    return bytes(data)
