"""The ``assets/`` folder of a ``.keras`` file: each saveable's ``save_assets(dir)`` /
``load_assets(dir)``, as Keras 3's ``saving_lib`` (its ``DiskIOStore``) runs them.

Saving: every layer (or optimizer) that has ``save_assets`` gets its own folder
``assets/<its weights path>`` (``assets`` itself for the model) in a scratch folder and
writes what it likes there; every file written becomes the archive member
``assets/<path>/<file>`` (folders left empty write nothing, as in Keras). Loading,
when the archive holds more than its three parts (Keras' own test): the ``assets/``
members are written to a scratch folder (their names were checked by
``keras_format.read_archive``: no absolute or ``..`` paths) and each saveable with
``load_assets`` gets its folder, or None when the file has none for it (the model
itself always gets the ``assets`` folder), as Keras passes them. Nothing else is run.

>>> class WithVocab(Dense):  # doctest: +SKIP
...     def save_assets(self, dir_path):
...         open(os.path.join(dir_path, "vocabulary.txt"), "w").write(self.vocab)
"""

from __future__ import annotations

import os
import shutil
import tempfile

from core.saving.weights_h5 import _walk

PREFIX = "assets/"


def _folder(root: str, path: str) -> str:
    return os.path.join(root, *path.split("/")) if path else root


def asset_members(model) -> dict[str, bytes]:
    """``{"assets/<path>/<file>": bytes}`` written by the model's ``save_assets`` hooks."""
    root = tempfile.mkdtemp(prefix="keras_assets_")
    try:
        def visit(obj, path):
            if hasattr(obj, "save_assets"):
                folder = _folder(root, path)
                os.makedirs(folder, exist_ok=True)
                obj.save_assets(folder)

        _walk(model, "", set(), visit)
        members = {}
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                with open(full, "rb") as f:
                    members[PREFIX + rel] = f.read()
        return members
    finally:
        shutil.rmtree(root, ignore_errors=True)


def folder_members(path: str, error, limit: int) -> tuple:
    """Member names of the files under the model folder's ``assets/`` (a link is
    refused with ``error``: an asset may only be a file of this folder)."""
    names = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(path, "assets")):
        dirnames.sort()
        for name in dirnames + filenames:
            if os.path.islink(os.path.join(dirpath, name)):
                raise error(f"{path}: {name!r} under assets/ is a link; a model folder's "
                            "assets must be plain files.")
        rel = os.path.relpath(dirpath, path).replace(os.sep, "/")
        names.extend(f"{rel}/{name}" for name in sorted(filenames))
    if len(names) > limit:
        raise error(f"{path}: {len(names)} asset files (limit {limit}).")
    return tuple(names)


def load_assets(model, members: dict[str, bytes], member_count: int) -> None:
    """Run the model's ``load_assets`` hooks on the archive's ``assets/`` members;
    ``member_count`` is how many members the archive has (Keras runs the hooks only
    when it has more than its three parts)."""
    if member_count <= 3:
        return
    root = tempfile.mkdtemp(prefix="keras_assets_")
    try:
        for name, data in members.items():
            if not name.startswith(PREFIX):
                continue
            target = _folder(root, name[len(PREFIX):].rstrip("/"))
            if name.endswith("/"):
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)

        def visit(obj, path):
            if hasattr(obj, "load_assets"):
                folder = _folder(root, path)
                obj.load_assets(folder if (not path or os.path.isdir(folder)) else None)

        _walk(model, "", set(), visit)
    finally:
        shutil.rmtree(root, ignore_errors=True)
