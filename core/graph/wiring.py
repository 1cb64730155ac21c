"""Wires of the graph document: ``can_connect``, ``connect``, ``disconnect``.

A mixin of ``GraphDocument`` (kept apart so each file stays readable). Every layer
has one output; a single-input layer takes exactly one wire, a merge layer any
number, ordered by ``dst_port``.

>>> edge = doc.connect("n1", "n2")          # doctest: +SKIP
>>> doc.can_connect("n2", "n1")             # doctest: +SKIP
"Connecting 'dense' to 'input_layer' would ..."
"""

from __future__ import annotations

from core.graph.datatypes import Edge, GraphError
from core.graph.validate import descendants


class WiringMixin:
    # ---------------------------------------------------------------- edge edits
    def _link(self, e: Edge) -> None:
        self.edges.append(e)
        self._out.setdefault(e.src, []).append(e)
        self._in.setdefault(e.dst, []).append(e)

    def _unlink(self, e: Edge) -> None:
        self.edges.remove(e)
        self._out[e.src].remove(e)
        self._in[e.dst].remove(e)

    def can_connect(self, src: str, dst: str, dst_port=None) -> str | None:
        """Why ``connect(src, dst)`` would be refused, or None when it is fine."""
        for nid in (src, dst):
            if nid not in self.nodes:
                return f"No node {nid!r} in the document."
        s, d = self.nodes[src], self.nodes[dst]
        if src == dst:
            return f"'{d.name}' cannot take its own output as input."
        try:
            want = getattr(self.layer_class(d.type), "num_inputs", 1)
        except ValueError as exc:
            return str(exc)
        if want == 0:
            return f"'{d.name}' is an {d.type}: it takes no input."
        if src in descendants(self._out, [dst]):
            return (f"Connecting '{s.name}' to '{d.name}' would make a cycle: "
                    f"'{d.name}' already feeds '{s.name}'.")
        taken = self._in.get(dst, [])
        if want != "many" and taken:
            return (f"'{d.name}' already has an input (from '{self.nodes[taken[0].src].name}');"
                    " merge the two with a Concatenate or Add layer.")
        if dst_port is not None:
            if isinstance(dst_port, bool) or not isinstance(dst_port, int) or dst_port < 0:
                return f"Input port {dst_port!r} is invalid; expected an integer >= 0."
            if want != "many" and dst_port != 0:
                return f"'{d.name}' has a single input port 0 (got port {dst_port})."
            if any(e.dst_port == dst_port for e in taken):
                return f"Input port {dst_port} of '{d.name}' is already connected."
        return None

    def connect(self, src: str, dst: str, dst_port=None) -> Edge:
        reason = self.can_connect(src, dst, dst_port)
        if reason is not None:
            raise GraphError(reason)
        if dst_port is None:
            dst_port = max((e.dst_port + 1 for e in self._in.get(dst, [])), default=0)
        edge = Edge(src, dst, dst_port)
        self._link(edge)
        self._changed("edges", [src, dst], [dst])
        return edge

    def disconnect(self, edge: Edge) -> Edge:
        if edge not in self.edges:
            raise GraphError(f"There is no wire {edge} in the document.")
        self._unlink(edge)
        self._changed("edges", [edge.src, edge.dst], [edge.dst])
        return edge
