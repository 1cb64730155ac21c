"""Undo support of the graph document: batches, whole-document snapshots, restore.

A mixin of ``GraphDocument``. ``remove_nodes`` returns a partial ``Snapshot`` that
``restore`` puts back in place (same order, so a rebuilt model keeps its input and
output order); ``snapshot``/``restore_state`` cover compound edits such as fixes.

>>> s = doc.snapshot()                       # doctest: +SKIP
>>> with doc.batch():                        # doctest: +SKIP
...     fix.apply(doc)
>>> doc.restore_state(s)                     # doctest: +SKIP
"""

from __future__ import annotations

from contextlib import contextmanager

from core.graph.datatypes import GraphError, Snapshot, clone_node, copy_json
from core.graph.validate import revalidate


class SnapshotMixin:
    @contextmanager
    def batch(self):
        """Group edits into one operation: validation and one ``reset`` event at the end;
        if the block raises, the document returns to its state before the block."""
        if self._batch is not None:
            yield self
            return
        before = self.snapshot()
        self._batch = [set(), set()]
        try:
            yield self
        except BaseException:
            self._batch = None
            self._restore_full(before, notify=False)
            raise
        dirty, touched = self._batch
        self._batch = None
        self._changed("reset", sorted(touched), dirty)

    def restore(self, snapshot: Snapshot) -> None:
        """Put back what ``remove_nodes`` took out (or a whole ``snapshot()``)."""
        if snapshot.full:
            self.restore_state(snapshot)
            return
        names = {n.name for n in self.nodes.values()}
        for n in snapshot.nodes:
            if n.id in self.nodes or n.name in names:
                raise GraphError(f"Cannot restore node {n.id!r} ('{n.name}'): the id or "
                                 "name is in use.")
        ids = {n.id for n in snapshot.nodes} | set(self.nodes)
        for e in snapshot.edges:
            if e.src not in ids or e.dst not in ids:
                raise GraphError(f"Cannot restore wire {e}: an end is missing.")
        nodes, edges = list(self.nodes.values()), list(self.edges)
        node_at = snapshot.extra.get("nodes") or [len(nodes)] * len(snapshot.nodes)
        edge_at = snapshot.extra.get("edges") or [len(edges)] * len(snapshot.edges)
        for k, n in sorted(zip(node_at, snapshot.nodes), key=lambda t: t[0]):
            nodes.insert(k, clone_node(n))
        for k, e in sorted(zip(edge_at, snapshot.edges), key=lambda t: t[0]):
            edges.insert(k, e)
        self.nodes, self.edges, self._in, self._out = {}, [], {}, {}
        for n in nodes:
            self._insert(n)
        for e in edges:
            self._link(e)
        added = [n.id for n in snapshot.nodes]
        self._changed("nodes_added", added, set(added) | {e.dst for e in snapshot.edges})

    # ------------------------------------------------------- snapshots (undo)
    def snapshot(self) -> Snapshot:
        """The whole editable state; ``restore_state`` returns to it (one undo step)."""
        return Snapshot(tuple(clone_node(n) for n in self.nodes.values()),
                        tuple(self.edges), full=True,
                        extra={"meta": copy_json(self.meta), "training": self.training,
                               "history": copy_json(self.history),
                               "next_id": self._next_id,
                               "groups": copy_json(getattr(self, "groups", {}))})

    def restore_state(self, snap: Snapshot) -> None:
        if not snap.full:
            raise GraphError("restore_state needs a snapshot() of the whole document.")
        self._restore_full(snap, notify=True)

    def _restore_full(self, snap: Snapshot, notify: bool) -> None:
        self.nodes, self.edges, self._in, self._out = {}, [], {}, {}
        for n in snap.nodes:
            self._insert(clone_node(n))
        for e in snap.edges:
            self._link(e)
        self.meta = copy_json(snap.extra.get("meta", self.meta))
        self.training = snap.extra.get("training", self.training)
        self.history = copy_json(snap.extra.get("history", self.history))
        self._next_id = snap.extra.get("next_id", self._next_id)
        self.groups = copy_json(snap.extra.get("groups", getattr(self, "groups", {})))
        self._states = {}
        self._problems = None
        if notify:
            self._changed("reset", list(self.nodes), set(self.nodes))
        else:
            revalidate(self, set(self.nodes))

    def revalidate_all(self) -> None:
        self._states = {}
        self._changed("reset", list(self.nodes), set(self.nodes))
