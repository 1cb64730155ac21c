"""Legacy Keras ``.h5`` model files (Keras 2 / tf.keras, and Keras 3's legacy writer).

The layout, as ``keras/src/legacy/saving/legacy_h5_format.py`` reads and writes it:
root attributes ``model_config`` (JSON ``{"class_name", "config"}``), ``training_config``
(compile arguments with ``optimizer_config``), ``keras_version``, ``backend``; a group
``model_weights`` whose ``layer_names`` attribute lists the layers, one group per layer
with a ``weight_names`` attribute naming its datasets; ``optimizer_weights`` likewise.
Weights are matched by **order**, as Keras does: the layers that have weights, each in
the legacy order ``trainable_weights + non_trainable_weights``.

Reading trusts nothing: a regular file under the memory budget is read into memory,
only hard links inside the file are followed (no external or soft links, no external
or virtual datasets), datasets must be numeric and have the shape the model expects
before they are read, JSON is parsed with bounded depth, and code in the config is
refused (``keras_format``'s checks). All problems are one ``ModelFileError``.

>>> save_legacy_h5(model, "model.h5")      # doctest: +SKIP
>>> model = load_legacy_h5("model.h5")     # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import os

import numpy as np

from core import safety, safety_writes
from core.saving import serialization
from core.saving.file_checks import (
    MAX_JSON_DEPTH,
    CompileSettingsError,
    ModelFileError,
    check_config,
    refuse_code,
)
from core.saving.keras_format import KERAS_VERSION, MAX_JSON_BYTES

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


# ----------------------------------------------------------------------------- opening
def _open(path: str):
    """The file as a read-only in-memory ``h5py.File`` (never reopened from disk)."""
    import h5py

    with safety.open_regular(path, ModelFileError, "model file") as f:
        data = safety.read_bounded(f, safety.memory_budget() // 2, path, ModelFileError,
                                   "the model file")
    if not data.startswith(HDF5_MAGIC):
        raise ModelFileError(f"{path}: not an HDF5 file (a legacy Keras .h5 model starts "
                             "with the HDF5 signature).")
    try:
        return h5py.File(io.BytesIO(data), "r")
    except (OSError, ValueError) as e:
        raise ModelFileError(f"{path}: not a readable HDF5 file ({e}).") from None


def _child(path, group, name: str, want: str):
    """``group[name]`` when it is a hard link to a ``want`` ("group"/"dataset")."""
    import h5py

    if not isinstance(name, str) or not name or name.startswith("/") or \
            ".." in name.split("/"):
        raise ModelFileError(f"{path}: bad member name {name!r} in {group.name!r}.")
    node = group
    for part in name.split("/"):
        link = node.get(part, getlink=True)
        if link is None:
            raise ModelFileError(f"{path}: {node.name!r} has no member {part!r}.")
        if not isinstance(link, h5py.HardLink):
            raise ModelFileError(f"{path}: {node.name}/{part} is a {type(link).__name__}; "
                                 "only members stored in the file itself are read.")
        node = node[part]
    kind = h5py.Dataset if want == "dataset" else h5py.Group
    if not isinstance(node, kind):
        raise ModelFileError(f"{path}: {node.name!r} is not a {want}.")
    if want == "dataset":
        if node.external or node.is_virtual:
            raise ModelFileError(f"{path}: dataset {node.name!r} keeps its data outside the "
                                 "file; refusing to read it.")
        if node.dtype.kind not in "fiub":
            raise ModelFileError(f"{path}: dataset {node.name!r} has dtype {node.dtype}, "
                                 "not numbers.")
    return node


def _text_attr(path, obj, name: str, required=True):
    value = obj.attrs.get(name)
    if value is None:
        if required:
            raise ModelFileError(f"{path}: no {name!r} attribute; this is not a Keras "
                                 "model file (a weights-only .h5 has no model to open).")
        return None
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise ModelFileError(f"{path}: attribute {name!r} is not text.")
    return value


def _names_attr(path, obj, name: str) -> list[str]:
    """Keras' ``load_attributes_from_hdf5_group``: the list, or its numbered chunks."""
    if name in obj.attrs:
        chunks = [obj.attrs[name]]
    else:
        chunks, k = [], 0
        while f"{name}{k}" in obj.attrs:
            chunks.append(obj.attrs[f"{name}{k}"])
            k += 1
    out = []
    for chunk in chunks:
        for n in np.atleast_1d(np.asarray(chunk, dtype=object)):
            n = n.decode("utf-8", "replace") if isinstance(n, bytes) else n
            if not isinstance(n, str):
                if isinstance(n, float) and not chunk.size:
                    continue
                raise ModelFileError(f"{path}: {obj.name}.{name} holds {n!r}, not names.")
            out.append(n)
    return out


def _json_attr(path, f, name, required=True):
    text = _text_attr(path, f, name, required)
    if text is None:
        return None
    if len(text) > MAX_JSON_BYTES:
        raise ModelFileError(f"{path}: {name} is larger than {MAX_JSON_BYTES} bytes.")
    try:
        return safety.loads_json(text, MAX_JSON_DEPTH)
    except ValueError as e:
        raise ModelFileError(f"{path}: {name} {e}.") from None


def read_legacy_config(path):
    """``(model_config, keras_version)`` of a legacy ``.h5`` (for messages before loading)."""
    path = os.fspath(path)
    with _open(path) as f:
        return _json_attr(path, f, "model_config"), _text_attr(path, f, "keras_version",
                                                               required=False)


# ----------------------------------------------------------------------------- config
def _modernize(config):
    """Keras 2 spellings Keras 3 still reads from ``.h5`` files: ``batch_input_shape``
    of an InputLayer -> ``batch_shape``; a Sequential whose first layer carries
    ``batch_input_shape`` gets the InputLayer Keras 2 left implicit."""
    if not isinstance(config, dict):
        return config
    cls, cfg = config.get("class_name"), config.get("config")
    if not isinstance(cfg, dict):
        return config
    cfg = dict(cfg)
    if cls == "InputLayer" and "batch_input_shape" in cfg and "batch_shape" not in cfg:
        cfg["batch_shape"] = cfg.pop("batch_input_shape")
    layers = cfg.get("layers")
    if isinstance(layers, list):
        layers = [_modernize(ly) for ly in layers]
        if cls == "Sequential" and layers and isinstance(layers[0], dict):
            first = layers[0].get("config") or {}
            shape = first.get("batch_input_shape") if isinstance(first, dict) else None
            if layers[0].get("class_name") != "InputLayer" and shape is not None:
                layers.insert(0, {"class_name": "InputLayer", "config": {
                    "batch_shape": shape, "dtype": first.get("dtype", "float32"),
                    "name": f"{first.get('name', 'layer')}_input"}})
        cfg["layers"] = layers
    for key in ("layer",):  # wrappers (TimeDistributed, Bidirectional)
        if isinstance(cfg.get(key), dict):
            cfg[key] = _modernize(cfg[key])
    return {**config, "config": cfg}


def first_layers_config(config: dict, k: int) -> dict:
    """A Sequential config cut to its InputLayer (if any) and first ``k`` layers."""
    if config.get("class_name") != "Sequential":
        raise ModelFileError("only a Sequential model can be opened in part.")
    layers = config["config"]["layers"]
    skip = 1 if layers and layers[0].get("class_name") == "InputLayer" else 0
    return {**config, "config": {**config["config"], "layers": layers[:skip + k]}}


def _compile_config(training_config):
    """Keras 3 ``compile_config`` form of a legacy ``training_config``."""
    opt = training_config.get("optimizer_config")
    if isinstance(opt, dict) and "module" not in opt:
        opt = {"module": "keras.optimizers", "class_name": opt.get("class_name"),
               "config": opt.get("config", {}), "registered_name": None}
    metrics = training_config.get("metrics")
    if isinstance(metrics, list) and len(metrics) == 1 and isinstance(metrics[0], list):
        metrics = metrics[0]  # Keras 2 wrote one list per output
    return {"optimizer": opt, "loss": training_config.get("loss"),
            "loss_weights": training_config.get("loss_weights"), "metrics": metrics}


# ----------------------------------------------------------------------------- weights
def legacy_weights(layer) -> list:
    """Keras' ``_legacy_weights``: trainable weights, then the others (a frozen layer's
    weights are all non-trainable)."""
    ws = list(layer.weights)
    if not getattr(layer, "trainable", True):
        return ws
    return [w for w in ws if w.trainable] + [w for w in ws if not w.trainable]


def _read_values(path, group, variables, where):
    names = _names_attr(path, group, "weight_names")
    if len(names) != len(variables):
        raise ModelFileError(f"{path}: {where} expects {len(variables)} weight(s), the file "
                             f"has {len(names)}.")
    out = []
    for name, var in zip(names, variables):
        ds = _child(path, group, name, "dataset")
        want = tuple(var.value.shape)
        if tuple(ds.shape) != want:
            raise ModelFileError(f"{path}: {where}: weight {name!r} has shape "
                                 f"{tuple(ds.shape)}, the model expects {want}.")
        out.append(np.asarray(ds[()], dtype=var.value.dtype))
    return out


def _read_model_weights(path, f, model, prefix=False, by_name=False) -> list:
    """(variable, value) pairs for every layer weight; nothing is assigned here.
    ``prefix``: the model is the first layers of the saved one (weights match by order);
    ``by_name``: it is a part of it (weights match by layer name)."""
    group = _child(path, f, "model_weights", "group")
    layers = [ly for ly in model.layers if legacy_weights(ly)]
    saved = [n for n in _names_attr(path, group, "layer_names")
             if _names_attr(path, _child(path, group, n, "group"), "weight_names")]
    if by_name:
        have = set(saved)
        saved = [ly.name for ly in layers if ly.name in have]
    elif prefix:
        saved = saved[:len(layers)]
    if len(saved) != len(layers):
        raise ModelFileError(f"{path}: the model has {len(layers)} layers with weights, the "
                             f"file stores weights for {len(saved)}.")
    pairs = []
    for name, layer in zip(saved, layers):
        variables = legacy_weights(layer)
        values = _read_values(path, _child(path, group, name, "group"), variables,
                              f"layer {layer.name!r} ({name!r} in the file)")
        pairs += list(zip(variables, values))
    return pairs


# ----------------------------------------------------------------------------- loading
def load_legacy_h5(filepath, custom_objects=None, compile=True, first_layers=None,
                   part=None):
    """The model in a legacy ``.h5`` file with its weights; compiled (optimizer state
    restored when the file has it and it fits) when ``compile`` and the file says how.
    ``first_layers=k`` (a Sequential only): just its first k layers, uncompiled;
    ``part``: a function cutting the config to a part, loaded uncompiled."""
    from core.saving.compile_config import build_optimizer, compile_from_config

    path = os.fspath(filepath)
    with _open(path) as f:
        config = _json_attr(path, f, "model_config")
        if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
            raise ModelFileError(f"{path}: model_config does not describe a model.")
        refuse_code(path, config)
        check_config(path, config)
        version = _text_attr(path, f, "keras_version", required=False) or "?"
        if version.split(".")[0] == "1":
            raise ModelFileError(f"{path}: written by Keras {version}; Netweaver reads .h5 "
                                 "files of Keras 2 (tf.keras) and Keras 3.")
        config = _modernize(config)
        if first_layers is not None:
            config = first_layers_config(config, first_layers)
            compile = False
        if part is not None:
            config = part(config)
            compile = False
        try:
            model = serialization.deserialize_layer(config, custom_objects=custom_objects)
        except (ValueError, TypeError, KeyError, IndexError, RecursionError,
                AttributeError) as e:
            raise ModelFileError(f"{path}: cannot rebuild the model from model_config "
                                 f"(Keras {version}): {e}") from e
        try:
            pairs = _read_model_weights(path, f, model, prefix=first_layers is not None,
                                        by_name=part is not None)
        except ModelFileError:
            raise
        except (OSError, KeyError, ValueError, RuntimeError, TypeError) as e:
            raise ModelFileError(f"{path}: model_weights is corrupt ({e}).") from None
        training = _json_attr(path, f, "training_config", required=False) if compile else None
        opt_pairs = []
        if isinstance(training, dict):
            try:
                compile_from_config(model, _compile_config(training))
                build_optimizer(model)
            except (ValueError, TypeError, KeyError) as e:
                raise CompileSettingsError(f"{path}: cannot restore the compile settings "
                                           f"(Keras {version}): {e}") from e
            opt_pairs = _read_optimizer(path, f, model)
    for var, value in pairs + opt_pairs:  # all read and checked: now assign
        var.assign(value)
    return model


def _read_optimizer(path, f, model) -> list:
    """Optimizer (variable, value) pairs, or [] when the file's state does not fit
    (Keras then starts from a fresh optimizer too, with a warning)."""
    import warnings

    if "optimizer_weights" not in f:
        return []
    variables = list(model.optimizer.variables)
    try:
        group = _child(path, f, "optimizer_weights", "group")
        return list(zip(variables, _read_values(path, group, variables, "the optimizer")))
    except ModelFileError as e:
        warnings.warn(f"{e} The optimizer starts fresh.", stacklevel=3)
        return []


# ----------------------------------------------------------------------------- saving
def _write_subset(group, variables, prefix):
    names, seen = [], set()
    for var in variables:
        base = f"{prefix}/{var.path}"  # Keras writes ``model/layer/kernel`` paths too
        name, k = base, 1
        while name in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name)
        names.append(name)
        group.create_dataset(name, data=np.asarray(var.value))
    group.attrs["weight_names"] = np.array([n.encode("utf-8") for n in names], dtype=object) \
        if names else np.zeros((0,))


def save_legacy_h5(model, filepath, overwrite=True, include_optimizer=True) -> None:
    """Keras' ``save_model_to_hdf5`` layout (``model.save("x.h5")``), written atomically."""
    import h5py

    from core.saving.compile_config import get_compile_config

    path = os.fspath(filepath)
    if not overwrite and os.path.exists(path):
        raise ValueError(f"{path} already exists and overwrite=False.")
    if not getattr(model, "built", False):
        raise ValueError(f"Model '{model.name}' has not been built, so it has no weights to "
                         "save; call it on data or build it first.")
    cfg = serialization.serialize_layer(model)
    model_config = {"class_name": cfg["class_name"], "config": cfg["config"]}
    cc = get_compile_config(model) if include_optimizer else None
    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = "netweaver"
        f.attrs["model_config"] = json.dumps(model_config).encode("utf-8")
        if cc:
            opt = cc.pop("optimizer")
            cc["optimizer_config"] = {"class_name": opt["class_name"], "config": opt["config"]}
            f.attrs["training_config"] = json.dumps(cc).encode("utf-8")
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([ly.name.encode("utf-8") for ly in model.layers],
                                          dtype=object)
        g.attrs["backend"] = b"netweaver"
        g.attrs["keras_version"] = KERAS_VERSION.encode("utf-8")
        for layer in sorted(model.layers, key=lambda ly: ly.name):
            _write_subset(g.create_group(layer.name), legacy_weights(layer), layer.name)
        _write_subset(g.create_group("top_level_model_weights"), [], model.name)
        opt = getattr(model, "optimizer", None)
        if cc and opt is not None and list(opt.variables):
            _write_subset(f.create_group("optimizer_weights"), list(opt.variables), opt.name)
    data = bio.getvalue()
    safety_writes.atomic_write(path, lambda out: out.write(data))
