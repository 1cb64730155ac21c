"""Callbacks that watch a monitored quantity: ``EarlyStopping``, ``ModelCheckpoint`` and
``ReduceLROnPlateau``.

>>> stop = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
>>> ckpt = ModelCheckpoint("model_{epoch:02d}.keras", save_best_only=True)
>>> plateau = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=3, min_lr=1e-5)
"""

from __future__ import annotations

import math
import operator
import sys
import warnings

import numpy as np

from core.callbacks.base import Callback

_MAX_HINTS = ("acc", "auc", "precision", "recall", "f1", "fmeasure", "iou")


def _monitor_op(owner: str, monitor: str, mode: str):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode={mode!r} is invalid; expected 'auto', 'min' or 'max'.")
    if mode == "min":
        return operator.lt
    if mode == "max":
        return operator.gt
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss" or name.endswith("_loss") or "error" in name or "crossentropy" in name:
        return operator.lt
    if any(h in name for h in _MAX_HINTS):
        return operator.gt
    raise ValueError(
        f"{owner} received monitor={monitor!r}, but cannot tell whether it should be "
        "maximized or minimized. Pass mode='max' or mode='min'."
    )


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving (Keras 3 rules)."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if patience < 0 or start_from_epoch < 0:
            raise ValueError(f"EarlyStopping: patience={patience} and start_from_epoch="
                             f"{start_from_epoch} must be >= 0.")
        self.monitor = monitor
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.mode = mode
        self.monitor_op = _monitor_op("EarlyStopping", monitor, mode)
        if self.monitor_op is operator.lt:
            self.min_delta *= -1
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _is_improvement(self, value, reference) -> bool:
        if reference is None:
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))

    def get_monitor_value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs or {})}", stacklevel=2)
        return value

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if _finite(current) and self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            sys.stdout.write(f"Epoch {self.stopped_epoch + 1}: early stopping\n")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                sys.stdout.write("Restoring model weights from the end of the best epoch: "
                                 f"{self.best_epoch + 1}.\n")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (``.keras``) or its weights (``.weights.h5``) every epoch, every
    ``save_freq`` batches, or only when ``monitor`` improves."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        filepath = str(filepath)
        if save_weights_only and not filepath.endswith(".weights.h5"):
            raise ValueError("ModelCheckpoint: when save_weights_only=True, filepath must end "
                             f"in `.weights.h5`. Received: filepath={filepath}")
        if not save_weights_only and not filepath.endswith(".keras"):
            # Keras 3 also takes a legacy full-model `.h5` here; that format is not
            # written by this engine, so say so now rather than at the first save.
            legacy = " (legacy full-model `.h5` files are not written here)" \
                if filepath.endswith(".h5") else ""
            raise ValueError("ModelCheckpoint: the filepath must end in `.keras` (or use "
                             "save_weights_only=True with `.weights.h5`)" + legacy +
                             f". Received: filepath={filepath}")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"ModelCheckpoint: save_freq={save_freq!r} is invalid; expected "
                             "'epoch' or a positive integer number of batches.")
        self.filepath = filepath
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"ModelCheckpoint: mode={mode!r} is invalid; expected 'auto', "
                             "'min' or 'max'.")
        if mode == "max" or (mode == "auto" and ("acc" in monitor or
                                                 monitor.startswith("fmeasure"))):
            self.monitor_op, default = operator.gt, -np.inf
        else:
            self.monitor_op, default = operator.lt, np.inf
        self.best = default if initial_value_threshold is None else initial_value_threshold
        self._batches_seen = 0
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self._batches_seen += 1
            if self._batches_seen % self.save_freq == 0:
                self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch, batch, logs) -> str:
        try:
            if batch is None or "batch" not in self.filepath:
                return self.filepath.format(epoch=epoch + 1, **(logs or {}))
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **(logs or {}))
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: failed to format filepath {self.filepath!r}; "
                           f"key {e} is not in the logs {sorted(logs or {})}.") from None

    def _save(self, epoch, batch, logs):
        logs = logs or {}
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, "
                              "skipping.", stacklevel=2)
                return
            if not (_finite(current) and self.monitor_op(current, self.best)):
                if self.verbose > 0:
                    sys.stdout.write(f"\nEpoch {epoch + 1}: {self.monitor} did not improve "
                                     f"from {self.best:.5f}\n")
                return
            if self.verbose > 0:
                sys.stdout.write(f"\nEpoch {epoch + 1}: {self.monitor} improved from "
                                 f"{self.best:.5f} to {current:.5f}, saving model to {path}\n")
            self.best = current
        elif self.verbose > 0:
            sys.stdout.write(f"\nEpoch {epoch + 1}: saving model to {path}\n")
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)


class ReduceLROnPlateau(Callback):
    """Multiply the optimizer's learning rate by ``factor`` once ``monitor`` has not
    improved (by more than ``min_delta``) for ``patience`` epochs, never below
    ``min_lr``; then wait ``cooldown`` epochs before counting again. Adds
    ``learning_rate`` to each epoch's logs (so ``History`` records it), as Keras 3."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        if "epsilon" in kwargs:  # Keras' old name for min_delta
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unrecognized keyword argument(s) "
                            f"{sorted(kwargs)}")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.monitor_op = _monitor_op("ReduceLROnPlateau", monitor, mode)
        self.min_delta = abs(min_delta) * (-1 if self.monitor_op is operator.lt else 1)
        self._reset()

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          f"which is not available. Available metrics are: "
                          f"{','.join(logs)}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.best is None or self.monitor_op(current - self.min_delta, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        sys.stdout.write(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing "
                                         f"learning rate to {new_lr}.\n")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
