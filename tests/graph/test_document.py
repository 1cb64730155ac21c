"""GraphDocument edits: ids, names, configs, wires, snapshots, events."""

import pytest

from core.graph import Edge, GraphDocument, GraphError
from tests.graph.helpers import chain


def test_ids_names_and_default_config(doc):
    a = doc.add_node("Dense", {"units": 4})
    b = doc.add_node("Dense", {"units": 5})
    c = doc.add_node("Conv2D", {"filters": 8, "kernel_size": 3})
    assert (a, b, c) == ("n1", "n2", "n3")
    assert [doc.nodes[n].name for n in (a, b, c)] == ["dense", "dense_1", "conv2d"]
    cfg = doc.nodes[a].config
    assert cfg == {"units": 4, "activation": None, "use_bias": True,
                   "kernel_initializer": "glorot_uniform", "bias_initializer": "zeros",
                   "kernel_regularizer": None, "bias_regularizer": None,
                   "kernel_constraint": None, "bias_constraint": None}
    # a tuple Param is normalised by its check and stored in JSON form
    assert doc.nodes[c].config["kernel_size"] == [3, 3]
    assert doc.nodes[c].config["strides"] == [1, 1]
    doc.remove_nodes([b])
    assert doc.add_node("Dense", {"units": 1}) == "n4"  # ids are never reused
    assert doc.nodes["n4"].name == "dense_1"  # the free name is reused, as a new Keras session


def test_add_node_rejects_bad_input_and_changes_nothing(doc):
    with pytest.raises(GraphError, match="Unknown layer type 'Dens'"):
        doc.add_node("Dens")
    with pytest.raises(GraphError, match=r"units=0 is invalid; expected an integer >= 1"):
        doc.add_node("Dense", {"units": 0})
    with pytest.raises(GraphError, match="has no argument 'unitz'"):
        doc.add_node("Dense", {"unitz": 3})
    with pytest.raises(GraphError, match="Position"):
        doc.add_node("Dense", {"units": 3}, pos=(float("nan"), 0))
    a = doc.add_node("Dense", {"units": 3})
    with pytest.raises(GraphError, match="already in use"):
        doc.add_node("Dense", {"units": 3}, node_id=a)
    with pytest.raises(GraphError, match="already used"):
        doc.add_node("Dense", {"units": 3}, name="dense")
    assert list(doc.nodes) == [a]


def test_set_config_validates_and_returns_old_value(doc):
    d = doc.add_node("Dense", {"units": 3})
    assert doc.set_config(d, "units", 7) == 3
    assert doc.nodes[d].config["units"] == 7
    for key, bad, msg in [("units", -2, "units=-2 is invalid"),
                          ("units", "x", "units='x' is invalid"),
                          ("use_bias", "yes", "use_bias='yes' is invalid"),
                          ("activation", "nope", "nope"),
                          ("kernel_initializer", "nope", "nope"),
                          ("bogus", 1, "has no argument 'bogus'")]:
        with pytest.raises(GraphError, match=msg):
            doc.set_config(d, key, bad)
        assert doc.nodes[d].config["units"] == 7
    assert doc.nodes[d].config["activation"] is None


def test_rename(doc):
    a = doc.add_node("Dense", {"units": 3})
    b = doc.add_node("Dense", {"units": 3})
    assert doc.rename_node(a, "hidden") == "dense"
    with pytest.raises(GraphError, match="already used"):
        doc.rename_node(b, "hidden")
    for bad in ("", "  ", "a/b", 3):
        with pytest.raises(GraphError, match="invalid"):
            doc.rename_node(b, bad)
    assert doc.nodes[b].name == "dense_1"


def test_connect_rules(doc):
    i, d, e = chain(doc, [("InputLayer", {"shape": [4]}), ("Dense", {"units": 3}),
                          ("Dense", {"units": 2})])
    j = doc.add_node("InputLayer", {"shape": [4]})
    assert doc.can_connect(i, d) is not None  # already wired
    assert "takes no input" in doc.can_connect(d, j)
    assert "own output" in doc.can_connect(d, d)
    assert "cycle" in doc.can_connect(e, d)
    assert "already has an input (from 'input_layer')" in doc.can_connect(j, d)
    assert "No node" in doc.can_connect("n99", d)
    with pytest.raises(GraphError, match="cycle"):
        doc.connect(e, d)
    before = list(doc.edges)
    with pytest.raises(GraphError):
        doc.connect(j, d)
    assert doc.edges == before


def test_merge_ports_keep_order_and_undo_restores_it(doc):
    a = doc.add_node("InputLayer", {"shape": [2]})
    b = doc.add_node("InputLayer", {"shape": [3]})
    c = doc.add_node("InputLayer", {"shape": [4]})
    cat = doc.add_node("Concatenate")
    e0, e1, e2 = (doc.connect(x, cat) for x in (a, b, c))
    assert [e.dst_port for e in (e0, e1, e2)] == [0, 1, 2]
    assert doc.state(cat).output_shape == (None, 9)
    doc.disconnect(e1)
    assert [e.src for e in doc.inputs_of(cat)] == [a, c]
    assert doc.connect(b, cat, e1.dst_port) == e1  # undo of the disconnect
    assert [e.src for e in doc.inputs_of(cat)] == [a, b, c]
    assert "already connected" in doc.can_connect(a, cat, 1)
    # the same tensor twice into a merge is valid Keras (Add()([x, x]))
    add = doc.add_node("Add")
    doc.connect(a, add)
    doc.connect(a, add)
    assert doc.state(add).output_shape == (None, 2)


def test_remove_and_restore(doc):
    i, d, e = chain(doc, [("InputLayer", {"shape": [4]}), ("Dense", {"units": 3}),
                          ("Dense", {"units": 2})])
    before = doc.to_dict()
    snap = doc.remove_nodes([d])
    assert d not in doc.nodes and len(doc.edges) == 0
    assert doc.state(e).error == "'dense_1' has no input."
    doc.restore(snap)
    assert doc.to_dict() == before
    assert doc.state(e).output_shape == (None, 2)
    with pytest.raises(GraphError):
        doc.restore(snap)  # its ids are in use now
    with pytest.raises(GraphError, match="No node"):
        doc.remove_nodes(["n42"])


def test_move_nodes_returns_old_positions(doc):
    a = doc.add_node("Dense", {"units": 3}, pos=(1, 2))
    assert doc.move_nodes({a: (5, 6)}) == {a: (1.0, 2.0)}
    assert doc.nodes[a].pos == (5.0, 6.0)
    with pytest.raises(GraphError):
        doc.move_nodes({a: ("x", 1)})
    assert doc.nodes[a].pos == (5.0, 6.0)


def test_events_arrive_after_states_are_updated(doc):
    i, d = chain(doc, [("InputLayer", {"shape": [4]}), ("Dense", {"units": 3})])
    e = doc.add_node("Dense", {"units": 2})
    doc.connect(d, e)
    seen = []

    def on_event(ev):
        seen.append((ev.kind, ev.node_ids, ev.changed_states, doc.state(e).output_shape,
                     doc.state(e).param_count))

    unsubscribe = doc.subscribe(on_event)
    doc.set_config(i, "shape", [10])
    assert seen[-1] == ("config", (i,), (i, d), (None, 2), 8)  # e's shape did not change
    doc.set_config(d, "units", 5)
    assert seen[-1] == ("config", (d,), (d, e), (None, 2), 12)
    doc.move_nodes({e: (1, 1)})
    assert seen[-1][:3] == ("nodes_moved", (e,), ())
    unsubscribe()
    doc.move_nodes({e: (2, 2)})
    assert len(seen) == 3


def test_batch_is_one_event_and_rolls_back_on_error(doc):
    i = doc.add_node("InputLayer", {"shape": [4]})
    seen = []
    doc.subscribe(seen.append)
    with doc.batch():
        d = doc.add_node("Dense", {"units": 3})
        doc.connect(i, d)
    assert [ev.kind for ev in seen] == ["reset"]
    assert doc.state(d).output_shape == (None, 3)
    before = doc.to_dict()
    with pytest.raises(GraphError):
        with doc.batch():
            doc.add_node("Dense", {"units": 3})
            doc.connect(d, i)  # refused: InputLayer takes no input
    assert doc.to_dict() == before
    assert len(seen) == 1


def test_snapshot_restore_state(doc):
    i, d = chain(doc, [("InputLayer", {"shape": [4]}), ("Dense", {"units": 3})])
    snap = doc.snapshot()
    before = doc.to_dict()
    doc.set_config(d, "units", 9)
    doc.set_training(epochs=11)
    doc.remove_nodes([i])
    doc.restore_state(snap)
    assert doc.to_dict() == before
    assert doc.state(d).output_shape == (None, 3)


def test_training_settings_are_validated(doc):
    assert doc.set_training(epochs=3, learning_rate=0.01) == {"epochs": 5, "learning_rate": 0.001}
    for bad in ({"epochs": 0}, {"batch_size": 2.5}, {"learning_rate": -1},
                {"validation_split": 1.0}, {"metrics": "accuracy"}, {"nope": 1},
                {"shuffle": "yes"}, {"seed": -1}):
        with pytest.raises(GraphError):
            doc.set_training(**bad)
    assert doc.training.epochs == 3


def test_injected_registry_is_used():
    from core.layers import Dense, InputLayer
    doc = GraphDocument(registry={"InputLayer": InputLayer, "Dense": Dense})
    assert set(doc.layer_types()) == {"InputLayer", "Dense"}
    with pytest.raises(GraphError, match="Unknown layer type 'Conv2D'"):
        doc.add_node("Conv2D")


def test_edge_is_value_like():
    assert Edge("n1", "n2", 0) == Edge("n1", "n2")
    assert len({Edge("n1", "n2", 0), Edge("n1", "n2", 0)}) == 1


def test_values_only_the_layer_can_judge_are_checked_on_add(doc):
    with pytest.raises(GraphError, match="Unknown activation 'nope'"):
        doc.add_node("Dense", {"units": 3, "activation": "nope"})
    with pytest.raises(GraphError, match="Unknown initializer 'nope'"):
        doc.add_node("Dense", {"units": 3, "kernel_initializer": "nope"})
    # a partly filled node is fine: the argument still unset is the node's error
    c = doc.add_node("Conv2D", {"filters": 8})
    doc.connect(doc.add_node("InputLayer", {"shape": [8, 8, 1]}), c)
    assert "kernel_size=None is invalid" in doc.state(c).error
    assert doc.set_config(c, "kernel_size", 3) is None
    assert doc.set_config(c, "kernel_size", None) == [3, 3]  # undo back to unset
    assert doc.nodes[c].config["kernel_size"] is None
