"""Rules a green unit test would not otherwise see: lint, and core never importing Qt."""

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_core_never_imports_qt_or_desktop():
    code = (
        "import sys, core, core.layers, core.models, core.losses, core.optimizers, "
        "core.metrics, core.callbacks, core.datasets, core.graph, core.saving, core.utils, "
        "core.cli, core.cli.data, core.session.training_run, core.session.project_data, "
        "core.session.own_data, core.session.shipped_samples, core.session.smoothing\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'desktop')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_no_core_file_names_qt_or_desktop_in_an_import():
    """Also the modules the import above does not reach (lazy imports inside functions)."""
    import re

    pattern = re.compile(r"^\s*(from|import)\s+(PySide6|pyqtgraph|desktop)\b", re.M)
    bad = [str(p.relative_to(REPO)) for p in (REPO / "core").rglob("*.py")
           if pattern.search(p.read_text(encoding="utf-8"))]
    assert not bad, bad


def test_ruff_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (it comes with the test extras)")
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "core", "desktop", "tests",
                          "benchmarks", "resources"],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
