"""Keras' sequence data helpers: ``pad_sequences`` and ``timeseries_dataset_from_array``
(re-exported by ``core.utils``, as ``keras.utils`` has them).

>>> pad_sequences([[1], [2, 3], [4, 5, 6]]).tolist()
[[0, 0, 1], [0, 2, 3], [4, 5, 6]]
>>> ds = timeseries_dataset_from_array(np.arange(10), None, sequence_length=3,
...                                    sequence_stride=3, batch_size=2)
>>> [b.tolist() for b in ds]
[[[0, 1, 2], [3, 4, 5]], [[6, 7, 8]]]
"""

from __future__ import annotations

import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad (or truncate) each sequence to ``maxlen`` (default: the longest) as Keras.

    ``padding``/``truncating``: "pre" (at the start, Keras' default) or "post".
    Returns a (num_samples, maxlen, *sample_shape) array of ``dtype``.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    lengths, sample_shape, found = [], (), False
    for x in sequences:
        try:
            lengths.append(len(x))
        except TypeError:
            raise ValueError("`sequences` must be a list of iterables. "
                             f"Found non-iterable: {x!s}") from None
        if not found and len(x):
            sample_shape, found = np.asarray(x).shape[1:], True
    if maxlen is None:
        maxlen = int(np.max(lengths)) if lengths else 0
    is_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_str:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}\nYou should set `dtype=object` for variable length "
                         "strings.")
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type "{truncating}" not understood')
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood')
    out = np.full((len(sequences), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or maxlen == 0:
            continue
        trunc = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError(f"Shape of sample {trunc.shape[1:]} of sequence at position {i} "
                             f"is different from expected shape {sample_shape}")
        if padding == "post":
            out[i, :len(trunc)] = trunc
        else:
            out[i, -len(trunc):] = trunc
    return out


class TimeseriesDataset:
    """Batches of windows over a series; iterate it (again for every epoch).

    Yields ``(x, y)`` numpy batches (``x`` only when there are no targets); ``len()``
    is the number of batches; ``start_positions`` are the windows' first indices
    (relative to ``start_index``) in the order they are yielded.
    """

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size):
        self._data, self._targets = data, targets
        self.start_positions = starts
        self._offsets = np.arange(sequence_length) * sampling_rate
        self.batch_size = batch_size

    def __len__(self):
        n = len(self.start_positions)
        return n if self.batch_size is None else -(-n // self.batch_size)

    def _item(self, starts):
        x = self._data[starts[..., None] + self._offsets]
        return x if self._targets is None else (x, self._targets[starts])

    def __iter__(self):
        starts = self.start_positions
        if self.batch_size is None:
            for s in starts:
                yield self._item(np.asarray(s))
            return
        for b in range(0, len(starts), self.batch_size):
            yield self._item(starts[b:b + self.batch_size])


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """Sliding windows over ``data`` (time on axis 0), as Keras 3's function.

    Window ``i`` holds ``data[start_index + p_i + k * sampling_rate]`` for ``k`` in
    ``range(sequence_length)``, with ``p_i = i * sequence_stride``; its target is
    ``targets[start_index + p_i]``. Windows must end before ``end_index``; with targets,
    there are at most ``len(targets)`` of them. ``shuffle`` permutes the windows with
    ``np.random.RandomState(seed)`` as Keras does first (Keras' tf.data pipeline then
    also shuffles within a buffer, which has no numpy equivalent).

    >>> x, y = next(iter(timeseries_dataset_from_array(
    ...     np.arange(20), np.arange(20) * 10, 4, sampling_rate=2, batch_size=1)))
    >>> x.tolist(), y.tolist()
    ([[0, 2, 4, 6]], [0])
    """
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError("`start_index` must be 0 or greater. Received: "
                             f"start_index={start_index}")
        if start_index >= n:
            raise ValueError("`start_index` must be lower than the length of the data. "
                             f"Received: start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError("`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index} ")
        if end_index >= n:
            raise ValueError("`end_index` must be lower than the length of the data. "
                             f"Received: end_index={end_index}, for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index="
                             f"{end_index}")
    if sampling_rate <= 0:
        raise ValueError("`sampling_rate` must be higher than 0. Received: "
                         f"sampling_rate={sampling_rate}")
    if sampling_rate >= n:
        raise ValueError("`sampling_rate` must be lower than the length of the data. "
                         f"Received: sampling_rate={sampling_rate}, for data of length {n}")
    if sequence_stride <= 0:
        raise ValueError("`sequence_stride` must be higher than 0. Received: "
                         f"sequence_stride={sequence_stride}")
    if sequence_stride >= n:
        raise ValueError("`sequence_stride` must be lower than the length of the data. "
                         f"Received: sequence_stride={sequence_stride}, for data of length {n}")
    start_index = start_index or 0
    end_index = n if end_index is None else end_index
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    starts = np.arange(0, max(num_seqs, 0), sequence_stride, dtype=np.int64)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(starts)
    data_slice = np.asarray(data)[start_index:end_index]
    target_slice = None if targets is None else np.asarray(targets)[start_index:]
    return TimeseriesDataset(data_slice, target_slice, starts, sequence_length,
                             sampling_rate, batch_size)
