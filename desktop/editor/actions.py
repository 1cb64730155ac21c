"""Edit actions of the canvas: delete, cut, copy, paste, duplicate, select all,
auto-layout, zoom. Each edit is one undo command pushed via ``window.push_edit``.

>>> # actions = EditActions(window); actions.duplicate()
"""

from __future__ import annotations

import atexit

from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence

from desktop.editor import clipboard, theme
from desktop.editor.commands import (
    AddNodeCommand,
    DocStateCommand,
    MoveNodesCommand,
    RemoveNodesCommand,
)
from desktop.editor.layout import layered_layout


class EditActions:
    def __init__(self, window):
        self.w = window
        self._paste_count = 0
        view = window.view

        def act(text, slot, keys=(), canvas_only=False):
            a = QAction(text, window)
            a.setShortcuts([QKeySequence(k) for k in keys])
            # triggered(bool) would hand `checked` to the slot as its first argument
            # (paste(payload=False) then pasted nothing): call the slot bare.
            a.triggered.connect(lambda _checked=False, s=slot: s())
            if canvas_only:  # Delete/Ctrl+C in a text field must stay the field's
                a.setShortcutContext(Qt.WidgetWithChildrenShortcut)
                view.addAction(a)
            else:
                window.addAction(a)
            return a

        self.undo = window.undo_stack.createUndoAction(window, "Undo")
        self.undo.setShortcut(QKeySequence.Undo)
        self.redo = window.undo_stack.createRedoAction(window, "Redo")
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        window.addAction(self.undo)
        window.addAction(self.redo)
        self.cut_action = act("Cu&t", self.cut, ["Ctrl+X"], True)
        self.copy_action = act("&Copy", self.copy, ["Ctrl+C"], True)
        self.paste_action = act("&Paste", self.paste, ["Ctrl+V"], True)
        self.duplicate_action = act("&Duplicate", self.duplicate, ["Ctrl+D"], True)
        self.delete_action = act("De&lete", self.delete, ["Delete", "Backspace"], True)
        self.select_all_action = act("Select &All", self.select_all, ["Ctrl+A"], True)
        self.layout_action = act("Auto &Layout", self.auto_layout, ["Ctrl+L"])
        self.zoom_in_action = act("Zoom &In", view.zoom_in, ["Ctrl+=", "Ctrl++"])
        self.zoom_out_action = act("Zoom &Out", view.zoom_out, ["Ctrl+-"])
        self.fit_action = act("&Fit to Window", view.fit_all, ["Ctrl+0"])
        self.reset_zoom_action = act("Actual &Size", view.reset_zoom, ["Ctrl+1"])

    @property
    def doc(self):
        return self.w.document

    @property
    def scene(self):
        return self.w.scene

    def fill_menu(self, menu) -> None:
        for a in (self.undo, self.redo, None, self.cut_action, self.copy_action,
                  self.paste_action, self.duplicate_action, self.delete_action, None,
                  self.select_all_action, self.layout_action):
            menu.addSeparator() if a is None else menu.addAction(a)

    # -------------------------------------------------------------- edits
    def add_layer(self, layer_type: str, scene_point: QPointF) -> str | None:
        """Create ``layer_type`` centred on ``scene_point``; return its id (None if refused)."""
        pos = (scene_point.x() - theme.NODE_WIDTH / 2, scene_point.y() - theme.NODE_HEIGHT / 2)
        cmd = AddNodeCommand(self.doc, layer_type, starter_config(self.doc, layer_type), pos)
        reason = self.w.push_edit(cmd)
        if reason:
            self.w.statusBar().showMessage(f"Cannot add {layer_type}: {reason}", 5000)
            return None
        self.scene.select_nodes([cmd.node_id])
        return cmd.node_id

    def delete(self) -> None:
        ids = self.scene.selected_node_ids()
        gone = set(ids)
        edges = [e for e in self.scene.selected_edges() if e.src not in gone and e.dst not in gone]
        if not ids and not edges:
            return
        if not edges:
            cmd = RemoveNodesCommand(self.doc, ids)
        else:
            def remove(doc):  # one edit, so trained weights are asked about (and undone) once
                for e in edges:
                    doc.disconnect(e)
                if ids:
                    doc.remove_nodes(ids)

            cmd = DocStateCommand(self.doc, "Delete", remove)
        if self.w.push_edit(cmd) == "cancelled":
            self.scene.select_nodes(ids)  # the tried edit was rolled back: keep the selection

    def copy(self) -> dict | None:
        ids = self.scene.selected_node_ids()
        if not ids:
            return None
        payload = clipboard.copy_payload(self.doc, ids)
        mime = QMimeData()
        mime.setData(clipboard.NODES_MIME, clipboard.encode(payload))
        QGuiApplication.clipboard().setMimeData(mime)
        _clear_clipboard_before_python_exits()
        self._paste_count = 0
        return payload

    def cut(self) -> None:
        if self.copy() is not None:
            self.delete()

    def paste(self, payload=None) -> list[str]:
        if payload is None:
            mime = QGuiApplication.clipboard().mimeData()
            if mime is None or not mime.hasFormat(clipboard.NODES_MIME):
                return []
            payload = clipboard.decode(mime.data(clipboard.NODES_MIME))
            if payload is None:
                return []
        self._paste_count += 1
        shift = 40.0 * self._paste_count
        cmd = DocStateCommand(self.doc, f"Paste {len(payload['nodes'])} node(s)",
                              lambda d: clipboard.paste_payload(d, payload, (shift, shift)))
        reason = self.w.push_edit(cmd)
        if reason:
            self.w.statusBar().showMessage(f"Cannot paste: {reason}", 5000)
            return []
        notes = clipboard.paste_notes(payload)
        if notes:  # a part of a shared layer became a layer of its own: say so
            self.w.statusBar().showMessage(" ".join(notes), 8000)
        self.scene.select_nodes(cmd.result or [])
        return list(cmd.result or [])

    def duplicate(self) -> list[str]:
        ids = self.scene.selected_node_ids()
        if not ids:
            return []
        payload = clipboard.copy_payload(self.doc, ids)
        self._paste_count = 0
        return self.paste(payload)

    def select_all(self) -> None:
        for item in self.scene.node_items.values():
            item.setSelected(True)

    def auto_layout(self) -> None:
        doc = self.doc
        if not doc.nodes:
            return
        xs = [n.pos[0] for n in doc.nodes.values()]
        ys = [n.pos[1] for n in doc.nodes.values()]
        new = layered_layout(list(doc.nodes), [(e.src, e.dst) for e in doc.edges],
                             origin=(min(xs), min(ys)))
        old = {i: tuple(doc.nodes[i].pos) for i in new}
        new = {i: p for i, p in new.items() if tuple(p) != old[i]}
        if new:
            self.w.push_edit(MoveNodesCommand(doc, {i: old[i] for i in new}, new, "Auto layout"))
            self.w.view.fit_all()


STARTER_INT = 32  # Dense(units), Conv2D(filters): Keras requires them; 32 is a common start
STARTER_TUPLE = 3  # Conv2D(kernel_size)


def starter_config(doc, layer_type: str) -> dict:
    """Values for the arguments Keras requires (no default), so a dropped layer is
    usable at once; the inspector shows and edits them like any other value."""
    try:
        cls = doc.layer_class(layer_type)
    except ValueError:
        return {}
    out = {}
    for p in getattr(cls, "params", ()):
        if p.default is not None or p.optional:
            continue
        if p.kind == "int":
            out[p.name] = STARTER_INT
        elif p.kind == "tuple":
            out[p.name] = [STARTER_TUPLE] * (p.length or 2)
    return out


_clipboard_hook_registered = False


def _clear_clipboard_before_python_exits() -> None:
    """Qt's own exit handler deletes the clipboard's QMimeData after Python has shut
    down, and PySide's wrapper then crashes the process (SIGSEGV at exit). Clearing our
    data from an ``atexit`` hook deletes it while Python is still alive. An app's
    clipboard data disappears with it on exit anyway, so the user loses nothing."""
    global _clipboard_hook_registered
    if not _clipboard_hook_registered:
        _clipboard_hook_registered = True
        atexit.register(_clear_own_clipboard)


def _clear_own_clipboard() -> None:
    app = QGuiApplication.instance()
    if app is None:
        return
    board = QGuiApplication.clipboard()
    mime = board.mimeData()
    if mime is not None and mime.hasFormat(clipboard.NODES_MIME):
        board.clear()
