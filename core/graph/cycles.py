"""Strongly connected components of a directed graph (iterative Tarjan).

One implementation for the two places that look for cycles: the graph document
(``validate.revalidate`` names the layers of a wiring loop) and the tests' import
graph (``tests/helpers/import_graph.py`` names the package import circles).
Iterative, so a long chain of layers cannot hit Python's recursion limit.

>>> strongly_connected(["a", "b", "c"], {"a": ["b"], "b": ["a"], "c": ["c"]}.get)
[['a', 'b'], ['c']]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def strongly_connected(nodes: Iterable[str], successors: Callable[[str], Iterable[str] | None],
                       *, keep_self_loops: bool = True) -> list[list[str]]:
    """Each component that holds a cycle, sorted, in discovery order: components of
    more than one node, and single nodes with an edge to themselves when
    ``keep_self_loops``. ``successors(v)`` may return None (no edges); edges to nodes
    outside ``nodes`` are ignored."""
    members = set(nodes)

    def succ(v):
        return [w for w in (successors(v) or ()) if w in members]

    index, low, on_stack, stack, result = {}, {}, set(), [], []
    for root in sorted(members):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ(root)))]
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ(w))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or (keep_self_loops and v in succ(v)):
                    result.append(sorted(comp))
    return result
