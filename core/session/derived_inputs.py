"""Inputs computed from the loaded images, for networks with a second, small Input.

An Input node named after an entry of ``DERIVED`` is fed that function of the data
set's images when the data set has no array of that name itself. ``ink_bands`` is what
the *Two inputs* template's ``ink_bands`` Input reads: the mean ink of equal horizontal
bands (top to bottom), then of equal vertical bands (left to right), so the second
branch sees where the strokes lie, coarsely, next to the full image.

>>> img = np.zeros((1, 4, 4), np.float32); img[0, :2, :] = 1.0   # ink in the top half
>>> ink_bands(img, 4).tolist()
[[1.0, 0.0, 0.5, 0.5]]
"""

from __future__ import annotations

import numpy as np


def ink_bands(images: np.ndarray, count: int) -> np.ndarray:
    """``(n, count)`` float32: ``count // 2`` row bands then ``count - count // 2`` column
    bands of the mean value of ``images`` (n, H, W) or (n, H, W, C)."""
    a = np.asarray(images, np.float32)
    if a.ndim == 4:
        a = a.mean(axis=-1)
    if a.ndim != 3:
        raise ValueError(f"ink_bands: needs images (n, H, W[, C]), got shape {a.shape}.")
    rows, cols = count // 2, count - count // 2
    if rows < 1 or rows > a.shape[1] or cols > a.shape[2]:
        raise ValueError(f"ink_bands: cannot cut {a.shape[1:]} images into {rows} row and "
                         f"{cols} column bands.")
    by_row, by_col = a.mean(axis=2), a.mean(axis=1)  # (n, H), (n, W)
    r = [b.mean(axis=1) for b in np.array_split(by_row, rows, axis=1)]
    c = [b.mean(axis=1) for b in np.array_split(by_col, cols, axis=1)]
    return np.stack(r + c, axis=1).astype(np.float32)


DERIVED = {"ink_bands": ink_bands}
