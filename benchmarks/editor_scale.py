"""Editor scale: how long one edit takes to re-validate a 300-node graph (core half).

Builds a 300-node network (an Input, then blocks of Dense / Dropout / Activation /
Add with skip wires, so edits fan out through merges), then times single edits:

* ``set_config`` on a middle Dense (re-infers it and what its new shape reaches),
* the InputLayer's shape (worst case: every node downstream sees a new shape),
* ``connect``/``disconnect`` of a wire, ``move_nodes`` (no inference at all),
* ``remove_nodes`` + ``restore`` (one undo/redo pair), and a full ``snapshot``/
  ``restore_state`` (what a one-click fix's undo costs).

Run: ``python benchmarks/editor_scale.py`` (prints a table; budget: well under 50 ms
per edit). The GUI half (canvas timings) is added by the desktop side.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core.layers  # noqa: E402,F401 - registers the engine's layers
from core.graph import GraphDocument  # noqa: E402

N_NODES = 300


def build_graph(n_nodes: int = N_NODES, dense: bool = True) -> tuple[GraphDocument, dict]:
    """A chain of blocks; ``dense=False`` uses shape-preserving layers only, so a new
    input shape reaches every node (the worst case for incremental inference)."""
    doc = GraphDocument()
    inp = doc.add_node("InputLayer", {"shape": [64]}, pos=(0, 0))
    prev, y, mids = inp, 0, []
    kinds = ("Dense", "Dropout", "Activation", "Add")
    while len(doc.nodes) < n_nodes:
        y += 120
        kind = kinds[(len(doc.nodes) - 1) % 4]
        if kind == "Dense" and not dense:
            nid = doc.add_node("Activation", {"activation": "relu"}, pos=(0, y))
            mids.append(nid)
        elif kind == "Dense":
            nid = doc.add_node("Dense", {"units": 64, "activation": "relu"}, pos=(0, y))
            mids.append(nid)
        elif kind == "Dropout":
            nid = doc.add_node("Dropout", {"rate": 0.1}, pos=(0, y))
        elif kind == "Activation":
            nid = doc.add_node("Activation", {"activation": "tanh"}, pos=(0, y))
        else:
            nid = doc.add_node("Add", pos=(0, y))
            doc.connect(mids[-1], nid)  # skip wire from the block's Dense
        doc.connect(prev, nid)
        prev = nid
    return doc, {"input": inp, "dense": mids, "last": prev}


def _time(fn, repeat: int) -> tuple[float, float]:
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), max(times)


def run(repeat: int = 20) -> dict:
    t0 = time.perf_counter()
    doc, ids = build_graph()
    build_ms = (time.perf_counter() - t0) * 1e3
    mid = ids["dense"][len(ids["dense"]) // 2]
    results = {"build 300 nodes (one add/connect at a time)": (build_ms, build_ms)}

    def units(i):
        doc.set_config(mid, "units", 64 + (i % 2))
    results["set_config mid Dense units"] = _time(units, repeat)

    def input_shape(i):
        doc.set_config(ids["input"], "shape", [64 + (i % 2)])
    results["set_config Input shape (all downstream)"] = _time(input_shape, repeat)

    # Worst case: no Dense to absorb the change, so all 299 nodes see a new shape.
    # Alternating two shapes is an undo/redo (cache warm); a never-seen shape is cold.
    wdoc, wids = build_graph(dense=False)

    def worst_warm(i):
        wdoc.set_config(wids["input"], "shape", [64 + (i % 2)])
    results["shape-preserving chain: Input shape undo/redo"] = _time(worst_warm, repeat)
    counter = [200]

    def worst_cold(i):
        counter[0] += 1
        wdoc.set_config(wids["input"], "shape", [counter[0]])
    results["shape-preserving chain: new Input shape (cold)"] = _time(worst_cold, 5)

    def wire(i):
        extra = doc.add_node("Dense", {"units": 8}, pos=(300, 0))
        edge = doc.connect(ids["dense"][10], extra)
        doc.disconnect(edge)
        doc.remove_nodes([extra])
    results["add + connect + disconnect + remove"] = _time(wire, repeat)

    def move(i):
        doc.move_nodes({mid: (float(i), 0.0)})
    results["move_nodes"] = _time(move, repeat)

    def remove_restore(i):
        snap = doc.remove_nodes([mid])
        doc.restore(snap)
    results["remove_nodes + restore (mid)"] = _time(remove_restore, repeat)

    def full(i):
        snap = doc.snapshot()
        doc.restore_state(snap)
    results["snapshot + restore_state"] = _time(full, repeat)

    def problems(i):
        doc._problems = None
        doc.problems()
    results["problems() recomputed"] = _time(problems, repeat)
    return results


def main() -> None:
    results = run()
    print(f"{'operation (300 nodes)':48s} {'median ms':>10s} {'max ms':>10s}")
    for name, (med, worst) in results.items():
        print(f"{name:48s} {med:10.2f} {worst:10.2f}")


if __name__ == "__main__":
    main()
