"""TrainingJob / ControlCallback without Qt: the NaN guard keeps the weights that last
produced a finite loss, pause blocks the worker until resume, stop and learning-rate
changes land at the next batch, and epochs can be added while paused."""

import math
import threading

import numpy as np
import pytest

from core.session.job import ControlCallback, TrainingJob


def _model():
    from core.layers import Dense
    from core.models import Sequential

    m = Sequential([Dense(3, input_shape=(4,))])
    m.build((None, 4))
    return m


class _Opt:
    learning_rate = 0.01


def _callback(model, epochs=2):
    job = TrainingJob(model, epochs=epochs, batch_size=8)
    cb = ControlCallback(job)
    cb.set_model(model)
    cb.set_params({"steps": 5, "epochs": epochs})
    return job, cb


def _values(model):
    return [w.numpy() for w in model.weights]


def test_nan_loss_restores_the_weights_that_last_gave_a_finite_loss():
    model = _model()
    job, cb = _callback(model)
    w0 = _values(model)
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    cb.on_train_batch_begin(0)
    for w in model.weights:          # the optimizer's update of batch 0 -> W1
        w.value += 1.0
    cb.on_train_batch_end(0, {"loss": 2.0})  # loss of W0 was finite: W0 is good
    cb.on_train_batch_begin(1)
    for w in model.weights:          # update of batch 1 -> W2
        w.value[...] = np.inf
    cb.on_train_batch_end(1, {"loss": float("nan")})  # W1 gave NaN: back to W0
    for got, want in zip(_values(model), w0):
        np.testing.assert_array_equal(got, want)
    assert model.stop_training and job.nan_at == (1, 2)
    kinds = [k for k, _ in job.drain()]
    assert kinds == ["train_begin", "epoch_begin", "batch", "nan"]


def test_snapshot_buffers_are_reused_not_reallocated():
    model = _model()
    job, cb = _callback(model)
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    cb.on_train_batch_begin(0)  # the candidate set is allocated at its first snapshot
    cb.on_train_batch_end(0, {"loss": 1.0})
    ids = {id(b) for b in cb._good.buffers + cb._candidate.buffers}
    for b in range(1, 20):
        cb.on_train_batch_begin(b)
        cb.on_train_batch_end(b, {"loss": 1.0})
    assert {id(b) for b in cb._good.buffers + cb._candidate.buffers} == ids


def test_pause_blocks_until_resume_and_applies_the_new_learning_rate():
    model = _model()
    model.optimizer = _Opt()
    job, cb = _callback(model)
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    job.pause()
    job.set_learning_rate(0.5)
    done = threading.Event()

    def worker():
        cb.on_train_batch_begin(0)
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    for _ in range(200):
        if job.waiting:
            break
        threading.Event().wait(0.01)
    assert job.waiting and not done.is_set()
    assert job.add_epochs(3) == 5
    job.resume()
    t.join(5)
    assert done.is_set() and model.optimizer.learning_rate == 0.5
    assert cb.paused_seconds > 0
    with pytest.raises(ValueError, match="learning_rate"):
        job.set_learning_rate(-1)
    with pytest.raises(ValueError, match="epochs"):
        job.add_epochs(0)


def test_stop_sets_stop_training_at_the_next_batch():
    model = _model()
    job, cb = _callback(model)
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    model.stop_training = False
    job.pause()
    job.stop()  # also wakes a paused worker
    assert not job.paused
    cb.on_train_batch_begin(0)
    assert model.stop_training
    cb.on_train_batch_end(0, {"loss": 1.0, "accuracy": 0.5})
    cb.on_epoch_end(0, {"loss": 1.0})
    assert job.epochs_done == 1
    events = dict((k, e) for k, e in job.drain())
    assert events["batch"]["logs"] == {"loss": 1.0, "accuracy": 0.5}
    assert not math.isnan(events["epoch"]["logs"]["loss"])


def test_nan_after_several_batches_restores_the_last_snapshot_with_finite_loss(monkeypatch):
    from core.session import job as job_module
    from core.session.job import SNAPSHOT_EVERY
    # snapshots every SNAPSHOT_EVERY batches whatever they cost (the time bound is
    # tested below)
    monkeypatch.setattr(job_module, "SNAPSHOT_SHARE", 1e12)
    model = _model()
    job, cb = _callback(model)
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    kept = None
    for b in range(SNAPSHOT_EVERY + 3):  # snapshots at batch 0 and SNAPSHOT_EVERY
        cb.on_train_batch_begin(b)
        if b == SNAPSHOT_EVERY:
            kept = _values(model)
        for w in model.weights:
            w.value += 1.0
        cb.on_train_batch_end(b, {"loss": 1.0})
    cb.on_train_batch_begin(SNAPSHOT_EVERY + 3)
    for w in model.weights:
        w.value[...] = np.nan
    cb.on_train_batch_end(SNAPSHOT_EVERY + 3, {"loss": float("inf")})
    for got, want in zip(_values(model), kept):
        np.testing.assert_array_equal(got, want)
    assert job.nan_at == (1, SNAPSHOT_EVERY + 4) and job.good_at == (1, SNAPSHOT_EVERY + 1)


def test_a_snapshot_waits_until_its_cost_is_a_small_share_of_the_time_since_the_last(
        monkeypatch):
    from core.session import job as job_module
    from core.session.job import SNAPSHOT_EVERY
    model = _model()
    job, cb = _callback(model)
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    first = _values(model)  # the first batch always snapshots
    clock = [100.0]
    # each snapshot "costs" 1 s on this clock: the next may come 1 / SHARE = 10 s later
    monkeypatch.setattr(job_module, "SNAPSHOT_SHARE", 0.1)
    monkeypatch.setattr(job_module.time, "perf_counter", lambda: clock[0])
    real_take = cb._candidate.take

    def take(m):
        real_take(m)
        clock[0] += 1.0
    monkeypatch.setattr(cb._candidate, "take", take)
    monkeypatch.setattr(cb._good, "take", take)
    kept_at = {}
    # 1 s per batch: snapshots at batches 0, 10 (10 s after the first ended), 20
    for b in range(3 * SNAPSHOT_EVERY):
        kept_at[b] = _values(model)
        cb.on_train_batch_begin(b)
        for w in model.weights:
            w.value += 1.0
        clock[0] += 1.0
        cb.on_train_batch_end(b, {"loss": 1.0})
    assert cb._good_at == (1, 21)
    for got, want in zip(cb._good.buffers, kept_at[20]):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(first[0], kept_at[20][0])
