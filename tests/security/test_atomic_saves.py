"""Saves are atomic and tidy: mode kept, symlinks written through, a folder save killed
between its two renames is recovered, and temporaries of killed saves are cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from core import backend
from core.graph import GraphDocument
from core.graph import project_file as pf
from core.saving import load_model, save_model
from tests.security.helpers import REPO, small_model

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX modes, symlinks and signals")


@pytest.fixture(autouse=True)
def _fresh():
    backend.clear_session()


@posix
@pytest.mark.parametrize("kind", ["keras", "nwproj"])
def test_saved_file_keeps_the_original_mode(tmp_path, kind):
    """0o640 is neither a temporary file's 0o600 nor what a fresh file gets under the
    usual umask (0o644), so only a save that copies the old mode passes."""
    path = tmp_path / f"m.{kind}"

    def save():
        if kind == "keras":
            save_model(small_model(), path)
        else:
            doc = GraphDocument()
            doc.add_node("InputLayer", config={"shape": [4]})
            pf.save_project(doc, path)
    save()
    os.chmod(path, 0o640)
    save()
    assert (os.stat(path).st_mode & 0o777) == 0o640


@posix
def test_saving_to_a_symlink_writes_through_it(tmp_path):
    real = tmp_path / "store" / "m.keras"
    real.parent.mkdir()
    save_model(small_model(), real)
    link = tmp_path / "link.keras"
    link.symlink_to(real)
    before = real.stat().st_mtime_ns
    time.sleep(0.01)
    save_model(small_model(), link)
    assert link.is_symlink() and real.stat().st_mtime_ns != before
    load_model(link)


@posix
def test_project_save_keeps_mode_and_symlink(tmp_path):
    doc = GraphDocument()
    doc.add_node("InputLayer", config={"shape": [3]})
    real = tmp_path / "real.nwproj"
    pf.save_project(doc, real)
    os.chmod(real, 0o640)
    link = tmp_path / "link.nwproj"
    link.symlink_to(real)
    pf.save_project(doc, link)
    assert link.is_symlink() and (os.stat(real).st_mode & 0o777) == 0o640


def _killed_save(tmp_path, target, hang_in: str, zipped=True):
    """Start a child that saves ``target`` and blocks inside ``hang_in``; SIGKILL it."""
    flag = tmp_path / "reached"
    code = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from core.saving import save_model
        from core import safety_writes
        from tests.security.helpers import small_model
        real = getattr(os, {hang_in!r})
        def hang(*a, **k):
            if {hang_in!r} != "replace" or str(a[1]) == {str(target)!r}:
                open({str(flag)!r}, "w").close()
                time.sleep(600)
            return real(*a, **k)
        setattr(os, {hang_in!r}, hang)
        save_model(small_model(), {str(target)!r}, zipped={zipped})
    """)
    child = subprocess.Popen([sys.executable, "-c", code], cwd=str(REPO))
    deadline = time.time() + 120
    while not flag.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert flag.exists(), "the child never reached the point to kill it at"
    child.send_signal(signal.SIGKILL)
    child.wait()


def _leftovers(folder, name):
    return [p for p in os.listdir(folder) if p.startswith("." + name)]


@posix
@pytest.mark.timeout(180)
def test_temp_file_of_a_killed_save_is_cleaned_on_next_load_and_save(tmp_path):
    target = tmp_path / "m.keras"
    save_model(small_model(), target)
    _killed_save(tmp_path, target, "fsync")
    assert _leftovers(tmp_path, "m.keras")  # the kill left a temporary
    load_model(target)  # the old model is intact
    assert not _leftovers(tmp_path, "m.keras")
    _killed_save(tmp_path, target, "fsync")
    save_model(small_model(), target)
    assert not _leftovers(tmp_path, "m.keras")


@posix
@pytest.mark.timeout(180)
def test_folder_save_killed_between_renames_is_recovered_on_load(tmp_path):
    target = tmp_path / "m.keras"
    save_model(small_model(), target, zipped=False)
    _killed_save(tmp_path, target, "replace", zipped=False)
    assert not target.exists()  # killed after moving the old folder aside
    load_model(target)  # recovered: the old folder is back
    assert target.is_dir() and not _leftovers(tmp_path, "m.keras")
