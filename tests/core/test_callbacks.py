"""Callbacks: hook order, EarlyStopping, ModelCheckpoint, CSVLogger, schedulers, progress bar."""

import csv
import io
import warnings

import numpy as np
import pytest

from core import utils
from core.callbacks import (
    HOOKS,
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    Progbar,
)
from core.layers import Dense
from core.models import Sequential


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")
    return x, y


def _model(lr=0.05):
    utils.set_random_seed(0)
    from core.optimizers import SGD
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile(optimizer=SGD(learning_rate=lr), loss="mse")
    return model


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []


def _recording_hook(hook):
    def method(self, *args, logs=None):
        self.calls.append((hook,) + tuple(a for a in args if isinstance(a, int)))
    return method


for _hook in HOOKS:
    setattr(Recorder, _hook, _recording_hook(_hook))


def test_hooks_are_called_in_keras_order_with_model_and_params():
    x, y = _data(20)
    model = _model()
    rec = Recorder()
    model.fit(x, y, batch_size=10, epochs=2, validation_data=(x[:5], y[:5]),
              callbacks=[rec], verbose=0)
    fit_calls = [
        ("on_train_begin",),
        ("on_epoch_begin", 0),
        ("on_train_batch_begin", 0), ("on_train_batch_end", 0),
        ("on_train_batch_begin", 1), ("on_train_batch_end", 1),
        ("on_test_begin",), ("on_test_batch_begin", 0), ("on_test_batch_end", 0),
        ("on_test_end",),
        ("on_epoch_end", 0),
        ("on_epoch_begin", 1),
        ("on_train_batch_begin", 0), ("on_train_batch_end", 0),
        ("on_train_batch_begin", 1), ("on_train_batch_end", 1),
        ("on_test_begin",), ("on_test_batch_begin", 0), ("on_test_batch_end", 0),
        ("on_test_end",),
        ("on_epoch_end", 1),
        ("on_train_end",),
    ]
    assert rec.calls == fit_calls
    assert rec.model is model
    assert rec.params["epochs"] == 2 and rec.params["steps"] == 2
    rec.calls.clear()
    model.predict(x, batch_size=15, callbacks=[rec], verbose=0)
    assert rec.calls == [("on_predict_begin",), ("on_predict_batch_begin", 0),
                         ("on_predict_batch_end", 0), ("on_predict_batch_begin", 1),
                         ("on_predict_batch_end", 1), ("on_predict_end",)]
    rec.calls.clear()
    model.evaluate(x, y, batch_size=20, callbacks=[rec], verbose=0)
    assert rec.calls == [("on_test_begin",), ("on_test_batch_begin", 0),
                         ("on_test_batch_end", 0), ("on_test_end",)]


def test_epoch_logs_passed_to_callbacks_match_history():
    x, y = _data()
    model = _model()
    seen = []
    cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(dict(logs)))
    hist = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, callbacks=[cb],
                     verbose=0)
    assert [s["loss"] for s in seen] == hist.history["loss"]
    assert [s["val_loss"] for s in seen] == hist.history["val_loss"]


def _scripted(values):
    """A callback that overwrites the monitored value with a script per epoch."""
    class Script(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = values[epoch]
            self.model.weights[0].value[...] = epoch  # mark the weights with the epoch
    return Script()


def test_early_stopping_patience_and_restore_best_weights():
    x, y = _data()
    model = _model()
    stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    hist = model.fit(x, y, epochs=10, batch_size=8, validation_split=0.25, verbose=0,
                     callbacks=[_scripted([5.0, 3.0, 4.0, 3.5, 1.0, 0.5]), stop])
    # Best at epoch 1 (3.0); epochs 2 and 3 do not improve -> stop after epoch 3.
    assert len(hist.history["loss"]) == 4
    assert stop.stopped_epoch == 3 and stop.best == 3.0 and stop.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0].value, np.full((3, 1), 1.0))


def test_early_stopping_min_delta_baseline_mode_and_start_epoch():
    x, y = _data()
    stop = EarlyStopping(monitor="val_loss", min_delta=0.5, patience=1)
    model = _model()
    hist = model.fit(x, y, epochs=10, batch_size=8, validation_split=0.25, verbose=0,
                     callbacks=[_scripted([5.0, 4.8, 4.7, 1.0]), stop])
    assert len(hist.history["loss"]) == 2  # 4.8 is not better than 5.0 by 0.5
    stop = EarlyStopping(monitor="val_loss", patience=0, start_from_epoch=2)
    hist = _model().fit(x, y, epochs=10, batch_size=8, validation_split=0.25, verbose=0,
                        callbacks=[_scripted([1.0, 2.0, 3.0, 4.0, 5.0]), stop])
    assert len(hist.history["loss"]) == 4  # epochs 0-1 ignored; 3 worse than 2 -> stop
    assert EarlyStopping(monitor="val_accuracy").monitor_op(2, 1)
    with pytest.raises(ValueError, match="mode='max' or mode='min'"):
        EarlyStopping(monitor="val_weird")
    stop = EarlyStopping(monitor="nope", mode="min")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[stop])
    assert any("nope" in str(m.message) for m in w)


def test_model_checkpoint_formats_paths_and_saves_best_only(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(Sequential, "save",
                        lambda self, path, overwrite=True: saved.append(path))
    x, y = _data()
    ckpt = ModelCheckpoint(str(tmp_path / "m_{epoch:02d}_{val_loss:.1f}.keras"),
                           save_best_only=True)
    _model().fit(x, y, epochs=4, batch_size=8, validation_split=0.25, verbose=0,
                 callbacks=[_scripted([2.0, 1.0, 3.0, 0.5]), ckpt])
    assert [p.rsplit("/", 1)[1] for p in saved] == [
        "m_01_2.0.keras", "m_02_1.0.keras", "m_04_0.5.keras"]
    with pytest.raises(ValueError, match=r"\.keras"):
        ModelCheckpoint(str(tmp_path / "model.hdf"))
    ModelCheckpoint(str(tmp_path / "model.h5"))  # Keras 3 takes legacy .h5 too
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        ModelCheckpoint(str(tmp_path / "w.keras"), save_weights_only=True)


def test_model_checkpoint_writes_a_loadable_file(tmp_path):
    pytest.importorskip("core.saving.keras_format", reason="core.saving not in the tree yet")
    from core.models import load_model
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "e{epoch}.keras"), monitor="loss")])
    assert (tmp_path / "e1.keras").exists() and (tmp_path / "e2.keras").exists()
    loaded = load_model(str(tmp_path / "e2.keras"))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_learning_rate_scheduler_sets_lr_each_epoch_and_logs_it():
    x, y = _data()
    model = _model(lr=0.1)
    seen = []
    sched = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    probe = LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(
        float(model.optimizer.learning_rate)))
    hist = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched, probe])
    assert seen == pytest.approx([0.1, 0.05, 0.025])
    assert hist.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    with pytest.raises(ValueError, match="finite float"):
        _model().fit(x, y, epochs=1, verbose=0,
                     callbacks=[LearningRateScheduler(lambda e: "fast")])


def test_csv_logger_writes_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    x, y = _data()
    _model().fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[CSVLogger(path)])
    _model().fit(x, y, epochs=1, validation_split=0.25, verbose=0,
                 callbacks=[CSVLogger(path, append=True)])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "0"]
    assert float(rows[1][1]) > 0


def test_progbar_text_verbose_1_and_2():
    out = io.StringIO()
    bar = Progbar(target=10, verbose=1, stream=out, interval=0.0)
    for i in range(1, 11):
        bar.update(i, [("loss", 1.0 / i)])
    text = out.getvalue()
    assert "10/10 ━━━━━━━━━━━━━━━━━━━━" in text and text.endswith("\n")
    assert " 1/10 ━━" in text and "- loss: 0.1000" in text.splitlines()[-1]
    out = io.StringIO()
    bar = Progbar(target=3, verbose=2, stream=out)
    bar.update(1, [("accuracy", 0.5)])
    bar.update(3, [("accuracy", 0.75)])
    assert out.getvalue().startswith("3/3 - 0s - ")
    assert out.getvalue().rstrip().endswith("- accuracy: 0.7500")


def test_fit_prints_keras_style_epoch_lines(capsys):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, batch_size=20, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("2/2 - ") and "/step - loss: " in lines[1]


def test_progress_bar_redraws_are_throttled(capsys):
    x = np.zeros((2000, 3), "float32")
    y = np.zeros((2000, 1), "float32")
    model = _model()
    model.fit(x, y, epochs=1, batch_size=1, verbose=1)
    redraws = capsys.readouterr().out.count("\r")
    assert 1 <= redraws < 200  # 2000 batches, at most ~10 redraws per second


def test_model_checkpoint_weights_only_roundtrip(tmp_path):
    pytest.importorskip("core.saving.keras_format", reason="core.saving not in the tree yet")
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(
        str(tmp_path / "w{epoch}.weights.h5"), monitor="loss", save_weights_only=True)])
    fresh = _model(lr=0.5)
    fresh.load_weights(str(tmp_path / "w2.weights.h5"))
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
