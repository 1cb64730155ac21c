"""A project's own layer code: a Python module kept beside the ``.nwproj``.

The project records the module's file name and its SHA-256 in ``doc.meta["layer_code"]``.
Nothing here runs that code by itself: ``load_layer_code`` is called only after the user
has said yes (the app asks, as Keras' ``safe_mode`` does), and the app remembers a yes by
digest, so an edited file is asked about again. The module's ``Layer`` subclasses are
registered under their class names in group **Custom**; one with no ``params`` of its own
gets them from its ``__init__`` signature, so the palette and inspector show it like a
built-in layer.

>>> p = params_from_signature(type("Scale", (), {"__init__": lambda self, factor=2.0: None}))
>>> [(q.name, q.kind, q.default) for q in p]
[('factor', 'float', 2.0)]
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import traceback
import typing
from pathlib import Path

from core.safety import check_regular_file

MAX_CODE_BYTES = 1 << 20  # a layer module, not a program: 1 MiB is plenty
META_KEY = "layer_code"
_KIND_OF_TYPE = {bool: "bool", int: "int", float: "float", str: "str"}


class LayerCodeError(ValueError):
    """The project's layer code cannot be used; the message names the file and why."""


def digest(path) -> str:
    """SHA-256 (hex) of the module's bytes: what a user's trust is recorded against."""
    return hashlib.sha256(_read(path)).hexdigest()


def code_path(doc, project_path) -> str | None:
    """Where ``doc``'s layer code lives (beside ``project_path``), or None if it has none.

    Only a bare file name ending in ``.py`` is accepted: the code a user trusts is the
    file next to the project, never one a project names elsewhere on disk."""
    return _code_path(doc.meta.get(META_KEY), project_path)


def project_code_path(project_path, code_base=None) -> str | None:
    """``code_path`` read from the project file itself, before its nodes are built (they
    may need the code's classes). ``code_base``: the project the code sits beside when
    ``project_path`` is elsewhere (an autosave of it). A project file that cannot be
    read gives None here: ``load_project`` reports it, naming the file."""
    from core.graph.project_file import ProjectFileError, _read_json

    try:
        data = _read_json(Path(project_path))
    except ProjectFileError:
        return None
    meta = data.get("meta") if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        return None
    return _code_path(meta.get(META_KEY), code_base or project_path)


def _code_path(entry, project_path) -> str | None:
    if entry is None:
        return None
    name = entry.get("file") if isinstance(entry, dict) else None
    if (not isinstance(name, str) or not name.endswith(".py") or name != os.path.basename(name)
            or name.startswith(".")):
        raise LayerCodeError(f"Project '{project_path}': layer code entry {entry!r} is not "
                             "the name of a .py file beside the project.")
    return os.path.join(os.path.dirname(os.path.abspath(project_path)), name)


def attach(doc, path) -> dict:
    """Record ``path`` (which must sit beside the project) as ``doc``'s layer code."""
    entry = {"file": os.path.basename(path), "sha256": digest(path)}
    doc.meta[META_KEY] = entry
    return entry


def load_layer_code(path, trusted_sha256: str) -> list[type]:
    """Run the module at ``path`` and register its layers; returns their classes.

    ``trusted_sha256`` is the digest the user said yes to: the bytes run are the bytes
    checked, so a file changed after the question is refused, not run. Loading the same
    file again (after an edit, trusted anew) replaces the classes it registered before.
    Raises ``LayerCodeError`` naming the file, the line and the error if the module fails.
    """
    from core.layers.base import Layer
    from core.layers.spec import register_layer, registered_layers, unregister_layer

    source = _read(path)
    if hashlib.sha256(source).hexdigest() != trusted_sha256:
        raise LayerCodeError(f"Layer code '{path}' changed since it was trusted; "
                             "nothing was run. Open the project again to review it.")
    name = "netweaver_layer_code_" + hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:12]
    old = sys.modules.pop(name, None)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        # The one place Netweaver runs code from a project, after the user said yes to
        # exactly these bytes (not ``spec.loader``, which would read the file again).
        exec(compile(source, path, "exec"), module.__dict__)
    except Exception as exc:  # the user's code may raise anything: report, keep the old
        del sys.modules[name]
        if old is not None:
            sys.modules[name] = old
        line = next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__))
                     if f.filename == path), None)
        where = f", line {line}" if line else ""
        raise LayerCodeError(f"Layer code '{path}'{where}: {type(exc).__name__}: {exc}") from exc
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, Layer) and c.__module__ == name]
    if old is not None:
        for cname, cls in registered_layers().items():
            if cls.__module__ == name:
                unregister_layer(cname)
    known = registered_layers()
    for cls in classes:
        if cls.__name__ in known:
            raise LayerCodeError(f"Layer code '{path}': class {cls.__name__} has the name of "
                                 "a built-in layer; rename it.")
        if "params" not in vars(cls):
            cls.params = params_from_signature(cls)
        if "group" not in vars(cls):
            cls.group = "Custom"
        register_layer(cls)
    return classes


def params_from_signature(cls) -> tuple:
    """Inspector fields for ``cls.__init__``: kind from the annotation, else the default.

    ``name``, ``**kwargs`` and ``*args`` are left out (the document names layers itself).
    An argument whose kind cannot be told (no annotation, default None or no default)
    raises ``LayerCodeError``: the palette could not offer a field for it.
    """
    from core.layers.spec import Param

    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable annotations: fall back on the defaults
        hints = {}
    params = []
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == "name":
            continue
        default = None if p.default is p.empty else p.default
        kind = _KIND_OF_TYPE.get(hints.get(p.name)) or _KIND_OF_TYPE.get(type(default))
        if kind is None:
            raise LayerCodeError(
                f"Layer {cls.__name__}: argument '{p.name}' has no type the inspector can "
                "show; give it a default (int, float, bool or str) or an annotation, or "
                "declare the class's params.")
        if kind == "float" and isinstance(default, int) and not isinstance(default, bool):
            default = float(default)
        params.append(Param(p.name, kind, default, doc=f"{cls.__name__}({p.name}=...)"))
    return tuple(params)


def _read(path) -> bytes:
    check_regular_file(path, error=LayerCodeError, what="layer code file")
    with open(path, "rb") as f:
        data = f.read(MAX_CODE_BYTES + 1)
    if len(data) > MAX_CODE_BYTES:
        raise LayerCodeError(f"Layer code '{path}' is larger than {MAX_CODE_BYTES} bytes.")
    return data
