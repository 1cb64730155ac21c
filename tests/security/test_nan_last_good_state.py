"""After a NaN/inf loss the model holds its last finite state: weights, optimizer slots
and iteration count (TerminateOnNaN, and the app's NaN guard)."""

from __future__ import annotations

import numpy as np
import pytest

from core import utils
from core.callbacks import TerminateOnNaN
from core.layers import Dense
from core.models import Sequential
from core.optimizers import SGD


def _blowup_model():
    """SGD whose first (finite-loss) update overflows float32: the weights become inf,
    and only the *next* batch's loss shows it."""
    utils.set_random_seed(3)
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer=SGD(learning_rate=1e38, momentum=0.9), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)).astype("float32") * 10
    y = rng.normal(size=(40, 1)).astype("float32") * 10
    return model, x, y


def _opt_state(model):
    return [np.array(v.value) for v in model.optimizer.variables]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan_restores_last_finite_weights_and_optimizer_state():
    model, x, y = _blowup_model()
    start = [np.array(w) for w in model.get_weights()]
    model.fit(x, y, batch_size=10, epochs=2, shuffle=False, callbacks=[TerminateOnNaN()],
              verbose=0)
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    for a, b in zip(weights, start):
        np.testing.assert_array_equal(a, b)  # the state before the overflowing update
    state = _opt_state(model)
    assert all(np.isfinite(s).all() for s in state)
    assert model.optimizer.iterations == 0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_app_nan_guard_restores_optimizer_slots_and_iterations():
    from core.session.job import ControlCallback, TrainingJob

    model, x, y = _blowup_model()
    job = TrainingJob(model, epochs=2, batch_size=10)
    model.fit(x, y, batch_size=10, epochs=2, shuffle=False, callbacks=[ControlCallback(job)],
              verbose=0)
    assert job.nan_at is not None
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert all(np.isfinite(s).all() for s in _opt_state(model))
    assert model.optimizer.iterations == 0  # the kept weights are from before any step
