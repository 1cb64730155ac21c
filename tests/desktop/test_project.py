"""Projects through the window: save, close, reopen, recent files, dirty marker,
bad files, drops, autosave and recovery."""

import os
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, QUrl

from tests.desktop.conftest import drop_layer, drop_mime, mouse_drag


def _build_by_hand(window):
    drop_layer(window, "InputLayer", QPointF(300, 60))
    drop_layer(window, "Dense", QPointF(300, 260))
    src, dst = list(window.document.nodes)
    scene = window.scene
    mouse_drag(window, scene.node_items[src].out_port.scenePos(),
               scene.node_items[dst].in_port.scenePos())
    assert len(window.document.edges) == 1
    return src, dst


def _graph(doc):
    return ({i: (n.type, n.name, n.config, tuple(n.pos)) for i, n in doc.nodes.items()},
            sorted((e.src, e.dst, e.dst_port) for e in doc.edges))


def test_save_close_reopen_same_graph(window, qtbot, tmp_path):
    _build_by_hand(window)
    assert window.isWindowModified() and "*" in window.windowTitle().replace("[*]", "*")
    before = _graph(window.document)
    path = tmp_path / "net.nwproj"
    assert window.project.save_as(str(path))
    assert path.is_file() and not window.isWindowModified()
    assert window.windowTitle().startswith("net.nwproj")
    settings_file = window.settings.fileName()
    window.close()
    assert not window.isVisible()

    from desktop.main_window import MainWindow

    again = MainWindow(QSettings(settings_file, QSettings.IniFormat))
    again.quiet_errors = True
    again.auto_save_answer = "discard"
    qtbot.addWidget(again)
    assert again.project.recent()[0] == str(path.resolve())
    assert again.project.open(again.project.recent()[0], confirm=False)
    assert _graph(again.document) == before
    assert set(again.scene.node_items) == set(before[0])
    assert len(again.scene.edge_items) == 1
    assert again.project.path == str(path.resolve()) or again.project.path == str(path)


def test_unreadable_project_shows_error_and_changes_nothing(window, tmp_path):
    src, _ = _build_by_hand(window)
    doc = window.document
    before = _graph(doc)
    bad = tmp_path / "broken.nwproj"
    bad.write_text("{ not json", encoding="utf-8")
    assert not window.project.open(str(bad), confirm=False)
    assert window.document is doc and _graph(doc) == before
    assert window.errors and "broken.nwproj" in window.errors[-1]
    assert window.undo_stack.count() > 0  # the history was not lost either


def test_dirty_prompt_cancel_keeps_work(window, tmp_path):
    _build_by_hand(window)
    doc = window.document
    window.auto_save_answer = "cancel"
    assert not window.project.new()
    assert window.document is doc
    window.auto_save_answer = "discard"
    assert window.project.new()
    assert window.document is not doc and window.document.nodes == {}
    assert not window.isWindowModified()


def test_close_with_unsaved_work_can_save_first(window, tmp_path, monkeypatch):
    _build_by_hand(window)
    target = tmp_path / "on_close.nwproj"
    window.project.path = str(target)  # as if it had been saved there before
    window.auto_save_answer = "save"
    assert window.close()
    assert target.is_file()


def test_dropping_a_project_file_on_the_window_opens_it(window, tmp_path, qtbot):
    from core.graph import GraphDocument
    from core.graph.project_file import save_project

    other = GraphDocument()
    other.add_node("InputLayer", {"shape": [4]}, (0, 0))
    path = tmp_path / "dropped.nwproj"
    save_project(other, str(path))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    assert drop_mime(window.view.viewport(), mime, QPoint(50, 50))
    assert [n.type for n in window.document.nodes.values()] == ["InputLayer"]
    assert window.project.path and Path(window.project.path).name == "dropped.nwproj"


def test_autosave_writes_recovery_and_it_is_offered(window, tmp_path, qtbot):
    _build_by_hand(window)
    before = _graph(window.document)
    written = window.project.autosave()
    assert written is not None and Path(written).is_file()
    settings_file = window.settings.fileName()
    from desktop.main_window import MainWindow

    fresh = MainWindow(QSettings(settings_file, QSettings.IniFormat))
    fresh.auto_answer = True
    fresh.auto_save_answer = "discard"
    fresh.quiet_errors = True
    qtbot.addWidget(fresh)
    assert fresh.project.offer_recovery()
    assert _graph(fresh.document) == before
    assert fresh.project.dirty  # recovered work still needs saving
    window.auto_save_answer = "discard"  # the original window may close now


def test_new_from_template_opens_an_untitled_copy(window):
    from desktop.project import templates

    found = templates()
    if not found:
        pytest.skip("no resources/examples/*.nwproj yet")
    path = next((p for p in found if p.name == "mnist_cnn.nwproj"), found[0])
    assert window.project.new_from_template(path, confirm=False)
    assert window.document.nodes and window.project.path is None
    assert not window.isWindowModified()
    assert all(window.document.state(i).error is None for i in window.document.nodes)


def test_file_open_on_a_shipped_example_never_writes_it(window, tmp_path):
    """Opened with File > Open, an example is a new project: Save asks for a place, so
    neither Save nor a finished run (saved into the project) can overwrite it."""
    from desktop.project import examples_dir

    path = examples_dir() / "mnist_mlp.nwproj"
    before = path.read_bytes()
    assert window.project.open(str(path), confirm=False)
    assert window.document.nodes and window.project.path is None
    assert window.document.path is None
    assert str(path) in window.project.recent()
    out = tmp_path / "mine.nwproj"
    assert window.project.save_as(str(out))
    assert path.read_bytes() == before and out.is_file()


def test_first_start_opens_the_mnist_cnn_example(window):
    from desktop.app import FIRST_EXAMPLE, open_initial_project

    if not FIRST_EXAMPLE.is_file():
        pytest.skip("resources/examples/mnist_cnn.nwproj is not there yet")
    assert window.project.recent() == []
    open_initial_project(window, [])
    types = [n.type for n in window.document.nodes.values()]
    assert "Conv2D" in types and "InputLayer" in types
    assert window.project.path is None  # a template opens as an untitled copy
    assert window.document.training.dataset  # wired to the embedded sample data


def test_command_line_project_is_opened(window, tmp_path):
    from core.graph import GraphDocument
    from core.graph.project_file import save_project
    from desktop.app import open_initial_project

    doc = GraphDocument()
    doc.add_node("InputLayer", {"shape": [3]}, (0, 0))
    path = tmp_path / "cli.nwproj"
    save_project(doc, str(path))
    open_initial_project(window, [str(path)])
    assert Path(window.project.path).name == "cli.nwproj"
    assert len(window.document.nodes) == 1


def test_kernel_warmup_runs_in_a_child_process(qtbot, monkeypatch):
    """The app's warm-up compiles in another process (never holding this one's GIL or
    numba's compiler lock); its progress lines arrive as signals, then kernels count as
    warm here."""
    from core import kernels
    from desktop.app import KernelWarmup

    monkeypatch.setattr(kernels, "_done", False)
    script = "import os; print(1, 2, 'pid', os.getpid()); print(2, 2, 'conv')"
    monkeypatch.setattr(KernelWarmup, "command", (sys.executable, "-c", script))
    warm = KernelWarmup()
    seen = []
    warm.progress.connect(lambda i, n, name: seen.append((i, n, name)))
    with qtbot.waitSignal(warm.finished, timeout=20000) as blocker:
        warm.start()
    assert blocker.args == [""]
    qtbot.waitUntil(lambda: len(seen) == 2)
    assert seen[0][:2] == (1, 2) and seen[0][2] != f"pid {os.getpid()}"
    assert seen[1] == (2, 2, "conv") and kernels.is_warm()


def test_kernel_warmup_child_imports_this_core_from_anywhere(qtbot, monkeypatch, tmp_path):
    """The child finds this very ``core`` (through PYTHONPATH, not the working folder),
    and nothing of core shadows the standard library (core/random.py)."""
    import core
    from desktop.app import KernelWarmup

    monkeypatch.chdir(tmp_path)
    script = "import random, core; print(1, 1, core.__file__)"
    monkeypatch.setattr(KernelWarmup, "command", (sys.executable, "-c", script))
    warm, seen = KernelWarmup(), []
    warm.progress.connect(lambda i, n, name: seen.append(name))
    with qtbot.waitSignal(warm.finished, timeout=20000) as blocker:
        warm.start()
    assert blocker.args == [""]
    qtbot.waitUntil(lambda: bool(seen))
    assert Path(seen[0]).resolve() == Path(core.__file__).resolve()


def test_kernel_warmup_failure_is_reported_not_marked_warm(qtbot, monkeypatch):
    from core import kernels
    from desktop.app import KernelWarmup

    monkeypatch.setattr(kernels, "_done", False)
    script = "import sys; sys.stderr.write('MemoryError: out of memory\\n'); sys.exit(3)"
    monkeypatch.setattr(KernelWarmup, "command", (sys.executable, "-c", script))
    warm = KernelWarmup()
    with qtbot.waitSignal(warm.finished, timeout=20000) as blocker:
        warm.start()
    assert blocker.args == ["MemoryError: out of memory"] and not kernels.is_warm()
