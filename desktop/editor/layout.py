"""Layered (Sugiyama-style) top-to-bottom auto-layout, pure Python, no Qt.

Layers come from the longest path from a source, so every wire points down;
inside a layer nodes are ordered by the mean position of their parents
(barycentre, a few sweeps) to keep wires short and mostly uncrossed.

>>> pos = layered_layout(["in", "a", "b", "out"],
...                      [("in", "a"), ("in", "b"), ("a", "out"), ("b", "out")])
>>> pos["in"][1] < pos["a"][1] == pos["b"][1] < pos["out"][1]
True
"""

from __future__ import annotations

from collections import defaultdict, deque


def layered_layout(node_ids, edges, x_gap: float = 250.0, y_gap: float = 120.0,
                   origin=(0.0, 0.0)) -> dict:
    """Return ``{id: (x, y)}`` (top-left of each node) for a DAG given as edge pairs.

    Nodes in a cycle (which the document forbids, but be safe) are put after
    the ones that can be ordered.
    """
    ids = list(node_ids)
    known = set(ids)
    children = defaultdict(list)
    parents = defaultdict(list)
    indeg = dict.fromkeys(ids, 0)
    for s, d in edges:
        if s in known and d in known and s != d:
            children[s].append(d)
            parents[d].append(s)
            indeg[d] += 1
    # Kahn's order gives a longest-path layer for each node.
    layer = dict.fromkeys(ids, 0)
    queue = deque(i for i in ids if indeg[i] == 0)
    seen = set()
    while queue:
        n = queue.popleft()
        seen.add(n)
        for c in children[n]:
            layer[c] = max(layer[c], layer[n] + 1)
            indeg[c] -= 1
            if indeg[c] == 0:
                queue.append(c)
    top = max(layer.values(), default=0)
    for i in ids:
        if i not in seen:
            top += 1
            layer[i] = top
    rows = defaultdict(list)
    for i in ids:
        rows[layer[i]].append(i)
    order = {}
    for r in sorted(rows):
        for k, n in enumerate(rows[r]):
            order[n] = k
    # Barycentre sweeps: down using parents, then up using children.
    for _ in range(2):
        for r in sorted(rows)[1:]:
            _sort_row(rows[r], parents, order)
        for r in sorted(rows, reverse=True)[1:]:
            _sort_row(rows[r], children, order)
    widest = max((len(v) for v in rows.values()), default=1)
    ox, oy = origin
    pos = {}
    for r, row in rows.items():
        shift = (widest - len(row)) * x_gap / 2.0  # centre narrow rows under wide ones
        for k, n in enumerate(row):
            pos[n] = (ox + shift + k * x_gap, oy + r * y_gap)
    return pos


def _sort_row(row, neighbours, order):
    def key(n):
        ns = neighbours[n]
        return (sum(order[m] for m in ns) / len(ns)) if ns else order[n]

    row.sort(key=key)
    for k, n in enumerate(row):
        order[n] = k
