"""Undo commands: the only way the GUI changes a ``GraphDocument``.

Each command does one document call in ``redo`` and its inverse in ``undo``.
``push_checked`` runs the first ``redo`` itself *before* pushing so that a
document refusal (``GraphError``/``ValueError``) comes back as a message and
nothing lands on the undo stack.

>>> from PySide6.QtGui import QUndoStack  # doctest: +SKIP
>>> err = push_checked(stack, AddNodeCommand(doc, "Dense", {"units": 8}, (0, 0)))  # doctest: +SKIP
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand


class DocCommand(QUndoCommand):
    """Base: ``_do``/``_undo`` hold the document calls; the first redo may be pre-run."""

    def __init__(self, doc, text: str):
        super().__init__(text)
        self.doc = doc
        self._pre_done = False

    def do_first(self) -> None:
        """Apply now (raising on refusal); the stack's first ``redo`` then does nothing."""
        self._do()
        self._pre_done = True

    def redo(self):
        if self._pre_done:
            self._pre_done = False
            return
        self._do()

    def undo(self):
        self._undo()

    def _do(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _undo(self):  # pragma: no cover - abstract
        raise NotImplementedError


def push_checked(stack, cmd: DocCommand) -> str | None:
    """Run ``cmd`` and push it; return the refusal reason (nothing pushed) or None."""
    try:
        cmd.do_first()
    except (ValueError, KeyError, TypeError) as exc:  # GraphError is a ValueError
        return _reason(exc)
    stack.push(cmd)
    return None


def _reason(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = str(exc.args[0])
    return text or type(exc).__name__


def node_name(doc, node_id: str) -> str:
    """The layer name a node shows (``config['name']``), falling back to its id."""
    node = doc.nodes[node_id]
    name = getattr(node, "name", None) or node.config.get("name")
    return str(name or node_id)


class AddNodeCommand(DocCommand):
    def __init__(self, doc, layer_type: str, config=None, pos=(0.0, 0.0)):
        super().__init__(doc, f"Add {layer_type}")
        self.layer_type = layer_type
        self.config = dict(config or {})
        self.pos = (float(pos[0]), float(pos[1]))
        self.node_id = None  # fixed on the first redo so later redos reuse it

    def _do(self):
        self.node_id = self.doc.add_node(self.layer_type, dict(self.config), self.pos,
                                         node_id=self.node_id)

    def _undo(self):
        self.doc.remove_nodes([self.node_id])


class RemoveNodesCommand(DocCommand):
    def __init__(self, doc, node_ids):
        ids = list(node_ids)
        super().__init__(doc, f"Delete {len(ids)} node{'s' if len(ids) != 1 else ''}")
        self.node_ids = ids
        self.snapshot = None

    def _do(self):
        self.snapshot = self.doc.remove_nodes(self.node_ids)

    def _undo(self):
        self.doc.restore(self.snapshot)


class MoveNodesCommand(DocCommand):
    def __init__(self, doc, old: dict, new: dict, text: str = "Move"):
        super().__init__(doc, text)
        self.old = {k: tuple(v) for k, v in old.items()}
        self.new = {k: tuple(v) for k, v in new.items()}

    def _do(self):
        self.doc.move_nodes(dict(self.new))

    def _undo(self):
        self.doc.move_nodes(dict(self.old))


class SetCallArgumentCommand(DocCommand):
    """A recorded call argument of a node (``use_causal_mask``); None removes it."""

    def __init__(self, doc, node_id: str, key: str, value, old_value):
        super().__init__(doc, f"Set call argument {key}")
        self.node_id, self.key = node_id, key
        self.value, self.old_value = value, old_value

    def _do(self):
        self.doc.set_call_argument(self.node_id, self.key, self.value)

    def _undo(self):
        self.doc.set_call_argument(self.node_id, self.key, self.old_value)


class SetConfigCommand(DocCommand):
    def __init__(self, doc, node_id: str, key: str, value, old_value):
        super().__init__(doc, f"Set {key}")
        self.node_id, self.key = node_id, key
        self.value, self.old_value = value, old_value

    def _do(self):
        self.doc.set_config(self.node_id, self.key, self.value)

    def _undo(self):
        self.doc.set_config(self.node_id, self.key, self.old_value)


class RenameNodeCommand(DocCommand):
    def __init__(self, doc, node_id: str, name: str):
        super().__init__(doc, f"Rename to {name}")
        self.node_id, self.name = node_id, name
        self.old_name = node_name(doc, node_id)

    def _do(self):
        self.doc.rename_node(self.node_id, self.name)

    def _undo(self):
        self.doc.rename_node(self.node_id, self.old_name)


class ConnectCommand(DocCommand):
    def __init__(self, doc, src: str, dst: str, dst_port=None):
        super().__init__(doc, "Connect")
        self.src, self.dst, self.dst_port = src, dst, dst_port
        self.edge = None

    def _do(self):
        self.edge = self.doc.connect(self.src, self.dst, self.dst_port)
        self.dst_port = self.edge.dst_port  # redo re-creates the very same wire

    def _undo(self):
        self.doc.disconnect(self.edge)


class DisconnectCommand(DocCommand):
    def __init__(self, doc, edge):
        super().__init__(doc, "Disconnect")
        self.edge = edge

    def _do(self):
        self.doc.disconnect(self.edge)

    def _undo(self):
        self.edge = self.doc.connect(self.edge.src, self.edge.dst, self.edge.dst_port)


# --------------------------------------------------------------------------
# Compound edits (a problem's fix, paste): one document operation run inside
# ``doc.batch()``; undo/redo return to the whole-document snapshots around it.

class DocStateCommand(DocCommand):
    """Run ``mutate(doc)`` once as a batch; undo/redo restore the before/after snapshots."""

    def __init__(self, doc, text: str, mutate):
        super().__init__(doc, text)
        self.mutate = mutate
        self.before = self.after = None
        self.result = None

    def _do(self):
        if self.after is not None:
            self.doc.restore_state(self.after)
            return
        before = self.doc.snapshot()
        with self.doc.batch():  # a failure inside leaves the document untouched
            self.result = self.mutate(self.doc)
        self.before, self.after = before, self.doc.snapshot()

    def _undo(self):
        self.doc.restore_state(self.before)


class ApplyFixCommand(DocStateCommand):
    def __init__(self, doc, fix):
        super().__init__(doc, f"Fix: {fix.label}", fix.apply)
