"""Dense fuses its bias add into the activation: each fused path gives the activation's
own values (an independent float64 numpy reference)."""

import numpy as np


def test_dense_log_softmax_is_the_log_of_softmax():
    # Dense fuses its bias into the activation; log_softmax once took softmax's fused kernel.
    from core.layers import Dense
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 4)).astype("float32")
    layer = Dense(6, activation="log_softmax")
    y = layer(x)
    z = x.astype("float64") @ layer.kernel.value + layer.bias.value
    ref = z - z.max(-1, keepdims=True)
    ref = ref - np.log(np.exp(ref).sum(-1, keepdims=True))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
