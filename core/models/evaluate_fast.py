"""``evaluate`` and fit's validation over in-memory arrays on ``predict``'s fast path.

The first batch runs the full test step (``CompiledStep.test_step``: every
``Layer.__call__`` check, and it makes the step); when batches run on every core, that
step runs on the first sample alone and is then forgotten (``step.reset``). The NaN/inf
check of ``evaluate``'s x is ``predict``'s (``core.models.predictor.FiniteInputs``):
the first Dense vouches for each later batch, so x is not read an extra time. Later
batches compute their outputs with the model's ``_infer`` (plain layers' ``forward`` directly; see
``core.models.inference``), on one thread per core when every layer is
``reentrant_inference`` (``core.models.batch_threads``), and the losses, metrics and
``on_test_batch_end`` hooks then run on the calling thread in batch order, as
``test_step`` runs them, so the logs are those of the step-by-step loop. Without
per-batch hooks, consecutive batches are scored together (up to ``MERGE_ROWS``
samples) when every loss and metric gives the same logs that way
(``Loss.merges_batches``, ``Metric.merges_batches``: built-in per-sample losses averaged
over the batch, built-in metrics that sum over samples); the logs then differ from the
loop's by float rounding only.

Not used (the caller runs its step-by-step loop) for several inputs, a subclass that
overrides ``call`` or ``test_step``, a ``compute_loss`` override, layers with an
activity regularizer (their penalty rides on ``Layer.__call__``) or masks, or a model
without a compiled loss.

>>> import numpy as np
>>> from core.layers import Dense
>>> from core.models import Sequential
>>> model = Sequential([Dense(2, input_shape=(3,))])
>>> model.compile(optimizer="sgd", loss="mse")
>>> round(model.evaluate(np.zeros((8, 3)), np.zeros((8, 2)), batch_size=2, verbose=0), 3)
0.0
"""

from __future__ import annotations

import numpy as np

from core.models import batch_threads
from core.models import data_adapter as da


def _all_layers(model):
    stack, seen = list(getattr(model, "layers", None) or []), []
    while stack:
        layer = stack.pop()
        seen.append(layer)
        stack.extend(getattr(layer, "layers", None) or [])
    return seen


def applies(model, xs) -> bool:
    """Whether ``model``'s test batches after the first may take ``_infer``."""
    if len(xs) != 1 or type(model).call is not getattr(type(model), "_infer_matches", None):
        return False
    if model._step is not None and model._step.custom_loss:
        return False
    from core.models import train_step as ts
    if ts.overridden(model, "test_step"):
        return False  # a user's test_step (Keras' public hook) is what evaluate runs
    if any(loss is None for loss in model._resolved_losses):
        return False
    for layer in _all_layers(model):
        if getattr(layer, "activity_regularizer", None) is not None:
            return False
        if getattr(layer, "_creates_masks", lambda: False)():
            return False  # masks (and the losses they weight) ride on Layer.__call__
    return True


def _as_list(preds):
    if isinstance(preds, dict):  # as CompiledStep._call_model
        return list(preds.values())
    return list(preds) if isinstance(preds, (list, tuple)) else [preds]


# Batches scored together: up to MERGE_ROWS samples (a group scored at the end is a
# serial tail: ~60 ns a sample for crossentropy and accuracy) or MERGE_BYTES of outputs.
MERGE_ROWS = 2048
MERGE_BYTES = 1 << 23


def _merges(step) -> bool:
    """Whether every compiled loss and metric scores stacked batches as it scores each
    batch in turn (``Loss.merges_batches``, ``Metric.merges_batches``)."""
    return all((spec.loss is None or spec.loss.merges_batches())
               and all(m.merges_batches() for m in spec.metrics) for spec in step.outputs)


def test_loop(model, xs, ys, sw, batch_size, total, cbs, inputs=None) -> dict:
    """The logs of ``total`` test batches of ``batch_size`` (see the module docstring);
    ``inputs``: ``evaluate``'s pending NaN/inf check of x (``predictor.FiniteInputs``),
    made batch by batch as ``predict`` makes it (None: x was checked already)."""
    step = model._step
    step.reset()
    want_end = cbs.wants("on_test_batch_end")
    want_begin = cbs.wants("on_test_batch_begin")
    n = len(xs[0])
    weights = da.weights_as_list(sw)
    outputs = [None] * total
    # Batches delivered but not yet scored. Without per-batch hooks, consecutive batches
    # are scored together when every loss and metric allows it: per batch, the losses and
    # metrics cost ~36 us of Python holding the GIL, 2 ms of a 13 ms MLP evaluate.
    pending = {"first": None, "merge": None}  # the first unscored batch; merging or not

    def rows(first, last):
        return first * batch_size, min((last + 1) * batch_size, n)

    def batch(b):
        s, e = rows(b, b)
        return ([a[s:e] for a in ys], da.weights_like([w[s:e] for w in weights], sw), s, e)

    threaded = not want_begin and model._reentrant_inference()
    probed = threaded and n > 1 and total > batch_threads.MIN_BATCHES

    def work(b):
        by, bsw, s, e = batch(b)
        if b == 0 and not probed:
            if inputs is not None:
                inputs.check_batch([xs[0][s:e]])
            step.test_step([xs[0][s:e]], by, bsw)
        else:  # kept until scored: reentrant layers allocate their outputs per call
            outputs[b] = _as_list(model._infer(xs[0][s:e], inputs))

    def score(first, last):
        """The test step's losses and metrics for batches ``first`` to ``last``."""
        s, e = rows(first, last)
        parts = outputs[first:last + 1]
        outputs[first:last + 1] = [None] * len(parts)
        preds = parts[0] if len(parts) == 1 else [np.concatenate(c) for c in zip(*parts)]
        by, bsw = [a[s:e] for a in ys], da.weights_like([w[s:e] for w in weights], sw)
        loss, _ = step._losses(by, preds, bsw, False, want_grad=False)
        loss += step._penalty()  # (no activity penalties: applies() said so)
        step.loss_sum += loss * (e - s)
        step.count += e - s
        step._update_metrics(by, preds)

    def deliver(b):
        if b > 0 or probed:
            if pending["merge"] is None:  # (after the first step: metrics know their form)
                pending["merge"] = not want_end and _merges(step)
            if not pending["merge"]:
                score(b, b)
            else:
                first = b if pending["first"] is None else pending["first"]
                s, e = rows(first, b)
                row_bytes = sum(o.nbytes // max(len(o), 1) for o in outputs[b])
                if b == total - 1 or e - s >= MERGE_ROWS or (e - s) * row_bytes >= MERGE_BYTES:
                    score(first, b)
                    first = None
                pending["first"] = first
        if want_end:
            cbs.on_test_batch_end(b, step.logs())

    cbs.on_test_begin()
    if probed:
        # The full test step (every check; it makes the step) on one sample, forgotten,
        # then every batch on every core: batch 0 alone kept the second core idle.
        if inputs is not None:
            inputs.check_batch([xs[0][:1]])
        step.test_step([xs[0][:1]], [a[:1] for a in ys],
                       da.weights_like([w[:1] for w in weights], sw))
        step.reset()
    if not (threaded and batch_threads.run(total, work, deliver, alone=0 if probed else 1)):
        for b in range(total):
            cbs.on_test_batch_begin(b)
            work(b)
            deliver(b)
    logs = step.logs()
    cbs.on_test_end(logs)
    return logs
