"""The canvas driven like a person: palette drops, port drags, undo/redo, moves."""

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from tests.desktop.conftest import drop_layer, mouse_drag, mouse_move


def test_palette_lists_every_registered_layer_by_group(window):
    import core.layers  # noqa: F401
    from core.layers.spec import registered_layers

    registry = registered_layers()
    assert sorted(window.palette.layer_names()) == sorted(registry)
    for group, names in window.palette.groups().items():
        assert names, group
        for name in names:
            assert registry[name].group == group


def test_palette_search_filters(window):
    window.palette.search.setText("conv")
    shown = window.palette.visible_names()
    assert shown and all("conv" in n.lower() or "conv" in window.palette.item_for(n)
                         .parent().text(0).lower() for n in shown)
    assert "Dense" not in shown
    window.palette.search.clear()
    assert "Dense" in window.palette.visible_names()


def test_drop_from_palette_creates_node_at_drop_point(window):
    point = QPointF(310.0, 180.0)
    assert drop_layer(window, "Dense", point)
    doc = window.document
    assert len(doc.nodes) == 1
    (node_id, node), = doc.nodes.items()
    assert node.type == "Dense"
    item = window.scene.node_items[node_id]
    assert item.sceneBoundingRect().contains(point)
    # the document holds the position; the item only mirrors it
    assert (item.x(), item.y()) == tuple(node.pos)
    assert window.inspector.node_id == node_id  # the new node is selected


def _two_nodes(window):
    i = drop_layer(window, "InputLayer", QPointF(300, 60))
    d = drop_layer(window, "Dense", QPointF(300, 260))
    assert i and d
    ids = list(window.document.nodes)
    window.document.set_config(ids[0], "shape", [784])  # direct: setup, not under test
    window.document.set_config(ids[1], "units", 10)
    window.undo_stack.clear()
    return ids


def test_drag_between_ports_wires_and_undo_redo(window):
    src, dst = _two_nodes(window)
    scene = window.scene
    a = scene.node_items[src].out_port.scenePos()
    b = scene.node_items[dst].in_port.scenePos()
    mouse_drag(window, a, b)
    doc = window.document
    assert [(e.src, e.dst) for e in doc.edges] == [(src, dst)]
    assert len(scene.edge_items) == 1
    label = next(iter(scene.edge_items.values())).label.text()
    assert label == "(None, 784)"
    assert window.undo_stack.count() == 1
    window.undo_stack.undo()
    assert doc.edges == [] and scene.edge_items == {}
    window.undo_stack.redo()
    assert [(e.src, e.dst) for e in doc.edges] == [(src, dst)]
    assert doc.state(dst).output_shape == (None, 10)
    assert scene.node_items[dst].shape_text == "(None, 10)"
    assert scene.node_items[dst].count_text == "7,850 params"


def test_invalid_wire_is_refused_with_reason_near_cursor(window):
    src, dst = _two_nodes(window)
    scene = window.scene
    # Dense output into the InputLayer: an InputLayer takes no input
    a = scene.node_items[dst].out_port.scenePos()
    b = scene.node_items[src].in_port.scenePos() if scene.node_items[src].in_port else \
        scene.node_items[src].sceneBoundingRect().center()
    mouse_drag(window, a, b)
    assert window.document.edges == []
    assert window.undo_stack.count() == 0
    assert scene.wire_label.isVisible()
    assert "takes no input" in scene.wire_message
    assert "takes no input" in scene.wire_label.text()
    label_pos = scene.wire_label.scenePos()
    assert abs(label_pos.x() - b.x()) < 60 and abs(label_pos.y() - b.y()) < 60


def test_moving_a_node_by_mouse_is_one_undo_command(window):
    src, _dst = _two_nodes(window)
    item = window.scene.node_items[src]
    start = tuple(window.document.nodes[src].pos)
    grab = item.sceneBoundingRect().center() + QPointF(-60, 0)  # on the body, not a port
    mouse_drag(window, grab, grab + QPointF(120, 40), steps=8)
    new = window.document.nodes[src].pos
    assert new != start and abs(new[0] - start[0] - 120) < 2 and abs(new[1] - start[1] - 40) < 2
    assert window.undo_stack.count() == 1
    window.undo_stack.undo()
    assert tuple(window.document.nodes[src].pos) == start
    assert (item.x(), item.y()) == start


def test_undo_redo_add_and_keyboard_shortcuts(window):
    drop_layer(window, "Dense", QPointF(300, 200))
    assert len(window.document.nodes) == 1
    window.view.setFocus()
    QTest.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    assert window.document.nodes == {} and window.scene.node_items == {}
    QTest.keyClick(window, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert len(window.document.nodes) == 1 and len(window.scene.node_items) == 1


def test_delete_copy_paste_duplicate(window):
    src, dst = _two_nodes(window)
    window.document.connect(src, dst)
    window.undo_stack.clear()
    window.scene.select_nodes([src, dst])
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key_D, Qt.ControlModifier)  # duplicate
    doc = window.document
    assert len(doc.nodes) == 4 and len(doc.edges) == 2
    new = window.scene.selected_node_ids()
    assert len(new) == 2 and set(new).isdisjoint({src, dst})
    names = {n.name for n in doc.nodes.values()}
    assert len(names) == 4  # pasted layers get fresh names
    QTest.keyClick(window.view, Qt.Key_Delete)
    assert set(doc.nodes) == {src, dst} and len(doc.edges) == 1
    window.undo_stack.undo()
    assert len(doc.nodes) == 4 and len(doc.edges) == 2
    window.undo_stack.undo()
    assert set(doc.nodes) == {src, dst}
    # copy + paste through the clipboard
    window.scene.select_nodes([dst])
    window.edit_actions.copy()
    pasted = window.edit_actions.paste()
    assert len(pasted) == 1 and doc.nodes[pasted[0]].type == "Dense"
    assert doc.nodes[pasted[0]].config["units"] == doc.nodes[dst].config["units"]


def test_deleting_a_selected_wire(window):
    src, dst = _two_nodes(window)
    window.document.connect(src, dst)
    edge_item = next(iter(window.scene.edge_items.values()))
    window.scene.clearSelection()
    edge_item.setSelected(True)
    window.edit_actions.delete()
    assert window.document.edges == [] and len(window.document.nodes) == 2
    window.undo_stack.undo()
    assert len(window.document.edges) == 1


def test_auto_layout_places_layers_top_to_bottom(window):
    doc = window.document
    a = doc.add_node("InputLayer", {"shape": [8]}, (500, 500))
    b = doc.add_node("Dense", {"units": 4}, (0, 0))
    c = doc.add_node("Dense", {"units": 2}, (900, -300))
    doc.connect(a, b)
    doc.connect(b, c)
    window.edit_actions.auto_layout()
    ys = [doc.nodes[i].pos[1] for i in (a, b, c)]
    assert ys[0] < ys[1] < ys[2]
    assert window.undo_stack.count() == 1
    window.undo_stack.undo()
    assert doc.nodes[a].pos == (500.0, 500.0)


def test_zoom_and_pan(window):
    view = window.view
    z = view.zoom()
    view.zoom_in()
    assert view.zoom() > z
    view.zoom_out()
    view.zoom_out()
    assert view.zoom() < z
    before = view.mapToScene(view.viewport().rect().center())
    vp = view.viewport()
    c = vp.rect().center()
    QTest.mousePress(vp, Qt.MiddleButton, Qt.NoModifier, c)
    mouse_move(vp, c + type(c)(80, 50), Qt.MiddleButton)
    QTest.mouseRelease(vp, Qt.MiddleButton, Qt.NoModifier, c + type(c)(80, 50))
    after = view.mapToScene(view.viewport().rect().center())
    assert after.x() < before.x() and after.y() < before.y()


def test_rubber_band_selects_nodes_inside(window):
    doc = window.document
    a = doc.add_node("Dense", {"units": 4}, (100, 100))
    b = doc.add_node("Dense", {"units": 4}, (100, 260))
    c = doc.add_node("Dense", {"units": 4}, (700, 100))
    mouse_drag(window, QPointF(60, 60), QPointF(360, 380), steps=8)
    assert set(window.scene.selected_node_ids()) == {a, b}
    assert c not in window.scene.selected_node_ids()
    assert window.undo_stack.count() == 0  # selecting is not an edit


def test_space_drag_pans_instead_of_selecting(window):
    view = window.view
    view.setFocus()
    QTest.keyPress(view, Qt.Key_Space)
    before = view.mapToScene(view.viewport().rect().center())
    mouse_drag(window, QPointF(200, 200), QPointF(260, 240), steps=4)
    QTest.keyRelease(view, Qt.Key_Space)
    after = view.mapToScene(view.viewport().rect().center())
    assert after.x() < before.x() and after.y() < before.y()
    assert window.scene.selected_node_ids() == []
