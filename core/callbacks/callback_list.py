"""``CallbackList``: dispatches each hook to the callbacks that implement it (Keras 3).

The list precomputes, per hook, only the callbacks that override it, so the per-batch
dispatch costs nothing when nobody listens. It has its own file so that it may add a
``ProgbarLogger`` (which is a ``Callback``) without the base module importing it.

>>> from core.callbacks.base import Callback
>>> class Counter(Callback):
...     def __init__(self):
...         super().__init__()
...         self.batches = 0
...     def on_train_batch_end(self, batch, logs=None):
...         self.batches += 1
>>> cbs = CallbackList([Counter()])
>>> cbs.on_train_batch_end(0, {"loss": 1.0})
>>> cbs.callbacks[0].batches
1
"""

from __future__ import annotations

from core.callbacks.base import HOOKS, Callback, History
from core.callbacks.progbar import ProgbarLogger


def _overrides(cb, hook: str) -> bool:
    if hook in vars(cb):  # LambdaCallback sets hooks per instance
        return True
    fn = getattr(type(cb), hook, None)
    if fn is not getattr(Callback, hook):
        return True
    # The train-batch hooks forward to the on_batch_* aliases.
    alias = {"on_train_batch_begin": "on_batch_begin",
             "on_train_batch_end": "on_batch_end"}.get(hook)
    return alias is not None and getattr(type(cb), alias) is not getattr(Callback, alias)


class CallbackList(Callback):
    """Dispatches each hook to the callbacks that implement it, in order."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(f"callbacks must be Callback instances, received {cb!r}.")
        if add_history and not any(isinstance(c, History) for c in self.callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(type(c).__name__ == "ProgbarLogger" for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self._refresh()
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def _refresh(self):
        self._by_hook = {h: [getattr(c, h) for c in self.callbacks if _overrides(c, h)]
                         for h in HOOKS}

    def append(self, callback):
        self.callbacks.append(callback)
        self._refresh()

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model):
        self._model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def wants(self, hook: str) -> bool:
        return bool(self._by_hook[hook])

    def _call(self, hook, *args):
        # Keras' CallbackList hands every hook a dict: ``logs`` is never None.
        if args and args[-1] is None:
            args = (*args[:-1], {})
        for fn in self._by_hook[hook]:
            fn(*args)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def train_batch_end_lazy(self, batch, get_logs) -> None:
        """``on_train_batch_end`` where ``get_logs()`` builds the logs only if needed.

        The progress bar redraws at most ~10 times a second, so when it is the only
        listener the trainer does not build a logs dict for every batch.
        """
        logs = None
        for fn in self._by_hook["on_train_batch_end"]:
            lazy = getattr(getattr(fn, "__self__", None), "batch_end_lazy", None)
            if lazy is not None:
                lazy(batch, get_logs)
            else:
                if logs is None:
                    logs = get_logs()
                fn(batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)
