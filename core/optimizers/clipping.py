"""Gradient clipping by norm, as Keras 3's optimizers do it, as one scale per gradient.

``clipnorm`` scales each gradient to norm at most ``clipnorm``
(``g * c / max(||g||, c)``); ``global_clipnorm`` scales all of them together
(``g * c / max(||all||, c)``; NaN scales when that norm is not finite). ``gscale``
(loss-scale or accumulation factor) multiplies every gradient first.

>>> import numpy as np
>>> clip_scales([(0, np.array([3.0, 4.0], "float32"))], 1.0, clipnorm=1.0, global_clipnorm=None)
[0.2]
"""

from __future__ import annotations

import math

from core.kernels import optim as _k


def clip_scales(pairs, gscale, clipnorm, global_clipnorm) -> list:
    """The factor each flat gradient of ``pairs`` ((index, gradient) pairs) is scaled by."""
    if clipnorm and clipnorm > 0:
        c = clipnorm
        return [gscale * c / max(math.sqrt(_k.sum_squares(g)) * gscale, c) for _, g in pairs]
    if global_clipnorm and global_clipnorm > 0:
        c = global_clipnorm
        norm = math.sqrt(sum(_k.sum_squares(g) for _, g in pairs)) * gscale
        if not math.isfinite(norm):
            return [math.nan] * len(pairs)
        return [gscale * (c * min(1.0 / norm, 1.0 / c) if norm > 0 else 1.0)] * len(pairs)
    return [gscale] * len(pairs)
