"""Random edit sequences: only documented errors, exact undo, states equal to a fresh
validation, correct change events, and a document that always saves and reloads."""

import random

import pytest

from core.graph import GraphDocument, GraphError
from core.graph.fixes import merge_fixes
from core.graph.project_file import load_project, save_project
from tests.graph.helpers import json_trip

TYPES = ["InputLayer", "Dense", "Dense", "Flatten", "Dropout", "Activation", "Add",
         "Concatenate", "Reshape", "Conv2D", "MaxPooling2D", "BatchNormalization"]
NAMES = ["a", "b", "dense", "input_layer", "", "x/y", "flatten_1"]


def _value_for(rng, p):
    """Mostly sensible values of the Param's kind, sometimes nonsense."""
    pool = {
        "int": [1, 2, 4, 8, 0, -3, 2.5, "4", None, True],
        "float": [0.0, 0.1, 0.5, 0.99, 1.0, -1.0, float("nan"), "x", None],
        "bool": [True, False, 1, "yes", None],
        "tuple": [1, 2, 3, [2, 2], [3, 1], [0, 2], [2], "2", None],
        "shape": [[4], [8], [2, 4], [4, 4, 1], [6, 6, 2], [-1], [0], [2, "a"], None],
        "activation": ["relu", "softmax", "tanh", None, "linear", "nope", 3],
        "initializer": ["glorot_uniform", "zeros", "he_normal", "nope"],
        "axis": [-1, 1, 2, 5, [1, 2], "x"],
        "str": ["a", 3],
    }.get(p.kind, [None])
    if p.kind == "choice":
        pool = list(p.choices) + ["bogus", None]
    return rng.choice(pool)


def _canon(doc):
    d = doc.to_dict()
    d.pop("next_id")  # ids are never reused, so undo of an add does not rewind the counter
    d["edges"] = sorted(d["edges"], key=lambda e: (e["src"], e["dst"], e["dst_port"]))
    return d


def _random_op(rng, doc):
    """Do one random edit; return its inverse (or None when it was refused)."""
    ids = list(doc.nodes)
    op = rng.choice(["add", "add", "connect", "connect", "connect", "disconnect", "remove",
                     "config", "config", "move", "rename", "fix", "merge"])
    if op == "add" or not ids:
        t = rng.choice(TYPES)
        cls = doc.layer_class(t)
        cfg = {}
        for p in cls.params:
            if rng.random() < 0.4 or (p.default is None and not p.optional and
                                      p.kind not in ("activation",) and rng.random() < 0.9):
                cfg[p.name] = _value_for(rng, p)
        nid = doc.add_node(t, cfg, pos=(rng.randint(-500, 500), rng.randint(0, 2000)))
        return lambda: doc.remove_nodes([nid])
    if op == "connect":
        edge = doc.connect(rng.choice(ids), rng.choice(ids),
                           rng.choice([None, None, None, 0, 1, 3]))
        return lambda: doc.disconnect(edge)
    if op == "disconnect":
        if not doc.edges:
            return None
        edge = doc.disconnect(rng.choice(doc.edges))
        return lambda: doc.connect(edge.src, edge.dst, edge.dst_port)
    if op == "remove":
        snap = doc.remove_nodes(rng.sample(ids, k=min(len(ids), rng.randint(1, 3))))
        return lambda: doc.restore(snap)
    if op == "config":
        nid = rng.choice(ids)
        cls = doc.layer_class(doc.nodes[nid].type)
        if not cls.params:
            return None
        p = rng.choice(cls.params)
        old = doc.set_config(nid, p.name, _value_for(rng, p))
        return lambda: doc.set_config(nid, p.name, old)
    if op == "move":
        moves = {n: (rng.uniform(-900, 900), rng.uniform(-900, 900)) for n in
                 rng.sample(ids, k=min(3, len(ids)))}
        old = doc.move_nodes(moves)
        return lambda: doc.move_nodes(old)
    if op == "rename":
        nid = rng.choice(ids)
        old = doc.rename_node(nid, rng.choice(NAMES))
        return lambda: doc.rename_node(nid, old)
    fixes = [f for p in doc.problems() for f in p.fixes]
    if op == "merge":
        src, dst = rng.choice(ids), rng.choice(ids)
        fixes = list(merge_fixes(doc, src, dst)) if doc.can_connect(src, dst) else []
    if not fixes:
        return None
    snap = doc.snapshot()
    rng.choice(fixes).apply(doc)
    return lambda: doc.restore_state(snap)


def _check_events(before_states, doc, events):
    """Every node whose state changed is named by the event (views refresh only those)."""
    named = set()
    for ev in events:
        if ev.kind == "reset":
            return
        named |= set(ev.changed_states) | set(ev.node_ids)
    for nid, st in before_states.items():
        if nid in doc.nodes and doc.state(nid) != st:
            assert nid in named, (nid, st, doc.state(nid), events)


@pytest.mark.parametrize("seed", range(4))
def test_random_edit_sequences(seed, tmp_path):
    rng = random.Random(seed)
    refused = done = undone = 0
    for seq in range(1000):
        doc = GraphDocument()
        events = []
        doc.subscribe(events.append)
        undo = []  # (inverse, canonical state before the edit)
        for _ in range(rng.randint(4, 16)):
            before, states = _canon(doc), {n: doc.state(n) for n in doc.nodes}
            events.clear()
            if undo and rng.random() < 0.2:
                inverse, expected = undo.pop()
                inverse()
                assert _canon(doc) == expected
                undone += 1
                continue
            try:
                inverse = _random_op(rng, doc)
            except GraphError:
                assert _canon(doc) == before  # a refused edit changes nothing
                assert events == []
                refused += 1
                continue
            _check_events(states, doc, events)
            if inverse is not None:
                undo.append((inverse, before))
                done += 1
        fresh = json_trip(doc)  # saves, reloads and validates from scratch
        assert fresh.to_dict() == doc.to_dict()
        for nid in doc.nodes:
            assert fresh.state(nid) == doc.state(nid), nid  # incremental == full
        doc.problems()  # never raises
        if seq % 100 == 0:
            save_project(doc, tmp_path / "f.nwproj")
            assert load_project(tmp_path / "f.nwproj")[0].to_dict() == doc.to_dict()
    # the generator really exercised both sides
    assert done > 1000 and refused > 300 and undone > 300
