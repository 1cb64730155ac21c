"""``compile`` / ``fit`` / ``evaluate`` / ``*_on_batch`` with Keras 3's arguments and logs.

A mixin of ``Model`` (``predict`` comes from ``core.models.predictor``, ``compile``
and the losses and metrics it sets up from ``core.models.compiled``). ``fit``
converts the data to the model's dtype once, validates everything (shapes,
lengths, NaN/inf, label range) before touching a weight, then loops over batches
gathered into preallocated buffers; the per-step work lives in ``core.models.step``.

>>> import numpy as np
>>> from core.models import Sequential
>>> from core.layers import Dense
>>> model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
...               metrics=["accuracy"])
>>> x, y = np.random.rand(64, 4), np.random.randint(0, 3, 64)
>>> sorted(model.fit(x, y, epochs=2, verbose=0).history)
['accuracy', 'loss']
"""

from __future__ import annotations

from core.callbacks import CallbackList
from core.models import batch_stream as bs
from core.models import data_adapter as da
from core.models import evaluate_fast
from core.models import train_step as ts
from core.models.compiled import CompiledModel
from core.models.predictor import FiniteInputs
from core.runtime import engine_call


class Trainer(CompiledModel):
    """``fit``, ``evaluate``, validation and ``*_on_batch`` over validated arrays or streams."""

    # ------------------------------------------------------------- data prep
    def _input_count(self):
        if hasattr(self, "_input_layer"):
            return 1  # Sequential
        inputs = getattr(self, "inputs", None)
        return len(inputs) if inputs else None

    def _prepare(self, x, y, sample_weight, class_weight, what: str, check_x=True):
        """The data as arrays of the model's dtype, validated; ``check_x=False`` leaves
        the NaN/inf check of x to the caller (``predict``'s ``FiniteInputs``)."""
        dtype = self.dtype
        prefix = "" if what != "validation" else "validation_data "
        if isinstance(x, dict) and hasattr(self, "_inputs_from_dict"):
            x = self._inputs_from_dict(x)
        x = da.structure(x, getattr(self, "input_names", None), self._input_count(),
                         f"{prefix}x")
        xs = da.as_float_arrays(x, dtype, f"{prefix}x", check=check_x)
        ys = []
        if y is not None:
            y = da.structure(y, self._output_names(), len(self._output_names()), f"{prefix}y")
            ys = da.as_target_arrays(y, dtype, f"{prefix}y")
        sw = da.sample_weights(sample_weight, self._output_names(), dtype,
                               f"{prefix}sample_weight")
        n = da.check_lengths(xs, ys, {f"sample_weight[{i}]" if isinstance(sw, list) else
                                      "sample_weight": w
                                      for i, w in enumerate(da.weights_as_list(sw))})
        if not self.built:
            shapes = [a.shape for a in xs]
            self._maybe_build(shapes if len(shapes) > 1 else shapes[0])
        self._check_inputs(xs)
        if self._step is None and self.compiled and not what.startswith("predict"):
            self._make_step(ys or None)  # also without y: losses may come from add_loss
        if y is not None:
            da.check_targets(self.name, self._step.outputs, ys)
            if class_weight is not None:
                sw = da.class_sample_weights(ys, class_weight, sw, self.dtype)
        return xs, ys, sw, n

    def _check_inputs(self, xs):
        inputs = getattr(self, "inputs", None)
        if inputs:
            da.check_input_shapes(self.name, getattr(self, "input_names", []),
                                  [t.shape for t in inputs], xs)
        else:
            shape = self._build_input_shape
            expected = shape if isinstance(shape, list) else [shape]
            da.check_input_shapes(self.name, [], expected, xs)

    # -------------------------------------------------------------------- fit
    @engine_call()
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        if not self.compiled:
            raise ValueError(f"You must call compile() on model '{self.name}' before fit().")
        batch_size = da.check_count("batch_size", batch_size, 32)
        epochs = da.check_count("epochs", epochs, 1)
        if not isinstance(initial_epoch, int) or not 0 <= initial_epoch:
            raise ValueError(f"fit: initial_epoch={initial_epoch!r} must be an integer >= 0.")
        verbose = da.verbosity(verbose)
        if bs.is_stream(x):
            source = bs.BatchStream(x, steps_per_epoch, shuffle, "x")
            bs.check_stream_arguments(source.kind, y, sample_weight, class_weight,
                                      validation_split)
            train = bs.stream_epochs(self, source, class_weight, "fit")
            steps = source.steps_hint
        else:
            self._check_targets_given(y, "fit")
            xs, ys, sw, n = self._prepare(x, y, sample_weight, class_weight, "fit")
            val_arrays = None
            if validation_split and validation_data is None:
                arrays = xs + ys + da.weights_as_list(sw)
                part, held = da.split_validation(arrays, float(validation_split))
                nx, ny = len(xs), len(ys)
                xs, ys = part[:nx], part[nx:nx + ny]
                val_arrays = (held[:nx], held[nx:nx + ny],
                              da.weights_like(held[nx + ny:], sw))
                sw = da.weights_like(part[nx + ny:], sw)
                n = len(xs[0])
            train = da.array_epochs(xs, ys, sw, batch_size, shuffle, steps_per_epoch)
            steps = steps_per_epoch or -(-n // batch_size)
        val = self._validation(validation_data, validation_steps,
                               validation_batch_size or batch_size,
                               None if bs.is_stream(x) else val_arrays)
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=steps)
        skip_nonfinite = any(getattr(c, "skip_nonfinite_update", False) for c in cbs.callbacks)
        want_begin = cbs.wants("on_train_batch_begin")
        want_end = cbs.wants("on_train_batch_end")
        self.stop_training = False
        epoch_logs = {}
        custom = ts.overridden(self, "train_step")  # else the fast loop below
        self._initial_epoch = None
        cbs.on_train_begin()
        # A callback may move the start (BackupAndRestore resuming), as Keras' trainer.
        initial_epoch = self._initial_epoch or initial_epoch
        for epoch in range(initial_epoch, epochs):
            if self._step is not None:
                self._step.reset()
                if custom:
                    ts.reset_for_epoch(self)
            cbs.on_epoch_begin(epoch)
            seen = 0
            for b, (bx, by, bsw) in enumerate(train()):
                if want_begin:
                    cbs.on_train_batch_begin(b)
                step = self._step
                if custom:  # a user's train_step(data): its returned dict is the log
                    epoch_logs = ts.pythonify(self.train_step(ts.pack(bx, by, bsw)))
                    logs_now = dict(epoch_logs).copy
                else:
                    step.train_step(bx, by, bsw, skip_nonfinite)
                    logs_now = step.logs
                seen += 1
                if want_end:
                    cbs.train_batch_end_lazy(b, logs_now)
                if self.stop_training:
                    break
            if not seen:  # a used-up generator: Keras has warned "ran out of data"
                break
            epoch_logs = dict(epoch_logs) if custom else self._step.logs()
            if val is not None and _should_eval(epoch, validation_freq):
                val_logs = val(cbs)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)
        return self.history

    def _check_targets_given(self, y, what):
        """Targets are needed unless ``compile`` had no loss (``add_loss`` only)."""
        if y is None and any(loss is not None for loss in self._resolved_losses):
            raise ValueError(f"Model '{self.name}': {what}() needs targets y (received "
                             "y=None).")

    def _validation(self, validation_data, validation_steps, batch_size, held_out):
        """A function of the callbacks returning the validation logs, or None."""
        if validation_data is None and held_out is None:
            return None
        if bs.is_stream(validation_data):
            source = bs.BatchStream(validation_data, validation_steps, False,
                                    "validation_data")
            batches = bs.stream_epochs(self, source, None, "validation")
            return lambda cbs: self._run_test(batches(), cbs)
        if held_out is None:
            vx, vy, vsw = da.unpack_validation_data(validation_data)
            held_out = self._prepare(vx, vy, vsw, None, "validation")[:3]
        return lambda cbs: self._test_loop(*held_out, batch_size, cbs, validation_steps)

    # ---------------------------------------------------------------- evaluate
    @engine_call()
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        if not self.compiled:
            raise ValueError(f"You must call compile() on model '{self.name}' before "
                             "evaluate().")
        batch_size = da.check_count("batch_size", batch_size, 32)
        verbose = da.verbosity(verbose)
        if bs.is_stream(x):
            source = bs.BatchStream(x, steps, False, "x")
            bs.check_stream_arguments(source.kind, y, sample_weight, None)
            batches, total = bs.stream_epochs(self, source, None, "evaluate")(), \
                source.steps_hint
            inputs = None
        else:
            self._check_targets_given(y, "evaluate")
            xs, ys, sw, n = self._prepare(x, y, sample_weight, None, "evaluate", check_x=False)
            # As predict: the first Dense may vouch for x batch by batch on the fast path
            # (no separate pass over all of x); otherwise x is checked here, up front.
            inputs = FiniteInputs(xs, deferred=evaluate_fast.applies(self, xs)
                                  and self._input_check_index() is not None)
            batches, total = None, steps or -(-n // batch_size)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=total)
        logs = self._test_loop(xs, ys, sw, batch_size, cbs, steps, inputs) \
            if batches is None else self._run_test(batches, cbs)
        if return_dict:
            return logs
        flat = self._flatten_logs(logs)
        return flat[0] if len(flat) == 1 else flat

    def _test_loop(self, xs, ys, sw, batch_size, cbs, steps=None, inputs=None) -> dict:
        """``inputs``: evaluate's ``FiniteInputs`` (None: x was checked by ``_prepare``)."""
        n = len(xs[0])
        total = -(-n // batch_size) if steps is None else min(steps, -(-n // batch_size))
        if total > 0 and self._step is not None and evaluate_fast.applies(self, xs):
            return evaluate_fast.test_loop(self, xs, ys, sw, batch_size, total, cbs, inputs)
        if inputs is not None:
            inputs.check_all()
        batches = (([a[s:s + batch_size] for a in xs], [a[s:s + batch_size] for a in ys],
                    da.weights_like([w[s:s + batch_size] for w in da.weights_as_list(sw)],
                                    sw))
                   for s in range(0, total * batch_size, batch_size))
        return self._run_test(batches, cbs)

    def _run_test(self, batches, cbs) -> dict:
        """Test steps over ``(xs, ys, sw)`` batches; the step is made by the first batch's
        ``_prepare`` when the data come from a stream."""
        if self._step is not None:
            self._step.reset()
        want_end = cbs.wants("on_test_batch_end")
        custom, logs = ts.overridden(self, "test_step"), {}
        cbs.on_test_begin()
        b = -1
        for b, (bx, by, bsw) in enumerate(batches):
            if b == 0:
                self._step.reset()  # (a stream's first batch may have just made it)
                if custom:
                    ts.reset_for_epoch(self)
            cbs.on_test_batch_begin(b)
            if custom:  # a user's test_step(data): its returned dict is the log
                logs = ts.pythonify(self.test_step(ts.pack(bx, by, bsw)))
            else:
                self._step.test_step(bx, by, bsw)
            if want_end:
                cbs.on_test_batch_end(b, dict(logs) if custom else self._step.logs())
        if b < 0:
            raise ValueError(f"Model '{self.name}': the evaluation data gave no batches (a "
                             "generator used up by an earlier pass? Give an endless one "
                             "with validation_steps / steps).")
        logs = dict(logs) if custom else self._step.logs()
        cbs.on_test_end(logs)
        return logs

    # -------------------------------------------------------------- on_batch
    @engine_call()
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        if not self.compiled:
            raise ValueError(f"You must call compile() on model '{self.name}' before "
                             "train_on_batch().")
        xs, ys, sw, _ = self._prepare(x, y, sample_weight, class_weight, "train_on_batch")
        self.reset_metrics()  # as Keras: the result is this batch's alone
        if ts.overridden(self, "train_step"):
            ts.reset_for_epoch(self)
            return self._batch_result(return_dict, ts.pythonify(
                self.train_step(ts.pack(xs, ys, sw))))
        self._step.train_step(xs, ys, sw)
        return self._batch_result(return_dict)

    @engine_call()
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        if not self.compiled:
            raise ValueError(f"You must call compile() on model '{self.name}' before "
                             "test_on_batch().")
        xs, ys, sw, _ = self._prepare(x, y, sample_weight, None, "test_on_batch")
        self.reset_metrics()
        if ts.overridden(self, "test_step"):
            ts.reset_for_epoch(self)
            return self._batch_result(return_dict, ts.pythonify(
                self.test_step(ts.pack(xs, ys, sw))))
        self._step.test_step(xs, ys, sw)
        return self._batch_result(return_dict)

    def _batch_result(self, return_dict, logs=None):
        logs = self._step.logs() if logs is None else logs
        if return_dict:
            return logs
        flat = self._flatten_logs(logs)
        return flat[0] if len(flat) == 1 else flat

    def reset_metrics(self):
        if self._step is not None:
            self._step.reset()


def _should_eval(epoch, validation_freq):
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in validation_freq

