"""Project controller: new / open / save / save as / recent files / autosave.

It owns no document: it loads one with ``core.graph.project_file`` (or, for a
Keras ``.keras`` / legacy ``.h5`` model, ``core.graph.open_model``, which opens
it as a new unsaved project with the model's weights) and hands it to the
window (``window.set_document``). "Dirty" is the undo stack not
being at its clean index, or ``mark_dirty()`` (e.g. new trained weights).
While dirty, an autosave goes to the recovery file every ``AUTOSAVE_MS``.

>>> # project = ProjectController(window, settings)
>>> # project.open("net.nwproj"); project.save_as("copy.nwproj")
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog

from core.graph import GraphDocument
from core.graph import project_file as pf
from core.graph.open_model import UnsupportedLayersError, is_model_file, open_model_file

AUTOSAVE_MS = 60_000
MAX_RECENT = 10
FILTER = "Netweaver projects (*.nwproj)"
OPEN_FILTER = ("Projects and Keras models (*.nwproj *.keras *.h5 *.hdf5);;"
               "Netweaver projects (*.nwproj);;Keras models (*.keras *.h5 *.hdf5)")


def is_openable(path) -> bool:
    """What File > Open, drag-and-drop and the command line accept."""
    return str(path).endswith(".nwproj") or is_model_file(path)


def examples_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "resources" / "examples"


def templates() -> list[Path]:
    """The example projects offered by File > New from template."""
    folder = examples_dir()
    return sorted(folder.glob("*.nwproj")) if folder.is_dir() else []


class ProjectController(QObject):
    changed = Signal()  # path, dirty state or recent list changed

    def __init__(self, window, settings):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.path: str | None = None
        self._extra_dirty = False
        self.last_error: str | None = None
        self.last_notes: list[str] = []  # what opening a Keras model changed, if anything
        self._autosave_failed = False
        self.autosave_timer = QTimer(self, interval=AUTOSAVE_MS, timeout=self.autosave)
        self.autosave_timer.start()
        window.undo_stack.cleanChanged.connect(lambda _clean: self.changed.emit())

    # --------------------------------------------------------------- state
    @property
    def dirty(self) -> bool:
        return self._extra_dirty or not self.window.undo_stack.isClean()

    def mark_dirty(self) -> None:
        self._extra_dirty = True
        self.changed.emit()

    def _mark_clean(self) -> None:
        self._extra_dirty = False
        self.window.undo_stack.setClean()
        self.changed.emit()

    def display_name(self) -> str:
        if self.path:
            return Path(self.path).name
        return str(self.window.document.meta.get("name") or "Untitled")

    # ------------------------------------------------------------- commands
    def new(self, confirm: bool = True) -> bool:
        if confirm and not self.maybe_save():
            return False
        self._replace(GraphDocument(), None)
        return True

    def new_from_template(self, template, confirm: bool = True) -> bool:
        """Open ``template`` as a new, unsaved project (Save asks where to put it)."""
        if confirm and not self.maybe_save():
            return False
        doc = self._load(template)
        if doc is None:
            return False
        doc.path = None
        self._replace(doc, None)
        return True

    def open(self, path=None, confirm: bool = True) -> bool:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Open project or model",
                                                  self._start_dir(), OPEN_FILTER)
            if not path:
                return False
        model = is_model_file(path)
        # First: a file that cannot open never asks to save.
        doc = self._load_model(path) if model else self._load(path)
        if doc is None:
            return False  # the error was shown; the current project is untouched
        if confirm and not self.maybe_save():
            return False
        # A model becomes a new, unsaved project (Save asks where; the .keras stays as is),
        # and so does a shipped example: training or Save must never overwrite it.
        example = not model and _is_example(path)
        if example:
            doc.path = None
        self._replace(doc, None if model or example else str(path))
        self.add_recent(str(path))
        if model:
            self._tell_notes(path)
        if example:
            self.window.statusBar().showMessage(
                "Opened a shipped example as a new project: Save asks where to keep it", 8000)
        return True

    def save(self) -> bool:
        if not self.path:
            return self.save_as()
        return self._write(self.path)

    def save_as(self, path=None) -> bool:
        if path is None:
            start = self.path or os.path.join(self._start_dir(), self.display_name())
            path, _ = QFileDialog.getSaveFileName(self.window, "Save project as", start, FILTER)
            if not path:
                return False
        path = str(path)
        if not path.endswith(".nwproj"):
            path += ".nwproj"
        doc = self.window.document
        if str(doc.meta.get("name") or "Untitled") == "Untitled":  # the model is named too
            doc.set_meta(name=Path(path).stem)
        if not self._write(path):
            return False
        old = self.path
        self.path = path
        self.window.document.path = path
        if old != path:
            pf.clear_recovery(old, self.window.document)
        self.add_recent(path)
        self.changed.emit()
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved work; True when it is fine to replace/close the project."""
        if not self.dirty:
            return True
        answer = self.window.ask_save_discard_cancel(
            f"Save changes to {self.display_name()} before closing it?")
        if answer == "save":
            return self.save()
        if answer == "discard":
            pf.clear_recovery(self.path, self.window.document)
            return True
        return False

    # ------------------------------------------------------------- recovery
    def autosave(self) -> Path | None:
        doc = self.window.document
        if not self.dirty or doc is None:
            return None
        try:
            written = pf.write_recovery(doc, weights=doc.weights)
        except (pf.ProjectFileError, OSError, ValueError) as exc:
            # Told once per failing spell (not every minute); never raised into Qt's
            # timer, which would take the app down with the work in it.
            if not self._autosave_failed:
                self._autosave_failed = True
                self.last_error = f"Autosave failed: {exc}"
                self.window.statusBar().showMessage(
                    f"Autosave failed: {exc}. Save the project yourself to keep your work.",
                    15000)
            return None
        self._autosave_failed = False
        return written

    def offer_recovery(self) -> bool:
        """If an autosave was left behind, offer to reopen it; True when reopened."""
        found = pf.find_recovery()
        if found is None:
            return False
        origin = pf.recovery_origin(found)
        what = origin or "an unsaved project"
        if not self.window.ask_yes_no(
                "Recover unsaved work?",
                f"Netweaver found unsaved changes to {what} from an earlier session.\n"
                "Reopen them?"):
            found.unlink(missing_ok=True)
            return False
        doc = self._load(found, code_base=origin)
        if doc is None:
            return False
        self._replace(doc, origin)
        self.mark_dirty()  # recovered work is not saved anywhere yet
        return True

    # -------------------------------------------------------------- recents
    def recent(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        items = [p for p in self.recent() if p != path]
        self.settings.setValue("recent_files", [path] + items[:MAX_RECENT - 1])
        self.settings.sync()
        self.changed.emit()

    def clear_recent(self) -> None:
        self.settings.setValue("recent_files", [])
        self.changed.emit()

    # -------------------------------------------------------------- helpers
    def _start_dir(self) -> str:
        recent = self.recent()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    def _load(self, path, code_base=None):
        what = _not_a_project(path)
        if what:
            self.last_error = what
            self.window.show_error("Cannot open project", what)
            return None
        if not self.window.layer_code.prepare(path, code_base):
            self.last_error = self.window.layer_code.last_error
            return None  # the user said no to its layer code, or the code failed
        try:
            doc, _weights = pf.load_project(path)
        except (pf.ProjectFileError, OSError, ValueError) as exc:
            self.last_error = str(exc)
            self.window.show_error("Cannot open project", str(exc))
            return None
        return doc

    def _load_model(self, path):
        """A Keras model file as a document, or None (the error was shown)."""
        from core.graph.datatypes import GraphError
        from core.saving.keras_format import ModelFileError
        try:
            try:
                doc, self.last_notes = open_model_file(path)
            except UnsupportedLayersError as exc:
                what = (f"the first {exc.first_known} layers" if exc.first_known else
                        f"the {exc.part} layers that do not depend on them")
                if not exc.part or not self.window.ask_yes_no(
                        "Open the supported part?",
                        f"{exc}\n\nOpen {what}, with their trained weights?"):
                    raise
                doc, self.last_notes = open_model_file(path, supported_part=True)
        except (GraphError, ModelFileError, OSError, ValueError) as exc:
            # The loader's message names the file and the problem; say it was read as Keras.
            self.last_error = f"Cannot open it as a Keras model: {exc}"
            self.window.show_error("Cannot open model", self.last_error)
            return None
        return doc

    def _tell_notes(self, path) -> None:
        name = Path(path).name
        self.window.statusBar().showMessage(
            f"Opened {name} as a new project" + (" (see the notes)" if self.last_notes
                                                   else ""), 8000)
        if self.last_notes and not self.window.quiet_errors:
            from PySide6.QtWidgets import QMessageBox
            QMessageBox.information(self.window, f"Opened {name}",
                                    "\n\n".join(self.last_notes))

    def _write(self, path: str) -> bool:
        doc = self.window.document
        try:
            pf.save_project(doc, path, weights=doc.weights)
        except (OSError, ValueError) as exc:
            self.last_error = str(exc)
            self.window.show_error("Cannot save project", str(exc))
            return False
        pf.clear_recovery(path)
        self._mark_clean()
        self.window.statusBar().showMessage(f"Saved {path}", 3000)
        return True

    def _replace(self, doc, path) -> None:
        self.path = path
        doc.path = path
        self.window.set_document(doc)
        self._mark_clean()


def _is_example(path) -> bool:
    try:
        return Path(path).resolve().parent == examples_dir().resolve()
    except OSError:
        return False


def _not_a_project(path) -> str | None:
    """Why ``path`` is plainly no ``.nwproj`` (a Keras zip, an HDF5 file), else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None  # load_project reports it, naming the file
    name = Path(path).name
    if head.startswith(b"PK"):
        return (f"{name} is a zip archive (a Keras .keras model?), not a Netweaver project "
                "(.nwproj, JSON). Rename a Keras model to end in .keras to open it.")
    if head.startswith(b"\x89HDF"):
        return (f"{name} is an HDF5 file (a Keras .h5 model?), not a Netweaver project "
                "(.nwproj). Rename a Keras model to end in .h5 to open it.")
    return None
