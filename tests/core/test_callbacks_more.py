"""Callbacks get a ``logs`` dict at every hook, never None (Keras' CallbackList)."""

import numpy as np

import core as keras
from core.callbacks import HOOKS, Callback, CallbackList, LambdaCallback


class _Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def _record(self, hook, logs):
        self.seen.append((hook, logs))


for _hook in HOOKS:
    def _make(hook):
        if "batch" in hook or "epoch" in hook:
            return lambda self, i, logs=None: self._record(hook, logs)
        return lambda self, logs=None: self._record(hook, logs)
    setattr(_Recorder, _hook, _make(_hook))


def test_callback_list_replaces_none_logs_with_dict():
    rec = _Recorder()
    cbs = CallbackList([rec])
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_epoch_end(0, None)
    cbs.on_test_end()
    assert [h for h, _ in rec.seen] == ["on_train_begin", "on_epoch_begin", "on_epoch_end",
                                        "on_test_end"]
    assert all(logs == {} for _, logs in rec.seen)


def test_fit_evaluate_predict_hooks_all_get_dicts():
    rec = _Recorder()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).random((8, 3), dtype=np.float32)
    y = x.sum(axis=1, keepdims=True)
    model.fit(x, y, epochs=2, batch_size=4, validation_data=(x, y), verbose=0,
              callbacks=[rec])
    model.evaluate(x, y, verbose=0, callbacks=[rec])
    model.predict(x, verbose=0, callbacks=[rec])
    hooks = {h for h, _ in rec.seen}
    assert {"on_train_begin", "on_epoch_end", "on_train_batch_end", "on_test_begin",
            "on_predict_end"} <= hooks
    bad = [(h, logs) for h, logs in rec.seen if not isinstance(logs, dict)]
    assert bad == []


def test_lambda_callback_epoch_end_sees_loss():
    losses = []
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((4, 2), np.float32)
    model.fit(x, x[:, :1], epochs=3, verbose=0,
              callbacks=[LambdaCallback(on_epoch_end=lambda e, logs: losses.append(
                  logs["loss"]))])
    assert len(losses) == 3 and all(np.isfinite(losses))
