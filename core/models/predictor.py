"""``predict`` / ``predict_on_batch``: inference over batches, as Keras 3.

A mixin of ``Model`` (through ``Trainer``). The first batch goes through the model's
``__call__`` with every check; later batches of a Sequential or single-input
functional model take its ``_infer`` fast path, on every core at once when its layers
allow (``batch_threads``; ``core.models.inference`` says which). Then the checks run
on the first sample alone and every batch, batch 0 too, takes the fast path.
Outputs are copied into one preallocated array per model output at once,
because layers may reuse their buffers from batch to batch.

NaN/inf in x are refused with the same ``ValueError`` as in ``fit`` (naming the first
bad sample). ``FiniteInputs`` decides how that check runs.

>>> import numpy as np
>>> from core.models import Sequential
>>> from core.layers import Dense
>>> model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
>>> model.predict(np.ones((5, 4)), batch_size=2, verbose=0).shape
(5, 3)
"""

from __future__ import annotations

import threading

import numpy as np

from core.callbacks import CallbackList
from core.kernels.checks import all_finite
from core.models import batch_stream as bs
from core.models import batch_threads
from core.models import data_adapter as da
from core.runtime import engine_call


class FiniteInputs:
    """The NaN/inf check of ``predict``'s inputs: up front, or reported by the model.

    Up front is one parallel pass over all of x. A model whose first computing layer is
    a Dense (``_input_check_index``; ``core.models.inference``) can instead report it
    per batch: every input value of a sample enters every pre-activation of its row there,
    so a NaN or inf anywhere in the sample makes that whole row NaN or inf (NaN * w and
    inf * 0 are NaN, inf * w is +-inf, and NaN/inf survive the sum). Checking that
    small output while it is in cache (~3 us for 256 x 128) replaces a second read of
    all of x from memory (0.7-1.1 ms of a 12 ms Fashion-MNIST MLP predict). A batch
    whose row is not finite triggers the exact check of all of x, so the error is the
    same as ``fit``'s, though raised when that batch is reached (earlier batches'
    ``on_predict_batch_end`` hooks have run). Finite data that merely overflowed, or
    non-finite weights, pay that one check and are then known to be clean.

    >>> import numpy as np
    >>> FiniteInputs([np.array([[1.0, np.nan]])], deferred=True).pending
    True
    """

    def __init__(self, arrays, deferred: bool):
        self.arrays = arrays
        self.pending = True
        self._lock = threading.Lock()  # batches may report from several threads
        if not deferred:
            self.check_all()

    def check_all(self):
        """The exact check of every input (raises ``ValueError`` naming the sample)."""
        with self._lock:
            if self.pending:
                for arr, name in zip(self.arrays, da.input_names(self.arrays)):
                    da.check_finite(arr, name)
                self.pending = False

    def check_batch(self, batch):
        """Exact check of one batch about to run outside the model's own report."""
        if self.pending and not all(all_finite(b.reshape(-1)) for b in batch
                                    if b.dtype.char in "fd" and b.size):
            self.check_all()

    def report(self, finite: bool):
        """The model's word on a batch: False when a row it computed was not finite."""
        if not finite:
            self.check_all()


class Predictor:
    @engine_call()
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        batch_size = da.check_count("batch_size", batch_size, 32)
        if bs.is_stream(x):
            return self._predict_stream(x, verbose, steps, callbacks)
        xs, _, _, n = self._prepare(x, None, None, None, "predict", check_x=False)
        custom = _custom_predict_step(self)  # a user's predict_step(data), per batch
        fast = len(xs) == 1 and type(self).call is getattr(type(self), "_infer_matches", None) \
            and not custom
        inputs = FiniteInputs(xs, deferred=fast and self._input_check_index() is not None)
        verbose = da.verbosity(verbose)
        total = -(-n // batch_size) if steps is None else min(steps, -(-n // batch_size))
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=total)
        outs, multi, keys = [], [], []
        threaded = fast and self._reentrant_inference() and \
            not cbs.wants("on_predict_batch_begin")
        checked = [False]  # batch 0 (or the probe row) passed every Layer.__call__ check

        def results(preds):
            if isinstance(preds, dict):  # dict outputs: sorted keys, as Keras' tree
                keys[:] = sorted(preds)
                preds = [preds[k] for k in keys]
            plist = list(preds) if isinstance(preds, (list, tuple)) else [preds]
            if not outs:  # the first call, which always runs alone, sizes the results
                multi.append(isinstance(preds, (list, tuple)))
                rows = min(n, total * batch_size)
                outs.extend(np.empty((rows,) + p.shape[1:], p.dtype) for p in plist)
            return plist

        def run_batch(b):
            s, e = b * batch_size, min((b + 1) * batch_size, n)
            if checked[0]:
                preds = self._infer(xs[0][s:e], inputs)
            else:
                batch = [a[s:e] for a in xs]
                inputs.check_batch(batch)
                x_b = batch[0] if len(batch) == 1 else batch
                preds = self.predict_step((x_b,)) if custom else self(x_b, training=False)
                checked[0] = fast
            for o, p in zip(outs, results(preds)):
                o[s:e] = p  # copied at once: layers may reuse their output buffers

        def end(b):
            views = [o[b * batch_size:(b + 1) * batch_size] for o in outs]
            packed = dict(zip(keys, views)) if keys else views if multi[0] else views[0]
            cbs.on_predict_batch_end(b, {"outputs": packed})

        cbs.on_predict_begin()
        alone = 1
        if threaded and n > 1 and total > batch_threads.MIN_BATCHES:
            # Every check on one sample, then every batch on every core: a whole batch 0
            # alone first kept the second core idle for ~0.9 ms of a 12 ms MLP predict.
            probe = xs[0][:1]
            inputs.check_batch([probe])
            results(self(probe, training=False))
            checked[0], alone = True, 0
        if not (threaded and batch_threads.run(
                total, run_batch, end if cbs.wants("on_predict_batch_end") else None,
                alone=alone)):
            for b in range(total):
                cbs.on_predict_batch_begin(b)
                run_batch(b)
                end(b)
        cbs.on_predict_end()
        if keys:
            return dict(zip(keys, outs))
        return outs if multi[0] else outs[0]

    def _predict_stream(self, x, verbose, steps, callbacks):
        """``predict`` over a ``PyDataset``/generator/loader: each batch's ``x`` (its
        targets are ignored, as in Keras), outputs concatenated along the batch axis."""
        source = bs.BatchStream(x, steps, False, "x")
        verbose = da.verbosity(verbose)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=source.steps_hint)
        parts, keys = [], None
        cbs.on_predict_begin()
        for b, raw in enumerate(source.epoch()):
            cbs.on_predict_batch_begin(b)
            bx = bs.unpack_batch(raw, f"predict: {source.kind}")[0]
            xs = self._prepare(bx, None, None, None, "predict")[0]
            preds = self(xs[0] if len(xs) == 1 else xs, training=False)
            if isinstance(preds, dict):
                keys = sorted(preds)
                preds = [preds[k] for k in keys]
            plist = [np.array(p) for p in
                     (preds if isinstance(preds, (list, tuple)) else [preds])]
            parts.append((plist, isinstance(preds, (list, tuple))))
            cbs.on_predict_batch_end(b, {"outputs": dict(zip(keys, plist)) if keys else
                                         plist if parts[0][1] else plist[0]})
        cbs.on_predict_end()
        if not parts:
            raise ValueError(f"Model '{self.name}': predict() received no batches.")
        outs = [np.concatenate(o) for o in zip(*(p for p, _ in parts))]
        if keys:
            return dict(zip(keys, outs))
        return outs if parts[0][1] else outs[0]

    def _input_check_index(self):
        """Where in the inference plan the model reports non-finite inputs; None: nowhere
        (``Sequential`` overrides this)."""
        return None

    def _reentrant_inference(self) -> bool:
        """Whether several threads may run inference at once (``Sequential`` overrides)."""
        return False

    @engine_call()
    def predict_on_batch(self, x):
        xs, _, _, _ = self._prepare(x, None, None, None, "predict_on_batch")
        preds = self(xs[0] if len(xs) == 1 else xs, training=False)
        if isinstance(preds, dict):
            return {k: np.array(v) for k, v in preds.items()}
        multi = isinstance(preds, (list, tuple))
        return [np.array(p) for p in preds] if multi else np.array(preds)


def _custom_predict_step(model) -> bool:
    from core.models.train_step import overridden
    return hasattr(model, "predict_step") and overridden(model, "predict_step")
