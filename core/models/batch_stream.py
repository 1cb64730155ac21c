"""Data that arrives as whole batches: ``PyDataset``, Python generators/iterators and
re-iterable loaders (a PyTorch ``DataLoader`` or any iterable of ``(x, y)`` batches).

``BatchStream`` follows Keras 3's ``EpochIterator``: with ``steps`` (fit's
``steps_per_epoch``, ``validation_steps``, evaluate/predict's ``steps``) the same
iterator carries on across epochs and is only restarted once a source of known
length is used up; without ``steps`` every epoch is one full pass. A source that
runs dry early ends the epoch with Keras' "ran out of data" warning. Each batch
is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` of numpy arrays,
torch tensors or nested lists/dicts of them; ``Trainer`` converts and checks
every batch as it would whole arrays.

>>> import numpy as np
>>> def gen():
...     while True:
...         yield np.ones((4, 2)), np.zeros(4)
>>> stream = BatchStream(gen(), steps=3, shuffle=False, what="x")
>>> [unpack_batch(b)[0].shape for b in stream.epoch()]
[(4, 2), (4, 2), (4, 2)]
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from core.models.py_dataset import PyDataset

_RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your "
            "dataset or generator can generate at least `steps_per_epoch * epochs` "
            "batches. You may need to use the `.repeat()` function when building your "
            "dataset.")


def is_stream(x) -> bool:
    """True for batch sources; arrays, tensors, lists, tuples and dicts are data."""
    if isinstance(x, PyDataset):
        return True
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    if hasattr(x, "shape") or hasattr(x, "__array__"):
        return False  # a tensor or a table (torch tensors, DataFrames iterate too)
    return hasattr(x, "__next__") or hasattr(x, "__iter__")


def _kind(x) -> str:
    if isinstance(x, PyDataset):
        return "PyDataset"
    if hasattr(x, "__next__"):
        return "Python generator"
    for parent in type(x).__mro__:
        if parent.__name__ == "DataLoader" and "torch.utils.data" in parent.__module__:
            return "torch DataLoader"
    return "iterable"


def check_stream_arguments(kind, y, sample_weight, class_weight, validation_split=0.0):
    """Keras' refusals for arguments a batch source already carries (or cannot use)."""
    for name, value, what in (("y", y, "the targets"),
                              ("sample_weight", sample_weight, "the sample weights")):
        if value is not None:
            raise ValueError(f"When providing `x` as a {kind}, `{name}` should not be passed. "
                             f"Instead, {what} should be included as part of the {kind}.")
    if class_weight is not None and kind != "PyDataset":
        raise ValueError(f"Argument `class_weight` is not supported for {kind} inputs; "
                         "return (x, y, sample_weight) batches instead. Received: "
                         f"class_weight={class_weight}")
    if validation_split:
        raise ValueError("`validation_split` is only supported for Tensors or NumPy arrays. "
                         f"Found: x of type {kind}; pass validation_data instead.")


class BatchStream:
    """One source of batches, iterated epoch by epoch with Keras' step rules."""

    def __init__(self, data, steps=None, shuffle=False, what="x"):
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)
                                  or steps < 1):
            raise ValueError(f"{what}: steps={steps!r} is invalid; expected a positive "
                             "integer or None.")
        self.data = data
        self.kind = _kind(data)
        self.what = what
        self.steps = steps
        self.shuffle = shuffle
        self._num_batches = self._length()
        self._iterator = None
        self._seen = 0
        self.ran_out = False

    def _length(self):
        if isinstance(self.data, PyDataset):
            return self.data.num_batches
        if self.kind != "Python generator" and hasattr(self.data, "__len__"):
            return len(self.data)
        return None

    @property
    def steps_hint(self):
        """Steps per epoch for the progress bar and ``params`` (None: unknown)."""
        return self.steps or self._num_batches

    def _new_iterator(self):
        data = self.data
        if isinstance(data, PyDataset):
            n = data.num_batches
            if n is None:
                return (data[i] for i in itertools.count())
            order = np.arange(n)
            if self.shuffle:  # Keras shuffles the batch order of a finite PyDataset
                from core import random as core_random
                order = core_random.rng().permutation(n)
            return (data[int(i)] for i in order)
        return iter(data)

    def epoch(self):
        """This epoch's raw batches; ``ran_out`` tells afterwards if the source ended early."""
        self.ran_out = False
        if isinstance(self.data, PyDataset):
            self.data.on_epoch_begin()
        try:
            limit = self.steps or self._num_batches
            if not limit:
                iterator, self._seen = self._new_iterator(), 0
                for batch in iterator:
                    self._seen += 1
                    yield batch
                self._num_batches = self._num_batches or self._seen or None
                if not self._seen:
                    self.ran_out = True
                    warnings.warn(_RAN_OUT, UserWarning, stacklevel=3)
                return
            if self._iterator is None or self.steps is None:
                self._iterator, self._seen = self._new_iterator(), 0
            for _ in range(limit):
                if self._num_batches and self._seen >= self._num_batches:
                    if self.steps:
                        self.ran_out = True
                        warnings.warn(_RAN_OUT, UserWarning, stacklevel=3)
                    break
                try:
                    batch = next(self._iterator)
                except StopIteration:
                    if self._num_batches is None:
                        self._num_batches = self._seen
                    self._iterator = None
                    self.ran_out = True
                    warnings.warn(_RAN_OUT, UserWarning, stacklevel=3)
                    break
                self._seen += 1
                yield batch
            if self._num_batches and self._seen >= self._num_batches:
                self._iterator, self._seen = None, 0  # restarted on the next epoch
        finally:
            if isinstance(self.data, PyDataset):
                self.data.on_epoch_end()


def unpack_batch(batch, what="batch"):
    """Keras' ``unpack_x_y_sample_weight``: ``(x, y, sample_weight)`` of one batch."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if len(batch) == 1:
        return batch[0], None, None
    if len(batch) == 2:
        return batch[0], batch[1], None
    if len(batch) == 3:
        return batch
    raise ValueError(f"{what}: each batch must be x, (x,), (x, y) or (x, y, sample_weight); "
                     f"received a tuple of {len(batch)} elements.")


def stream_epochs(model, source, class_weight, what):
    """Each epoch's batches of a ``BatchStream``, converted and checked one by one by
    ``model._prepare`` (as whole arrays are)."""
    def epoch():
        for raw in source.epoch():
            bx, by, bsw = unpack_batch(raw, f"{what}: {source.kind}")
            model._check_targets_given(by, what)
            xs, ys, sw, _ = model._prepare(bx, by, bsw, class_weight, what)
            yield xs, ys, sw
    return epoch
