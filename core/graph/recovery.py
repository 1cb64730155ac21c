"""Autosave (recovery) files of projects: where they go, writing, finding and clearing them.

An autosave is an ordinary ``.nwproj`` (``core.graph.project_file``) in the per-user
state folder, with ``"recovery_of"``: the project path it protects (None for an unsaved
project, whose file is named by the document's recovery token). ``load_project`` reopens
one as the project it protects only when it is that project's own recovery file.

>>> path = write_recovery(doc)                       # doctest: +SKIP
>>> find_recovery() == path                          # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from pathlib import Path

from core.graph.project_file import ProjectFileError, _read_json, _write, load_project

_NOT_RECOVERY = object()
_UNTITLED = "untitled-"


def _checked_origin(path: Path, origin):
    """``origin`` when ``path`` is the recovery file ``write_recovery`` makes for it
    (None: an unsaved project's), else ``_NOT_RECOVERY``."""
    try:
        here = path.resolve()
        folder = (state_dir() / "recovery").resolve()
    except (OSError, RuntimeError):
        return _NOT_RECOVERY
    if here.parent != folder:
        return _NOT_RECOVERY
    if origin is None:
        return None if here.name.startswith(_UNTITLED) else _NOT_RECOVERY
    if not isinstance(origin, str) or not origin.endswith(".nwproj"):
        return _NOT_RECOVERY
    try:
        expected = recovery_path(origin).resolve()
    except (OSError, RuntimeError, ValueError):
        return _NOT_RECOVERY
    return origin if expected == here else _NOT_RECOVERY


# ------------------------------------------------------------------ autosave

def state_dir() -> Path:
    """Per-user state folder (``NETWEAVER_STATE_DIR`` overrides it, e.g. in tests)."""
    env = os.environ.get("NETWEAVER_STATE_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "Netweaver"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Netweaver"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "netweaver"


def recovery_path(path=None, doc=None) -> Path:
    """Where the autosave of the project at ``path`` goes. An unsaved project
    (``path`` None) gets a file of its own, named by ``doc``'s recovery token, so two
    unsaved projects (two windows, two instances) never overwrite each other."""
    folder = state_dir() / "recovery"
    if path is None:
        return folder / f"{_UNTITLED}{_token(doc)}.nwproj"
    full = str(Path(path).expanduser().resolve())
    digest = hashlib.sha1(full.encode("utf-8")).hexdigest()[:10]
    return folder / f"{Path(path).stem}-{digest}.nwproj"


def _token(doc) -> str:
    """The document's recovery token, made on first use (process id + random)."""
    if doc is None:
        return f"{os.getpid()}"
    token = getattr(doc, "recovery_token", None)
    if not isinstance(token, str) or not token:
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        doc.recovery_token = token
    return token


def write_recovery(doc, weights=None) -> Path:
    """Autosave ``doc`` beside its siblings in the state folder (``doc.path`` unchanged).

    Raises ``ProjectFileError`` when the state folder cannot be written."""
    target = recovery_path(doc.path, doc)
    _write(doc, target, weights, extra={"recovery_of": doc.path})
    return target


def find_recoveries() -> list[Path]:
    """Autosaves left behind (e.g. after a crash) that can be read, newest first.
    An unreadable one (torn, corrupt, hostile) is skipped, so an older good one is
    still offered."""
    folder = state_dir() / "recovery"
    if not folder.is_dir():
        return []
    files = []
    for p in folder.glob("*.nwproj"):
        try:
            if p.is_file():
                files.append((p.stat().st_mtime, p))
        except OSError:
            continue
    good = []
    for _mtime, p in sorted(files, key=lambda t: t[0], reverse=True):
        try:
            load_project(p)
        except (ProjectFileError, OSError, ValueError, TypeError):
            continue
        good.append(p)
    return good


def find_recovery() -> Path | None:
    """The newest readable autosave left behind, or None."""
    found = find_recoveries()
    return found[0] if found else None


def recovery_origin(recovery_file) -> str | None:
    """The project path an autosave was made for (None for an unsaved project, or when
    the file's recorded origin is not the project it is the recovery file of)."""
    path = Path(recovery_file)
    try:
        data = _read_json(path)
    except ProjectFileError:
        return None
    origin = data.get("recovery_of") if isinstance(data, dict) else None
    checked = _checked_origin(path, origin)
    return checked if isinstance(checked, str) else None


def clear_recovery(path=None, doc=None) -> None:
    """Delete the autosave of the project at ``path`` (None: the unsaved ``doc``'s;
    nothing when neither is given)."""
    if path is None and (doc is None or not getattr(doc, "recovery_token", None)):
        return
    target = recovery_path(path, doc)
    try:
        target.unlink()
    except FileNotFoundError:
        pass
