"""Document <-> model bridge and the shipped templates."""

import json

import numpy as np
import pytest

from core.graph import GraphDocument, GraphError
from core.graph.build import model_weights
from core.graph.project_file import load_project
from core.graph.templates import ALL_TEMPLATES, EXAMPLES_DIR, TEMPLATES, write_examples
from tests.graph.helpers import chain, require_models


def _by_name(doc):
    nodes = {n.name: (n.type, n.config) for n in doc.nodes.values()}
    edges = sorted((doc.nodes[e.src].name, doc.nodes[e.dst].name, e.dst_port)
                   for e in doc.edges)
    return nodes, edges


@pytest.mark.parametrize("name", sorted(ALL_TEMPLATES))
def test_round_trip_document_model_document(name):
    require_models()
    doc = ALL_TEMPLATES[name]()
    model = doc.build_model()
    assert [ly.name for ly in model.layers if ly.num_inputs != 0]  # a real model
    assert {ly.name for ly in model.layers} == {n.name for n in doc.nodes.values()}
    back = GraphDocument.from_model(model)
    assert _by_name(back) == _by_name(doc)
    # input and output order survive the trip
    again = back.build_model()
    assert [t.shape for t in again.inputs] == [t.shape for t in model.inputs]
    assert [t._keras_history[0].name for t in again.inputs] == \
        [t._keras_history[0].name for t in model.inputs]
    assert back.weights is not None and set(back.weights) == set(model_weights(model))


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_trains_one_batch(name):
    require_models()
    doc = TEMPLATES[name]()
    model = doc.build_model()
    t = doc.training
    try:
        model.compile(optimizer=t.optimizer, loss=t.loss, metrics=t.metrics)
    except ModuleNotFoundError as exc:  # metrics/losses/optimizers not landed yet
        pytest.skip(str(exc))
    rng = np.random.default_rng(0)
    xs = [rng.random((8,) + tuple(i.shape[1:]), dtype=np.float32) for i in model.inputs]
    y = rng.integers(0, 10, 8)
    before = [w.copy() for w in model.get_weights()]
    logs = model.train_on_batch(xs[0] if len(xs) == 1 else xs, y)
    loss = logs[0] if isinstance(logs, (list, tuple)) else (
        logs["loss"] if isinstance(logs, dict) else logs)
    assert np.isfinite(loss)
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert any(changed)


def test_build_model_refuses_invalid_documents():
    require_models()
    doc = GraphDocument()
    with pytest.raises(GraphError, match="empty"):
        doc.build_model()
    i, d = chain(doc, [("InputLayer", {"shape": [4]}), ("Dense", {"units": 2})])
    doc.add_node("Dense", {"units": 3})
    with pytest.raises(GraphError) as exc:
        doc.build_model()
    assert "'dense_1' has no input." in str(exc.value)


def test_weights_in_the_document_are_applied_where_shapes_match():
    require_models()
    doc = GraphDocument()
    i, a, b = chain(doc, [("InputLayer", {"shape": [4]}), ("Dense", {"units": 3}),
                          ("Dense", {"units": 2})])
    kernel = np.arange(12, dtype="float32").reshape(4, 3)
    doc.weights = {"dense": [kernel, np.ones(3, "float32")],
                   "dense_1": [np.zeros((5, 2), "float32"), np.zeros(2, "float32")]}
    model = doc.build_model()
    np.testing.assert_array_equal(model.get_layer("dense").get_weights()[0], kernel)
    # dense_1 changed shape since: it keeps its fresh initial values (not zeros)
    assert np.abs(model.get_layer("dense_1").get_weights()[0]).sum() > 0


def test_from_sequential_model():
    require_models()
    from core.layers import Dense, Dropout, Flatten, Input
    from core.models import Sequential
    model = Sequential([Input((6, 6, 1)), Flatten(), Dense(8, activation="relu"),
                        Dropout(0.25), Dense(3, activation="softmax", use_bias=False)])
    doc = GraphDocument.from_model(model)
    nodes = list(doc.nodes.values())
    assert [n.type for n in nodes] == ["InputLayer", "Flatten", "Dense", "Dropout", "Dense"]
    assert nodes[0].config["shape"] == [6, 6, 1]
    assert nodes[2].config["activation"] == "relu"
    assert nodes[3].config["rate"] == 0.25
    assert nodes[4].config["use_bias"] is False
    assert nodes[4].config["kernel_initializer"] == "glorot_uniform"  # default kept as name
    assert doc.problems() == []
    assert doc.state(nodes[-1].id).param_count == 8 * 3
    # laid out top to bottom, 120 px apart
    assert [n.pos[1] for n in nodes] == [0, 120, 240, 360, 480]
    rebuilt = doc.build_model()
    x = np.random.default_rng(1).random((2, 6, 6, 1), dtype=np.float32)
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)  # same weights came along


def test_shared_layers_open_as_linked_calls_and_subclassed_models_are_refused():
    require_models()
    from core.layers import Dense, Input
    from core.models import Model
    x = Input((4,))
    shared = Dense(4)
    y = shared(shared(x))
    doc = GraphDocument.from_model(Model(x, y))  # one card per call, one layer
    first, second = (n for n in doc.nodes.values() if n.type == "Dense")
    assert second.shares == first.id and doc.build_model().count_params() == 20

    class Sub(Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(2)

        def call(self, inputs, training=None):
            return self.d(inputs)

    with pytest.raises(GraphError, match="subclassed"):
        GraphDocument.from_model(Sub())


def test_shipped_examples_are_the_templates_output(tmp_path):
    written = write_examples(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{n}.nwproj" for n in ALL_TEMPLATES)
    for p in written:
        shipped = EXAMPLES_DIR / p.name
        assert shipped.exists(), f"run python -m core.graph.templates ({shipped} missing)"
        assert json.loads(shipped.read_text()) == json.loads(p.read_text())
        doc, weights = load_project(shipped)
        assert weights is None
        assert [q for q in doc.problems() if q.severity == "error"] == []


def test_seed_cnn_template_is_the_spec():
    doc, _ = load_project(EXAMPLES_DIR / "mnist_cnn.nwproj")
    nodes = list(doc.nodes.values())
    assert [(n.type, {k: v for k, v in n.config.items()
                      if k in ("shape", "filters", "kernel_size", "activation", "pool_size",
                               "units")}) for n in nodes] == [
        ("InputLayer", {"shape": [28, 28, 1]}),
        ("Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
        ("MaxPooling2D", {"pool_size": [2, 2]}), ("Flatten", {}),
        ("Dense", {"units": 128, "activation": "relu"}),
        ("Dense", {"units": 10, "activation": "softmax"})]
    t = doc.training
    assert (t.loss, t.optimizer, t.metrics, t.dataset) == (
        "sparse_categorical_crossentropy", "adam", ["accuracy"], "sample")
    ys = [n.pos[1] for n in nodes]
    assert all(b - a == 120 for a, b in zip(ys, ys[1:]))  # top-to-bottom flow


def test_non_default_arguments_survive_the_round_trip():
    require_models()
    doc = GraphDocument()
    chain(doc, [("InputLayer", {"shape": [6, 6, 2]}),
                ("Conv2D", {"filters": 3, "kernel_size": [3, 1], "strides": 2,
                            "padding": "same", "kernel_initializer": "he_normal",
                            "bias_initializer": "ones", "use_bias": True}),
                ("Flatten", None),
                ("Dense", {"units": 4, "activation": "tanh", "use_bias": False,
                           "kernel_initializer": "lecun_uniform"}),
                ("Dropout", {"rate": 0.3, "seed": 5})])
    back = GraphDocument.from_model(doc.build_model())
    assert _by_name(back) == _by_name(doc)


def test_sequential_built_without_an_input():
    require_models()
    from core.layers import Dense
    from core.models import Sequential
    model = Sequential([Dense(3)])
    with pytest.raises(GraphError, match="no input shape yet"):
        GraphDocument.from_model(model)
    model.build((None, 5))
    doc = GraphDocument.from_model(model)
    assert [n.type for n in doc.nodes.values()] == ["InputLayer", "Dense"]
    assert doc.nodes["n2"].name == model.layers[0].name
    assert doc.state("n1").output_shape == (None, 5)
    assert doc.state("n2").output_shape == (None, 3)
