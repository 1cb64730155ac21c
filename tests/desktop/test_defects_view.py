"""Defects 9 and 16 (issue 14) as seen on screen: the Summary dock showed only its first
column; node labels vanished at fit-to-window zoom."""


from core.graph.templates import TEMPLATES


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
