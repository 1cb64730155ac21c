"""Desktop test fixtures: an offscreen ``MainWindow`` with its own settings file and
state folder, dialogs answered by attributes, plus mouse helpers on the canvas."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QPoint, QPointF, QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402


@pytest.fixture(autouse=True)
def gui_thread_garbage_collection(qapp):
    """As in the app: cycles (dead windows included) are collected on the GUI thread
    only, never by a worker that happens to allocate (see ``desktop.gui_gc``)."""
    from desktop import gui_gc

    gui_gc.install(qapp)
    yield
    gui_gc.uninstall(qapp)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    """A shown main window on an empty document; dialogs never block."""
    monkeypatch.setenv("NETWEAVER_STATE_DIR", str(tmp_path / "state"))
    from desktop.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings)
    win.auto_answer = True
    win.auto_save_answer = "discard"
    win.quiet_errors = True
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    win.view.reset_zoom()
    win.view.centerOn(QPointF(300, 200))
    return win


def view_point(win, scene_point) -> QPoint:
    """Viewport pixel of a scene point."""
    return win.view.mapFromScene(QPointF(scene_point))


def mouse_move(widget, pos: QPoint, buttons=Qt.NoButton):
    """A real QMouseEvent move with the buttons held (``QTest.mouseMove`` moves the
    platform cursor, which the offscreen platform maps to the wrong place)."""
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    local = QPointF(pos)
    event = QMouseEvent(QEvent.MouseMove, local, QPointF(widget.mapToGlobal(pos)),
                        Qt.NoButton, buttons, Qt.NoModifier)
    QApplication.sendEvent(widget, event)


def mouse_drag(win, a_scene, b_scene, button=Qt.LeftButton, steps=6):
    """Press at ``a``, move in steps, release at ``b`` (scene coordinates), like a hand."""
    vp = win.view.viewport()
    a, b = view_point(win, a_scene), view_point(win, b_scene)
    QTest.mousePress(vp, button, Qt.NoModifier, a)
    for k in range(1, steps + 1):
        p = QPoint(a.x() + (b.x() - a.x()) * k // steps, a.y() + (b.y() - a.y()) * k // steps)
        mouse_move(vp, p, button)
    QTest.mouseRelease(vp, button, Qt.NoModifier, b)


def drop_mime(widget, mime, pos: QPoint) -> bool:
    """What the end of a real drag sends: enter, move, drop at ``pos``; True if accepted."""
    import warnings

    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    actions = Qt.CopyAction | Qt.MoveAction
    with warnings.catch_warnings():  # the QPoint constructors are the ones PySide offers
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(pos, actions, mime, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(widget, enter)
        move = QDragMoveEvent(pos, actions, mime, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(widget, move)
    drop = QDropEvent(QPointF(pos), actions, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def drop_layer(win, name, scene_point):
    """Drop palette entry ``name`` on the canvas at ``scene_point`` (what a drag ends in)."""
    return drop_mime(win.view.viewport(), win.palette.mime_for(name),
                     view_point(win, scene_point))
