"""``TensorBoard``: Keras 3's scalar (and weight-histogram) logs, as TensorBoard reads them.

Event files are written by ``tensorboardX`` (an optional extra:
``pip install netweaver[tensorboard]``); without it the callback refuses to be
made, saying so. The layout and tags are Keras': ``log_dir/train`` holds
``epoch_<metric>`` and ``epoch_learning_rate`` at step = epoch,
``log_dir/validation`` the ``val_`` metrics without their prefix, plus
``evaluation_<metric>_vs_iterations`` at step = optimizer iterations after every
evaluation; with ``update_freq="batch"`` or ``N``, ``batch_<metric>`` every N
training batches; with ``histogram_freq=N``, ``<weight path>/histogram`` every N
epochs; ``write_steps_per_second`` adds ``epoch_steps_per_second`` (and
``batch_steps_per_second`` with batch updates). Not written (there is no
TensorFlow graph or profiler here): ``write_graph`` is accepted and writes
nothing; ``write_images``, ``profile_batch`` and ``embeddings_freq`` are refused
when turned on.

>>> tb = TensorBoard(log_dir="logs")   # doctest: +SKIP
>>> model.fit(x, y, epochs=5, validation_split=0.2, callbacks=[tb])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time

import numpy as np

from core.callbacks.base import Callback


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(
            "The TensorBoard callback writes event files with the 'tensorboardX' package, "
            "which is not installed. Install it with `pip install tensorboardX` (or the "
            "netweaver[tensorboard] extra).") from None
    return SummaryWriter


class TensorBoard(Callback):
    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        self._writer_class = _summary_writer_class()
        for name, value in (("write_images", write_images), ("profile_batch", profile_batch),
                            ("embeddings_freq", embeddings_freq)):
            if value:
                raise ValueError(f"TensorBoard: {name}={value!r} is not supported here (no "
                                 "TensorFlow images, profiler or projector); leave it off.")
        if update_freq != "batch" and update_freq != "epoch" and (
                isinstance(update_freq, bool) or not isinstance(update_freq, int)
                or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq={update_freq!r} is invalid; expected "
                             "'epoch', 'batch' or a positive integer.")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or \
                histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq={histogram_freq!r} must be an "
                             "integer >= 0.")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers = {}
        self._global_train_batch = 0
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")

    def _writer(self, which: str):
        writer = self._writers.get(which)
        if writer is None:
            folder = self._train_dir if which == "train" else self._val_dir
            writer = self._writers[which] = self._writer_class(logdir=folder)
        return writer

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start = (time.perf_counter(), self._iterations())

    def _iterations(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return 0
        return int(np.asarray(getattr(optimizer.iterations, "value", optimizer.iterations)))

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or not isinstance(logs, dict):
            return
        if self._global_train_batch % self.update_freq == 0:
            writer = self._writer("train")
            if self.write_steps_per_second:
                elapsed = max(time.perf_counter() - self._batch_start, 1e-9)
                writer.add_scalar("batch_steps_per_second", 1.0 / elapsed,
                                  self._global_train_batch)
            for name, value in logs.items():
                writer.add_scalar(f"batch_{name}", float(value), self._global_train_batch)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not logs:
            return
        step = self._iterations()
        writer = self._writer("validation")
        for name, value in logs.items():
            writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value), step)
        writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        if logs:
            train = {k: v for k, v in logs.items() if not k.startswith("val_")}
            val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
            optimizer = getattr(self.model, "optimizer", None)
            if optimizer is not None and hasattr(optimizer, "learning_rate"):
                train["learning_rate"] = float(np.asarray(
                    getattr(optimizer.learning_rate, "value", optimizer.learning_rate)))
            if self.write_steps_per_second and getattr(self, "_epoch_start", None):
                began, iterations = self._epoch_start
                train["steps_per_second"] = (self._iterations() - iterations) / max(
                    time.perf_counter() - began, 1e-9)
            for which, values in (("train", train), ("validation", val)):
                if values:
                    writer = self._writer(which)
                    for name, value in values.items():
                        writer.add_scalar(f"epoch_{name}", float(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            writer = self._writer("train")
            for layer in self.model.layers:
                for weight in layer.weights:
                    name = (getattr(weight, "path", None) or weight.name).replace(":", "_")
                    writer.add_histogram(f"{name}/histogram", np.asarray(weight.value), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        self._close_writers()
