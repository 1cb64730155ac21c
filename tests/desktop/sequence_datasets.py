"""The shipped text and time-series samples as ``Dataset``s, the shape the data panel's
loaders give them (token ids with their sentences and vocabulary; CO2 windows with
float targets), so the training tests do not depend on the panel's file choosers."""

from __future__ import annotations

import numpy as np

from core.datasets.sequence_data import load_series_sample, load_text_sample, series_windows
from core.graph import templates as T
from desktop.training.data_source import Dataset

N_TRAIN = 2400  # of the 3,000 shipped sentences, in file order


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
    """Every window for training; ``fit``'s validation split is then the last 20% by time."""
    x, y = series_windows(load_series_sample(), T.WINDOW, T.HORIZON)
    return Dataset("Mauna Loa CO2 (weekly)", x.astype(np.float32), y.astype(np.float32),
                   task="regression", target_name="co2_ppmv", window=T.WINDOW,
                   horizon=T.HORIZON)
