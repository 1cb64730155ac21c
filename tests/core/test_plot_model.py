"""``core.utils.plot_model``: Keras' signature, SVG and PNG without graphviz/pydot.

SVG is parsed as XML: one ``g.layer`` per layer, one ``path.edge`` per connection (a
shared layer is one box with a wire per call). PNG is decoded by Qt's own PNG reader
(independent of our writer) where PySide6 is installed, else by zlib by hand, and has
the size the layout asks for at the given dpi.
"""

import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pytest

from core.layers import Add, Dense, Input
from core.models import Model, Sequential
from core.plotting.graph import picture
from core.saving import load_model
from core.utils import plot_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras3"
SVG = "{http://www.w3.org/2000/svg}"


def _svg(path):
    root = ET.parse(path).getroot()
    layers = root.findall(f".//{SVG}g[@class='layer']")
    edges = root.findall(f".//{SVG}path[@class='edge']")
    texts = ["".join(g.itertext()) for g in layers]
    return root, layers, edges, texts


def _connections(model) -> int:
    """Inputs of every layer call in the model's own graph (an independent count)."""
    if not hasattr(model, "_nodes_by_depth"):
        return len(model.layers)  # a chain: one wire into each layer
    own = {id(n) for nodes in model._nodes_by_depth.values() for n in nodes}
    return sum(len(n.input_tensors) for ly in model.layers for n in ly._inbound_nodes
               if id(n) in own and type(ly).__name__ != "InputLayer")


@pytest.mark.parametrize("name", ["seq_mlp", "seq_cnn", "func_two_inputs",
                                  "func_two_outputs", "nested_objects"])
def test_svg_has_a_box_per_layer_and_an_edge_per_connection(tmp_path, name):
    model = load_model(FIXTURES / f"{name}.keras")
    out = tmp_path / "m.svg"
    assert plot_model(model, out, show_shapes=True, show_layer_names=True) is None
    root, layers, edges, texts = _svg(out)
    sequential = not hasattr(model, "_nodes_by_depth")
    assert len(layers) == len(model.layers) + (1 if sequential else 0)
    assert len(edges) == _connections(model)
    for layer in model.layers:
        assert any(t.startswith(f"{layer.name} (") for t in texts), layer.name
    assert any("Output shape: (None," in t for t in texts)


def test_shared_layer_is_one_box_with_a_wire_per_call(tmp_path):
    a, b = Input((4,), name="a"), Input((4,), name="b")
    shared = Dense(3, name="shared")
    out = Add(name="add")([shared(a), shared(b)])
    model = Model([a, b], out)
    plot_model(model, tmp_path / "s.svg", show_layer_names=True)
    _, layers, edges, texts = _svg(tmp_path / "s.svg")
    assert sum(t.startswith("shared") for t in texts) == 1
    assert len(layers) == 4 and len(edges) == 4  # a->shared, b->shared, shared->add x2


def test_expand_nested_draws_the_inner_layers_in_named_frames(tmp_path):
    model = load_model(FIXTURES / "nested_objects.keras")
    plot_model(model, tmp_path / "n.svg", expand_nested=True, show_layer_names=True)
    root, layers, edges, texts = _svg(tmp_path / "n.svg")
    clusters = root.findall(f".//{SVG}g[@class='cluster']")
    assert sorted("".join(c.itertext()) for c in clusters) == ["inner_func", "inner_seq"]
    assert not any("(Sequential)" in t or "(Functional)" in t for t in texts)
    assert len(layers) == 4 and len(edges) == 3  # x -> dense -> dense_1 -> dense_2
    plot_model(model, tmp_path / "c.svg")  # collapsed: the inner models are boxes
    _, _, _, collapsed = _svg(tmp_path / "c.svg")
    assert "Sequential" in collapsed and "Functional" in collapsed


def _decode_png(data: bytes) -> np.ndarray:
    try:
        from PySide6.QtGui import QImage
    except ImportError:
        QImage = None
    if QImage is not None:
        img = QImage.fromData(data, "PNG")
        assert not img.isNull()
        img = img.convertToFormat(QImage.Format_RGB888)
        w, h, bpl = img.width(), img.height(), img.bytesPerLine()
        buf = np.frombuffer(bytes(img.constBits()), np.uint8)[:h * bpl]
        return buf.reshape(h, bpl)[:, :w * 3].reshape(h, w, 3)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    pos, idat = 8, b""
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    return raw[:, 1:].reshape(h, w, 3)


@pytest.mark.parametrize("dpi", [96, 192])
def test_png_decodes_with_the_layout_size(tmp_path, dpi):
    model = load_model(FIXTURES / "seq_cnn.keras")
    out = tmp_path / "m.png"
    plot_model(model, out, show_shapes=True, show_layer_names=True, dpi=dpi)
    img = _decode_png(out.read_bytes())
    pic = picture(model, show_shapes=True, show_layer_names=True)
    assert img.shape[:2] == (int(np.ceil(pic.height * dpi / 96)),
                             int(np.ceil(pic.width * dpi / 96)))
    box = pic.boxes[1]  # its title band is dark, with white text on it
    s = dpi / 96
    band = img[int((box.y + 2) * s):int((box.y + 20) * s), int((box.x + 2) * s):
               int((box.x + box.w - 2) * s)]
    assert (band.max(axis=2) < 60).mean() > 0.5 and (band.min(axis=2) > 200).any()


def test_lr_layout_goes_left_to_right(tmp_path):
    model = load_model(FIXTURES / "seq_mlp.keras")
    pic = picture(model, rankdir="LR")
    xs = [bx.x for bx in pic.boxes]
    assert xs == sorted(xs) and len({round(bx.y + bx.h / 2) for bx in pic.boxes}) == 1
    plot_model(model, tmp_path / "lr.png", rankdir="LR", dpi=96)
    img = _decode_png((tmp_path / "lr.png").read_bytes())
    assert img.shape[1] > img.shape[0]


def test_bad_arguments_and_no_graphviz(tmp_path):
    model = Sequential([Input((3,)), Dense(2)])
    with pytest.raises(ValueError, match="'pdf'"):
        plot_model(model, tmp_path / "m.pdf")
    with pytest.raises(ValueError, match="rankdir"):
        plot_model(model, tmp_path / "m.svg", rankdir="BT")
    with pytest.raises(ValueError, match="Unrecognized keyword"):
        plot_model(model, tmp_path / "m.svg", colour="red")
    with pytest.raises(ValueError, match="not yet been built"):
        plot_model(Sequential([Dense(2)]), tmp_path / "m.svg")
    assert not list(tmp_path.iterdir())  # nothing half-written
    plot_model(model, tmp_path / "m")  # no extension: PNG, as Keras
    assert (tmp_path / "m").read_bytes()[:4] == b"\x89PNG"
    assert "pydot" not in sys.modules and "graphviz" not in sys.modules
