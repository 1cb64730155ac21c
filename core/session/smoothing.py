"""Per-batch curve values from ``fit``'s running means (no Qt; the app's curves and any
headless progress display read the same numbers).

>>> sm = BatchSmoother(alpha=1.0)     # alpha 1: no smoothing, the batch values themselves
>>> sm.update(0, {"loss": 1.0}), sm.update(1, {"loss": 0.75})
({'loss': 1.0}, {'loss': 0.5})
"""

from __future__ import annotations


class BatchSmoother:
    """Per-batch values from Keras' per-epoch running means, smoothed across the run.

    ``fit`` logs at batch ``b`` the mean over batches ``0..b`` of the epoch; with equal
    batch sizes the value of batch ``b`` alone is ``m_b (b+1) - m_(b-1) b``. Those are
    noisy (a 32-sample accuracy moves in steps of 1/32), so the curve shows their
    exponential moving average (bias-corrected as Adam does) — it does not reset at
    epoch boundaries the way the running mean does.
    """

    def __init__(self, alpha: float = 0.05):
        self.alpha = float(alpha)
        self.prev: dict[str, float] = {}
        self.ema: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def update(self, batch: int, logs: dict) -> dict:
        out = {}
        for k, v in logs.items():
            if batch == 0 or k not in self.prev:
                inst = v
            else:
                inst = v * (batch + 1) - self.prev[k] * batch
            self.prev[k] = v
            n = self.count.get(k, 0) + 1
            self.count[k] = n
            e = self.ema.get(k, 0.0) * (1.0 - self.alpha) + self.alpha * inst
            self.ema[k] = e
            out[k] = e / (1.0 - (1.0 - self.alpha) ** n)
        return out
