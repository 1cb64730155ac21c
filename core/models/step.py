"""One training / test step, shared by ``fit``, ``evaluate`` and the ``*_on_batch`` calls.

``CompiledStep`` is built once per ``compile`` from the model's outputs, the
per-output losses, loss weights and metrics. A training step is::

    with Tape() as tape:                       # every layer records itself
        preds = model(x, training=True)
    loss, grads = losses(y, preds)              # d loss / d preds
    tape.backward(preds, grads)                 # writes var.grad
    optimizer.apply(grads_of_vars, vars)        # in place

When an output layer ends in ``softmax`` and its loss is (sparse) categorical
crossentropy on probabilities, the step uses the fused gradient w.r.t. the
logits (``loss.value_and_logits_grad``) and back-propagates it through a shallow
copy of the layer whose activation is the identity (the layer itself is never
modified), saving the softmax Jacobian pass.

>>> # built by Model.compile; see core.models.trainer
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np

from core import backend
from core.activation_ops import Activation
from core.autodiff import Tape
from core.ops.engine import plain
from core.regularizers import weight_penalties

_IDENTITY = Activation()
_ONE = np.ones(())  # the seed of each weight penalty in tape.backward


def is_sparse_loss(loss) -> bool:
    return type(loss).__name__ == "SparseCategoricalCrossentropy"


class OutputSpec:
    """Loss, weight, metrics and fused-gradient layer of one model output."""

    __slots__ = ("name", "loss", "weight", "metrics", "fused_layer", "shape")

    def __init__(self, name, loss, weight, metrics, fused_layer, shape):
        self.name = name
        self.loss = loss
        self.weight = weight
        self.metrics = metrics
        self.fused_layer = fused_layer
        self.shape = shape


def fusable_layer(layer, loss):
    """The output layer when its softmax can be fused with ``loss``, else None."""
    act = getattr(layer, "activation", None)
    if layer is None or act is None or getattr(act, "name", None) != "softmax":
        return None
    if getattr(act, "axis", -1) not in (-1, [-1], (-1,)):
        return None
    if not hasattr(loss, "value_and_logits_grad") or getattr(loss, "from_logits", True):
        return None
    if getattr(loss, "label_smoothing", 0.0):
        return None
    if not layer._has_backward():
        return None
    return layer


class CompiledStep:
    """Runs train/test steps and keeps running sums for the epoch's logs."""

    def __init__(self, model, outputs: list[OutputSpec], optimizer):
        self.model = model
        self.outputs = outputs
        self.optimizer = optimizer
        self.multi = len(outputs) > 1
        inputs = getattr(model, "inputs", None)
        self.multi_input = bool(inputs) and len(inputs) > 1
        self._vars = None
        self._grads = None
        self._activity = []  # (output, regularizer) of the last step's layer calls
        # After one step through model.call (every Layer.__call__ check), steps run the
        # model's execution plan (``model._infer``; core.models.inference.run_plain).
        self._planned = False
        self._views = {}  # id(layer) -> (layer, its identity-activation view)
        from core.models.compiled import CompiledModel
        self.custom_loss = type(model).compute_loss is not CompiledModel.compute_loss
        self.reset()

    # ----------------------------------------------------------- running sums
    def reset(self):
        self.loss_sum = 0.0
        self.out_loss_sums = [0.0] * len(self.outputs)
        self.count = 0
        for spec in self.outputs:
            for m in spec.metrics:
                m.reset_state()

    def logs(self) -> dict:
        """Keras 3 logs: metric results and losses, keys sorted."""
        n = max(self.count, 1)
        logs = {"loss": self.loss_sum / n}
        if self.multi:
            for spec, s in zip(self.outputs, self.out_loss_sums):
                if spec.loss is not None:
                    logs[f"{spec.name}_loss"] = s / n
        for spec in self.outputs:
            for m in spec.metrics:
                key = f"{spec.name}_{m.name}" if self.multi else m.name
                logs[key] = float(m.result())
        return dict(sorted(logs.items()))

    # ------------------------------------------------------------------ steps
    def _call_model(self, xs, training):
        # The data were validated once for the whole fit/evaluate call, so the step
        # skips the model-level Layer.__call__ checks and runs ``call`` directly; its
        # layers go through Layer.__call__ on the first step, then plain layers run
        # as the plan's run_plain (same tape records; core/models/inference.py).
        x = xs if self.multi_input or len(xs) > 1 else xs[0]
        model = self.model
        state = backend._state
        previous = getattr(state, "training", False)
        state.training = training
        if model.__dict__.get("_added_losses"):
            model.__dict__["_added_losses"] = []  # call() runs without __call__
        try:
            with backend.collect_activity_losses() as self._activity:
                if self._planned:  # the first step checked every layer call
                    preds = model._infer(x, training=training)
                else:
                    preds = model.call(x, **model._call_arguments(training, {}))
                    self._planned = type(model).call is getattr(
                        type(model), "_infer_matches", None)
        finally:
            state.training = previous
        if isinstance(preds, dict):
            preds = list(preds.values())
        return list(preds) if isinstance(preds, (list, tuple)) else [preds]

    def _losses(self, ys, preds, sw, fused_ok: bool, want_grad: bool):
        total = 0.0
        grads = []
        for k, (spec, p) in enumerate(zip(self.outputs, preds)):
            y = ys[k] if k < len(ys) else None
            if spec.loss is None or y is None:  # losses only from add_loss (fit(x), no y)
                grads.append(None)
                continue
            swk = sw[k] if isinstance(sw, list) else sw  # one per output, or shared
            if want_grad and fused_ok and spec.fused_layer is not None:
                value, g = spec.loss.value_and_logits_grad(y, p, sample_weight=swk)
            elif want_grad:
                value, g = spec.loss.value_and_grad(y, p, sample_weight=swk)
            else:
                value, g = spec.loss(y, p, sample_weight=swk), None
            if spec.weight != 1.0 and g is not None:
                g = g * spec.weight
            self.out_loss_sums[k] += value * len(p)
            total += spec.weight * value
            grads.append(g)
        return total, grads

    def _update_metrics(self, ys, preds):
        for spec, y, p in zip(self.outputs, ys, preds):  # (no targets: no metrics)
            for m in spec.metrics:
                m.update_state(y, p)

    def compiled_loss(self, ys, preds, sw):
        """The compiled losses, weighted and summed, as one op whose VJP is each loss's
        own gradient: what ``Model.compute_loss`` returns (so an override may call it)."""
        from core.ops.engine import run
        chosen = [k for k, spec in enumerate(self.outputs)
                  if spec.loss is not None and k < len(ys) and ys[k] is not None]

        def forward(*outs):
            total, grads = 0.0, []
            for k, p in zip(chosen, outs):
                spec = self.outputs[k]
                value, g = spec.loss.value_and_grad(
                    ys[k], p, sample_weight=sw[k] if isinstance(sw, list) else sw)
                total += spec.weight * value
                grads.append(g * spec.weight)
            dtype = outs[0].dtype if outs else np.float32
            return np.asarray(total, dtype), grads

        def vjp(grads, g, need):
            return [gi * g if n else None for gi, n in zip(grads, need)]
        return run("compiled_loss", forward, vjp, [preds[k] for k in chosen])

    def _custom_train_step(self, xs, ys, sw, skip_nonfinite) -> float:
        """A ``compute_loss`` override: its returned scalar (built with ``core.ops``) is
        the loss; the tape carries its gradient back through the model."""
        with Tape() as tape:
            preds = self._call_model(xs, training=True)
            loss_t = self.model.compute_loss(**self._loss_arguments(xs, ys, preds, sw))
        loss = float(np.sum(plain(loss_t)))
        self._count_loss(loss, len(preds[0]), ys, preds)
        if skip_nonfinite and not math.isfinite(loss):
            return loss
        touched = tape.backward([loss_t], [np.ones(np.shape(plain(loss_t)),
                                                   np.result_type(plain(loss_t)))])
        tape.note_call(self.model)
        self._apply(touched)
        return loss

    def _loss_arguments(self, xs, ys, preds, sw) -> dict:
        one_in = not (self.multi_input or len(xs) > 1)
        one_out = not self.multi
        return {"x": xs[0] if one_in else xs,
                "y": (ys[0] if ys else None) if one_out else (ys or None),
                "y_pred": preds[0] if one_out else preds,
                "sample_weight": sw, "training": True}

    def _count_loss(self, loss, n, ys, preds):
        self.loss_sum += loss * n
        self.count += n
        self._update_metrics(ys, [plain(p) for p in preds])

    def train_step(self, xs, ys, sw=None, skip_nonfinite=False) -> float:
        if self.custom_loss:
            return self._custom_train_step(xs, ys, sw, skip_nonfinite)
        with Tape() as tape:
            # Weight penalties are ops on this tape, recorded before the forward so they
            # back-propagate last and add in place to what the layers wrote (on the first
            # step the weights may only exist after the forward).
            early = self._vars is not None
            penalties = self._weight_penalties() if early else None
            preds = self._call_model(xs, training=True)
            if not early:
                penalties = self._weight_penalties()
            act_loss, act_outs, act_grads, act_inputs = self._activity_penalty(want_grad=True)
        # The fused gradient is only valid when the recorded output is the softmax
        # layer's own output (not e.g. a later identity or slice).
        records = [None if spec.fused_layer is None else
                   _record_of(tape, p, spec.fused_layer) for spec, p in zip(self.outputs, preds)]
        if not act_outs and all(spec.loss is None for spec in self.outputs):
            self._trainable()
            if not self._regularized:
                raise ValueError("No loss to compute. Provide a `loss` argument in "
                                 "`compile()` (or add losses with `add_loss` in a layer's "
                                 "call).")
        # A penalized model output gets d/d(probabilities) too: no fused logits gradient.
        fused_ok = all(r is not None or spec.fused_layer is None
                       for r, spec in zip(records, self.outputs)) and not any(
            o is p for o in act_inputs for p in preds)
        # Losses and metrics see plain arrays (the tape keeps the Tracked outputs).
        values = [plain(p) for p in preds]
        loss, grads = self._losses(ys, values, sw, fused_ok, want_grad=True)
        loss += sum(float(p) for p in penalties) + act_loss
        n = len(preds[0])
        self.loss_sum += loss * n
        self.count += n
        self._update_metrics(ys, values)
        if skip_nonfinite and not math.isfinite(loss):
            return loss
        if fused_ok:
            for rec in records:
                if rec is not None:
                    # The gradient already is d loss / d logits: back-propagate through
                    # a shallow copy of the layer whose activation is the identity. The
                    # copy shares the variables; the real layer is never modified, so
                    # other threads reading it (configs, the editor) see no change.
                    rec.layer = self._identity_view(rec.layer)
        touched = tape.backward(preds + act_outs + penalties,
                                grads + act_grads + [_ONE] * len(penalties))
        tape.note_call(self.model)  # its own weights (a subclass's add_weight) count too
        missing = tape.variables_without_gradient(touched)
        if missing:
            warn_missing_gradients(self.model, missing)
        self._apply(touched)
        return loss

    def _identity_view(self, layer):
        """A shallow copy of ``layer`` whose activation is the identity, made once per
        layer and refreshed from the layer's attributes at every step (~1 us, where a
        fresh ``copy.copy`` cost ~8 us), so it never holds a stale attribute."""
        views = self._views
        view = views.get(id(layer))
        if view is None or view[0] is not layer:
            view = views[id(layer)] = (layer, _identity_activation_view(layer))
        d = view[1].__dict__
        d.update(layer.__dict__)
        d["activation"] = _IDENTITY
        return view[1]

    def _activity_penalty(self, want_grad: bool):
        """Keras 3's activity regularization of this step's layer outputs: each penalty
        divided by the output's batch size. With ``want_grad`` (under the tape) each
        penalty is an op on the output, returned with its seed ``1 / batch`` for
        ``tape.backward``, and the penalized outputs."""
        total, outs, grads, inputs = 0.0, [], [], []
        for out, reg in self._activity:
            if reg is None:  # an add_loss value: summed, as Keras' _aggregate_additional_loss
                value = plain(out)
                total += float(np.sum(value))
                if want_grad and hasattr(out, "shape"):
                    outs.append(out)
                    grads.append(np.ones(np.shape(value), np.result_type(value, np.float32)))
                continue
            n = out.shape[0] if out.ndim else 1
            if n == 0:
                continue  # Keras' divide_no_nan
            value = reg(out if want_grad else plain(out))
            total += float(value) / n
            if want_grad:
                outs.append(value)
                grads.append(np.asarray(1.0 / n))
                inputs.append(out)
        return total, outs, grads, inputs

    def _trainable(self):
        if self._vars is None:
            self._vars = [v for v in self.model.trainable_weights]
            self._regularized = [v for v in self._vars if v.regularizer is not None]
        return self._vars

    def _weight_penalties(self) -> list:
        """The trainable weights' penalties as ops on the running tape."""
        self._trainable()
        return weight_penalties(self._regularized) if self._regularized else []

    def _penalty(self) -> float:
        """The regularization loss: Keras 3 adds every trainable weight's penalty to
        the loss of fit's and evaluate's steps alike."""
        self._trainable()
        return float(sum(v.regularizer(v.value) for v in self._regularized))

    def _apply(self, touched):
        variables = self._trainable()
        if not touched.issuperset(variables):  # (ops may also touch other variables)
            # A variable unused this step gets a zero gradient, never a stale one.
            for v in variables:
                if v not in touched:
                    v.grad_buffer().fill(0)
        if self._grads is None or any(g is not v.grad for g, v in zip(self._grads, variables)):
            self._grads = [v.grad for v in variables]
        if variables:
            self.optimizer.apply(self._grads, variables)

    def test_step(self, xs, ys, sw=None) -> float:
        if self.custom_loss:
            preds = self._call_model(xs, training=False)
            args = dict(self._loss_arguments(xs, ys, preds, sw), training=False)
            loss = float(np.sum(plain(self.model.compute_loss(**args))))
            self._count_loss(loss, len(preds[0]), ys, preds)
            return loss
        preds = self._call_model(xs, training=False)
        loss, _ = self._losses(ys, preds, sw, False, want_grad=False)
        loss += self._penalty() + self._activity_penalty(want_grad=False)[0]
        n = len(preds[0])
        self.loss_sum += loss * n
        self.count += n
        self._update_metrics(ys, preds)
        return loss

    def predict_step(self, xs) -> list[np.ndarray]:
        return self._call_model(xs, training=False)


def warn_missing_gradients(model, missing) -> None:
    """Keras' warning for trainable weights the loss did not reach, once per model: a
    ``call`` that computes with plain numpy (or ``.value``) on a weight cuts its gradient."""
    if getattr(model, "_warned_missing_gradients", False):
        return
    object.__setattr__(model, "_warned_missing_gradients", True)
    names = [v.path for _, v in missing]
    where = ", ".join(f"layer '{layer.name}' weight '{v.name}'" for layer, v in missing)
    warnings.warn(
        f"Gradients do not exist for variables {names} when minimizing the loss ({where}). "
        "If a layer's call() computes with plain numpy (or a weight's .value), use "
        "core.ops so the gradient can flow.", UserWarning, stacklevel=4)


def _record_of(tape, array, layer):
    for rec in reversed(tape.records):
        if rec.layer is layer and any(o is array for o in rec.outputs):
            return rec
    return None


def _identity_activation_view(layer):
    view = copy.copy(layer)
    object.__setattr__(view, "activation", _IDENTITY)
    return view
