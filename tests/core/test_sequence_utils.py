"""``pad_sequences`` and ``timeseries_dataset_from_array`` against real Keras 3 (when
importable) and Keras' documented examples."""

from __future__ import annotations

import os

import numpy as np
import pytest

from core.utils import pad_sequences, timeseries_dataset_from_array

SEQS = [[1], [2, 3], [4, 5, 6, 7], [], [8, 9, 10]]


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("kwargs", [
    {}, {"maxlen": 2}, {"maxlen": 6, "padding": "post"}, {"maxlen": 3, "truncating": "post"},
    {"value": -1.0}, {"dtype": "float32", "value": 0.5, "padding": "post"},
])
def test_pad_sequences_matches_keras(kwargs):
    keras = _keras()
    want = keras.utils.pad_sequences(SEQS, **kwargs)
    got = pad_sequences(SEQS, **kwargs)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_pad_sequences_docs_examples_and_errors():
    seq = [[1], [2, 3], [4, 5, 6]]
    assert pad_sequences(seq).tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad_sequences(seq, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]
    assert pad_sequences(seq).dtype == np.int32
    vectors = pad_sequences([np.ones((1, 2)), np.ones((3, 2))], dtype="float32")
    assert vectors.shape == (2, 3, 2) and vectors[0, 0].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="Padding type"):
        pad_sequences(seq, padding="middle")
    with pytest.raises(ValueError, match="non-iterable"):
        pad_sequences([1, 2])
    with pytest.raises(ValueError, match="different from expected shape"):
        pad_sequences([np.ones((1, 2)), np.ones((3, 3))])


def _windows(ds):
    xs, ys = [], []
    for batch in ds:
        x, y = batch if isinstance(batch, tuple) else (batch, None)
        xs.append(np.asarray(x))
        if y is not None:
            ys.append(np.asarray(y))
    return xs, ys


def test_timeseries_example_1_indices():
    ds = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10,
                                       sampling_rate=2, sequence_stride=3, batch_size=128)
    (x,), _ = _windows(ds)
    assert x[0].tolist() == list(range(0, 20, 2))
    assert x[1].tolist() == list(range(3, 23, 2))
    assert x[-1].tolist() == list(range(78, 98, 2))
    assert len(ds) == 1 and len(x) == 27


def test_timeseries_example_2_targets_and_batches():
    data = np.arange(100, dtype="float32")
    ds = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10,
                                       batch_size=16)
    xs, ys = _windows(ds)
    assert [len(x) for x in xs] == [16] * 5 + [1] and len(ds) == 6
    np.testing.assert_array_equal(xs[0][0], data[:10])
    assert ys[0][0] == data[10]
    np.testing.assert_array_equal(np.concatenate(ys), data[10:91])


def test_timeseries_start_end_shuffle_and_unbatched():
    data = np.arange(50).reshape(25, 2)
    ds = timeseries_dataset_from_array(data, np.arange(25), 3, start_index=4, end_index=20,
                                       batch_size=None)
    items = list(ds)
    assert len(items) == 14 and len(ds) == 14
    x0, y0 = items[0]
    assert x0.tolist() == data[4:7].tolist() and y0 == 4
    assert items[-1][0][-1].tolist() == data[19].tolist()
    shuffled = timeseries_dataset_from_array(data, np.arange(25), 3, start_index=4,
                                             end_index=20, shuffle=True, seed=7, batch_size=5)
    xs, ys = _windows(shuffled)
    perm = np.arange(14)
    np.random.RandomState(7).shuffle(perm)
    np.testing.assert_array_equal(np.concatenate(ys), perm + 4)  # Keras' own permutation
    np.testing.assert_array_equal(np.concatenate(xs)[:, 0], data[perm + 4])
    assert _windows(shuffled)[1][0].tolist() == ys[0].tolist()  # same order every epoch
    with pytest.raises(ValueError, match="end_index"):
        timeseries_dataset_from_array(data, None, 3, start_index=5, end_index=5)
    with pytest.raises(ValueError, match="sampling_rate"):
        timeseries_dataset_from_array(data, None, 3, sampling_rate=0)


@pytest.mark.parametrize("kwargs", [
    {"sequence_length": 5}, {"sequence_length": 4, "sequence_stride": 3, "sampling_rate": 2},
    {"sequence_length": 3, "start_index": 2, "end_index": 30, "batch_size": 4},
    {"sequence_length": 3, "batch_size": None},
])
def test_timeseries_matches_keras_grain(kwargs):
    keras = _keras()
    pytest.importorskip("grain", reason="Keras' numpy-side timeseries needs grain (or tf)")
    data, targets = np.arange(80).reshape(40, 2), np.arange(40) * 10
    theirs = _windows(keras.utils.timeseries_dataset_from_array(
        data, targets, format="grain", **kwargs))
    ours = _windows(timeseries_dataset_from_array(data, targets, **kwargs))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))
