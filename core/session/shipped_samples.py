"""The shipped text and time-series samples as data-panel sources (no Qt, no network).

``resources/`` carries 3,000 VADER sentences (MIT) and the weekly Mauna Loa CO2 series
(public domain); ``core.datasets.sequence_data`` reads them. The sequence templates name
these sources, so a new text classifier or forecaster trains at once, offline:

* ``text_sample``: token ids from a ``TextVectorization`` adapted on the training
  sentences only (the templates' vocabulary size and sequence length), the sentences
  kept beside them for the results' misclassified list and the sentence box;
* ``series_sample``: every window of the series with its float target (regression);
  ``fit``'s validation split is then the last part by time.

>>> ds = series_dataset()
>>> ds.task, ds.window
('regression', 52)
"""

from __future__ import annotations

import numpy as np

from core.datasets.sequence_data import load_series_sample, load_text_sample, series_windows
from core.graph import templates as T
from core.session.data_source import Dataset

N_TRAIN = 2400  # of the 3,000 shipped sentences, in file order; the rest are the test set


def text_dataset() -> Dataset:
    from core.layers import TextVectorization

    texts, labels, classes = load_text_sample()
    tv = TextVectorization(max_tokens=T.VOCAB, output_sequence_length=T.SEQ_LEN)
    tv.adapt(texts[:N_TRAIN])  # the vocabulary sees no held-out sentence
    ids = np.asarray(tv(texts)).astype(np.int64)
    return Dataset("VADER sentences", ids[:N_TRAIN], labels[:N_TRAIN], ids[N_TRAIN:],
                   labels[N_TRAIN:], tuple(classes), texts_train=texts[:N_TRAIN],
                   texts_test=texts[N_TRAIN:], vocabulary=tv.get_vocabulary(),
                   target_name="sentiment")


def series_dataset() -> Dataset:
    x, y = series_windows(load_series_sample(), T.WINDOW, T.HORIZON)
    return Dataset("Mauna Loa CO2 (weekly)", x.astype(np.float32), y.astype(np.float32),
                   task="regression", target_name="co2_ppmv", window=T.WINDOW,
                   horizon=T.HORIZON)


LOADERS = {"text_sample": text_dataset, "series_sample": series_dataset}
