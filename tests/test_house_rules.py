"""Rules a green unit test would not otherwise see: lint, and core never importing Qt."""

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_core_never_imports_qt_or_desktop():
    code = (
        "import sys, core, core.layers, core.models, core.losses, core.optimizers, "
        "core.metrics, core.callbacks, core.datasets, core.graph, core.saving, core.utils\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'desktop')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_ruff_clean():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (it comes with the test extras)")
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "core", "desktop", "tests",
                          "benchmarks", "resources"],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_saving_never_imports_models():
    # Structure move 4: models own their configs and register their classes by name, so
    # saving needs nothing from models (a lazy import inside a function counts too).
    from tests.helpers.import_graph import importers, module_imports

    assert module_imports("core.saving"), "found no modules in core/saving"
    assert importers("core.saving", "core.models") == []
