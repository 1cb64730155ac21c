"""Asking before a project's own layer code runs, and "Add layer code…".

A project may carry a Python module of the user's layers (``core.graph.layer_code``).
Opening such a project asks first, as Keras' ``safe_mode`` does: the dialog names the
file and its SHA-256, and a yes is remembered for exactly those bytes (QSettings), so
an edited file is asked about again. A no leaves the project closed: its custom nodes
cannot exist without their classes. Once loaded, the layers appear in the palette
under **Custom** with inspector fields from their ``__init__``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from core.graph import layer_code as lc

TRUSTED_KEY = "layerCode/trusted"


class LayerCodeTrust:
    """The window's gate for project layer code (``window.layer_code``)."""

    def __init__(self, window, settings):
        self.window = window
        self.settings = settings
        self.last_error = None

    # ------------------------------------------------------------- opening
    def prepare(self, project_path, code_base=None) -> bool:
        """Before ``project_path`` is read: load its layer code if the user trusts it.
        ``code_base`` is the project the code sits beside (a recovery file's origin).
        True when the project may open (no code, or code now loaded)."""
        try:
            code = lc.project_code_path(project_path, code_base)
        except lc.LayerCodeError as exc:
            return self._refuse(str(exc))
        if code is None:
            return True
        try:
            digest = lc.digest(code)
        except lc.LayerCodeError as exc:
            return self._refuse(f"{exc}\nThe project's custom layers need this file.")
        if digest not in self._trusted() and not self.window.ask_yes_no(
                "Run this project's layer code?",
                f"{Path(project_path).name} comes with its own layer code:\n{code}\n"
                f"SHA-256 {digest[:16]}…\n\nOpening the project runs this Python file on "
                "your computer with your permissions. Only say yes if you trust where the "
                "project came from.\n\nRun it and open the project?"):
            return self._refuse(f"{Path(project_path).name} was not opened: its custom "
                                "layers need their code, which you chose not to run.")
        return self._load(code, digest)

    # ----------------------------------------------------- Add layer code…
    def add_layer_code(self, path=None) -> bool:
        """Copy a .py beside the (saved) project, run it, record it in the project."""
        doc, project = self.window.document, self.window.project.path
        if not project:
            return self._refuse("Save the project first: its layer code is kept beside "
                                "the .nwproj file.")
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Add layer code",
                                                  str(Path(project).parent),
                                                  "Python files (*.py)")
            if not path:
                return False
        source, target = Path(path), Path(project).parent / Path(path).name
        if source.resolve() != target.resolve():
            if target.exists() and target.read_bytes() != source.read_bytes():
                return self._refuse(f"{target} already exists beside the project and "
                                    "differs; rename one of them.")
            shutil.copy2(source, target)
        try:
            digest = lc.digest(target)
        except lc.LayerCodeError as exc:
            return self._refuse(str(exc))
        if not self._load(target, digest):
            return False
        lc.attach(doc, target)  # not an undoable edit: the code has already run
        self.window.project.mark_dirty()
        return True

    # ------------------------------------------------------------- helpers
    def _load(self, code, digest) -> bool:
        try:
            classes = lc.load_layer_code(str(code), digest)
        except lc.LayerCodeError as exc:
            return self._refuse(str(exc))
        self._remember(digest)
        self.window.palette.refresh()
        names = ", ".join(c.__name__ for c in classes) or "no layers"
        self.window.statusBar().showMessage(f"Layer code {Path(code).name}: {names}", 8000)
        return True

    def _trusted(self) -> list:
        value = self.settings.value(TRUSTED_KEY, [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember(self, digest) -> None:
        trusted = [d for d in self._trusted() if d != digest] + [digest]
        self.settings.setValue(TRUSTED_KEY, trusted[-200:])

    def _refuse(self, message) -> bool:
        self.last_error = message
        self.window.show_error("Layer code", message)
        return False
