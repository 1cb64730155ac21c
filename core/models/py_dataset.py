"""``keras.utils.PyDataset``: a Python-indexed source of whole batches for ``fit``.

Subclass it with ``__len__`` (or a ``num_batches`` property; ``None`` means
infinite) and ``__getitem__(index)`` returning ``x``, ``(x,)``, ``(x, y)`` or
``(x, y, sample_weight)``; ``on_epoch_begin``/``on_epoch_end`` run around every
epoch. ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are accepted
and stored as Keras does, but batches are always fetched in-process, one at a
time, on the training thread (no worker pool in this engine).

>>> import numpy as np
>>> class Halves(PyDataset):
...     def __init__(self, x, y, **kwargs):
...         super().__init__(**kwargs)
...         self.x, self.y = x, y
...     def __len__(self):
...         return 2
...     def __getitem__(self, i):
...         s = slice(i * 5, (i + 1) * 5)
...         return self.x[s], self.y[s]
>>> data = Halves(np.ones((10, 3)), np.zeros(10), workers=4)
>>> data.num_batches, data.workers
(2, 4)
"""

from __future__ import annotations

import itertools


class PyDataset:
    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    # Keras keeps these as settable properties; a subclass that forgot
    # super().__init__() still gets Keras' defaults.
    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index) "
                                  "returning one batch.")

    @property
    def num_batches(self):
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement __len__ or the `num_batches` property "
            "(None for an infinite dataset).")

    def __iter__(self):
        n = self.num_batches
        for index in (range(n) if n is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass
