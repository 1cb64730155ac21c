"""Every docstring example in ``core`` runs and prints what it says (the house style asks
for a short example in each docstring; this keeps them true as the code changes).

Examples that need a file, a download or a trained model carry ``# doctest: +SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import core

MODULES = sorted(m.name for m in pkgutil.walk_packages(core.__path__, "core.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=False)
    where = name.replace(".", "/") + ".py"
    assert result.failed == 0, (f"{name}: {result.failed} of {result.attempted} examples "
                                f"fail (python -m pytest --doctest-modules core/{where[5:]})")


def test_modules_found():
    assert "core.layers.dense" in MODULES and len(MODULES) > 100
