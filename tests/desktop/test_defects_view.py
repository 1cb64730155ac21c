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
