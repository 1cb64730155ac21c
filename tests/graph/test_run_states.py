"""What a run keeps to be restored (core.graph.run_states): the last epoch's weights
when EarlyStopping put its best epoch back, compared with the same training run without
early stopping; and a restore snapshot that brings back the run's network."""

import numpy as np

from core.callbacks import EarlyStopping
from core.graph import GraphDocument
from core.graph.run_states import LastEpochWeights, keep_run, network_of, restore_snapshot


def _model(seed):
    from core import utils
    from core.layers import Dense, Input
    from core.models import Model

    utils.set_random_seed(seed)
    x = Input((3,))
    m = Model(x, Dense(1)(x))
    m.compile(optimizer="sgd", loss="mse")
    m.optimizer.learning_rate = 0.5  # far too high: the loss rises after the first epoch
    return m


def test_last_epoch_weights_are_the_ones_early_stopping_replaced():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32") * 3
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")
    stopped = _model(1)
    last, stop = LastEpochWeights(), EarlyStopping(monitor="loss", patience=1,
                                                    restore_best_weights=True)
    hist = stopped.fit(x, y, epochs=5, batch_size=64, shuffle=False, verbose=0,
                       callbacks=[last, stop])
    ran = len(hist.history["loss"])
    assert ran < 5 and stop.best_epoch < ran - 1  # it stopped, and went back in time
    plain = _model(1)  # the same run without early stopping, for as many epochs
    plain.fit(x, y, epochs=ran, batch_size=64, shuffle=False, verbose=0)
    name = stopped.layers[-1].name
    for a, b in zip(last.weights[name], plain.layers[-1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not np.allclose(last.weights[name][0], stopped.layers[-1].get_weights()[0])


def test_restore_snapshot_brings_back_the_runs_network_and_settings():
    doc = GraphDocument()
    a = doc.add_node("InputLayer", {"shape": [4]})
    d = doc.add_node("Dense", {"units": 2})
    doc.connect(a, d)
    doc.set_training(learning_rate=0.002)
    doc.history.append({"name": "Run 1", "settings": doc.training.to_dict()})
    w = {"dense": [np.ones((4, 2), "float32"), np.zeros(2, "float32")]}
    keep_run(doc, "Run 1", network_of(doc), w)
    doc.remove_nodes([d])
    doc.set_training(learning_rate=0.1)
    snap, state = restore_snapshot(doc, "Run 1", doc.history[0]["settings"])
    doc.restore_state(snap)
    assert sorted(n.type for n in doc.nodes.values()) == ["Dense", "InputLayer"]
    assert doc.training.learning_rate == 0.002 and state["weights"] is w
    assert doc.build_model().count_params() == 10
