"""BatchSmoother: per-batch values recovered from Keras' running means, smoothed."""

import numpy as np

from core.session.smoothing import BatchSmoother


def test_smoother_recovers_batch_values_from_running_means():
    rng = np.random.default_rng(0)
    values = rng.random(12)
    running = np.cumsum(values) / np.arange(1, 13)  # what fit logs at each batch end
    exact = BatchSmoother(alpha=1.0)  # no smoothing: the batch values themselves
    got = [exact.update(b, {"loss": m})["loss"] for b, m in enumerate(running)]
    np.testing.assert_allclose(got, values, rtol=1e-10)


def test_smoother_is_a_bias_corrected_moving_average_across_epochs():
    sm = BatchSmoother(alpha=0.5)
    out = [sm.update(0, {"acc": 1.0})["acc"]]           # epoch 1, batch 0
    out.append(sm.update(0, {"acc": 0.0})["acc"])        # epoch 2 restarts the running mean
    # EMA: e1 = 0.5, e2 = 0.25; bias-corrected: 0.5/0.5 = 1, 0.25/0.75 = 1/3
    np.testing.assert_allclose(out, [1.0, 1.0 / 3.0])
