"""Problems that ruin training (issue 14): each rule sees the bad network, its fix
repairs it, and the repaired network trains (loss finite and falling)."""

import numpy as np


def _classifier(doc, activation=None, units=3):
    i = doc.add_node("InputLayer", {"shape": [4]})
    d = doc.add_node("Dense", {"units": units, "activation": activation})
    doc.connect(i, d)
    doc.set_training(loss="sparse_categorical_crossentropy")
    return d


def _fit(doc, y, epochs=30):
    model = doc.build_model()
    s = doc.training
    model.compile(optimizer=s.optimizer, loss=s.loss)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    hist = model.fit(x, y(x), epochs=epochs, batch_size=16, verbose=0)
    return hist.history["loss"]


def _messages(doc):
    return [p.message for p in doc.problems()]


def test_linear_output_with_crossentropy_is_caught_and_fixed(doc):
    d = _classifier(doc, None)
    (p,) = [p for p in doc.problems() if p.node_id == d]
    assert "linear activation" in p.message and "softmax" in p.message
    p.fixes[0].apply(doc)
    assert doc.nodes[d].config["activation"] == "softmax"
    assert not [m for m in _messages(doc) if "activation" in m]
    loss = _fit(doc, lambda x: (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0))
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


def test_relu_output_with_binary_crossentropy_offers_sigmoid(doc):
    d = _classifier(doc, "relu", units=1)
    doc.set_training(loss="binary_crossentropy")
    (p,) = [p for p in doc.problems() if p.node_id == d]
    assert "relu" in p.message and p.fixes[0].label.endswith("sigmoid")
    p.fixes[0].apply(doc)
    loss = _fit(doc, lambda x: (x[:, :1] > 0).astype("float32"))
    assert np.isfinite(loss).all() and loss[-1] < loss[0]


def test_softmax_output_and_regression_raise_nothing(doc):
    d = _classifier(doc, "softmax")
    assert not doc.problems()
    doc.set_config(d, "activation", None)
    doc.set_training(loss="mean_squared_error")
    assert not doc.problems()  # a linear output is right for regression


def test_absurd_learning_rate_is_caught_and_fixed(doc):
    _classifier(doc, "softmax")
    doc.set_training(learning_rate=5.0)
    (p,) = doc.problems()
    assert p.severity == "warning" and "far too high" in p.message
    p.fixes[0].apply(doc)
    assert doc.training.learning_rate == 0.001 and not doc.problems()
    loss = _fit(doc, lambda x: (x[:, 0] > 0).astype("int64"))
    assert np.isfinite(loss).all() and loss[-1] < loss[0]
