"""``compile`` and what it sets up: a loss, weight and metrics per output, the step.

A base of ``Trainer`` (``core.models.trainer``: ``fit``, ``evaluate``, ``*_on_batch``)
and so of every ``Model``, as Keras 3 keeps ``compile``, ``compute_loss`` and
``metrics`` in its base trainer (``keras/src/trainers/trainer.py``). The step itself
(``core.models.step.CompiledStep``) is made on the first data, when the target shapes
are known; a model built already resolves its metric names at ``compile``, so a typo
fails there.

>>> from core.models import Sequential
>>> from core.layers import Dense
>>> model = Sequential([Dense(2, input_shape=(3,))])
>>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
>>> model.compiled, model.metrics_names
(True, ['loss'])
"""

from __future__ import annotations

from core.models.predictor import Predictor
from core.models.step import CompiledStep, OutputSpec, fusable_layer


class CompiledModel(Predictor):
    """Compile state of a model: optimizer, losses per output, metrics, the step."""

    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.loss_weights = None
        self.stop_training = False
        self.history = None
        self._step = None
        self._compile_args = None
        self._initial_epoch = None  # set by BackupAndRestore.on_train_begin

    # ---------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        from core import losses as losses_mod
        from core import optimizers as optimizers_mod

        opt = optimizers_mod.get(optimizer)
        self._compile_args = dict(optimizer=optimizer, loss=loss, loss_weights=loss_weights,
                                  metrics=metrics)
        self.optimizer = opt
        self.loss = loss
        self.loss_weights = loss_weights
        self._resolved_losses = self._per_output(loss, "loss", losses_mod.get)
        self._resolved_weights = self._per_output(
            1.0 if loss_weights is None else loss_weights, "loss_weights", float)
        self._metric_specs = metrics
        self.compiled = True
        self._step = None  # made on first data, when the target shapes are known
        self.stop_training = False
        if self.built and all(loss is not None for loss in self._resolved_losses):
            try:
                self._make_step()  # resolves the metric names now: typos fail at compile
            finally:
                self._step = None

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras 3's ``compute_loss``: the compiled losses (weighted, summed) plus the
        sum of ``self.losses`` (``add_loss`` values and weight penalties). ``fit`` and
        ``evaluate`` call an override with the batch and the model's outputs; return a
        scalar built with ``core.ops`` so its gradient reaches the weights. As in Keras,
        weight penalties count (loss and gradient) only when the override adds
        ``self.losses`` (or calls ``super().compute_loss``).

        >>> class MSEModel(Model):   # doctest: +SKIP
        ...     def compute_loss(self, x, y, y_pred, sample_weight=None, training=True):
        ...         return ops.mean((y_pred - y) ** 2)
        """
        from core import ops
        step = self._step if self._step is not None else self._make_step()
        ys = y if isinstance(y, (list, tuple)) else ([] if y is None else [y])
        if isinstance(y_pred, dict):
            y_pred = [y_pred[k] for k in sorted(y_pred)]
        preds = list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]
        total = step.compiled_loss(ys, preds, sample_weight)
        for extra in self.losses:
            total = ops.add(total, ops.sum(extra))
        return total

    def _output_names(self) -> list[str]:
        names = getattr(self, "output_names", None)
        return list(names) if names else [self.name]

    def _per_output(self, value, what, convert):
        names = self._output_names()
        n = len(names)
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(names))
            if unknown:
                raise ValueError(f"Model '{self.name}': {what} has keys {unknown} that are not "
                                 f"output names {names}.")
            return [None if value.get(k) is None else convert(value[k]) for k in names]
        if isinstance(value, (list, tuple)) and what != "metrics":
            if len(value) != n:
                raise ValueError(f"Model '{self.name}': {what} has {len(value)} entries but the "
                                 f"model has {n} output(s) {names}.")
            return [None if v is None else convert(v) for v in value]
        converted = None if value is None else convert(value)
        return [converted] * n

    def _make_step(self, ys=None) -> CompiledStep:
        from core import metrics as metrics_mod

        if not self.compiled:
            raise ValueError(f"You must call compile() on model '{self.name}' before using it "
                             "for training or evaluation.")
        if any(loss is None for loss in self._resolved_losses) and \
                any(loss is not None for loss in self._resolved_losses):
            raise ValueError(f"Model '{self.name}' was compiled without a loss for every output "
                             f"({self._output_names()}); pass loss=... to compile().")
        names = self._output_names()
        out_layers = self._output_layers()
        out_shapes = self._output_shapes()
        specs = []
        for k, name in enumerate(names):
            loss = self._resolved_losses[k]
            wanted = self._metric_specs
            if isinstance(wanted, dict):
                wanted = wanted.get(name)
            elif isinstance(wanted, (list, tuple)) and wanted and \
                    isinstance(wanted[0], (list, tuple)):
                wanted = wanted[k] if k < len(wanted) else None
            if isinstance(wanted, str) or (wanted is not None and
                                           not isinstance(wanted, (list, tuple))):
                wanted = [wanted]
            y_shape = None if ys is None or k >= len(ys) else (None,) + ys[k].shape[1:]
            metrics = [m if hasattr(m, "update_state") else
                       metrics_mod.get(m, y_true_shape=y_shape, y_pred_shape=out_shapes[k],
                                       loss=loss)
                       for m in (wanted or [])]
            specs.append(OutputSpec(name, loss, self._resolved_weights[k], metrics,
                                    fusable_layer(out_layers[k], loss), out_shapes[k]))
        self._step = CompiledStep(self, specs, self.optimizer)
        return self._step

    def _output_layers(self) -> list:
        outputs = getattr(self, "outputs", None)
        if outputs:
            return [t._keras_history[0] if t._keras_history else None for t in outputs]
        return [None] * len(self._output_names())

    def _output_shapes(self) -> list:
        outputs = getattr(self, "outputs", None)
        if outputs:
            return [tuple(t.shape) for t in outputs]
        return [None] * len(self._output_names())

    @property
    def metrics_names(self) -> list[str]:
        if self._step is None:
            return ["loss"] if self.compiled else []
        return list(self._flatten_logs(self._step.logs(), keys_only=True))

    @property
    def metrics(self) -> list:
        if self._step is None:
            return []
        return [m for spec in self._step.outputs for m in spec.metrics]

    def _flatten_logs(self, logs, keys_only=False):
        """Keras' order: ``loss`` first, then the other keys sorted."""
        keys = ["loss"] + sorted(k for k in logs if k != "loss")
        return keys if keys_only else [logs[k] for k in keys]
