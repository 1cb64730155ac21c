"""Shape inference for every registered layer type, and every kind of node error."""

import pytest

from core.graph import GraphDocument
from core.layers.node import KerasTensor
from core.layers.spec import registered_layers
from tests.graph.helpers import chain, json_trip, require_layers

SHAPES = [(8, 8, 3), (6, 5), (12,), (6, 6, 6, 2)]


# Required arguments whose generic probe value is invalid for the layer.
_PROBE_VALUES = {"Permute": {"dims": [1]},
                 "EinsumDense": {"equation": "...b,bc->...c", "output_shape": [4]}}
# Layers the document cannot make yet: their argument is a layer instance, no Param.
_NOT_FROM_PARAMS = {"TimeDistributed"}


def _required_config(cls) -> dict:
    """A value for each argument that has no usable default."""
    if cls.__name__ in _PROBE_VALUES:
        return dict(_PROBE_VALUES[cls.__name__])
    cfg = {}
    for p in cls.params:
        if p.default is not None or p.optional or p.kind in ("activation", "regularizer",
                                                             "constraint"):
            continue
        cfg[p.name] = {"int": 4, "tuple": [2] * (p.length or 2), "shape": [4], "float": 0.5,
                       "bool": True, "axis": -1, "str": "x"}.get(p.kind)
        if p.kind == "choice":
            cfg[p.name] = p.choices[0]
    return cfg


def _engine(cls, cfg, shapes):
    """What the engine itself says, by the layer's build + compute_output_shape."""
    layer = cls(name="probe", **cfg)
    batch = [(None,) + s for s in shapes] if isinstance(shapes, list) else (None,) + shapes
    layer.build(batch)
    layer.built = True
    return tuple(layer.compute_output_shape(batch)), layer.count_params()


@pytest.mark.parametrize("type_name", sorted(registered_layers()))
def test_every_layer_type_infers_like_the_engine(type_name):
    cls = registered_layers()[type_name]
    if type_name in _NOT_FROM_PARAMS:
        pytest.skip(f"{type_name} wraps a layer instance, which no Param describes yet")
    doc = GraphDocument()
    cfg = {**doc.default_config(type_name), **_required_config(cls)}
    if cls.num_inputs == 0:
        nid = doc.add_node(type_name, {**cfg, "shape": [5, 7]})
        assert doc.state(nid).output_shape == (None, 5, 7)
        assert doc.state(nid).param_count == 0
        return
    matched = 0
    for shape in SHAPES:
        try:
            want = _engine(cls, cfg, [shape, shape] if cls.num_inputs == "many" else shape)
        except ValueError:
            continue  # the engine refuses this rank; the doc must then show an error:
        finally:
            doc = GraphDocument()
        srcs = [doc.add_node("InputLayer", {"shape": list(shape)})
                for _ in range(2 if cls.num_inputs == "many" else 1)]
        nid = doc.add_node(type_name, cfg)
        for s in srcs:
            doc.connect(s, nid)
        state = doc.state(nid)
        assert state.error is None, state.error
        assert (state.output_shape, state.param_count) == want
        matched += 1
    assert matched, f"{type_name} accepted none of the probe shapes {SHAPES}"


def test_seed_cnn_shapes_and_param_counts():
    require_layers("Conv2D", "MaxPooling2D")
    doc = GraphDocument()
    ids = chain(doc, [("InputLayer", {"shape": [28, 28, 1]}),
                      ("Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}),
                      ("MaxPooling2D", {"pool_size": 2}), ("Flatten", None),
                      ("Dense", {"units": 128, "activation": "relu"}),
                      ("Dense", {"units": 10, "activation": "softmax"})])
    # Keras' model.summary() for this network:
    assert [doc.state(n).output_shape for n in ids] == [
        (None, 28, 28, 1), (None, 26, 26, 32), (None, 13, 13, 32), (None, 5408), (None, 128),
        (None, 10)]
    assert [doc.state(n).param_count for n in ids] == [0, 320, 0, 0, 692352, 1290]


def test_same_padding_and_strides():
    require_layers("Conv2D")
    doc = GraphDocument()
    i, c = chain(doc, [("InputLayer", {"shape": [7, 7, 3]}),
                       ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2,
                                   "padding": "same"})])
    assert doc.state(c).output_shape == (None, 4, 4, 4)  # ceil(7 / 2)
    assert doc.state(c).param_count == 3 * 3 * 3 * 4 + 4


def test_concatenate_and_add():
    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [4]})
    b = doc.add_node("InputLayer", {"shape": [6]})
    cat = doc.add_node("Concatenate")
    doc.connect(a, cat)
    doc.connect(b, cat)
    assert doc.state(cat).output_shape == (None, 10)
    add = doc.add_node("Add")
    doc.connect(a, add)
    doc.connect(b, add)
    err = doc.state(add).error
    assert err is not None and "(None, 4)" in err and "(None, 6)" in err


def test_incompatible_shape_uses_the_engine_message():
    require_layers("Conv2D")
    doc = GraphDocument()
    i, c = chain(doc, [("InputLayer", {"shape": [784]}),
                       ("Conv2D", {"filters": 8, "kernel_size": 3})])
    err = doc.state(c).error
    layer = registered_layers()["Conv2D"](name="conv2d", filters=8, kernel_size=3)
    with pytest.raises(ValueError) as engine:
        layer(KerasTensor((None, 784)))
    assert err == str(engine.value)
    assert "conv2d" in err and "784" in err
    assert doc.problems()[0].node_id == c and doc.problems()[0].message == err


def test_unconnected_input_and_downstream_unknown():
    doc = GraphDocument()
    d, e = chain(doc, [("Dense", {"units": 3}), ("Dense", {"units": 2})])
    assert doc.state(d).error == "'dense' has no input."
    # the node after an error is unknown, not a second error: one root cause, one message
    assert doc.state(e).error is None and doc.state(e).output_shape is None
    assert [p.node_id for p in doc.problems() if p.severity == "error"] == [None, d]
    m = doc.add_node("Add")
    assert doc.state(m).error == "'add' has no input."


def test_required_argument_missing_is_a_node_error():
    doc = GraphDocument()
    i = doc.add_node("InputLayer", {"shape": [4]})
    d = doc.add_node("Dense")  # Keras has no default for units
    doc.connect(i, d)
    assert "units=None is invalid" in doc.state(d).error


def test_loaded_cycle_marks_the_nodes():
    doc = GraphDocument()
    i, a, b, c = chain(doc, [("InputLayer", {"shape": [4]}), ("Dense", {"units": 3}),
                             ("Dense", {"units": 3}), ("Dense", {"units": 3})])
    data = doc.to_dict()
    data["edges"][0] = {"src": "n4", "dst": "n2", "dst_port": 0}  # c -> a instead of i -> a
    data["nodes"].append({"id": "n5", "type": "Dense", "name": "after", "pos": [0, 0],
                          "config": {"units": 2}})
    data["edges"].append({"src": "n4", "dst": "n5", "dst_port": 0})
    from core.graph.project_file import document_from_dict
    loaded = document_from_dict(data)
    for n in (a, b, c):
        assert "is part of a cycle (" in loaded.state(n).error
    assert "dense -> dense_1 -> dense_2 -> dense" in loaded.state(a).error
    assert loaded.state("n5").error == "'after' receives its input from a cycle."
    # removing one wire of the cycle heals it (incrementally)
    edge = loaded.inputs_of(a)[0]
    loaded.disconnect(edge)
    loaded.connect(i, a)
    assert [loaded.state(n).output_shape for n in (a, b, c, "n5")] == [
        (None, 3), (None, 3), (None, 3), (None, 2)]


def test_loaded_two_wires_into_single_input():
    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [4]})
    b = doc.add_node("InputLayer", {"shape": [4]})
    d = doc.add_node("Dense", {"units": 2})
    doc.connect(a, d)
    data = doc.to_dict()
    data["edges"].append({"src": b, "dst": d, "dst_port": 1})
    from core.graph.project_file import document_from_dict
    loaded = document_from_dict(data)
    err = loaded.state(d).error
    assert "takes one input but 2 wires" in err and "'input_layer', 'input_layer_1'" in err


def test_invalid_argument_message_is_the_param_check(doc):
    d = doc.add_node("Dense", {"units": 3})
    from core.graph import GraphError
    with pytest.raises(GraphError) as exc:
        doc.set_config(d, "units", 0)
    assert str(exc.value) == ("Layer 'dense': argument units=0 is invalid; expected an "
                              "integer >= 1.")


def test_incremental_equals_from_scratch_and_cache_skips_unchanged():
    doc = GraphDocument()
    ids = chain(doc, [("InputLayer", {"shape": [6]})] + [("Dense", {"units": 5})] * 20)
    misses = doc._inferer.misses
    doc.set_config(ids[10], "units", 7)
    # the changed node, its successor (new input shape); the rest hit the cache
    assert doc._inferer.misses - misses == 2
    fresh = json_trip(doc)
    assert all(fresh.state(n) == doc.state(n) for n in ids)


def test_inference_does_not_touch_the_initializer_stream():
    require_layers("Dense")
    import numpy as np

    from core.random import set_seed as set_random_seed
    set_random_seed(3)
    from core.layers import Dense
    a = Dense(4, name="a")
    a.build((None, 5))
    set_random_seed(3)
    doc = GraphDocument()
    chain(doc, [("InputLayer", {"shape": [500]}), ("Dense", {"units": 300})])
    b = Dense(4, name="b")
    b.build((None, 5))
    np.testing.assert_array_equal(a.kernel.value, b.kernel.value)
