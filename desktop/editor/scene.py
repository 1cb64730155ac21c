"""``EditorScene``: mirrors a ``GraphDocument`` as node and wire items.

The document is the truth. The scene subscribes to it and, per event,
creates/removes/updates only the items concerned; user gestures (dragging
nodes, drawing wires) become undo commands sent through ``push`` — a callable
given by the window that returns the refusal reason or ``None``.

>>> # scene = EditorScene(push=window.push_edit); scene.set_document(doc)
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QTimer, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene

from desktop.editor import theme
from desktop.editor.commands import ConnectCommand, MoveNodesCommand
from desktop.editor.edge_item import EdgeItem, ShapeLabel, wire_path
from desktop.editor.group_items import representative, sync_groups
from desktop.editor.node_item import NodeItem, format_shape
from desktop.editor.port_item import PortItem


def _layer_info(type_name: str):
    """(group, num_inputs) of a registered layer type; unknown types still draw."""
    try:
        from core.layers.spec import get_layer_class

        cls = get_layer_class(type_name)
        return cls.group, cls.num_inputs
    except (ImportError, ValueError):
        return "Core", 1


class EditorScene(QGraphicsScene):
    message = Signal(str)  # a short text for the status bar (e.g. a refused wire)

    def __init__(self, push, parent=None):
        super().__init__(parent)
        self.push = push
        self.doc = None
        self._unsubscribe = None
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict[tuple, EdgeItem] = {}
        self._edges_of: dict[str, set] = {}  # node id -> keys of wires touching it
        self._state_key: dict[str, tuple] = {}
        self.group_items: dict = {}  # nested model name -> GroupItem (closed groups)
        self.group_frames: dict = {}  # nested model name -> GroupFrame (open groups)
        self.open_groups: set[str] = set()  # view state only, never in the document
        self._press_pos: dict[str, tuple] = {}
        self._wire = None  # (start PortItem, temp path item) while drawing a wire
        self.wire_label = ShapeLabel()
        self.wire_label.setBrush(QColor(theme.NODE_ERROR))
        font = self.wire_label.font()
        font.setPixelSize(13)
        font.setBold(True)
        self.wire_label.setFont(font)
        self.wire_label.setFlag(self.wire_label.GraphicsItemFlag.ItemIgnoresTransformations)
        self.wire_label.setZValue(10)
        self.wire_label.hide()
        self.addItem(self.wire_label)
        self.wire_message = None  # last reason a wire was refused (shown near the cursor)
        self._hide_timer = QTimer(self, singleShot=True, interval=2500,
                                  timeout=self.wire_label.hide)
        self.setItemIndexMethod(QGraphicsScene.NoIndex)  # many moving items: no BSP churn

    # ------------------------------------------------------------ document
    def set_document(self, doc) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.doc = doc
        self._rebuild()
        if doc is not None:
            token = doc.subscribe(self._on_event)
            if callable(token):
                self._unsubscribe = token
            elif hasattr(doc, "unsubscribe"):
                self._unsubscribe = lambda d=doc, f=self._on_event: d.unsubscribe(f)

    def _rebuild(self) -> None:
        for item in list(self.node_items.values()) + list(self.edge_items.values()) + \
                list(self.group_items.values()) + list(self.group_frames.values()):
            self.removeItem(item)
        self.group_items.clear()
        self.group_frames.clear()
        self.open_groups = set()  # a document opens with every group closed
        self.node_items.clear()
        self.edge_items.clear()
        self._edges_of.clear()
        self._state_key.clear()
        if self.doc is None:
            return
        for node_id in self.doc.nodes:
            self._add_node_item(node_id)
        self._sync_edges()
        self._refresh_states()
        if getattr(self.doc, "groups", None):
            sync_groups(self)

    def set_group_open(self, name: str, is_open: bool) -> None:
        """Open (show its layers in a frame) or close (one card) a nested model."""
        (self.open_groups.add if is_open else self.open_groups.discard)(name)
        sync_groups(self)

    def _on_event(self, event) -> None:
        kind = event.kind
        ids = list(getattr(event, "node_ids", None) or ())
        if kind == "reset":
            self._rebuild()
            return
        if kind in ("training", "meta", "run"):
            return
        if kind == "nodes_removed":
            for node_id in ids:
                item = self.node_items.pop(node_id, None)
                if item is not None:
                    self.removeItem(item)
                self._state_key.pop(node_id, None)
        elif kind == "nodes_added":
            for node_id in ids:
                if node_id not in self.node_items and node_id in self.doc.nodes:
                    self._add_node_item(node_id)
        elif kind == "nodes_moved":
            for node_id in ids:
                item = self.node_items.get(node_id)
                if item is not None:
                    x, y = self.doc.nodes[node_id].pos
                    if (item.x(), item.y()) != (x, y):
                        item.setPos(x, y)
            if getattr(self.doc, "groups", None):
                sync_groups(self)
            return  # positions do not change shapes
        if kind in ("nodes_added", "nodes_removed", "edges"):
            self._sync_edges()
        changed = set(ids) | set(getattr(event, "changed_states", ()) or ())
        if kind in ("nodes_added", "nodes_removed"):
            # A card of a shared layer says how many calls it has: adding or removing a
            # call changes no state, so those cards are redrawn by hand.
            linked = {n for n, it in self.node_items.items() if it.shared_with
                      or it.count_text.endswith(" calls")}
            linked |= {self.doc.nodes[n].shares for n in ids
                       if n in self.doc.nodes and self.doc.nodes[n].shares}
            for n in linked:
                self._state_key.pop(n, None)
            changed |= linked
        self._refresh_states(changed)
        if getattr(self.doc, "groups", None):
            sync_groups(self)

    def _add_node_item(self, node_id: str) -> NodeItem:
        node = self.doc.nodes[node_id]
        group, num_inputs = _layer_info(node.type)
        item = NodeItem(node_id, group, has_input=num_inputs != 0)
        item.setPos(*node.pos)
        self.addItem(item)
        self.node_items[node_id] = item
        item.set_warnings(getattr(self, "_warnings", {}).get(node_id, ()))
        return item

    def _sync_edges(self) -> None:
        """Make the wire items match ``doc.edges``: add/remove only what differs and
        re-place only wires into nodes whose set of inputs changed."""
        want = {(e.src, e.dst, e.dst_port): e for e in self.doc.edges}
        touched = set()  # nodes whose incoming wires changed (their anchors shift)
        for key in [k for k in self.edge_items if k not in want]:
            self.removeItem(self.edge_items.pop(key))
            for end in key[:2]:
                keys = self._edges_of.get(end)
                if keys is not None:
                    keys.discard(key)
            touched.add(key[1])
        for key, edge in want.items():
            if key not in self.edge_items:
                item = EdgeItem(edge)
                self.addItem(item)
                self.edge_items[key] = item
                self._edges_of.setdefault(key[0], set()).add(key)
                self._edges_of.setdefault(key[1], set()).add(key)
                touched.add(key[1])
        for node_id in touched:
            for key in list(self._edges_of.get(node_id, ())):
                if key[1] == node_id and key in self.edge_items:
                    self._place_edge(self.edge_items[key])

    def _refresh_states(self, ids=None) -> None:
        """Redraw the given nodes (all when None) whose state or name changed, and
        the labels of their outgoing wires."""
        for node_id in (self.node_items if ids is None else ids):
            item = self.node_items.get(node_id)
            if item is None:
                continue
            state = self.doc.state(node_id)
            node = self.doc.nodes[node_id]
            # The mask is in the key: turning mask_zero off changes no shape, but the
            # outgoing wires must lose their mask mark.
            key = (getattr(state, "output_shape", None), getattr(state, "error", None),
                   getattr(state, "param_count", None), node.name,
                   getattr(state, "mask", None))
            if self._state_key.get(node_id) == key:
                continue
            self._state_key[node_id] = key
            item.update_from(self.doc, state)
            text = format_shape(key[0])
            for ekey in self._edges_of.get(node_id, ()):
                if ekey[0] == node_id:
                    self.edge_items[ekey].set_label(text)
                    self.edge_items[ekey].set_mask(self.doc, *ekey[:2])

    def _place_edge(self, item: EdgeItem) -> None:
        src, dst, port = item.key
        a, b = representative(self, src), representative(self, dst)
        if a is None or b is None:
            return
        item.setVisible(a is not b)  # a wire inside a closed group is not drawn
        if a is b:
            return
        incoming = sorted((k for k in self._edges_of.get(dst, ()) if k[1] == dst),
                          key=lambda k: (k[2] is None, k[2] or 0, k[0]))
        at = (incoming.index(item.key), len(incoming)) if b.node_id == dst else (0, 1)
        item.set_ends(a.out_anchor(), b.in_anchor(*at))
        state = self.doc.state(src)
        item.set_label(format_shape(getattr(state, "output_shape", None)))
        item.set_mask(self.doc, src, dst)

    def node_item_moved(self, item: NodeItem) -> None:
        for key in self._edges_of.get(item.node_id, ()):
            edge = self.edge_items.get(key)
            if edge is not None:
                self._place_edge(edge)

    # ----------------------------------------------------------- selection
    def set_warnings(self, by_node: dict) -> None:
        """Mark the cards the Problems panel has warnings for (``{node id: [text]}``)."""
        self._warnings = dict(by_node)
        for node_id, item in self.node_items.items():
            item.set_warnings(self._warnings.get(node_id, ()))

    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edges(self) -> list:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, ids) -> None:
        ids = set(ids)
        self.clearSelection()
        for node_id in ids:
            item = self.node_items.get(node_id)
            if item is not None:
                item.setSelected(True)

    # ------------------------------------------------------ moving nodes
    def mousePressEvent(self, event):
        super().mousePressEvent(event)
        self._press_pos = {i: (it.x(), it.y()) for i, it in self.node_items.items()
                           if it.isSelected()}

    def mouseReleaseEvent(self, event):
        super().mouseReleaseEvent(event)
        old, new = {}, {}
        for node_id, pos in self._press_pos.items():
            item = self.node_items.get(node_id)
            if item is not None and (item.x(), item.y()) != pos:
                old[node_id], new[node_id] = pos, (item.x(), item.y())
        self._press_pos = {}
        if new:  # one undo command for the whole drag
            n = len(new)
            self.push(MoveNodesCommand(self.doc, old, new,
                                       f"Move {n} node{'s' if n > 1 else ''}"))

    # ------------------------------------------------------- drawing wires
    def start_wire(self, port: PortItem, pos: QPointF) -> None:
        path = QGraphicsPathItem()
        path.setPen(QPen(QColor(theme.PORT_HOT), 2.0))
        path.setZValue(9)
        self.addItem(path)
        self._wire = (port, path)
        self.drag_wire(pos)

    def _ends(self, target):
        start = self._wire[0]
        if start.direction == "out":
            return start.node_id, (target.node_id if target else None)
        return (target.node_id if target else None), start.node_id

    def _target_at(self, pos: QPointF):
        start = self._wire[0]
        want = "in" if start.direction == "out" else "out"
        for item in self.items(pos):
            if isinstance(item, PortItem) and item.direction == want:
                return item
        for item in self.items(pos):  # dropping on a node's body means its port
            if isinstance(item, NodeItem) and item.node_id != start.node_id:
                port = item.in_port if want == "in" else item.out_port
                # A node without that port is still a target: the document says why not.
                return port if port is not None else item
        return None

    def wire_refusal(self, target) -> str | None:
        src, dst = self._ends(target)
        if src == dst:
            return "A layer cannot be connected to itself."
        return self.doc.can_connect(src, dst)

    def drag_wire(self, pos: QPointF) -> None:
        if self._wire is None:
            return
        start, path = self._wire
        a = start.scenePos()
        target = self._target_at(pos)
        reason = self.wire_refusal(target) if target is not None else None
        b = target.scenePos() if target is not None and reason is None else pos
        path.setPath(wire_path(a, b) if start.direction == "out" else wire_path(b, a))
        path.setPen(QPen(QColor(theme.WIRE_BAD if reason else theme.PORT_HOT), 2.0))
        self._show_reason(reason, pos, linger=False)

    def finish_wire(self, pos: QPointF) -> None:
        if self._wire is None:
            return
        _, path = self._wire
        target = self._target_at(pos)
        reason = self.wire_refusal(target) if target is not None else None
        src, dst = self._ends(target)
        self.removeItem(path)
        self._wire = None
        if target is None:
            self._show_reason(None, pos, linger=False)
            return
        if reason is None:
            reason = self.push(ConnectCommand(self.doc, src, dst))
        self._show_reason(reason, pos, linger=True)

    def _show_reason(self, reason, pos: QPointF, linger: bool) -> None:
        if not reason:
            if not linger:
                self.wire_label.hide()
            return
        self.wire_message = reason
        self.wire_label.setText("✕ " + reason)
        self.wire_label.setPos(pos + QPointF(14, 14))
        self.wire_label.show()
        if linger:
            self.message.emit(f"Connection refused: {reason}")
            self._hide_timer.start()
