"""Facts about a layer live on its class (``core.layers.facts``, structure move 3): the
parts below must not keep their own lists of layer class names, so a new layer needs
no edit in them. Checked on the code's string literals (docstrings and palette group
names, such as "Activation", aside); ``layer_name_literals`` is also the inventory
of the name lists left elsewhere (``python -m tests.test_layer_name_lists``).
"""

from __future__ import annotations

import ast
import inspect
from collections import Counter
from pathlib import Path

import core.layers  # noqa: F401  (registers every layer)
from core.layers.spec import GROUPS, nested_layers, registered_layers

REPO = Path(__file__).resolve().parents[1]
# The parts that read the class facts instead of lists (ONNX and code exporters find
# each layer's emitter through the registry; emitters themselves may name their layer).
NO_NAME_LISTS = ["core/saving/serialization.py", "core/models/inference.py",
                 "core/layers/fusion.py", "core/runtime.py", "core/models/batch_threads.py",
                 "core/export/keras_code.py", "core/export/onnx/__init__.py",
                 "desktop/editor/theme.py", "desktop/editor/fields.py",
                 "desktop/editor/palette.py", "desktop/editor/inspector.py"]


def layer_name_literals(path: Path) -> list[tuple[int, str]]:
    """``(line, name)`` of every code string literal in ``path`` that is a registered
    layer class name, outside that class's own file (docstrings and group names left
    out)."""
    names = {**registered_layers(), **nested_layers()}
    own = {n: Path(inspect.getsourcefile(c)).resolve() for n, c in names.items()}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in docs and node.value in names
                  and node.value not in GROUPS and own[node.value] != path.resolve())


def test_these_parts_keep_no_list_of_layer_names():
    found = {p: layer_name_literals(REPO / p) for p in NO_NAME_LISTS}
    assert not any(found.values()), {p: h for p, h in found.items() if h}


def test_the_check_sees_a_name_list(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('"""Dense in a docstring."""\nX = frozenset({"Dropout", "LSTM", "Core"})\n',
                     encoding="utf-8")
    assert [n for _, n in layer_name_literals(probe)] == ["Dropout", "LSTM"]


if __name__ == "__main__":  # the inventory: every file with such literals, and how many
    counts = Counter()
    for root in ("core", "desktop"):
        for p in sorted((REPO / root).rglob("*.py")):
            counts[str(p.relative_to(REPO))] = len(layer_name_literals(p))
    for p, n in counts.most_common():
        if n:
            print(f"{n:4d} {p}")
    print("TOTAL", sum(counts.values()), "in", sum(1 for n in counts.values() if n), "files")
