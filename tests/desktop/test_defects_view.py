"""Defects 9 and 16 (issue 14) as seen on screen: the Summary dock showed only its first
column; node labels vanished at fit-to-window zoom."""


from PySide6.QtCore import QPointF

from core.graph.templates import TEMPLATES
from tests.desktop.conftest import drop_layer


def test_summary_dock_lays_the_table_out_for_its_width(window, qtbot):
    doc = TEMPLATES["two_input"]()
    window.set_document(doc)
    window.summary_dock.show()
    window.summary_dock.raise_()
    window.resize(1600, 1000)
    window.arrange_docks()  # as on the first show: Problems/Summary get their share
    qtbot.wait(50)
    assert window.summary.line_length() > 60  # the dock is wide enough to fit the table
    window.summary.refresh()
    view = window.summary.view
    chars = window.summary.line_length()
    lines = window.summary.text().splitlines()
    assert "Param #" in window.summary.text()
    assert max(len(line) for line in lines) <= chars  # every column inside the dock
    advance = view.fontMetrics().horizontalAdvance("M")
    assert chars * advance <= view.viewport().width()
    assert not view.horizontalScrollBar().isVisible() or \
        view.horizontalScrollBar().maximum() == 0


def _bright_pixels(image, rect) -> int:
    n = 0
    for x in range(max(0, rect.left()), min(image.width(), rect.right())):
        for y in range(max(0, rect.top()), min(image.height(), rect.bottom())):
            c = image.pixelColor(x, y)
            n += c.red() > 190 and c.green() > 190 and c.blue() > 190
    return n


def _labels_drawn_at_fit_zoom(window, qtbot, template, size):
    window.set_document(TEMPLATES[template]())
    window.resize(*size)
    qtbot.wait(50)
    window.view.fit_all()
    qtbot.wait(50)
    image = window.view.viewport().grab().toImage()
    counts = []
    for item in window.scene.node_items.values():
        rect = window.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
        counts.append(_bright_pixels(image, rect))
    return window.view.zoom(), counts


def test_node_labels_stay_readable_at_fit_to_window_zoom(window, qtbot):
    from desktop.editor.node_item import MIN_LABEL_PX, compact_lines

    for template, size in (("resnet_block", (1600, 1000)), ("mnist_cnn", (1280, 800))):
        zoom, counts = _labels_drawn_at_fit_zoom(window, qtbot, template, size)
        assert zoom < 0.8, template  # zoomed out: the compact cards are what is drawn
        assert all(c > 20 for c in counts), (template, counts)  # every name is painted
        name_px = compact_lines(zoom)[0][1] * zoom
        assert name_px >= MIN_LABEL_PX - 1e-9, template


def test_empty_canvas_hint_is_drawn_whole_at_any_canvas_width(window, qtbot):
    from PySide6.QtWidgets import QPlainTextEdit

    from desktop.editor.view import EMPTY_HINT

    view = window.view
    for width in (1200, 700):
        window.resize(width, 800)
        qtbot.wait(30)
        hint = view.empty_hint_rect()
        assert hint is not None
        assert view.viewport().rect().contains(hint.toAlignedRect())  # nothing cut
        image = view.viewport().grab().toImage()
        assert _bright_pixels(image, hint.toAlignedRect()) == 0  # dim text, drawn:
        dim = sum(image.pixelColor(x, y).red() > 120
                  for x in range(int(hint.left()), int(hint.right()))
                  for y in range(int(hint.top()), int(hint.bottom()), 2))
        assert dim > 50
    assert "InputLayer" in EMPTY_HINT
    summary = window.summary
    summary.refresh()
    assert summary.text().startswith("The canvas is empty")
    assert summary.view.lineWrapMode() == QPlainTextEdit.WidgetWidth  # wraps, not cut
    window.problems.refresh()
    assert window.problems.empty.text().startswith("The canvas is empty")
    assert drop_layer(window, "InputLayer", QPointF(300, 200))
    assert view.empty_hint_rect() is None  # gone once a layer is on the canvas


def test_wire_labels_are_left_out_when_they_would_be_unreadably_small(window, qtbot):
    window.set_document(TEMPLATES["mnist_mlp"]())
    window.resize(1400, 900)
    qtbot.wait(30)
    label = next(iter(window.scene.edge_items.values())).label
    for zoom, drawn in ((1.0, True), (0.6, False)):
        window.view.reset_zoom()
        window.view.zoom_by(zoom)
        window.view.centerOn(label.sceneBoundingRect().center())
        qtbot.wait(30)
        image = window.view.viewport().grab().toImage()
        rect = window.view.mapFromScene(label.sceneBoundingRect()).boundingRect()
        text_px = sum(image.pixelColor(x, y).red() > 70  # any text pixel, antialiased too
                      for x in range(rect.left(), rect.right())
                      for y in range(rect.top(), rect.bottom()))
        assert (text_px > 5) == drawn, (zoom, text_px)
