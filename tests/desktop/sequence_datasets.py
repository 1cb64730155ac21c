"""The shipped text and time-series samples as ``Dataset``s (the data panel's
``text_sample`` / ``series_sample`` sources), for the training tests."""

from desktop.training.shipped_samples import N_TRAIN, series_dataset, text_dataset

__all__ = ["N_TRAIN", "series_dataset", "text_dataset"]
