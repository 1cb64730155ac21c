"""Puts training into the main window: Data, Training, Curves and Results panels.

``install_training_ui(main_window)`` is called once at the end of the main window's
``__init__``. It needs from the window: ``document`` (current ``GraphDocument``),
signal ``documentReplaced(object)``, ``undo_stack``, ``statusBar()``, a File menu
(for "Export model...") and ``add_panel(widget, title, area)`` (a ``QDockWidget``
is made here when the window has none). Closing the window stops training and
joins the worker thread.

>>> ui = install_training_ui(window)      # doctest: +SKIP
>>> ui.train_button.click()               # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDockWidget, QFileDialog, QMessageBox

from core.graph.run_states import restorable
from desktop.panels.curves import CurvesPanel
from desktop.panels.data_panel import DataPanel
from desktop.panels.results import ResultsPanel
from desktop.panels.runs_panel import RunsPanel
from desktop.training.controller import TrainingController, restore_weights
from desktop.training.run_restore import restore_run
from desktop.training.settings_form import TrainingSettingsForm
from desktop.training.train_panel import TrainPanel


def _add_panel(window, widget, title, area):
    if hasattr(window, "add_panel"):
        return window.add_panel(widget, title, area)
    dock = QDockWidget(title, window)
    dock.setObjectName(widget.objectName() + "Dock")
    dock.setWidget(widget)
    window.addDockWidget(area, dock)
    return dock


def _file_menu(window):
    bar = window.menuBar()
    for action in bar.actions():
        menu = action.menu()
        if menu is not None and action.text().replace("&", "").lower() == "file":
            return menu
    return bar.addMenu("&File")


class TrainingUI(QObject):
    """Everything training adds to a main window (kept as ``window.training_ui``)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        stack = getattr(window, "undo_stack", None)

        def doc():
            return window.document

        push = getattr(window, "push_edit", None)  # every edit takes the one checked route
        self.data_panel = DataPanel(doc, stack, push=push)
        self.form = TrainingSettingsForm(doc, stack, push=push)
        self.curves = CurvesPanel()
        self.results = ResultsPanel()
        self.runs = RunsPanel()
        self.controller = TrainingController(doc, lambda: self.data_panel.dataset, self.curves,
                                             parent=self)
        self.last_dialog: QMessageBox | None = None
        self.train_panel = TrainPanel(self.form)
        for name in ("train_button", "pause_button", "stop_button", "progress",
                     "add_epochs_spin", "add_epochs_button", "continue_box", "kernel_label",
                     "state_label", "form_scroll"):  # the panel's widgets, as ui.<name>
            setattr(self, name, getattr(self.train_panel, name))
        self.train_button.clicked.connect(self.train)
        self.pause_button.clicked.connect(self._pause_or_resume)
        self.stop_button.clicked.connect(self.controller.stop)
        self.add_epochs_button.clicked.connect(
            lambda: self.controller.add_epochs(self.add_epochs_spin.value()))
        self.data_dock = _add_panel(window, self.data_panel, "Data", Qt.LeftDockWidgetArea)
        self.train_dock = _add_panel(window, self.train_panel, "Training",
                                     Qt.RightDockWidgetArea)
        self.curves_dock = _add_panel(window, self.curves, "Curves", Qt.BottomDockWidgetArea)
        self.results_dock = _add_panel(window, self.results, "Results", Qt.BottomDockWidgetArea)
        self.runs_dock = _add_panel(window, self.runs, "Runs", Qt.BottomDockWidgetArea)
        # Curves and Results share the bottom as tabs: each gets the full width; Train
        # raises the curves, the end of a run raises the results.
        if isinstance(self.curves_dock, QDockWidget) and isinstance(self.results_dock,
                                                                     QDockWidget):
            window.tabifyDockWidget(self.curves_dock, self.results_dock)
            if isinstance(self.runs_dock, QDockWidget):
                window.tabifyDockWidget(self.results_dock, self.runs_dock)
            self.curves_dock.raise_()
            window.resizeDocks([self.curves_dock], [360], Qt.Vertical)
        palette_dock = getattr(window, "palette_dock", None)
        if palette_dock is not None:  # Layers and Data share the left column as tabs
            window.tabifyDockWidget(palette_dock, self.data_dock)
            palette_dock.raise_()
        menu = _file_menu(window)
        acts = menu.actions()
        idx = next((i for i, a in enumerate(acts)
                    if a.text().replace("&", "").lower().startswith("quit")), len(acts))
        if 0 < idx < len(acts) and acts[idx - 1].isSeparator():
            idx -= 1  # keep Quit in its own group
        self.export_action = QAction("Export model...", self)
        menu.insertAction(acts[idx] if idx < len(acts) else None, self.export_action)
        self.export_action.setObjectName("exportModelAction")
        self.export_action.triggered.connect(lambda: self.export_model())

        c = self.controller
        c.stateChanged.connect(self._on_state)
        c.message.connect(self._status)
        c.batchProgress.connect(self.train_panel.show_progress)
        c.runFinished.connect(self._on_run_finished)
        c.failed.connect(self._show_error)
        self.form.learningRateChanged.connect(c.set_learning_rate)
        self.form.refused.connect(self._status)
        self.runs.overlayChanged.connect(self.curves.set_hidden_runs)
        self.runs.settingsRequested.connect(self.use_run_settings)
        self.runs.restoreRequested.connect(lambda name, last: restore_run(self, name, last))
        self.curves.fixRequested.connect(
            lambda changes: self.apply_settings(changes, "Training settings changed as the "
                                                         "curves suggested; press Train."))
        if hasattr(window, "documentReplaced"):
            window.documentReplaced.connect(self._on_document_replaced)
        window.installEventFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._doc = None
        self._warm_timer = QTimer(self)
        self._warm_timer.setInterval(500)
        self._warm_timer.timeout.connect(self._check_kernels)
        self._warm_timer.start()
        self._check_kernels()
        self._on_state("idle")
        self._on_document_replaced(window.document)

    # ------------------------------------------------------------- actions
    def train(self) -> bool:
        self.results.set_model(None)  # the pads must not predict with a model in training
        started = self.controller.start(continue_weights=self.continue_box.isChecked())
        if started and isinstance(self.curves_dock, QDockWidget):
            self.curves_dock.raise_()
        return started

    def _pause_or_resume(self):
        if self.controller.state == "paused":
            self.controller.resume()
        else:
            self.controller.pause()

    def _on_state(self, state: str) -> None:
        self.train_panel.set_state(state)
        self.data_panel.setEnabled(state == "idle")

    def _status(self, text: str) -> None:
        self.state_label.setText(text)
        self.window.statusBar().showMessage(text, 10000)

    def _check_kernels(self) -> None:
        from core import kernels

        if kernels.is_warm():
            self.kernel_label.setText("Kernels: ready")
            self._warm_timer.stop()
        elif kernels.compiling():  # this model's kernels: training runs on numpy meanwhile
            self.kernel_label.setText(f"Kernels: compiling {len(kernels.compiling())} for "
                                      f"this model (training on numpy meanwhile)...")
        else:
            self.kernel_label.setText("Kernels: preparing in the background...")

    def _show_error(self, title: str, details: str) -> None:
        box = QMessageBox(QMessageBox.Critical, "Training", title, QMessageBox.Ok, self.window)
        box.setObjectName("trainingErrorDialog")
        box.setInformativeText(details.strip().splitlines()[-1] if details.strip() else "")
        box.setDetailedText(details)
        box.setWindowModality(Qt.WindowModal)
        box.open()  # not exec(): the event loop (and the app) keeps running
        self.last_dialog = box

    # ---------------------------------------------------------- run results
    def _on_run_finished(self, result: dict) -> None:
        doc = self.window.document
        ds = self.data_panel.dataset
        names = list(ds.class_names) if ds is not None else []
        if result.get("results") is not None:
            self.results.show_results(result["results"], names)
            if isinstance(self.results_dock, QDockWidget):
                self.results_dock.raise_()
        plan = self.controller.plan  # an autoencoder's output is no class: no test pad
        if self.controller.model is not None and result.get("nan_at") is None and \
                getattr(plan, "task", None) != "reconstruction":
            model = self.controller.model
            if plan is not None and len(plan.inputs) > 1:  # the pad gives the first Input
                from core.session.run_setup import FirstInputModel

                model = FirstInputModel(model, plan)
            self.results.set_model(model, self.controller.input_shape, names,
                                   getattr(ds, "vocabulary", None))
        project = getattr(self.window, "project", None)
        if project is not None and hasattr(project, "mark_dirty"):
            project.mark_dirty()
        if result.get("nan_at"):
            self._show_error(self.controller.last_message, "The loss became NaN or infinite. "
                             "Try a smaller learning rate.")
        self.curves.set_history(doc.history[:-1] if doc is not None else [])
        self.show_runs(doc)

    def show_runs(self, doc) -> None:
        """The Runs table, saying which runs can be restored (their weights are kept)."""
        self.runs.set_history(doc.history if doc is not None else [],
                              restorable(doc) if doc is not None else {})

    def use_run_settings(self, settings: dict) -> bool:
        """Put a run's training settings back (one undo step; where the data comes from
        stays as it is: that is the data panel's choice)."""
        from core.graph.settings import TrainingSettings

        known = TrainingSettings.__dataclass_fields__
        changes = {k: v for k, v in settings.items() if k in known and k != "dataset"}
        return self.apply_settings(changes, "Training settings set from the selected run.")

    def apply_settings(self, changes: dict, note: str) -> bool:
        """Training-settings changes as one undo step through the form's checked route."""
        doc = self.window.document
        if doc is None or not changes or self.controller.state != "idle":
            return False
        changes = {k: v for k, v in changes.items() if getattr(doc.training, k) != v}
        ok = not changes or self.form._set(**changes)
        self.form.refresh()
        if ok:
            self._status(note)
        return ok

    def export_model(self, path: str | None = None) -> str | None:
        """Write a ``.keras`` of the trained model; returns the path or None."""
        doc = self.window.document
        model = self.controller.model if self.controller.state == "idle" else None
        if model is None:
            try:
                model = doc.build_model()
            except ValueError as exc:
                self._show_error("Cannot export the model", str(exc))
                return None
            if not restore_weights(model, doc.weights):
                self._status("Exporting untrained weights: train the model first to export "
                             "what it learned.")
            s = doc.training
            model.compile(optimizer=s.optimizer, loss=s.loss, metrics=list(s.metrics))
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.window, "Export model",
                                                  self.default_export_path(),
                                                  "Keras model (*.keras)")
            if not path:
                return None
        if not path.endswith(".keras"):
            path += ".keras"
        try:
            model.save(path)
        except (OSError, ValueError) as exc:
            self._show_error("Cannot export the model", str(exc))
            return None
        self._status(f"Exported {path}")
        return path

    def default_export_path(self) -> str:
        """Beside the project, named after it (``mnist.nwproj`` -> ``mnist.keras``);
        for an unsaved project, in the folder of the last project (else home)."""
        project = getattr(self.window, "project", None)
        saved = getattr(project, "path", None)
        if saved:
            return str(Path(saved).with_suffix(".keras"))
        folder = project._start_dir() if project is not None else str(Path.home())
        name = str(self.window.document.meta.get("name") or "model")
        return str(Path(folder) / (name.replace("/", "_") + ".keras"))

    # ------------------------------------------------------------ lifecycle
    def _on_document_replaced(self, doc) -> None:
        if self.controller.state != "idle":
            self.controller.shutdown()
        self.form.refresh()
        # Nothing of the previous project may stay on screen (File > New, templates).
        self.curves.reset()
        self.results.clear()
        self.results.set_model(None)
        last = doc.history[-1] if doc is not None and doc.history else {}
        if last.get("test"):  # a reopened project shows its last run's figures again
            self.results.show_summary(last["test"])
        self.train_panel.reset_progress()
        self.state_label.clear()
        self.form.status.clear()
        self.curves.set_history(doc.history if doc is not None else [])
        self.show_runs(doc)
        if self._doc is not None and hasattr(self._doc, "unsubscribe"):
            self._doc.unsubscribe(self._on_doc_event)
        self._doc = doc
        if doc is not None and hasattr(doc, "subscribe"):
            doc.subscribe(self._on_doc_event)
        self.data_panel.load_from_document()
        self.data_panel.target_choice.refresh()

    def _on_doc_event(self, event) -> None:
        if event.kind in ("training", "reset"):
            self.form.refresh()
        self.data_panel.target_choice.refresh()  # an output's shape or the loss changed

    def eventFilter(self, obj, event):
        # The window may still refuse to close (unsaved changes): decide after closeEvent.
        if obj is self.window and event.type() == QEvent.Close:
            # (self as the context: no call once a deleted window has taken us along)
            QTimer.singleShot(0, self, self._closed_check)
        return False

    def _closed_check(self) -> None:
        if not self.window.isVisible():
            self.shutdown()

    def shutdown(self) -> None:
        self.controller.shutdown()
        self.data_panel.shutdown()
        self.results.pad.shutdown()
        self.results.sentence.shutdown()


def install_training_ui(main_window) -> TrainingUI:
    ui = TrainingUI(main_window)
    main_window.training_ui = ui
    return ui
