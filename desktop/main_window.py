"""``MainWindow``: canvas in the centre, palette left, inspector right,
problems and summary below; File / Edit / View menus.

For other parts of the app it exposes ``document`` (the current
``GraphDocument``), ``documentReplaced(object)`` (emitted after New/Open),
``undo_stack``, ``project`` (``ProjectController``: ``path``, ``save()``),
``view_menu`` and ``add_panel(widget, title, area)``.

>>> # win = MainWindow(); win.project.open("net.nwproj"); win.show()
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QMessageBox

from core.graph import GraphDocument
from desktop import gui_gc
from desktop.editor.actions import EditActions
from desktop.editor.commands import MoveNodesCommand, push_checked
from desktop.editor.inspector import Inspector
from desktop.editor.palette import Palette
from desktop.editor.scene import EditorScene
from desktop.editor.view import EditorView
from desktop.editor.weights_guard import guarded_push
from desktop.layer_code_trust import LayerCodeTrust
from desktop.panels.problems import ProblemsPanel
from desktop.panels.summary import SummaryPanel
from desktop.project import ProjectController, is_openable, templates


class MainWindow(QMainWindow):
    documentReplaced = Signal(object)

    def __init__(self, settings: QSettings | None = None, parent=None):
        super().__init__(parent)
        gui_gc.install(QApplication.instance())  # Qt garbage must die on the GUI thread
        self.setObjectName("mainWindow")
        self.settings = settings or QSettings("Netweaver", "Netweaver")
        # Tests set these to answer dialogs without showing them (None: ask the user).
        self.auto_answer: bool | None = None          # yes/no questions
        self.auto_save_answer: str | None = None      # "save" | "discard" | "cancel"
        self.quiet_errors = False
        self.errors: list[str] = []
        self.document = GraphDocument()
        self.undo_stack = QUndoStack(self)
        self.scene = EditorScene(self.push_edit, self)
        self.view = EditorView(self.scene, self)
        self.setCentralWidget(self.view)
        self.palette = Palette()
        self.inspector = Inspector(self.push_edit)
        self.problems = ProblemsPanel(self.push_edit)
        self.summary = SummaryPanel()
        self.project = ProjectController(self, self.settings)
        self.layer_code = LayerCodeTrust(self, self.settings)
        self.edit_actions = EditActions(self)
        self._build_menus()
        # Side columns run full height; bottom panels sit under the canvas only.
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self.palette_dock = self.add_panel(self.palette, "Layers", Qt.LeftDockWidgetArea)
        self.inspector_dock = self.add_panel(self.inspector, "Inspector", Qt.RightDockWidgetArea)
        self.problems_dock = self.add_panel(self.problems, "Problems", Qt.BottomDockWidgetArea)
        self.summary_dock = self.add_panel(self.summary, "Summary", Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(self.problems_dock, self.summary_dock)
        self.problems_dock.raise_()
        self.resizeDocks([self.palette_dock, self.inspector_dock], [220, 300], Qt.Horizontal)
        self.resizeDocks([self.problems_dock], [170], Qt.Vertical)
        self.kernel_label = QLabel("")
        self.problem_label = QLabel("")
        self.statusBar().addPermanentWidget(self.problem_label)
        # A cold first training (empty kernel cache) runs its kernels' numpy versions
        # while a child compiles them (core.kernels._cold): the status bar says so.
        self.compile_label = QLabel("")
        self.compile_label.setObjectName("compileState")
        self.compile_label.hide()
        self.statusBar().addPermanentWidget(self.compile_label)
        self.statusBar().addPermanentWidget(self.kernel_label)
        # polled only from a training's start until its kernels are compiled: an
        # always-running timer in every window made a Problems test time out in the suite
        self._compile_timer = QTimer(self)
        self._compile_timer.setInterval(500)
        self._compile_timer.timeout.connect(self.show_compiling)
        self.scene.message.connect(lambda m: self.statusBar().showMessage(m, 5000))
        self.scene.selectionChanged.connect(self._selection_changed)
        self.view.layerDropped.connect(self.edit_actions.add_layer)
        self.view.fileDropped.connect(self.open_dropped)
        self.palette.layerActivated.connect(
            lambda name: self.edit_actions.add_layer(name, self.view.mapToScene(
                self.view.viewport().rect().center())))
        self.problems.nodeActivated.connect(self._reveal_node)
        self.problems.countChanged.connect(self._show_problem_count)
        self.problems.warningsChanged.connect(self.scene.set_warnings)
        self.project.changed.connect(self._update_title)
        self.setAcceptDrops(True)
        self.resize(1400, 880)
        self.set_document(self.document)
        self._install_training_ui()
        ui = getattr(self, "training_ui", None)
        if ui is not None:
            ui.controller.stateChanged.connect(
                lambda state: state == "running" and self._compile_timer.start())
        self._docks_arranged = False

    def _install_training_ui(self) -> None:
        # The training UI lives in its own package; it plugs in here once it exists.
        if importlib.util.find_spec("desktop.training") is None:
            return
        if importlib.util.find_spec("desktop.training.dock") is None:
            return
        from desktop.training.dock import install_training_ui

        install_training_ui(self)

    # ------------------------------------------------------------ document
    def set_document(self, doc) -> None:
        """Show ``doc`` everywhere (undo history is per document, so it is cleared)."""
        self.document = doc
        self.undo_stack.clear()
        self.scene.set_document(doc)
        self.inspector.set_document(doc)
        self.problems.set_document(doc)
        self.summary.set_document(doc)
        self.documentReplaced.emit(doc)
        self._update_title()
        self.view.fit_all()

    def push_edit(self, cmd) -> str | None:
        """The one checked route for every edit (canvas, inspector, data panel, training
        form): run ``cmd``; when it makes the trained weights unfit, ask first; Undo gives
        the weights back. The refusal reason, "cancelled", or None."""
        if isinstance(cmd, MoveNodesCommand):
            return push_checked(self.undo_stack, cmd)
        return guarded_push(self.undo_stack, cmd, self._ask_discard_weights,
                            self._weights_replaced)

    def _ask_discard_weights(self) -> bool:
        return self.ask_yes_no("Discard trained weights?",
                               "This change alters the network, so its trained weights no "
                               "longer fit it. Discard the weights and make the change? "
                               "(Undo brings them back.)")

    def _weights_replaced(self) -> None:
        ui = getattr(self, "training_ui", None)
        if ui is not None:  # the pad must never predict with weights the project lost
            ui.results.pad.set_model(None)
        self.project.mark_dirty()

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None)

    def _reveal_node(self, node_id: str) -> None:
        self.scene.select_nodes([node_id])
        item = self.scene.node_items.get(node_id)
        if item is not None:
            self.view.centerOn(item)

    def show_compiling(self) -> None:
        """Say that a running training waits for kernels to compile (2 Hz; a label, so it
        stays while the training's own messages come and go), naming them in its tooltip."""
        import sys

        cold = sys.modules.get("core.kernels._cold")  # no training yet: nothing to say
        names = cold.compiling() if cold is not None else []
        text = ""
        if names:
            # plain words on the bar; the kernels' own names only in the tooltip (a user
            # cannot act on "_backward_filter_partials")
            text = (f"First run on this machine: preparing {len(names)} fast "
                    f"kernel{'s' if len(names) > 1 else ''} - training runs meanwhile "
                    "on plain numpy, slower")
        self.compile_label.setToolTip("Compiling: " + ", ".join(names) if names else "")
        if text != self.compile_label.text():
            self.compile_label.setText(text)
            self.compile_label.setVisible(bool(text))
        ui = getattr(self, "training_ui", None)
        if not names and (ui is None or ui.controller.state == "idle"):
            self._compile_timer.stop()  # the next training starts it again

    def _show_problem_count(self, n: int) -> None:
        self.problem_label.setText(f"⚠ {n} problem{'s' if n != 1 else ''}" if n else "✓ Ready")

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.project.display_name()}[*] — Netweaver")
        self.setWindowModified(self.project.dirty)

    # -------------------------------------------------------------- panels
    def add_panel(self, widget, title: str, area=Qt.RightDockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                         | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        self.view_menu.addAction(dock.toggleViewAction())
        return dock

    # --------------------------------------------------------------- menus
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")

        def add(menu, text, slot, keys=None):
            a = QAction(text, self)
            if keys is not None:
                a.setShortcut(QKeySequence(keys))
            a.triggered.connect(slot)
            menu.addAction(a)
            return a

        add(file_menu, "&New", lambda: self.project.new(), QKeySequence.New)
        self.template_menu = file_menu.addMenu("New from &Template")
        for path in templates():
            add(self.template_menu, template_title(path.stem),
                lambda _=False, p=path: self.project.new_from_template(p))
        add(file_menu, "&Open…", lambda: self.project.open(), QKeySequence.Open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        add(file_menu, "&Save", lambda: self.project.save(), QKeySequence.Save)
        add(file_menu, "Save &As…", lambda: self.project.save_as(), QKeySequence("Ctrl+Shift+S"))
        file_menu.addSeparator()
        add(file_menu, "Export &Picture…", self.export_picture)
        add(file_menu, "Add &Layer Code…", lambda: self.layer_code.add_layer_code())
        file_menu.addSeparator()
        add(file_menu, "&Quit", self.close, QKeySequence.Quit)
        self.edit_menu = bar.addMenu("&Edit")
        self.edit_actions.fill_menu(self.edit_menu)
        self.view_menu = bar.addMenu("&View")
        for a in (self.edit_actions.zoom_in_action, self.edit_actions.zoom_out_action,
                  self.edit_actions.fit_action, self.edit_actions.reset_zoom_action):
            self.view_menu.addAction(a)
        self.view_menu.addSeparator()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.project.recent()
        for path in recent:
            a = self.recent_menu.addAction(Path(path).name)
            a.setToolTip(path)
            a.triggered.connect(lambda _=False, p=path: self.project.open(p))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.project.clear_recent)
        else:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def export_picture(self, path=None) -> str | None:
        """File > Export Picture…: the network as PNG or SVG (``editor.picture``)."""
        from PySide6.QtWidgets import QFileDialog

        from desktop.editor.picture import export_picture
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export picture", "network.png",
                                                  "PNG image (*.png);;SVG drawing (*.svg)")
            if not path:
                return None
        try:
            written = export_picture(self.scene, path)
        except (OSError, ValueError) as exc:
            self.show_error("Cannot export the picture", str(exc))
            return None
        self.statusBar().showMessage(f"Exported {written}", 5000)
        return written

    # ------------------------------------------------------------- dialogs
    def ask_yes_no(self, title: str, text: str) -> bool:
        if self.auto_answer is not None:
            return bool(self.auto_answer)
        answer = QMessageBox.question(self, title, text, QMessageBox.Yes | QMessageBox.No,
                                      QMessageBox.No)
        return answer == QMessageBox.Yes

    def ask_save_discard_cancel(self, text: str) -> str:
        if self.auto_save_answer is not None:
            return self.auto_save_answer
        box = QMessageBox(QMessageBox.Warning, "Unsaved changes", text,
                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, self)
        box.setDefaultButton(QMessageBox.Save)
        answer = box.exec()
        return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")

    def show_error(self, title: str, text: str) -> None:
        self.errors.append(text)
        self.statusBar().showMessage(text, 8000)
        if not self.quiet_errors:
            QMessageBox.critical(self, title, text)

    # --------------------------------------------------------------- events
    def open_dropped(self, path: str) -> bool:
        return self.project.open(path)

    def dragEnterEvent(self, event):
        if any(is_openable(u.toLocalFile()) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):
        paths = [u.toLocalFile() for u in event.mimeData().urls()
                 if is_openable(u.toLocalFile())]
        if paths:
            event.acceptProposedAction()
            self.open_dropped(paths[0])

    def showEvent(self, event):
        super().showEvent(event)
        if not self._docks_arranged:
            self._docks_arranged = True
            QTimer.singleShot(0, self.arrange_docks)  # after the first layout pass

    def arrange_docks(self) -> None:
        """Share space once the window has its size (plug-ins may have added docks):
        the canvas keeps most of the height, the inspector most of the right column."""
        h = self.height()
        docks = [d for d in self.findChildren(QDockWidget) if d.isVisible() and not d.isFloating()]
        bottom = [d for d in docks if self.dockWidgetArea(d) == Qt.BottomDockWidgetArea]
        if bottom:
            self.resizeDocks(bottom, [int(h * 0.26)] * len(bottom), Qt.Vertical)
            # Problems/Summary get half the bottom width: the summary table needs ~60
            # columns of text to show all four of its columns (defect 16 of issue 14).
            shown = [d for d in bottom if not d.visibleRegion().isEmpty()]
            left = [d for d in (self.problems_dock, self.summary_dock) if d in shown]
            side = [d for d in shown if d not in left]
            if left and side:
                w = sum(d.width() for d in left[:1] + side)
                self.resizeDocks(left[:1] + side, [w // 2] + [w // (2 * len(side))] * len(side),
                                 Qt.Horizontal)
        right = [d for d in docks if self.dockWidgetArea(d) == Qt.RightDockWidgetArea
                 and d is not self.inspector_dock and not self.tabifiedDockWidgets(d)]
        if self.width() >= 1400:  # room for the loss names in the training form
            self.resizeDocks([self.inspector_dock], [max(self.inspector_dock.width(), 410)],
                             Qt.Horizontal)
        if right:
            # each gets what its content asks for (the training form scrolls rather than
            # squeezes, so without this it would open half hidden), up to 65 % in all
            want = [d.widget().sizeHint().height() + 30 for d in right]
            room = int(h * 0.65)
            if sum(want) > room:
                want = [int(room * w / sum(want)) for w in want]
            self.resizeDocks([self.inspector_dock] + right, [h - sum(want)] + want,
                             Qt.Vertical)
        QTimer.singleShot(0, self.view.fit_all)  # the canvas has its real size only now

    def closeEvent(self, event):
        if self.project.maybe_save():
            from core.graph import project_file as pf

            pf.clear_recovery(self.project.path, self.document)
            self.settings.sync()
            event.accept()
        else:
            event.ignore()


_WORDS = {"mnist": "MNIST", "cnn": "CNN", "mlp": "MLP", "resnet": "ResNet", "csv": "CSV",
          "lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def template_title(stem: str) -> str:
    """A template's menu text: ``mnist_cnn`` -> ``MNIST CNN`` (acronyms kept upper-case).

    >>> template_title("resnet_block")
    'ResNet Block'
    """
    return " ".join(_WORDS.get(w.lower(), w.capitalize()) for w in stem.split("_") if w)
