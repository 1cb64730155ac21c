"""The package-level import graph of ``core/*`` and its cycles, read from the source
with ``ast`` (nothing is imported), counting lazy imports inside functions too: a
lazy import is still a dependency, it only hides the cycle from the interpreter.

A package is a direct child of ``core`` (``core/saving/``) or a top-level module
(``core/runtime.py``). ``python -m tests.helpers.import_graph`` prints the edges that
form cycles and the cycles themselves.

>>> graph = package_imports()
>>> "core.layers" in graph["core.models"]
True
"""

from __future__ import annotations

import ast
from pathlib import Path

from core.graph.cycles import strongly_connected

CORE = Path(__file__).resolve().parents[2] / "core"


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "core" or len(parts) < 2:
        return None
    return ".".join(parts[:2])


def _module_name(path: Path) -> str:
    rel = path.relative_to(CORE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.AST, module: str, is_package: bool):
    """Every module named by an import statement anywhere in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target
            for alias in node.names:  # ``from core import saving`` names a package
                yield f"{target}.{alias.name}"


def module_imports(package: str) -> dict[str, set[str]]:
    """``{module of package: core modules it imports}`` for one package of core."""
    root = CORE / package.split(".", 1)[1]
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]
    out = {}
    for path in files:
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        out[module] = {m for m in _imported(tree, module, path.name == "__init__.py")
                       if m.startswith("core.")}
    return out


def packages() -> list[str]:
    names = []
    for path in sorted(CORE.iterdir()):
        if path.is_dir() and (path / "__init__.py").exists():
            names.append(f"core.{path.name}")
        elif path.suffix == ".py" and path.name != "__init__.py":
            names.append(f"core.{path.stem}")
    return names


def package_imports() -> dict[str, set[str]]:
    """``{package: other core packages it imports}``."""
    known = set(packages())
    graph = {}
    for package in known:
        deps = set()
        for targets in module_imports(package).values():
            for target in targets:
                dep = _package_of(target)
                if dep in known and dep != package:
                    deps.add(dep)
        graph[package] = deps
    return graph


def importers(package: str, dep: str) -> list[str]:
    """The modules of ``package`` that import something from ``dep``."""
    return sorted(m for m, targets in module_imports(package).items()
                  if any(_package_of(t) == dep for t in targets))


def mutual(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Pairs of packages that import each other (the shortest import circles)."""
    return sorted((a, b) for a in graph for b in graph[a] if a < b and a in graph.get(b, ()))


def module_graph() -> dict[str, set[str]]:
    """``{core module: core modules it imports}``, package ``__init__`` files left out
    (their re-exports would join every package to its own modules)."""
    raw = {}
    for package in packages():
        raw.update(module_imports(package))
    inits = {m for m in raw if (CORE.parent / m.replace(".", "/") / "__init__.py").exists()}
    known = set(raw) - inits
    graph = {}
    for module in known:
        deps = set()
        for target in raw[module]:
            while target and target not in raw:
                target = target.rpartition(".")[0]
            if target in known and target != module:
                deps.add(target)
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected sets of more than one package, sorted."""
    return sorted(strongly_connected(graph, graph.get, keep_self_loops=False))


def main() -> None:
    graph = package_imports()
    found = cycles(graph)
    print(f"{len(found)} strongly connected set(s) of core packages:")
    for comp in found:
        print("  " + ", ".join(comp))
    pairs = mutual(graph)
    print(f"{len(pairs)} pair(s) of packages importing each other:")
    for a, b in pairs:
        print(f"  {a} <-> {b}")
        print(f"    {a} -> {b}: {', '.join(importers(a, b))}")
        print(f"    {b} -> {a}: {', '.join(importers(b, a))}")
    found = cycles(module_graph())
    print(f"{len(found)} circle(s) among core's modules (package __init__ files left out):")
    for comp in found:
        print("  " + ", ".join(comp))


if __name__ == "__main__":
    main()
