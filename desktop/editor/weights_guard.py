"""Trained weights through edits: keep them when they still fit, drop them (after
asking) when they do not, and give them back on Undo.

``weights_fit(doc)`` builds the edited network and compares every weight shape with
``doc.weights``; changing only an activation or a regularizer keeps the weights, a
new unit count or a deleted Dense does not. ``DropWeightsCommand`` wraps the edit so
its undo restores the very arrays it dropped (they are part of the state).

>>> # reason = guarded_push(stack, cmd, ask=lambda: True)
"""

from __future__ import annotations

from desktop.editor.commands import DocCommand, push_checked


def weights_fit(doc) -> bool:
    """True when ``doc.weights`` loads into the network as it is now, layer for layer."""
    weights = getattr(doc, "weights", None)
    if weights is None:
        return True
    try:
        model = doc.build_model()
    except Exception:  # noqa: BLE001 - an unbuildable network fits no weights
        return False
    have = {ly.name: [tuple(w.shape) for w in ly.get_weights()] for ly in model.layers
            if ly.weights}
    want = {name: [tuple(getattr(a, "shape", ())) for a in arrays]
            for name, arrays in weights.items()}
    return have == want


class DropWeightsCommand(DocCommand):
    """``inner`` plus "the trained weights no longer fit": redo drops, undo restores."""

    def __init__(self, inner: DocCommand, on_weights=None):
        super().__init__(inner.doc, inner.text())
        self.inner = inner
        self.saved = inner.doc.weights
        self.on_weights = on_weights

    def _do(self):
        self.inner._do()
        self.doc.weights = None
        if self.on_weights:
            self.on_weights()

    def _undo(self):
        self.inner._undo()
        self.doc.weights = self.saved
        if self.on_weights:
            self.on_weights()


def guarded_push(stack, cmd: DocCommand, ask, on_weights=None) -> str | None:
    """Push ``cmd``; when it makes the trained weights unfit, ask first (``ask()`` ->
    bool) and wrap it in ``DropWeightsCommand``. The refusal reason, "cancelled", or None."""
    doc = cmd.doc
    if getattr(doc, "weights", None) is None:
        return push_checked(stack, cmd)
    try:
        cmd.do_first()
    except (ValueError, KeyError, TypeError) as exc:
        return push_checked(stack, _Refused(doc, exc))
    if weights_fit(doc):
        stack.push(cmd)  # already applied: the stack's first redo does nothing
        return None
    cmd._undo()
    cmd._pre_done = False
    if not ask():
        return "cancelled"
    return push_checked(stack, DropWeightsCommand(cmd, on_weights))


class _Refused(DocCommand):
    """Carries a refusal through ``push_checked`` so its wording stays in one place."""

    def __init__(self, doc, exc):
        super().__init__(doc, "refused")
        self.exc = exc

    def _do(self):
        raise self.exc
