"""The inspector: a form generated from the selected node's layer ``params``.

Every finished edit is validated by the spec (``core.layers.spec.check``) and
then by the document; a refused value stays in the field with a red border
and the reason underneath and never reaches the document. Accepted edits are
one ``SetConfigCommand`` each; the name field renames the node.

>>> # inspector = Inspector(push=window.push_edit); inspector.set_document(doc)
>>> # inspector.show_node("n3")
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.graph.calls import describe_call, share_set
from desktop.editor.commands import (
    RenameNodeCommand,
    SetCallArgumentCommand,
    SetConfigCommand,
    node_name,
)
from desktop.editor.fields import Field, make_field
from desktop.editor.node_item import format_count, format_shape

ERROR_STYLE = "border: 1px solid #e5534b;"


class Inspector(QWidget):
    def __init__(self, push, parent=None):
        super().__init__(parent)
        self.setObjectName("inspector")
        self.push = push
        self.doc = None
        self.node_id = None
        self._unsubscribe = None
        self.fields: dict[str, Field] = {}
        self.errors: dict[str, QLabel] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.NoFrame)
        outer.addWidget(self.scroll)
        self._build_empty()

    # ------------------------------------------------------------ document
    def set_document(self, doc) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.doc = doc
        if doc is not None:
            token = doc.subscribe(self._on_event)
            self._unsubscribe = token if callable(token) else (
                (lambda d=doc, f=self._on_event: d.unsubscribe(f))
                if hasattr(doc, "unsubscribe") else None)
        self.show_node(None)

    def _on_event(self, event) -> None:
        if self.node_id is None:
            return
        if self.node_id not in self.doc.nodes:
            self.show_node(None)
        elif event.kind == "reset":
            self.show_node(self.node_id)
        elif event.kind != "nodes_moved":
            self._load_values()

    # ---------------------------------------------------------------- form
    def _set_body(self, body: QWidget) -> None:
        old = self.scroll.takeWidget()
        if old is not None:
            old.deleteLater()
        self.scroll.setWidget(body)

    def _build_empty(self) -> None:
        body = QWidget()
        lay = QVBoxLayout(body)
        hint = QLabel("Select a layer on the canvas to edit its settings.")
        hint.setObjectName("inspectorHint")
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignCenter)
        lay.addStretch(1)
        lay.addWidget(hint)
        lay.addStretch(2)
        self.fields, self.errors = {}, {}
        self.name_edit = None
        self._set_body(body)

    def show_node(self, node_id) -> None:
        """Show the form of ``node_id`` (or the hint when None / not in the document)."""
        if self.doc is None or node_id is None or node_id not in self.doc.nodes:
            self.node_id = None
            self._build_empty()
            return
        self.node_id = node_id
        node = self.doc.nodes[node_id]
        from core.layers.spec import get_layer_class

        cls = get_layer_class(node.type)
        body = QWidget()
        body.setObjectName("inspectorBody")
        lay = QVBoxLayout(body)
        lay.setContentsMargins(10, 10, 10, 10)
        title = QLabel(f"<b>{node.type}</b> <span style='color:#9aa3ad'>· {cls.group}</span>")
        title.setObjectName("inspectorTitle")
        lay.addWidget(title)
        self.info = QLabel()
        self.info.setObjectName("inspectorInfo")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.info)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("field_name")
        self.name_edit.editingFinished.connect(self._rename)
        form.addRow("name", self._with_error("name", self.name_edit))
        self.fields, basic, advanced = {}, [], []
        for p in cls.params:
            (advanced if p.advanced else basic).append(p)
        for p in basic:
            form.addRow(p.name, self._add_field(p))
        lay.addLayout(form)
        if advanced:
            more = QToolButton()
            more.setObjectName("inspectorMore")
            more.setText("More settings")
            more.setCheckable(True)
            more.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
            more.setArrowType(Qt.RightArrow)
            box = QWidget()
            adv = QFormLayout(box)
            adv.setContentsMargins(0, 0, 0, 0)
            adv.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
            for p in advanced:
                adv.addRow(p.name, self._add_field(p))
            box.setVisible(False)

            def toggle(on, b=box, m=more):
                b.setVisible(on)
                m.setArrowType(Qt.DownArrow if on else Qt.RightArrow)

            more.toggled.connect(toggle)
            lay.addWidget(more)
            lay.addWidget(box)
        # Recorded yes/no call arguments (use_causal_mask) can be switched here.
        self.call_boxes = {}
        for key, value in (node.call or {}).get("kwargs", {}).items():
            if isinstance(value, bool):
                box = self.call_boxes[key] = QCheckBox(f"called with {key}")
                box.setObjectName(f"call_{key}")
                box.setChecked(value)
                box.toggled.connect(lambda on, k=key: self._set_call(k, on))
                lay.addWidget(box)
        lay.addStretch(1)
        self._set_body(body)
        self._load_values()

    def _set_call(self, key: str, on: bool) -> None:
        if self.node_id is None:
            return
        old = (self.doc.nodes[self.node_id].call or {}).get("kwargs", {}).get(key)
        if old is not on:
            self.push(SetCallArgumentCommand(self.doc, self.node_id, key, on, old))

    def _with_error(self, key: str, widget: QWidget) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(2)
        v.addWidget(widget)
        err = QLabel()
        err.setObjectName("fieldError")
        err.setWordWrap(True)
        err.setStyleSheet("color: #e5534b;")
        err.hide()
        v.addWidget(err)
        self.errors[key] = err
        return box

    def _add_field(self, p) -> QWidget:
        field = make_field(p)
        field.widget.setObjectName(f"field_{p.name}")
        tip = p.doc or ""
        field.widget.setToolTip(f"{tip}\nDefault: {p.default!r}".strip())
        field.committed = lambda value, p=p: self._commit(p, value)
        self.fields[p.name] = field
        return self._with_error(p.name, field.widget)

    def _load_values(self) -> None:
        node = self.doc.nodes[self.node_id]
        state = self.doc.state(self.node_id)
        err = getattr(state, "error", None)
        text = (f"Output <code>{format_shape(getattr(state, 'output_shape', None))}</code>"
                f" · {format_count(getattr(state, 'param_count', None))}")
        calls = share_set(self.doc, self.node_id)
        if len(calls) > 1:  # a shared layer: say which cards are the same layer
            others = ", ".join(html.escape(self.doc.nodes[n].name) for n in calls
                               if n != self.node_id)
            text += (f"<br>Shared layer: the same weights as {others}; settings changed "
                     "here change every call.")
        if node.call:
            text += f"<br>{html.escape(describe_call(node.call))}"
        if err:
            text += f"<br><span style='color:#e5534b'>{err}</span>"
        self.info.setText(text)
        if self.name_edit is not None and not self.name_edit.hasFocus():
            self.name_edit.setText(node_name(self.doc, self.node_id))
        for name, field in self.fields.items():
            if self.errors[name].isVisible():
                continue  # keep the refused text the user typed until they fix it
            field.set_value(node.config.get(name, field.param.default))
        recorded = (node.call or {}).get("kwargs", {})
        for key, box in getattr(self, "call_boxes", {}).items():
            box.blockSignals(True)  # mirroring the document is not an edit
            box.setChecked(bool(recorded.get(key)))
            box.blockSignals(False)

    # ------------------------------------------------------------- editing
    def _show_error(self, key: str, message) -> None:
        widget = self.name_edit if key == "name" else self.fields[key].widget
        label = self.errors[key]
        if message:
            widget.setStyleSheet(ERROR_STYLE)
            widget.setProperty("invalid", True)
            label.setText(str(message))
            label.show()
        else:
            widget.setStyleSheet("")
            widget.setProperty("invalid", False)
            label.clear()
            label.hide()

    def field_error(self, key: str) -> str | None:
        """The refusal shown under a field, or None (used by tests and the status bar)."""
        label = self.errors.get(key)
        return label.text() if label is not None and not label.isHidden() else None

    def _commit(self, p, value) -> None:
        if self.node_id is None:
            return
        node = self.doc.nodes[self.node_id]
        if isinstance(value, ValueError):
            self._show_error(p.name, f"{p.name}: {value}")
            return
        from core.layers.spec import check

        try:
            value = check(node_name(self.doc, self.node_id), p, value)
        except ValueError as exc:
            self._show_error(p.name, str(exc))
            return
        old = node.config.get(p.name, p.default)
        if _same(old, value):
            self._show_error(p.name, None)
            return
        reason = self.push(SetConfigCommand(self.doc, self.node_id, p.name, value, old))
        if reason and reason != "cancelled":
            self._show_error(p.name, reason)
            return
        self._show_error(p.name, None)
        if reason == "cancelled":
            self._load_values()

    def _rename(self) -> None:
        if self.node_id is None or self.name_edit is None:
            return
        name = self.name_edit.text().strip()
        if name == node_name(self.doc, self.node_id):
            self._show_error("name", None)
            return
        if not name:
            self._show_error("name", "name: a layer needs a non-empty name")
            return
        reason = self.push(RenameNodeCommand(self.doc, self.node_id, name))
        self._show_error("name", reason if reason != "cancelled" else None)


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b
