"""Application entry point (``netweaver [project.nwproj]`` / ``python -m desktop``).

Starts Qt with the Netweaver theme, opens the project given on the command
line (or offers an autosave left behind, or reopens the last project, or on a
first start opens the MNIST CNN example), and compiles the numba kernels on a
background thread while the user starts editing.

>>> # main(["resources/examples/mnist_cnn.nwproj"])
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
FIRST_EXAMPLE = RESOURCES / "examples" / "mnist_cnn.nwproj"


class KernelWarmup(QObject):
    """Fills numba's on-disk kernel cache in a child process (``python -m core.kernels``):
    compiling in this process would hold the GIL and numba's compiler lock against the
    training worker. A thread here only reads the child's progress lines."""

    progress = Signal(int, int, str)
    finished = Signal(str)  # "" on success, else the error text
    command = (sys.executable, "-m", "core.kernels")

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="kernel-warmup", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        from core import kernels

        # The child must import this same ``core`` (a source checkout or the install).
        root = str(Path(kernels.__file__).resolve().parents[2])  # the folder holding core/
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH")) if p))
        try:
            child = subprocess.Popen(list(self.command), env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for line in child.stdout:
                done, total, name = line.split(maxsplit=2)
                self.progress.emit(int(done), int(total), name.strip())
            err = child.stderr.read()
            code = child.wait()
        except (OSError, ValueError) as exc:
            self.finished.emit(f"{type(exc).__name__}: {exc}")
            return
        if code != 0:
            lines = err.strip().splitlines()
            self.finished.emit(lines[-1] if lines else f"exit code {code}")
            return
        kernels.mark_warm()
        self.finished.emit("")


def apply_theme(app: QApplication) -> None:
    """Fusion + a dark palette + ``resources/styles/dark.qss``."""
    app.setStyle("Fusion")
    pal = QPalette()
    colours = {
        QPalette.Window: "#23272e", QPalette.WindowText: "#e6e6e6", QPalette.Base: "#1b1e23",
        QPalette.AlternateBase: "#262a31", QPalette.ToolTipBase: "#2b2f37",
        QPalette.ToolTipText: "#e6e6e6", QPalette.Text: "#e6e6e6", QPalette.Button: "#2b2f37",
        QPalette.ButtonText: "#e6e6e6", QPalette.Highlight: "#2f6fbf",
        QPalette.HighlightedText: "#ffffff", QPalette.PlaceholderText: "#7d8590",
        QPalette.Link: "#5fa8ff",
    }
    for role, colour in colours.items():
        pal.setColor(role, QColor(colour))
    pal.setColor(QPalette.Disabled, QPalette.Text, QColor("#6e7681"))
    pal.setColor(QPalette.Disabled, QPalette.ButtonText, QColor("#6e7681"))
    app.setPalette(pal)
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 9.5))
    app.setFont(font)
    qss = RESOURCES / "styles" / "dark.qss"
    if qss.is_file():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))


def open_initial_project(window, argv) -> None:
    """Command-line project, else recovery, else the last project, else the example."""
    project = window.project
    paths = [a for a in argv if not a.startswith("-")]
    if paths:
        project.open(paths[0], confirm=False)
        return
    if project.offer_recovery():
        return
    recent = [p for p in project.recent() if Path(p).is_file()]
    if recent and project.open(recent[0], confirm=False):
        return
    if FIRST_EXAMPLE.is_file():
        project.new_from_template(FIRST_EXAMPLE, confirm=False)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from core.cli import COMMANDS, run
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--debug")):
        return run(argv)  # headless: no QApplication
    if argv[:1] == ["open"]:  # `netweaver open FILE` is `netweaver FILE`
        argv = argv[1:]
    app = QApplication.instance() or QApplication([sys.argv[0]] + argv)
    app.setApplicationName("Netweaver")
    app.setOrganizationName("Netweaver")
    apply_theme(app)
    from desktop.main_window import MainWindow

    window = MainWindow(QSettings("Netweaver", "Netweaver"))
    warm = KernelWarmup(window)
    window.kernel_label.setText("Preparing kernels…")
    warm.progress.connect(lambda i, n, name: window.kernel_label.setText(
        f"Preparing kernels… {i}/{n}"))
    warm.finished.connect(lambda err: window.kernel_label.setText(
        "Kernels ready" if not err else "Kernel warm-up failed"))
    warm.finished.connect(lambda err: err and window.statusBar().showMessage(
        f"Kernel warm-up failed: {err}", 8000))
    screen = app.primaryScreen()
    if screen is not None:  # most of the screen: the canvas needs room
        avail = screen.availableGeometry()
        window.resize(int(avail.width() * 0.92), int(avail.height() * 0.92))
    if screen is not None and screen.availableGeometry().width() < 1800:
        window.setGeometry(screen.availableGeometry())  # also right without a window manager
        window.showMaximized()  # small screens: every pixel goes to the panels
    else:
        window.show()
    open_initial_project(window, argv)
    warm.start()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
