"""Editor canvas timings on a 300-node project (targets: open < 1 s, one edit < 50 ms).

* open: ``project.open(path)`` — read + validate the file, build every node and
  wire item, fit the view, and paint the viewport once.
* edit round trip: an undo command pushed through ``window.push_edit`` ->
  document edit and re-inference -> scene items updated -> viewport repainted.
  Measured for a config change high up the chain (re-infers everything below),
  a node move, adding a node, and an undo.

Run:  QT_QPA_PLATFORM=offscreen python benchmarks/editor_canvas.py [--nodes 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_project(path: Path, n_nodes: int) -> None:
    """A tall network: Input then repeating Dense/Activation/Dropout blocks with
    Add skip connections every few blocks, laid out top to bottom."""
    from core.graph import GraphDocument
    from core.graph.project_file import save_project
    from desktop.editor.layout import layered_layout

    doc = GraphDocument()
    prev = doc.add_node("InputLayer", {"shape": [64]})
    skip = prev
    count = 1
    block = 0
    while count < n_nodes:
        d = doc.add_node("Dense", {"units": 64, "activation": "relu"})
        doc.connect(prev, d)
        prev, count = d, count + 1
        if count < n_nodes and block % 2 == 0:
            a = doc.add_node("Dropout", {"rate": 0.1})
            doc.connect(prev, a)
            prev, count = a, count + 1
        if count < n_nodes and block % 4 == 3:
            m = doc.add_node("Add")
            doc.connect(skip, m)
            doc.connect(prev, m)
            prev, skip, count = m, m, count + 1
        block += 1
    pos = layered_layout(list(doc.nodes), [(e.src, e.dst) for e in doc.edges])
    doc.move_nodes(pos)
    save_project(doc, path)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="nw_bench_"))
    os.environ["NETWEAVER_STATE_DIR"] = str(tmp / "state")
    path = tmp / "big.nwproj"
    build_project(path, args.nodes)

    from desktop.editor.commands import AddNodeCommand, MoveNodesCommand, SetConfigCommand
    from desktop.main_window import MainWindow

    win = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.IniFormat))
    win.auto_answer, win.auto_save_answer, win.quiet_errors = True, "discard", True
    win.resize(1400, 900)
    win.show()
    app.processEvents()

    def paint():
        win.view.viewport().repaint()

    opens = []
    for _ in range(3):
        t0 = time.perf_counter()
        ok = win.project.open(str(path), confirm=False)
        paint()
        opens.append((time.perf_counter() - t0) * 1000.0)
        assert ok and len(win.scene.node_items) == args.nodes, "project did not open"
    doc = win.document
    first_dense = next(i for i, n in doc.nodes.items() if n.type == "Dense")
    units = [32, 64]

    def config_edit():
        units.reverse()
        old = doc.nodes[first_dense].config["units"]
        err = win.push_edit(SetConfigCommand(doc, first_dense, "units", units[0], old))
        assert err is None, err
        paint()

    def move_edit():
        x, y = doc.nodes[first_dense].pos
        err = win.push_edit(MoveNodesCommand(doc, {first_dense: (x, y)},
                                             {first_dense: (x + 5.0, y)}))
        assert err is None, err
        paint()

    def add_edit():
        err = win.push_edit(AddNodeCommand(doc, "Dense", {"units": 8}, (3000.0, 0.0)))
        assert err is None, err
        paint()

    def undo():
        win.undo_stack.undo()
        paint()

    rows = [("open 300-node project (load + items + paint)", opens),
            ("edit: set units high in the chain (re-infers all below)",
             timed(config_edit, args.repeat)),
            ("edit: move a node", timed(move_edit, args.repeat)),
            ("edit: add a node", timed(add_edit, args.repeat)),
            ("undo (last add)", timed(undo, args.repeat))]
    print(f"Netweaver editor canvas, {args.nodes} nodes, {len(doc.edges)} wires "
          f"(QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM')})")
    print(f"{'operation':58s} {'median ms':>10s} {'max ms':>9s}")
    for name, times in rows:
        print(f"{name:58s} {statistics.median(times):10.1f} {max(times):9.1f}")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
