"""Open a Keras model file (``.keras`` or legacy ``.h5``) as a graph document.

``open_model_file(path)`` loads the model with ``core.saving.load_model`` (all the
file-safety checks live there), turns it into a ``GraphDocument`` laid out with its
trained weights and compile settings, and returns ``(doc, notes)``: ``notes`` are
sentences the window shows (what was changed to fit the editor).

Nested models: a Sequential or functional model used as a layer is opened as a
*group* (``core.graph.groups``): its layers are wired in place of it (``inline_nested``)
and marked with the group's name, so the canvas shows one collapsible node and
``build_model`` rebuilds the same nested model; a note names every group.
Layers the engine does not know are all named in one
error, and a file from a newer Keras says its version and the one we read.

>>> doc, notes = open_model_file("model.keras")   # doctest: +SKIP
"""

from __future__ import annotations

import os

from core.graph.datatypes import GraphError
from core.graph.document import GraphDocument

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
_MODEL_CLASSES = {"Sequential", "Functional", "Model"}


class UnsupportedLayersError(GraphError):
    """Layers the engine does not have; ``first_known`` is how many leading layers of a
    Sequential model can still be opened (0: none, or not a Sequential); ``part`` how
    many layers the supported part has (``open_model_file(..., supported_part=True)``
    opens it: a Sequential's first layers, a functional model's part still connected to
    its inputs; 0: nothing can be opened)."""

    def __init__(self, message, layers, first_known, part=None):
        super().__init__(message)
        self.layers, self.first_known = layers, first_known
        self.part = first_known if part is None else part


def is_model_file(path) -> bool:
    """True for the file names File > Open treats as Keras models."""
    return str(path).lower().endswith(MODEL_SUFFIXES)


def open_model_file(path, custom_objects=None, first_layers=None, supported_part=False
                    ) -> tuple[GraphDocument, list[str]]:
    """``(doc, notes)`` for the Keras model in ``path``; raises ``GraphError`` (or the
    loader's ``ModelFileError``) with one readable message when it cannot; for layers we
    lack, ``UnsupportedLayersError``. ``first_layers=k`` opens only the first k layers
    of a Sequential (what ``UnsupportedLayersError.first_known`` says can be opened);
    ``supported_part`` opens what ``UnsupportedLayersError.part`` counts."""
    from core.saving.keras_format import ModelFileError

    path = os.fspath(path)
    notes: list[str] = []
    try:
        model, compiled = _load(path, custom_objects, first_layers, notes, supported_part)
    except ModelFileError as exc:
        raise ModelFileError(_with_version(path, str(exc))) from None
    record: dict = {}
    flat, inlined = inline_nested(model, record)
    try:
        doc = GraphDocument.from_model(flat)
    except GraphError as exc:
        raise GraphError(f"{os.path.basename(path)}: {exc}") from None
    if inlined:
        _take_groups(doc, record)
        notes.append(f"Nested models are shown as groups: {', '.join(inlined)} "
                     "(double-click a group to open or close it).")
    if record.get("shared_models"):
        notes.append("Nested models called more than once are shown as their layers, "
                     f"shared (a card per call), not as a group: "
                     f"{', '.join(record['shared_models'])}.")
    if compiled:
        notes += _take_compile_settings(model, doc)
    doc.meta["name"] = model.name
    return doc, notes


def _load(path, custom_objects, first_layers, notes, supported_part=False):
    """``(model, compile settings apply)``; what had to be left out goes to ``notes``."""
    from core.graph.model_part import load_first_layers, load_part, part_config
    from core.saving import load_model
    from core.saving.keras_format import CompileSettingsError
    if supported_part and first_layers is None:
        config, _ = _config_of(path)
        drop = _unsupported_entries(config) if isinstance(config, dict) else []
        if config and config.get("class_name") == "Sequential":
            first_layers = _first_known(config)
        elif drop:
            model = load_part(path, lambda c: part_config(c, drop), custom_objects)
            notes.append(f"Opened the part of the model that does not depend on "
                         f"{', '.join(repr(d) for d in drop)} ({len(model.layers)} layers, "
                         "with their trained weights); the rest was left out. The "
                         "project's default training settings are used.")
            return model, False
    if first_layers is not None:
        model = load_first_layers(path, int(first_layers), custom_objects)
        notes.append(f"Opened the first {first_layers} layers of the model (up to "
                     f"'{model.layers[-1].name}'); the rest was left out. The project's "
                     "default training settings are used.")
        return model, False  # a part of a model: its compile settings do not apply
    _refuse_unknown_layers(path)
    try:
        return load_model(path, custom_objects=custom_objects), True
    except CompileSettingsError as exc:  # the model is fine: open it uncompiled
        why = str(exc).removeprefix(path + ": ")
        notes.append(f"{why[:1].upper()}{why[1:]}; the project's default training settings "
                     "are used instead.")
        return load_model(path, custom_objects=custom_objects, compile=False), False


# ------------------------------------------------------------------ nested models
def _is_model(layer) -> bool:
    from core.models import Model
    return isinstance(layer, Model)


def _is_functional(model) -> bool:
    """A graph of layer calls (``model.graph``); otherwise a Sequential chain."""
    from core.models import Functional
    return isinstance(model, Functional)


def inline_nested(model, record=None):
    """``(model, names)``: ``model`` itself when nothing is nested, else a functional
    model calling the same leaf layers with every inner model's graph wired in place;
    ``names`` lists the inner models, outermost first. ``record`` (a dict), when given,
    receives ``{"groups": {model name: group record}, "member": {layer name: model
    name}}`` for ``core.graph.groups``."""
    if not any(_is_model(ly) for ly in model.layers):
        return model, []  # nothing nested (``record`` stays as it was)
    from core.layers import Input
    from core.models import Model

    names: list[str] = []
    rec = record if record is not None else {}
    rec.setdefault("groups", {})
    rec.setdefault("member", {})
    from core.models.graph import tensor_ref
    inputs = [Input(batch_shape=t.shape, dtype=t.dtype, name=tensor_ref(t).layer.name)
              for t in model.inputs]
    outputs = _inline(model, inputs, names, rec, "", top=True)
    flat = Model(inputs[0] if len(inputs) == 1 else inputs,
                 outputs[0] if len(outputs) == 1 else outputs, name=model.name)
    return flat, names


def _inline(model, inputs, names, rec, parent, top=False, grouped=True):
    scope = parent
    if not top and not grouped:
        # A nested model called several times would need one group in two places:
        # its layers join the parent as shared layers (a card per call) instead.
        if model.name not in rec.setdefault("shared_models", []):
            rec["shared_models"].append(model.name)
    elif not top:
        names.append(model.name)
        from core.models.graph import tensor_ref
        sequential = not _is_functional(model)
        own_inputs = [tensor_ref(t).layer for t in (model.inputs or [])]
        rec["groups"][model.name] = {
            "class_name": "Sequential" if sequential else "Functional", "parent": parent,
            "input_names": [ly.name for ly in own_inputs if ly is not None]}
        scope = model.name
    if not _is_functional(model):  # Sequential: a chain
        x = inputs[0]
        for layer in model.layers:
            x = _apply(layer, [x], None, names, rec, scope)[0]
        return [x]
    env = {id(t): new for t, new in zip(model.inputs, inputs)}
    uses: dict = {}
    for node in model.graph.nodes:
        uses[id(node.layer)] = uses.get(id(node.layer), 0) + 1
    for node in model.graph.nodes:  # execution order, as Functional runs
        if node.is_input:
            continue
        ins = [env[id(t)] for t in node.inputs]
        outs = _apply(node.layer, ins, node.node, names, rec, scope,
                      grouped=uses[id(node.layer)] == 1)
        for t, o in zip(node.outputs, outs):
            env[id(t)] = o
    return [env[id(t)] for t in model.outputs]


def _apply(layer, ins, node, names, rec, scope, grouped=True):
    """Call ``layer`` on ``ins`` as ``node`` (None: a Sequential's plain call) did."""
    if _is_model(layer):
        return _inline(layer, ins, names, rec, scope, grouped=grouped)
    if scope:
        rec["member"].setdefault(layer.name, scope)
    from core.layers.node import node_call_arguments
    args, kwargs = node_call_arguments(node, ins) if node is not None else ([ins[0]], {})
    out = layer(*args, **kwargs)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _take_groups(doc, record) -> None:
    """Mark the nodes of inlined models with their group (names are unique)."""
    doc.groups = {g: dict(info) for g, info in record["groups"].items()}
    for node in doc.nodes.values():
        node.group = record["member"].get(node.name, "")


# ------------------------------------------------------------------ messages
def _config_of(path):
    """The model config (dict) and Keras version string of ``path``, or (None, None)."""
    from core.saving.file_checks import ModelFileError, parse_json
    from core.saving.keras_format import CONFIG, METADATA
    if path.lower().endswith(".keras"):
        try:
            from core.saving.keras_format import read_archive
            members = read_archive(path)
            config = parse_json(path, CONFIG, members[CONFIG])
            meta = parse_json(path, METADATA, members[METADATA]) \
                if METADATA in members else {}
        except ModelFileError:
            return None, None  # load_model reports it properly
        version = meta.get("keras_version") if isinstance(meta, dict) else None
        return config, version
    try:
        from core.saving.legacy_h5 import read_legacy_config
        return read_legacy_config(path)
    except (ImportError, ValueError):
        return None, None


def _class_names(config) -> list[tuple[str, str]]:
    """(class_name, layer name) of every layer object in a model config."""
    out, stack = [], [config]
    while stack:
        o = stack.pop()
        if isinstance(o, list):
            stack.extend(reversed(o))
        elif isinstance(o, dict):
            cls, cfg = o.get("class_name"), o.get("config")
            if isinstance(cls, str) and isinstance(cfg, dict) and "name" in cfg and \
                    ("layers" in cfg or "trainable" in cfg or "batch_shape" in cfg
                     or "batch_input_shape" in cfg):
                out.append((cls, str(cfg.get("name"))))
            stack.extend(v for k, v in o.items() if k not in ("class_name",))
    return out


def _unknown(config) -> list[str]:
    from core.layers.spec import get_layer_class
    out = []
    for cls, name in _class_names(config):
        if cls in _MODEL_CLASSES or cls.startswith(("__", "DTypePolicy")):
            continue
        try:
            get_layer_class(cls)
        except (ValueError, KeyError):
            out.append(f"'{name}' ({cls})")
    return out


def _first_known(config) -> int:
    """How many leading layers of a Sequential config have no unknown layer in them."""
    if config.get("class_name") != "Sequential":
        return 0
    layers = [ly for ly in (config.get("config") or {}).get("layers") or []
              if isinstance(ly, dict) and ly.get("class_name") != "InputLayer"]
    for k, layer in enumerate(layers):
        if _unknown(layer):
            return k
    return len(layers)


def _unsupported_entries(config) -> list[str]:
    """Names of a functional config's top-level layers that hold an unknown layer."""
    if config.get("class_name") in ("Sequential", None):
        return []
    layers = (config.get("config") or {}).get("layers") or []
    return [str(ly.get("config", {}).get("name", ly.get("name"))) for ly in layers
            if isinstance(ly, dict) and _unknown(ly)]


def _refuse_unknown_layers(path) -> None:
    config, version = _config_of(path)
    if not isinstance(config, dict):
        return
    unknown = _unknown(config)
    if not unknown:
        return
    first, part = _first_known(config), 0
    if first:
        rest = f" The first {first} layers before it can be opened on their own."
    else:
        from core.graph.model_part import connected_part
        drop = _unsupported_entries(config)
        try:
            cut = connected_part(config.get("config") or {}, drop) if drop else None
        except ValueError:
            cut = None
        part = sum(1 for ly in (cut or {}).get("layers", ())
                   if ly.get("class_name") != "InputLayer")
        rest = (f" The {part} layers that do not depend on them can be opened on their "
                "own." if part else " The rest of the model cannot be opened without them.")
    raise UnsupportedLayersError(_with_version(path, (
        f"{os.path.basename(path)}: Netweaver does not support these layers yet: "
        f"{', '.join(unknown)}.{rest}"), version), unknown, first, part or first)


def _with_version(path, message, version=None) -> str:
    """``message`` plus, for a file from a newer Keras, which version wrote it."""
    from core.saving.keras_format import KERAS_VERSION
    if version is None:
        version = _config_of(path)[1]
    if not isinstance(version, str) or _newer(version, KERAS_VERSION) is False:
        return message
    return (f"{message} (The file was written by Keras {version}; Netweaver reads files of "
            f"Keras 2 and 3 up to {KERAS_VERSION}.)")


def _newer(version: str, ours: str):
    try:
        a = tuple(int(p) for p in version.split(".")[:2])
        b = tuple(int(p) for p in ours.split(".")[:2])
    except ValueError:
        return None  # unknown form: say which version it claims
    return a > b


# ------------------------------------------------------------------ compile settings
def _take_compile_settings(model, doc) -> list[str]:
    """Copy what ``compile`` was given into ``doc.training`` where the app can hold it;
    a note for each setting the project cannot express."""
    from core.saving.compile_config import get_compile_config
    opt = getattr(model, "optimizer", None)
    cc = get_compile_config(model) if opt is not None else None
    if not cc:
        return ["The file has no compile settings; the project's defaults are used."]
    notes, changes = [], {}
    changes["optimizer"] = type(opt).__name__.lower()
    lr = getattr(opt, "learning_rate", None)
    if isinstance(lr, (int, float)):
        changes["learning_rate"] = float(f"{float(lr):.7g}")  # float32 0.01 -> 0.01
    try:
        ref = type(opt)().get_config()
        own = opt.get_config()
        extra = sorted(k for k in own if k not in ("name", "learning_rate")
                       and own[k] != ref.get(k))
    except Exception:  # noqa: BLE001 - without a reference nothing can be compared
        extra = []
    if extra:
        notes.append("Optimizer settings from the file that the project does not keep (it "
                     f"keeps the type and learning rate): {', '.join(extra)}.")
    loss = _loss_name(cc.get("loss"))
    if loss is not None:
        changes["loss"] = loss
    elif cc.get("loss") is not None:
        notes.append(f"The loss {cc['loss']!r} (one per output, or with non-default "
                     "arguments) is not kept in the project's training settings.")
    metrics = cc.get("metrics")
    if isinstance(metrics, list) and all(isinstance(m, str) for m in metrics):
        changes["metrics"] = metrics
    for key, value in changes.items():
        try:
            doc.set_training(**{key: value})
        except (GraphError, ValueError) as exc:
            notes.append(f"Training setting {key} from the file not used: {exc}")
    return notes


def _loss_name(loss):
    """The loss as a name the project holds, or None when a name cannot say it."""
    if isinstance(loss, str):
        return loss
    if not isinstance(loss, dict):
        return None
    from core import losses
    try:
        obj = losses.get(loss)
        if obj.get_config() != type(obj)().get_config():
            return None
        name = obj.get_config().get("name")
        losses.get(name)
    except Exception:  # noqa: BLE001 - not expressible as a name
        return None
    return name
