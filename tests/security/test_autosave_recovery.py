"""Autosave and recovery never lose work: one recovery file per unsaved project, the
start-up offer skips an unreadable autosave for an older good one, and an unwritable
state folder is reported once instead of raising into the Qt timer."""

from __future__ import annotations

import os
import time

import pytest

from core.graph import GraphDocument
from core.graph import project_file as pf

pytest.importorskip("PySide6")


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWEAVER_STATE_DIR", str(tmp_path / "state"))


def _doc(units):
    doc = GraphDocument()
    a = doc.add_node("InputLayer", config={"shape": [4]})
    b = doc.add_node("Dense", config={"units": units})
    doc.connect(a, b)
    return doc


def _units(doc):
    return [n.config["units"] for n in doc.nodes.values() if n.type == "Dense"]


def test_two_unsaved_projects_do_not_share_a_recovery_file():
    first, second = _doc(3), _doc(5)
    p1, p2 = pf.write_recovery(first), pf.write_recovery(second)
    assert p1 != p2
    assert _units(pf.load_project(p1)[0]) == [3]
    assert _units(pf.load_project(p2)[0]) == [5]
    # Autosaving again keeps each one's own file, and a reopened one continues it.
    assert pf.write_recovery(first) == p1
    reopened, _ = pf.load_project(p1)
    assert reopened.path is None and pf.write_recovery(reopened) == p1


def test_recovery_offer_falls_back_to_the_older_good_autosave():
    good = pf.write_recovery(_doc(7))
    old = time.time() - 100
    os.utime(good, (old, old))
    newest = good.parent / "untitled-torn.nwproj"
    newest.write_text('{"format": "netweaver-project", "schema_version": 1, "nodes": [')
    assert pf.find_recovery() == good
    assert pf.find_recoveries() == [good]


class _FakeWindow:
    """The few window methods ProjectController calls (a QObject parent is needed)."""


@pytest.fixture
def controller(qapp, tmp_path):
    from PySide6.QtCore import QObject, QSettings
    from PySide6.QtGui import QUndoStack
    from PySide6.QtWidgets import QStatusBar

    from desktop.project import ProjectController

    class Window(QObject):
        def __init__(self):
            super().__init__()
            self.undo_stack = QUndoStack(self)
            self.document = _doc(3)
            self.bar = QStatusBar()
            self.messages, self.errors = [], []
            self.bar.messageChanged.connect(lambda m: m and self.messages.append(m))

        def statusBar(self):
            return self.bar

        def show_error(self, title, text):
            self.errors.append(text)

    window = Window()
    ctl = ProjectController(window, QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    ctl.autosave_timer.stop()
    yield ctl, window
    window.bar.deleteLater()


def test_unwritable_state_folder_is_reported_once_without_raising(controller, tmp_path):
    ctl, window = controller
    state = tmp_path / "state"
    state.write_text("a file where the state folder should be (works even as root)")
    ctl.mark_dirty()
    assert ctl.autosave() is None
    assert ctl.autosave() is None
    assert ctl.autosave() is None
    state.unlink()
    told = [m for m in window.messages if "Autosave failed" in m]
    assert len(told) == 1, window.messages
    # Once the folder is writable again, autosave works and a later failure is told again.
    assert ctl.autosave() is not None


def test_discarding_an_unsaved_project_clears_only_its_own_recovery(controller):
    ctl, window = controller
    other = _doc(9)
    theirs = pf.write_recovery(other)
    ctl.mark_dirty()
    mine = ctl.autosave()
    assert mine != theirs
    window.ask_save_discard_cancel = lambda _text: "discard"
    assert ctl.maybe_save()
    assert not mine.exists() and theirs.exists()
