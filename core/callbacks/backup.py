"""``BackupAndRestore``: resume an interrupted ``fit`` where it stopped (Keras 3).

Every epoch (or every ``save_freq`` batches) the callback writes
``backup_dir/latest.weights.h5`` — the model's weights *and* its optimizer's
state (iterations, moments), Keras' ``save_weights`` layout — and
``backup_dir/training_metadata.json`` (``{"epoch": next epoch, "batch": ...}``),
each atomically. When ``fit`` starts again with the same callback directory, the
weights and optimizer state are loaded and training continues at the saved
epoch (``model._initial_epoch``, which ``fit`` reads after ``on_train_begin``,
as Keras' trainer does). A completed ``fit`` deletes the directory unless
``delete_checkpoint=False``. ``double_checkpoint=True`` keeps the previous pair
as ``*.bkp`` and falls back to it when the latest weights cannot be read.

>>> backup = BackupAndRestore("/tmp/backup")
>>> model.fit(x, y, epochs=10, callbacks=[backup])  # doctest: +SKIP
>>> # (interrupted in epoch 7; the same call again runs epochs 7-10 only)
"""

from __future__ import annotations

import json
import os
import shutil

from core.callbacks.base import Callback


class BackupAndRestore(Callback):
    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or
                                     not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError("Invalid value for argument `save_freq`. Received: "
                             f"save_freq={save_freq}. Expected either 'epoch' or an integer "
                             "value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._training_metadata_path = os.path.join(self.backup_dir,
                                                    "training_metadata.json")
        self._prev_weights_path = self._weights_path + ".bkp"
        self._prev_training_metadata_path = self._training_metadata_path + ".bkp"
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        try:
            self._load_model()
        except (OSError, ValueError) as e:
            # The latest weights are unreadable (a crash mid-way through another
            # writer): fall back to the previous pair when there is one.
            if not os.path.exists(self._prev_weights_path):
                raise ValueError(f"BackupAndRestore: cannot restore from "
                                 f"{self._weights_path!r}: {e}") from e
            shutil.copyfile(self._prev_weights_path, self._weights_path)
            if os.path.exists(self._prev_training_metadata_path):
                shutil.copyfile(self._prev_training_metadata_path,
                                self._training_metadata_path)
            elif os.path.exists(self._training_metadata_path):
                os.remove(self._training_metadata_path)
            self._load_model()

    def _load_model(self):
        model = self.model
        if not model.built:
            raise ValueError("To use the BackupAndRestore callback, your model must be built "
                             f"before you call `fit()`. Model '{model.name}' is unbuilt. You "
                             "can build it beforehand by calling it on a batch of data.")
        if os.path.exists(self._weights_path):
            optimizer = model.optimizer
            if optimizer is not None and not optimizer.built:
                optimizer.build(model.trainable_variables)  # so its state can be loaded
            model.load_weights(self._weights_path)
        if os.path.exists(self._training_metadata_path):
            with open(self._training_metadata_path, encoding="utf-8") as f:
                try:
                    metadata = json.load(f)
                    epoch = int(metadata["epoch"])
                except (ValueError, KeyError, TypeError) as e:
                    raise ValueError(f"{self._training_metadata_path!r} is not a training "
                                     f"metadata file ({e}).") from None
            model._initial_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model()

    def _should_save_on_batch(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch (batches count from 0)
            add_batches = batch + 1
        else:
            add_batches = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add_batches
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save_model(self):
        from core.safety_writes import atomic_write

        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for src, dst in ((self._weights_path, self._prev_weights_path),
                             (self._training_metadata_path,
                              self._prev_training_metadata_path)):
                if os.path.exists(src):
                    shutil.copyfile(src, dst)
        self.model.save_weights(self._weights_path, overwrite=True)
        metadata = json.dumps({"epoch": self._current_epoch,
                               "batch": self._last_batch_seen}).encode()
        atomic_write(self._training_metadata_path, lambda f: f.write(metadata))

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
