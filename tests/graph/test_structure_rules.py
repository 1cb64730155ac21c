"""Structure, data and size rules of the Problems list (issue 14, "What to build" 1): each
sees the bad network, its fix repairs it, and the repaired network trains."""

import numpy as np
import pytest

from core.graph.structure_rules import structure_problems
from core.graph.templates import TEMPLATES
from core.graph.training_rules import (
    LARGE_LAYER_BYTES,
    memory_problems,
    pre_train_problems,
)


def _fit(doc, x, y, epochs=25):
    model = doc.build_model()
    model.compile(optimizer="adam", loss=doc.training.loss)
    return model.fit(x, y, epochs=epochs, batch_size=16, verbose=0).history["loss"]


def _data(n=64, f=4):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, f)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)


def test_one_input_merge_is_caught_and_removed(doc):
    i = doc.add_node("InputLayer", {"shape": [4]})
    c = doc.add_node("Concatenate")
    d = doc.add_node("Dense", {"units": 3, "activation": "softmax"})
    doc.connect(i, c)
    doc.connect(c, d)
    doc.set_training(loss="sparse_categorical_crossentropy")
    (p,) = [p for p in doc.problems() if p.node_id == c]
    assert "merges a single input" in p.message and p.severity == "warning"
    p.fixes[0].apply(doc)
    assert c not in doc.nodes and [e.src for e in doc.inputs_of(d)] == [i]
    assert not doc.problems()
    loss = _fit(doc, *_data())
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


def test_two_merge_inputs_raise_nothing(doc):
    i = doc.add_node("InputLayer", {"shape": [4]})
    a = doc.add_node("Dense", {"units": 3})
    c = doc.add_node("Concatenate")
    doc.connect(i, a)
    doc.connect(i, c)
    doc.connect(a, c)
    assert not structure_problems(doc)


def test_dangling_second_output_is_caught_and_deleted(doc):
    i = doc.add_node("InputLayer", {"shape": [4]})
    h = doc.add_node("Dense", {"units": 8, "activation": "relu"})
    out = doc.add_node("Dense", {"units": 3, "activation": "softmax"})
    stray = doc.add_node("Dense", {"units": 5})
    doc.connect(i, h)
    doc.connect(h, out)
    doc.connect(i, stray)  # dropped and wired, never led on
    doc.set_training(loss="sparse_categorical_crossentropy")
    msgs = [p for p in doc.problems() if p.node_id == stray and "outputs" in p.message]
    assert msgs and "2 outputs" in msgs[0].message and "'dense_2'" in msgs[0].message
    assert not [p for p in doc.problems() if p.node_id == out]  # the main line is kept
    # a second output is trainable now (a loss per output): a warning, no refusal
    assert not pre_train_problems(doc)
    next(f for f in msgs[0].fixes if f.label.startswith("Delete")).apply(doc)
    assert stray not in doc.nodes and not pre_train_problems(doc)
    loss = _fit(doc, *_data())
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


def test_flatten_left_last_gets_a_classifier(doc):
    i = doc.add_node("InputLayer", {"shape": [2, 2]})
    f = doc.add_node("Flatten")
    doc.connect(i, f)
    doc.set_training(loss="sparse_categorical_crossentropy")
    doc.set_data_info((2, 2), 3)
    (p,) = [p for p in doc.problems() if p.node_id == f]
    assert "ends with Flatten" in p.message and "(None, 4)" in p.message
    assert p.fixes[0].label == "Add Dense(3, softmax) after 'flatten'"
    p.fixes[0].apply(doc)
    (last,) = [n for n in doc.nodes.values() if not doc.outputs_of(n.id)]
    assert last.type == "Dense" and last.config["units"] == 3
    assert not [q for q in doc.problems() if q.severity == "error"]
    x, y = _data()
    loss = _fit(doc, x.reshape(-1, 2, 2), y)
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


def test_binary_crossentropy_on_ten_classes_offers_the_sparse_loss(doc):
    i = doc.add_node("InputLayer", {"shape": [4]})
    d = doc.add_node("Dense", {"units": 3, "activation": "softmax"})
    doc.connect(i, d)
    doc.set_training(loss="binary_crossentropy")
    doc.set_data_info((4,), 3)
    (p,) = [p for p in doc.problems() if "binary_crossentropy separates" in p.message]
    p.fixes[0].apply(doc)
    assert doc.training.loss == "sparse_categorical_crossentropy"
    assert not doc.problems()
    loss = _fit(doc, *_data())
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


def test_huge_dense_and_too_little_memory_are_warned(doc, monkeypatch):
    # A machine with plenty of memory: the real build of this layer is allowed there
    # (core.safety refuses it on one with under ~19 GB free, and the node then shows
    # that refusal instead), so what is tested is the warning, not this machine.
    monkeypatch.setattr("core.safety.memory_budget", lambda: 64 * 1024**3)
    i = doc.add_node("InputLayer", {"shape": [50000]})
    d = doc.add_node("Dense", {"units": 10000})  # 500,010,000 weights, 1.9 GB
    doc.connect(i, d)
    big = [p for p in memory_problems(doc, available=lambda: None) if p.node_id == d]
    assert big and "500,010,000 weights" in big[0].message and "1.9 GB" in big[0].message
    assert LARGE_LAYER_BYTES < 500_010_000 * 4
    free = [p for p in memory_problems(doc, available=lambda: 1024**3) if p.node_id is None]
    assert free and "1.0 GB free" in free[0].message and "batch size 32" in free[0].message
    doc.set_config(d, "units", 10)  # a sane layer: no warning, memory is plenty
    assert not memory_problems(doc, available=lambda: 1024**3)


def test_two_input_template_is_trainable_and_says_which_input_lacks_data():
    from core.session.data_source import Dataset
    from core.session.network_data import NetworkDataError, prepare_network
    from core.session.ports import network_ports

    doc = TEMPLATES["two_input"]()
    assert not pre_train_problems(doc) and not doc.problems()
    doc.rename_node(doc.node_by_name("ink_bands").id, "weather")
    ds = Dataset("digits", np.zeros((4, 28, 28), np.uint8), np.arange(4))
    with pytest.raises(NetworkDataError, match=r"no data for Input 'weather' \(8,\).*"
                                               r"feed Input 'image'"):
        prepare_network(ds, *network_ports(doc), doc.training.loss)


def test_shipped_single_input_templates_have_no_problems():
    for name in ("mnist_mlp", "mnist_cnn", "resnet_block", "two_input"):
        doc = TEMPLATES[name]()
        assert not doc.problems(), name
        assert not pre_train_problems(doc), name
