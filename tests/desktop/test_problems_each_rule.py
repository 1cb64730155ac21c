"""One test per Problems rule (issue #14): build the bad network in the window, see the
panel's message, press its fix (or make the edit the message asks for), and the network
then trains on the embedded MNIST sample the data panel loaded.

The linear-output case is ``test_problems_rules.py``, dangling outputs
``test_problems_structure.py``, class labels on an image output
``test_autoencoder_training.py``. Labels given one-hot to a sparse loss (and ids to
``categorical_crossentropy``) are no problem to report: the data panel turns one-hot
labels into class ids and the session builds what the loss reads
(``core.session.targets``), so that pairing trains as it is.
"""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.datasets.sample import load_sample
from core.graph import training_rules
from tests.desktop.training_helpers import wait_data

WAIT = 20000  # ms: each check builds the model; a loaded machine is slow


def _chain(doc, *layers):
    """Add ``(type, config)`` layers wired one after the other; return their ids."""
    ids = [doc.add_node(kind, dict(config)) for kind, config in layers]
    for a, b in zip(ids, ids[1:]):
        doc.connect(a, b)
    return ids


def _problem(window, qtbot, text):
    panel = window.problems
    qtbot.waitUntil(lambda: any(text in p.message for p in panel.problems), timeout=WAIT)
    return next(p for p in panel.problems if text in p.message)


def _press_fix(window, qtbot, label):
    panel = window.problems
    button = next(b for b in panel.fix_buttons if label in b.text())
    qtbot.mouseClick(button, Qt.LeftButton)


def _gone(window, qtbot, text):
    qtbot.waitUntil(lambda: not any(text in p.message for p in window.problems.problems),
                    timeout=WAIT)


def _trains(doc, epochs=3, n=512):
    """The document's model learns the sample: loss falls, accuracy above chance."""
    (x, y), _ = load_sample()
    model = doc.build_model()
    shape = tuple(model.inputs[0].shape[1:])
    x = (x[:n].astype("float32") / 255.0).reshape((n, *shape))
    s = doc.training
    model.compile(optimizer=s.optimizer, loss=s.loss, metrics=["accuracy"])
    model.optimizer.learning_rate = s.learning_rate
    hist = model.fit(x, y[:n], epochs=epochs, batch_size=min(s.batch_size, 64), verbose=0)
    loss = hist.history["loss"]
    assert np.isfinite(loss).all() and loss[-1] < loss[0], loss
    assert hist.history["accuracy"][-1] > 0.3  # 10 classes: chance is 0.1


@pytest.fixture
def doc(window, qtbot):
    wait_data(qtbot, window.training_ui)  # the embedded sample: (28, 28, 1), 10 classes
    d = window.document
    d.set_training(loss="sparse_categorical_crossentropy", optimizer="adam",
                   learning_rate=0.001)
    return d


def test_relu_output_with_crossentropy_gets_softmax(window, qtbot, doc):
    *_, out = _chain(doc, ("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", {}),
                     ("Dense", {"units": 10, "activation": "relu"}))
    _problem(window, qtbot, "has a relu activation but the loss")
    _press_fix(window, qtbot, "to softmax")
    assert doc.nodes[out].config["activation"] == "softmax"
    _gone(window, qtbot, "expects probabilities")
    _trains(doc)


def test_output_units_that_miss_the_data_classes_are_set_from_the_data(window, qtbot, doc):
    *_, out = _chain(doc, ("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", {}),
                     ("Dense", {"units": 5, "activation": "softmax"}))
    _problem(window, qtbot, "has 5 units but the data set has 10 classes")
    _press_fix(window, qtbot, "to 10")
    assert doc.nodes[out].config["units"] == 10
    _gone(window, qtbot, "units but the data set has")
    _trains(doc)


def test_a_merge_with_one_input_is_removed_and_its_wires_joined(window, qtbot, doc):
    i, flat, add, out = _chain(doc, ("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", {}),
                               ("Add", {}), ("Dense", {"units": 10, "activation": "softmax"}))
    _problem(window, qtbot, "merges a single input")
    _press_fix(window, qtbot, "wire 'flatten' straight on")
    assert add not in doc.nodes
    assert [e.src for e in doc.inputs_of(out)] == [flat]
    _gone(window, qtbot, "merges a single input")
    _trains(doc)


def test_a_network_ending_in_flatten_gets_a_dense_classifier(window, qtbot, doc):
    i, flat = _chain(doc, ("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", {}))
    _problem(window, qtbot, "ends with Flatten")
    _press_fix(window, qtbot, "Add Dense(10, softmax)")
    (new,) = [e.dst for e in doc.outputs_of(flat)]
    assert doc.nodes[new].type == "Dense" and doc.nodes[new].config["units"] == 10
    _gone(window, qtbot, "ends with Flatten")
    _trains(doc)


def test_an_input_shape_that_misses_the_data_is_set_from_the_data(window, qtbot, doc):
    i, *_ = _chain(doc, ("InputLayer", {"shape": [4]}), ("Flatten", {}),
                   ("Dense", {"units": 10, "activation": "softmax"}))
    _problem(window, qtbot, "has shape (4,) but the data set's samples have shape (28, 28, 1)")
    _press_fix(window, qtbot, "Set the input shape to (28, 28, 1)")
    assert list(doc.nodes[i].config["shape"]) == [28, 28, 1]
    _gone(window, qtbot, "but the data set's samples have shape")
    _trains(doc)


def test_binary_crossentropy_on_ten_classes_becomes_the_sparse_loss(window, qtbot, doc):
    _chain(doc, ("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", {}),
           ("Dense", {"units": 10, "activation": "softmax"}))
    doc.set_training(loss="binary_crossentropy")
    _problem(window, qtbot, "binary_crossentropy separates two classes")
    _press_fix(window, qtbot, "Set the loss to sparse_categorical_crossentropy")
    assert doc.training.loss == "sparse_categorical_crossentropy"
    _gone(window, qtbot, "separates two classes")
    _trains(doc)


def test_an_absurd_learning_rate_is_set_back_to_the_default(window, qtbot, doc):
    _chain(doc, ("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", {}),
           ("Dense", {"units": 10, "activation": "softmax"}))
    doc.set_training(learning_rate=5.0)
    _problem(window, qtbot, "The learning rate 5 is far too high for adam")
    _press_fix(window, qtbot, "Set the learning rate to 0.001")
    assert doc.training.learning_rate == pytest.approx(0.001)
    _gone(window, qtbot, "far too high")
    _trains(doc)


def test_a_layer_too_large_to_train_is_named_until_it_is_made_smaller(window, qtbot, doc):
    i, flat, big, out = _chain(doc, ("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", {}),
                               ("Dense", {"units": 200_000, "activation": "relu"}),
                               ("Dense", {"units": 10, "activation": "softmax"}))
    p = _problem(window, qtbot, "'dense' has 157,000,000 weights")
    assert p.node_id == big and "Use fewer units" in p.message  # no one-click size
    doc.set_config(big, "units", 64)  # the edit the message asks for
    _gone(window, qtbot, "weights (")
    _trains(doc)


def test_training_memory_beyond_the_machine_is_named_until_the_batch_shrinks(
        window, qtbot, doc, monkeypatch):
    """A machine with 64 MB free (the check reads the free memory through its default
    argument, which the panel uses): batch 200,000 cannot fit, batch 32 can."""
    monkeypatch.setattr(training_rules.training_problems, "__defaults__",
                        (lambda: 64 * 1024**2,))
    _chain(doc, ("InputLayer", {"shape": [28, 28, 1]}), ("Flatten", {}),
           ("Dense", {"units": 128, "activation": "relu"}),
           ("Dense", {"units": 10, "activation": "softmax"}))
    doc.set_training(batch_size=200_000)
    p = _problem(window, qtbot, "Training this model with batch size 200000 needs")
    assert "Lower the batch size" in p.message
    doc.set_training(batch_size=32)
    _gone(window, qtbot, "Training this model with batch size")
    _trains(doc)
