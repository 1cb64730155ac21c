"""Atomic saves that survive a kill at any instant, and clean up after one that did not.

A file save writes ``.<name>.<pid>-<rand>.tmp`` beside the target, fsyncs it and
``os.replace``s it over the target: a reader sees the old file or the new one,
never half of one. The new file keeps the old one's permission bits, and a
target that is a symlink is written *through* (the link stays a link).

A folder save (``.keras`` saved unzipped) cannot be swapped in one rename, so it
is two: the old folder into a holder ``.<name>.<pid>-<rand>.old/m``, then the new
folder into place. A kill between the two leaves no target; ``recover(path)``
(called before every save and load) moves the old folder back. It also deletes
the temporaries of saves whose process is gone, so killed saves leave nothing
behind for long.

>>> atomic_write("model.keras", lambda f: f.write(b"..."))   # doctest: +SKIP
>>> write_folder("model.keras", {"config.json": b"{}"})      # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import time

STALE_SECONDS = 3600  # a temporary this old is abandoned even if its pid was reused
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.(?P<kind>tmp|tmpdir|old)$")


def _temp_name(path: str, kind: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.{os.getpid()}-{secrets.token_hex(4)}.{kind}")


def resolve_target(path) -> str:
    """The file a save to ``path`` should replace: a symlink's final target."""
    path = os.path.abspath(os.fspath(path))
    return os.path.realpath(path) if os.path.islink(path) else path


def _new_mode(target: str) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)  # keep the original's mode
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask  # what open() would give a new file


def atomic_write(path, write) -> str:
    """Call ``write(fileobj)`` on a temp file beside ``path``, then move it into place.
    Returns the path actually written (the link target when ``path`` is a symlink)."""
    target = resolve_target(path)
    recover(target)
    tmp = _temp_name(target, "tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_mode(target))
        os.replace(tmp, target)
        _fsync_dir(os.path.dirname(target))
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return target


def write_folder(path, members: dict) -> str:
    """Write ``{file name: bytes}`` as the folder ``path``, replacing an old one so
    that a kill at any point leaves the old folder, the new one, or (until the next
    ``recover``) the old one in a holder beside it."""
    target = resolve_target(path)
    recover(target)
    tmp = _temp_name(target, "tmpdir")
    os.mkdir(tmp, 0o700)
    holder = None
    try:
        for name, data in members.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)  # assets/
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, _new_mode(target) | 0o700 if os.path.isdir(target) else 0o755)
        if os.path.lexists(target):
            holder = _temp_name(target, "old")
            os.mkdir(holder, 0o700)
            os.replace(target, os.path.join(holder, "m"))
        os.replace(tmp, target)
        _fsync_dir(os.path.dirname(target))
    finally:
        if os.path.lexists(tmp):
            if os.path.lexists(target):
                shutil.rmtree(tmp, ignore_errors=True)
            elif holder:  # the swap failed half-way: put the old folder back
                os.replace(os.path.join(holder, "m"), target)
        if holder:
            shutil.rmtree(holder, ignore_errors=True)
    return target


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: leave it
    return True


def recover(path) -> None:
    """Undo what a killed save of ``path`` left: restore a folder target from its
    holder when the target is missing, then delete abandoned temporaries."""
    target = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(target)
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    now = time.time()
    temps = []
    for entry in entries:
        m = _TEMP.match(entry)
        if not m or m.group("name") != name:
            continue
        full = os.path.join(folder, entry)
        try:
            age = now - os.lstat(full).st_mtime
        except OSError:
            continue
        if _alive(int(m.group("pid"))) and age < STALE_SECONDS:
            continue  # a save in progress
        temps.append((m.group("kind"), age, full))
    if not os.path.lexists(target):
        holders = sorted((age, full) for kind, age, full in temps if kind == "old" and
                         os.path.isdir(os.path.join(full, "m")))
        if holders:
            try:
                os.replace(os.path.join(holders[0][1], "m"), target)
            except OSError:
                return  # leave everything as it is for a later try
    for kind, _age, full in temps:
        try:
            if kind == "tmp":
                os.unlink(full)
            else:
                shutil.rmtree(full)
        except OSError:
            pass


def _fsync_dir(folder: str) -> None:
    """Make the rename itself durable (POSIX); harmless where not supported."""
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
