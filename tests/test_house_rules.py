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


def test_saving_never_imports_models():
    # Structure move 4: models own their configs and register their classes by name, so
    # saving needs nothing from models (a lazy import inside a function counts too).
    from tests.helpers.import_graph import importers, module_imports

    assert module_imports("core.saving"), "found no modules in core/saving"
    assert importers("core.saving", "core.models") == []


def test_saving_alone_loads_models_in_a_fresh_process():
    # With no import of core.models, the model classes are not registered yet: loading
    # through core.saving alone (Keras' keras.saving.load_model) must still work.
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from core.saving import load_model\n"
        "assert 'core.models' not in sys.modules\n"
        "for name in ('seq_mlp', 'func_two_inputs'):\n"
        "    ref = np.load(f'tests/fixtures/keras3/{name}.npz')\n"
        "    model = load_model(f'tests/fixtures/keras3/{name}.keras')\n"
        "    xs = [ref[f'x_{i}'] for i in range(2) if f'x_{i}' in ref.files]\n"
        "    y = model.predict(xs[0] if len(xs) == 1 else xs, verbose=0)\n"
        "    np.testing.assert_allclose(y, ref['pred_0'], rtol=1e-5, atol=1e-6)\n"
        "    print(type(model).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Sequential", "Functional"]
