"""One editor widget per ``Param`` kind, generated from the layer spec.

``make_field(param)`` returns a ``Field`` whose ``widget`` edits the value and
whose ``committed`` callback fires once per finished edit with the parsed
value — or with a ``ValueError`` when the text cannot be parsed, so the
inspector can refuse it in place.

>>> # f = make_field(Param("rate", "float", 0.5, min=0, max=1)); f.set_value(0.25)
"""

from __future__ import annotations

import math

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLineEdit, QSpinBox, QWidget

# Keras' built-in names (keras.activations / keras.initializers); the engine may
# offer fewer — the document refuses names it does not know, with the reason.
ACTIVATIONS = ("linear", "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "softplus",
               "softsign", "swish", "silu", "gelu", "leaky_relu", "relu6", "hard_sigmoid",
               "exponential", "mish", "log_softmax")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                "lecun_uniform", "lecun_normal", "zeros", "ones", "random_uniform",
                "random_normal", "truncated_normal", "orthogonal", "identity")
REGULARIZERS = ("None", "l1", "l2", "l1l2")  # the string ids core.regularizers.get takes
CONSTRAINTS = ("None", "max_norm", "min_max_norm", "non_neg", "unit_norm")
INT_LIMIT = 2**31 - 1


COMMON_FIRST = ("linear", "relu", "sigmoid", "softmax", "tanh", "glorot_uniform", "he_normal",
                "he_uniform", "zeros", "ones")


def _engine_names(module: str, fallback: tuple) -> tuple:
    """The snake_case names the engine module knows (``known_names()``), common ones
    first; Keras' list when the module is not there."""
    try:
        mod = __import__(f"core.{module}", fromlist=["known_names"])
        names = [str(n) for n in mod.known_names() if str(n) == str(n).lower()]
    except (ImportError, AttributeError):
        return fallback
    if not names:
        return fallback
    return tuple(sorted(names, key=lambda n: (COMMON_FIRST.index(n) if n in COMMON_FIRST
                                               else len(COMMON_FIRST), n)))


def display(value) -> str:
    """Text for a config value: tuples as ``3, 3``, None as empty, dicts by class."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("class_name", value))
    if isinstance(value, (list, tuple)):
        return ", ".join("None" if v is None else str(v) for v in value)
    return str(value)


def _ints(text: str, allow_none: bool) -> tuple:
    out = []
    toks = text.replace("(", "").replace(")", "").replace("[", "").replace("]", "").split(",")
    if len(toks) > 1 and not toks[-1].strip():
        toks = toks[:-1]  # "28," is Python's one-tuple; "28,,28" is a typo, not (28, 28)
    for tok in toks:
        tok = tok.strip()
        if not tok:
            raise ValueError(f"{text.strip()!r} has an empty entry; write e.g. 28, 28")
        if allow_none and tok.lower() == "none":
            out.append(None)
            continue
        try:
            out.append(int(tok))
        except ValueError:
            raise ValueError(f"{tok!r} is not an integer") from None
    return tuple(out)


class Field:
    """A widget plus how to show and read a value of one Param."""

    def __init__(self, param, widget, getter, setter):
        self.param = param
        self.widget = widget
        self._get, self._set = getter, setter
        self.committed = None  # set by the inspector: fn(value_or_ValueError)

    def set_value(self, value) -> None:
        self.widget.blockSignals(True)
        try:
            self._set(value)
        finally:
            self.widget.blockSignals(False)

    def value(self):
        return self._get()

    def commit(self, *_):
        if self.committed is None:
            return
        try:
            value = self._get()
        except ValueError as exc:
            self.committed(exc)
            return
        self.committed(value)


def _line(param, parse) -> Field:
    edit = QLineEdit()
    edit.setPlaceholderText("None" if param.optional else display(param.default))

    def get():
        text = edit.text().strip()
        if not text or text.lower() == "none":
            if param.optional or param.kind in ("activation",):
                return None
            raise ValueError("a value is required")
        return parse(text)

    field = Field(param, edit, get, lambda v: edit.setText(display(v)))
    edit.editingFinished.connect(field.commit)
    return field


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an integer") from None


def _axis(text: str):
    vals = _ints(text, allow_none=False)
    if len(vals) == 1 and "," not in text:
        return vals[0]
    return list(vals)


def _combo(param, names, none_text=None) -> Field:
    box = QComboBox()
    box.addItems(list(names))

    def setter(v):
        text = display(v) or (none_text or "")
        if text and box.findText(text) < 0:
            box.addItem(text)
        box.setCurrentIndex(max(0, box.findText(text)))

    def getter():
        text = box.currentText()
        return None if none_text is not None and text == none_text else text

    field = Field(param, box, getter, setter)
    box.activated.connect(field.commit)
    return field


REGULARIZER_CLASSES = {"l1": ("L1", ("l1",)), "l2": ("L2", ("l2",)),
                       "l1l2": ("L1L2", ("l1", "l2"))}


class RegularizerEdit(QWidget):
    """The regularizer's name and its strength (Keras' factor; empty = Keras' default)."""

    def __init__(self):
        super().__init__()
        self.combo = QComboBox()
        self.combo.addItems(REGULARIZERS)
        self.strength = QLineEdit()
        self.strength.setPlaceholderText("0.01")
        self.strength.setToolTip("Strength (the l1 / l2 factor); empty uses Keras' default")
        self.strength.setMaximumWidth(80)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo, 1)
        lay.addWidget(self.strength)
        self.combo.currentTextChanged.connect(lambda t: self.strength.setEnabled(t != "None"))
        self.strength.setEnabled(False)


def _regularizer(param) -> Field:
    """``None``, a Keras string id (default strength) or Keras' serialized dict with the
    typed strength: ``{"class_name": "L2", "config": {"l2": 0.001}, ...}``."""
    edit = RegularizerEdit()

    def getter():
        name = edit.combo.currentText()
        if name == "None":
            return None
        text = edit.strength.text().strip()
        if not text:
            return name
        value = _float(text)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"strength {text!r} must be a number >= 0")
        cls, keys = REGULARIZER_CLASSES[name]
        return {"module": "keras.regularizers", "class_name": cls,
                "config": {k: value for k in keys}, "registered_name": None}

    def setter(v):
        strength = ""
        if isinstance(v, dict):
            name = str(v.get("class_name", "")).lower()
            conf = v.get("config") or {}
            vals = [conf[k] for k in ("l1", "l2") if conf.get(k)]
            strength = display(vals[0]) if vals else ""
        else:
            name = "None" if v is None else str(v)
        if edit.combo.findText(name) < 0:
            edit.combo.addItem(name)
        edit.combo.setCurrentText(name)
        edit.strength.setText(strength)

    field = Field(param, edit, getter, setter)
    edit.combo.activated.connect(field.commit)
    edit.strength.editingFinished.connect(field.commit)
    return field


class CheckedSpinBox(QSpinBox):
    """A spin box that lets any whole number be typed and says when it is out of range.

    A plain ``QSpinBox`` with minimum 1 rejects the ``-`` key, so ``-5`` typed became
    ``5`` without a word; here the typed text is kept (``typed``) and the field's getter
    refuses it with the range, so the inspector shows why nothing was applied.
    """

    def __init__(self):
        super().__init__()
        self.typed: str | None = None
        self.lineEdit().textEdited.connect(self._edited)

    def _edited(self, text: str) -> None:
        self.typed = text

    def validate(self, text, pos):
        bare = text.strip()
        if bare in ("-", "+"):
            return QValidator.Intermediate, text, pos  # a sign starts a number
        if bare.lstrip("+-").isdigit():
            value = int(bare)
            if not self.minimum() <= value <= self.maximum():
                return QValidator.Intermediate, text, pos  # typed, refused on commit
        return super().validate(text, pos)

    def take_out_of_range(self) -> int | None:
        """The out-of-range number the user typed last, once (None if in range)."""
        typed, self.typed = self.typed, None
        bare = (typed or "").strip()
        if not bare.lstrip("+-").isdigit():
            return None
        value = int(bare)
        return None if self.minimum() <= value <= self.maximum() else value


def make_field(param) -> Field:
    """The editor widget for one Param (kinds from ``core.layers.spec.KINDS``)."""
    k = param.kind
    if k == "int" and not param.optional:
        spin = CheckedSpinBox()
        lo = -INT_LIMIT if param.min is None else int(param.min) + int(param.min_exclusive)
        hi = INT_LIMIT if param.max is None else int(param.max) - int(param.max_exclusive)
        required = param.default is None  # e.g. Dense(units): Keras has no default
        if required:  # one step below the minimum shows "required" and reads as None
            lo -= 1
            spin.setSpecialValueText("required")
        spin.setRange(lo, hi)
        spin.setKeyboardTracking(False)  # one command per finished edit, not per key
        spin.setAccelerated(True)

        def get():
            bad = spin.take_out_of_range()
            if bad is not None:
                least = spin.minimum() + int(required)
                raise ValueError(f"{bad} is out of range: expected {least} to "
                                 f"{spin.maximum()}; nothing was applied")
            return None if required and spin.value() == spin.minimum() else spin.value()

        def put(v):
            spin.setValue(spin.minimum() if v is None else int(v))

        field = Field(param, spin, get, put)
        spin.editingFinished.connect(field.commit)
        return field
    if k == "int":
        return _line(param, _int)
    if k == "float":
        return _line(param, _float)
    if k == "bool":
        box = QCheckBox()
        field = Field(param, box, box.isChecked, lambda v: box.setChecked(bool(v)))
        box.toggled.connect(field.commit)
        return field
    if k == "choice":
        return _combo(param, [str(c) for c in param.choices])
    if k == "activation":
        return _combo(param, _engine_names("activations", ACTIVATIONS), none_text="linear"
                      if param.default is None else None)
    if k == "initializer":
        return _combo(param, _engine_names("initializers", INITIALIZERS))
    if k == "regularizer":
        return _regularizer(param)
    if k == "constraint":
        return _combo(param, CONSTRAINTS, none_text="None")
    if k == "tuple":
        return _line(param, lambda t: _ints(t, allow_none=False) if "," in t else _int(t))
    if k == "shape":
        return _line(param, lambda t: _ints(t, allow_none=True))
    if k == "axis":
        return _line(param, _axis)
    return _line(param, str)
