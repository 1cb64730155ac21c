"""The part of a Keras model file the editor can open when some layers are unsupported.

A Sequential is cut after its last leading supported layer (``first_layers_config``);
a functional model loses each unsupported layer (a nested model holding one counts as
one) and everything that takes its output, directly or further down: what is left is
the part still connected to the inputs. Its ends become the model's outputs, inputs no
kept layer reads are dropped. The cut config is rebuilt and takes the file's weights of
the layers it kept (``load_part``), uncompiled: the compile settings were for the
whole model.

>>> cfg = {"layers": [{"name": "x", "class_name": "InputLayer", "inbound_nodes": []},
...   {"name": "d", "class_name": "Dense", "inbound_nodes": [{"args": [{"class_name":
...    "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}]}]},
...   {"name": "u", "class_name": "Odd", "inbound_nodes": [{"args": [{"class_name":
...    "__keras_tensor__", "config": {"keras_history": ["d", 0, 0]}}]}]}],
...   "input_layers": [["x", 0, 0]], "output_layers": [["u", 0, 0]]}
>>> part = connected_part(cfg, {"u"})
>>> [ly["name"] for ly in part["layers"]], part["output_layers"]
(['x', 'd'], ['d', 0, 0])
"""

from __future__ import annotations

import os


def _references(obj) -> list[tuple[str, int]]:
    """(layer name, node index) of every tensor an ``inbound_nodes`` entry reads:
    Keras 3's ``keras_history`` and Keras 2's ``[name, node, tensor, kwargs]``."""
    out, stack = [], [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            hist = (o.get("config") or {}).get("keras_history") \
                if o.get("class_name") == "__keras_tensor__" else None
            if isinstance(hist, list) and len(hist) == 3 and isinstance(hist[0], str):
                out.append((hist[0], hist[1]))
                continue
            stack.extend(o.values())
        elif isinstance(o, list):
            if len(o) in (3, 4) and isinstance(o[0], str) and isinstance(o[1], int) \
                    and isinstance(o[2], int):
                out.append((o[0], o[1]))
                continue
            stack.extend(o)
    return out


def _io_list(value) -> list:
    """``input_layers``/``output_layers`` as a list of ``[name, node, tensor]``."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value]
    return [v for v in value or [] if isinstance(v, list) and len(v) == 3]


def connected_part(config: dict, drop) -> dict:
    """The functional ``config`` (the inner ``"config"`` dict) without the layers in
    ``drop`` and all that depends on them; raises ``ValueError`` when nothing but
    inputs would be left."""
    layers = [ly for ly in config.get("layers", []) if isinstance(ly, dict)]
    reads = {ly.get("name"): {n for n, _ in _references(ly.get("inbound_nodes", []))}
             for ly in layers}
    removed, grew = set(drop), True
    while grew:
        grew = False
        for name, srcs in reads.items():
            if name not in removed and srcs & removed:
                removed.add(name)
                grew = True
    kept = [ly for ly in layers if ly.get("name") not in removed]
    read_by_kept = set().union(*(reads[ly.get("name")] for ly in kept)) if kept else set()
    inputs = [r for r in _io_list(config.get("input_layers"))
              if r[0] not in removed and r[0] in read_by_kept]
    input_names = {r[0] for r in inputs}
    kept = [ly for ly in kept if ly.get("class_name") != "InputLayer"
            or ly.get("name") in input_names]
    if not any(ly.get("class_name") != "InputLayer" for ly in kept):
        raise ValueError("no layer before the unsupported ones can be opened")
    outputs = [r for r in _io_list(config.get("output_layers")) if r[0] not in removed]
    for ly in kept:  # the ends of what is left
        name = ly.get("name")
        if ly.get("class_name") != "InputLayer" and name not in read_by_kept and \
                not any(r[0] == name for r in outputs):
            nodes = ly.get("inbound_nodes") or [None]
            outputs.append([name, len(nodes) - 1, 0])
    return {**config, "layers": kept,
            "input_layers": inputs[0] if len(inputs) == 1 else inputs,
            "output_layers": outputs[0] if len(outputs) == 1 else outputs}


def part_config(config: dict, drop, first_layers=None) -> dict:
    """The whole model ``config`` cut to its openable part: the first ``first_layers``
    of a Sequential, or the ``connected_part`` of a functional model."""
    from core.saving.legacy_h5 import first_layers_config
    if config.get("class_name") == "Sequential":
        return first_layers_config(config, int(first_layers or 0))
    return {**config, "config": connected_part(config.get("config") or {}, drop)}


def load_part(path, cut, custom_objects=None):
    """The model in ``path`` rebuilt from ``cut(config)``, with the saved weights of the
    layers it kept (``.keras`` or legacy ``.h5``)."""
    from core.saving import keras_format as kf
    from core.saving.legacy_h5 import load_legacy_h5
    from core.saving.serialization import deserialize_layer
    from core.saving.weights_h5 import WeightsError, read_weights
    path = os.fspath(path)
    if not path.lower().endswith(".keras"):
        return load_legacy_h5(path, custom_objects=custom_objects, part=cut)
    members = kf.read_archive(path)
    config = kf.parse_json(path, kf.CONFIG, members[kf.CONFIG])
    if not isinstance(config, dict):
        raise kf.ModelFileError(f"{path}: {kf.CONFIG} does not describe a model.")
    kf.refuse_code(path, config)
    kf.check_config(path, config)
    try:
        model = deserialize_layer(cut(config), custom_objects=custom_objects)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise kf.ModelFileError(f"{path}: cannot rebuild the supported part: {e}") from e
    h5 = kf._open_h5(path, members[kf.WEIGHTS])
    try:
        read_weights(model, h5, skip_optimizer=True, allow_unused=True)
    except (WeightsError, OSError, KeyError, ValueError, RuntimeError) as e:
        raise kf.ModelFileError(f"{path}: {e}") from None
    finally:
        h5.close()
    return model


def load_first_layers(path, k: int, custom_objects=None):
    """The first ``k`` layers of the Sequential in ``path`` with their saved weights (a
    legacy ``.h5`` matches them by order, as Keras' legacy loader does)."""
    from core.saving.legacy_h5 import first_layers_config, load_legacy_h5
    path = os.fspath(path)
    if not path.lower().endswith(".keras"):
        return load_legacy_h5(path, custom_objects=custom_objects, first_layers=k)
    return load_part(path, lambda c: first_layers_config(c, k), custom_objects)
