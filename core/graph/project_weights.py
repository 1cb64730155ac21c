"""The weights block of a ``.nwproj``: raw little-endian arrays, and the check that
they fit the network the file describes.

Each array is stored as dtype, shape and base64 of its little-endian bytes, so
nothing is ever unpickled. ``check_weights_fit`` compares every array with the
weight the document's own shape inference builds (``NodeState.weight_shapes``):
a file whose weights name a layer the network lacks, miss one of its layers, or
hold a different shape is refused naming the layer, the weight and both shapes,
instead of loading some layers and silently dropping the rest.

>>> block = encode_weights({"dense": [np.zeros((2, 3), "float32")]})
>>> decode_weights(block)["dense"][0].shape
(2, 3)
"""

from __future__ import annotations

import base64
import math

import numpy as np

_DTYPES = ("float16", "float32", "float64", "int32", "int64", "uint8", "bool")


def encode_weights(weights: dict) -> dict:
    layers = {}
    for name, arrays in weights.items():
        enc = []
        for a in arrays:
            a = np.asarray(a)
            if a.dtype.name not in _DTYPES:
                raise ValueError(f"weight of layer {name!r} has unsupported dtype {a.dtype}")
            le = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
            enc.append({"dtype": a.dtype.name, "shape": list(a.shape),
                        "data": base64.b64encode(le.tobytes()).decode("ascii")})
        layers[str(name)] = enc
    return {"encoding": "base64-raw-le", "layers": layers}


def decode_weights(data: dict) -> dict:
    if not isinstance(data, dict) or data.get("encoding") != "base64-raw-le" or \
            not isinstance(data.get("layers"), dict):
        raise ValueError("the weights block is not base64-raw-le layers")
    out = {}
    for name, arrays in data["layers"].items():
        if not isinstance(arrays, list):
            raise ValueError(f"weights of layer {name!r} are not a list")
        decoded = []
        for i, item in enumerate(arrays):
            dtype, shape = item.get("dtype"), item.get("shape")
            if dtype not in _DTYPES or not isinstance(shape, list) or not all(
                    isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
                raise ValueError(f"weight {i} of layer {name!r} has a bad dtype/shape "
                                 f"({dtype!r}, {shape!r})")
            raw = base64.b64decode(item.get("data", ""), validate=True)
            dt = np.dtype(dtype).newbyteorder("<")
            if len(raw) != dt.itemsize * math.prod(shape):
                raise ValueError(f"weight {i} of layer {name!r} has {len(raw)} bytes, "
                                 f"expected {dt.itemsize * math.prod(shape)} for {shape}")
            decoded.append(np.frombuffer(raw, dtype=dt).reshape(shape).astype(dtype))
        out[name] = decoded
    return out


def check_weights_fit(doc, weights: dict) -> None:
    """Raise ``ValueError`` (naming layer, weight and both shapes) unless ``weights``
    (layer name -> arrays) holds exactly the weights of ``doc``'s layers. Layers whose
    node has an error are not checked: their shapes are unknown until it is fixed."""
    nodes = {n.name: n for n in doc.nodes.values()}
    for name, arrays in weights.items():
        node = nodes.get(name)
        if node is None:
            raise ValueError(f"they include layer {name!r}, which the network does not have")
        state = doc.state(node.id)
        if not state.ok:
            continue
        want = state.weight_shapes
        if len(arrays) != len(want):
            raise ValueError(f"layer {name!r} has {len(want)} weights "
                             f"{[w for w, _ in want]} but the file holds {len(arrays)}")
        for (wname, shape), a in zip(want, arrays):
            if tuple(a.shape) != tuple(shape):
                raise ValueError(f"layer {name!r} weight {wname!r} has shape {tuple(shape)} "
                                 f"in the network, but the file holds shape {tuple(a.shape)}")
    for name, node in nodes.items():
        state = doc.state(node.id)
        if name not in weights and state.ok and state.weight_shapes:
            raise ValueError(f"they hold nothing for layer {name!r} (weights "
                             f"{[w for w, _ in state.weight_shapes]})")


def read_weights(doc, block) -> dict:
    """The weights block of a project file decoded and checked against ``doc``;
    ``ValueError`` (a sentence to follow the file name) when unreadable or unfit."""
    try:
        weights = decode_weights(block)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"has unreadable weights: {exc}") from None
    try:
        check_weights_fit(doc, weights)
    except ValueError as exc:
        raise ValueError(f"has weights that do not fit its network: {exc}. Nothing was "
                         "loaded; the file is unchanged.") from None
    return weights
