"""Shared pieces for the training UI tests: a small CNN document and a host window.

``HostWindow`` offers exactly what ``install_training_ui`` relies on from the real
main window (``document``, ``documentReplaced``, ``undo_stack``, ``add_panel``,
``statusBar``, a File menu), so the training widgets can be tested on their own;
``main_window_or_host`` uses the editor's real ``MainWindow`` when it exists.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QDockWidget, QMainWindow

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "resources" / "examples" / "mnist_cnn.nwproj"


def make_cnn_doc(filters: int = 4, units: int = 10):
    """Input(28,28,1) -> Conv2D(filters, 3, relu) -> Flatten -> Dense(units, softmax)."""
    from core.graph import GraphDocument

    d = GraphDocument()
    a = d.add_node("InputLayer", {"shape": [28, 28, 1]})
    b = d.add_node("Conv2D", {"filters": filters, "kernel_size": [3, 3], "strides": [2, 2],
                              "activation": "relu"})
    c = d.add_node("Flatten")
    e = d.add_node("Dense", {"units": units, "activation": "softmax"})
    d.connect(a, b)
    d.connect(b, c)
    d.connect(c, e)
    return d


def template_doc():
    """The editor's MNIST CNN template when it is in the tree, else ``make_cnn_doc``."""
    if TEMPLATE.is_file():
        from core.graph.project_file import load_project

        doc, _ = load_project(TEMPLATE)
        return doc
    return make_cnn_doc()


class HostWindow(QMainWindow):
    documentReplaced = Signal(object)

    def __init__(self, doc):
        super().__init__()
        self.document = doc
        self.undo_stack = QUndoStack(self)
        self.view_menu = self.menuBar().addMenu("&View")
        self.menuBar().addMenu("&File")
        self.resize(1400, 900)

    def add_panel(self, widget, title, area=Qt.RightDockWidgetArea):
        dock = QDockWidget(title, self)
        dock.setObjectName(widget.objectName() + "Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.view_menu.addAction(dock.toggleViewAction())
        return dock

    def set_document(self, doc):
        self.document = doc
        self.undo_stack.clear()
        self.documentReplaced.emit(doc)


def make_host(qtbot, doc=None):
    from desktop.training.dock import install_training_ui

    win = HostWindow(doc if doc is not None else make_cnn_doc())
    install_training_ui(win)
    qtbot.addWidget(win)
    return win


def wait_data(qtbot, ui, timeout=20000):
    """Wait until the data panel has accepted a data set."""
    qtbot.waitUntil(lambda: ui.data_panel.dataset is not None, timeout=timeout)


@pytest.fixture
def host(qtbot):
    win = make_host(qtbot)
    yield win
    win.training_ui.shutdown()
