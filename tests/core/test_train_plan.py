"""``fit``'s and ``evaluate``'s steps after the first run the model's execution plan
(``core.models.inference.run_plain``: each plain layer's ``forward``, recorded on the
tape) instead of ``Layer.__call__``; the results must be those of ``Layer.__call__``
at every step, which the reference runs replace ``run_plain`` with.

>>> # pytest tests/core/test_train_plan.py
"""

import numpy as np
import pytest

from core import regularizers, utils
from core.layers import Add, Dense, Dropout, Flatten, Input, Layer
from core.models import Model, Sequential, inference
from core.models import sequential as sequential_mod


def _through_call(monkeypatch):
    """The reference: every step's layers through ``Layer.__call__``."""
    def call(layer, x, training, tape):
        return layer(x, training=training)
    monkeypatch.setattr(sequential_mod, "run_plain", call)
    from core.models import functional as functional_mod
    monkeypatch.setattr(functional_mod, "run_plain", call)


def _mlp():
    return Sequential([
        Flatten(input_shape=(3, 4)),
        Dense(8, activation="relu", kernel_regularizer=regularizers.L2(1e-2),
              activity_regularizer=regularizers.L1(1e-3)),
        Dropout(0.3), Dense(5, activation="softmax")])


def _functional():
    x = Input((6,))
    a = Dense(4, activation="tanh")(x)
    b = Dense(4, activity_regularizer=regularizers.L2(1e-2))(x)
    return Model(x, Dense(3, activation="softmax")(Add()([a, b])))


def _train(make, x, y, monkeypatch=None):
    if monkeypatch is not None:
        _through_call(monkeypatch)
    utils.set_random_seed(3)
    model = make()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0)
    return model.get_weights(), hist.history, model.evaluate(x, y, batch_size=16,
                                                              verbose=0)


@pytest.mark.parametrize("make, shape", [(_mlp, (3, 4)), (_functional, (6,))])
def test_plan_steps_train_as_layer_calls(make, shape, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.random((96,) + shape, dtype=np.float32)
    y = rng.integers(0, 5 if make is _mlp else 3, 96)
    weights, history, scores = _train(make, x, y)
    ref_weights, ref_history, ref_scores = _train(make, x, y, monkeypatch)
    for w, r in zip(weights, ref_weights):
        np.testing.assert_array_equal(w, r)
    assert history == ref_history
    assert scores == ref_scores


def test_later_steps_skip_layer_call(monkeypatch):
    """One step through ``Layer.__call__`` per fit of a built model; the plan after."""
    calls = []
    real = Layer.__call__

    def counting(self, *args, **kwargs):
        calls.append(self.name)
        return real(self, *args, **kwargs)
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.ones((40, 3, 4), "float32"), np.zeros(40, "int64")
    model.fit(x, y, batch_size=8, verbose=0)
    monkeypatch.setattr(Layer, "__call__", counting)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert calls == []  # the step was made (and checked) by the first fit


def test_a_layer_that_may_make_a_mask_keeps_layer_call():
    """A layer with its own ``compute_mask`` may make a mask in ``Layer.__call__``; with
    a layer that takes masks in the plan, every step keeps ``Layer.__call__``. Merges,
    whose ``compute_mask`` only combines given masks, stay plain without a consumer."""
    from core.layers import LSTM, Concatenate
    from core.models.graph import PlanStep

    class Marks(Layer):
        def forward(self, inputs, training=False):
            return inputs * 1.0, None

        def backward(self, cache, grad_output, need_input_grad=True):
            return grad_output

        def compute_mask(self, inputs, mask=None):
            return np.ones(inputs.shape[:2], bool)

    def plain(*layers):
        return inference.traits([PlanStep(layer, [k], [k + 1], False, False, {})
                                 for k, layer in enumerate(layers)], 0)[0]
    assert plain(Marks(), LSTM(2)) == [False, False]
    assert plain(Marks(), Dense(2)) == [True, True]
    assert plain(Concatenate(), Dense(2)) == [True, True]
