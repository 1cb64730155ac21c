"""File > Export Picture…: the network as PNG or SVG, without grid or selection."""

import xml.etree.ElementTree as ET

from PySide6.QtGui import QImage

from desktop.editor.picture import network_rect


def _template(window):
    from desktop.project import templates

    path = next(p for p in templates() if "mlp" in p.stem.lower())
    assert window.project.new_from_template(path, confirm=False)
    return window


def test_png_shows_the_network_at_twice_its_size(window, tmp_path):
    _template(window)
    next(iter(window.scene.node_items.values())).setSelected(True)
    out = window.export_picture(str(tmp_path / "net.png"))
    image = QImage(out)
    rect = network_rect(window.scene)
    assert not image.isNull()
    assert (image.width(), image.height()) == (int(rect.width() * 2), int(rect.height() * 2))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7)}
    assert len(colours) > 20  # nodes and text drawn, not a blank page
    assert sum(1 for it in window.scene.selectedItems()) == 1  # selection restored


def test_svg_holds_the_layer_names(window, tmp_path):
    _template(window)
    out = window.export_picture(str(tmp_path / "net.svg"))
    text = open(out, encoding="utf-8").read()
    ET.fromstring(text)  # well-formed
    for node in window.document.nodes.values():
        assert node.name in text or node.type in text


def test_bad_suffix_and_empty_canvas_are_refused_and_write_nothing(window, tmp_path):
    assert window.export_picture(str(tmp_path / "net.png")) is None
    assert "empty" in window.errors[-1] and not (tmp_path / "net.png").exists()
    _template(window)
    assert window.export_picture(str(tmp_path / "net.bmp")) is None
    assert ".png or .svg" in window.errors[-1] and not list(tmp_path.glob("net*"))
