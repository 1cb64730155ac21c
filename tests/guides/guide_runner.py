"""Run the code blocks of an official Keras 3 guide (keras-io ``guides/*.py``) against
``core`` with only the import changed: ``import keras`` -> ``import core as keras``.

The guides themselves are not part of this repository (keras-io, Apache 2.0; the
project keeps third-party code out of its commits): put their sources in
``../shared/data/keras-io-guides/`` (or pass a folder to ``python -m
tests.guides.guide_runner <folder>``). A guide file is split as keras.io renders it:
its top-level string literals are the prose, and the statements between two of them
are one code block. Blocks run in order in one namespace (as the notebook does), each
after the text substitutions listed for it (data shrunk, nothing else), unless listed
as excluded with a reason.

>>> blocks = split_blocks("'Intro'\\nx = 1\\ny = x + 1\\n'More'\\nprint(y)\\n")
>>> [b.source for b in blocks]
['x = 1\\ny = x + 1', 'print(y)']
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import sys
import tempfile
import traceback
import warnings
from dataclasses import dataclass, field

# The guides run in a scratch folder (they save files to relative paths): ``core`` must
# stay importable from there.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

# The import lines a guide may use, and what each becomes (the only change to its code).
IMPORTS = [
    (re.compile(r"^import keras_core as keras$", re.M), "import core as keras"),
    (re.compile(r"^import keras$", re.M), "import core as keras"),
    (re.compile(r"^from keras_core import ", re.M), "from core import "),
    (re.compile(r"^from keras import ", re.M), "from core import "),
]


@dataclass
class Block:
    index: int
    line: int
    source: str


@dataclass
class Outcome:
    index: int
    line: int
    status: str  # "passed", "failed", "excluded"
    detail: str = ""


@dataclass
class GuideResult:
    name: str
    outcomes: list = field(default_factory=list)

    def count(self, status) -> int:
        return sum(o.status == status for o in self.outcomes)

    def summary(self) -> str:
        return (f"{self.name}: {self.count('passed')} passed, {self.count('failed')} failed, "
                f"{self.count('excluded')} excluded of {len(self.outcomes)} blocks")


def split_blocks(source: str) -> list[Block]:
    """The code blocks of a guide: runs of top-level statements between prose strings."""
    tree = ast.parse(source)
    lines = source.splitlines()
    blocks, run = [], []

    def close():
        if run:
            start, end = run[0].lineno, run[-1].end_lineno
            # Decorators and comments directly above the first statement belong to it.
            first = min([start] + [d.lineno for d in getattr(run[0], "decorator_list", [])])
            while first > 1 and lines[first - 2].lstrip().startswith("#"):
                first -= 1
            text = "\n".join(lines[first - 1:end]).strip("\n")
            blocks.append(Block(len(blocks), first, text))
            run.clear()

    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and \
                isinstance(node.value.value, str):
            close()
        else:
            run.append(node)
    close()
    return blocks


def adapt(block_source: str, substitutions=()) -> str:
    """The block with the import lines changed and the listed data substitutions."""
    text = block_source
    for pattern, repl in IMPORTS:
        text = pattern.sub(repl, text)
    for old, new in substitutions:
        if old not in text:
            raise ValueError(f"substitution {old!r} does not occur in the block")
        text = text.replace(old, new)
    return text


def run_guide(name: str, source: str, excluded: dict, substitutions: dict,
              workdir: str | None = None) -> GuideResult:
    """Run every block; ``excluded`` maps block index -> (expected snippet, reason),
    ``substitutions`` block index -> [(old, new), ...]. Output is captured.

    A block that runs but leaves weights untrained (the engine's "Gradients do not
    exist" warning) fails: the guide trains every weight in Keras. The environment is
    restored afterwards (a guide may set ``KERAS_BACKEND`` for the real Keras)."""
    result = GuideResult(name)
    namespace = {"__name__": f"guide_{name}"}
    workdir = workdir or tempfile.mkdtemp(prefix=f"guide_{name}_")
    previous, environ = os.getcwd(), dict(os.environ)
    os.chdir(workdir)  # guides save files to relative paths
    try:
        for block in split_blocks(source):
            if block.index in excluded:
                snippet, reason = excluded[block.index]
                if snippet not in block.source:
                    raise ValueError(f"{name} block {block.index} (line {block.line}) does "
                                     f"not contain {snippet!r}: the guide changed, review the "
                                     "exclusion list")
                result.outcomes.append(Outcome(block.index, block.line, "excluded", reason))
                continue
            code = adapt(block.source, substitutions.get(block.index, ()))
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out), \
                        warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    exec(compile(code, f"<{name} block {block.index}>", "exec"), namespace)
            except Exception as e:  # a failing block is reported, the next ones still run
                tb = traceback.format_exception_only(type(e), e)[-1].strip()
                result.outcomes.append(Outcome(block.index, block.line, "failed", tb))
                continue
            untrained = [str(w.message) for w in caught
                         if str(w.message).startswith("Gradients do not exist")]
            status = "failed" if untrained else "passed"
            detail = untrained[0][:300] if untrained else ""
            result.outcomes.append(Outcome(block.index, block.line, status, detail))
    finally:
        os.chdir(previous)
        os.environ.clear()
        os.environ.update(environ)
    return result


def main(folder: str) -> None:  # pragma: no cover - a manual entry point
    from tests.guides.guide_manifest import GUIDES

    for name, spec in GUIDES.items():
        path = os.path.join(folder, f"{name}.py")
        if not os.path.isfile(path):
            print(f"{name}: {path} missing")
            continue
        with open(path, encoding="utf-8") as f:
            res = run_guide(name, f.read(), spec["excluded"], spec.get("substitutions", {}))
        as_keras = spec.get("keras_failures", {})
        print(res.summary() + (f" ({len(as_keras)} of the failed fail on real Keras "
                               "3.15.1 too)" if as_keras else ""))
        for o in res.outcomes:
            if o.status != "passed":
                note = " [as on real Keras]" if o.index in as_keras else ""
                print(f"  block {o.index} (line {o.line}) {o.status}{note}: {o.detail}")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1])
