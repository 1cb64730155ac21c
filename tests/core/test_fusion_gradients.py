"""A fused Conv2D + MaxPooling2D step trains exactly like the two layers it replaces,
wherever it sits: after the model input, after another fused step, or after a layer
(BatchNormalization, an activation) whose output is a tracked array. A fused step once
dropped the gradient for everything upstream of it when its input came from a layer
(``core.layers.fusion``: the tape links steps by array identity)."""

import warnings

import numpy as np
import pytest

from core import optimizers
from core.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    Input,
    MaxPooling2D,
    fusion,
)
from core.models import Sequential
from core.utils import set_random_seed

ARCHS = {
    "conv_first": lambda: [Conv2D(8, 3, activation="relu"), MaxPooling2D()],
    "fused_after_fused": lambda: [Conv2D(8, 3, activation="relu"), MaxPooling2D(),
                                  Conv2D(8, 3, padding="same", activation="relu"),
                                  MaxPooling2D()],
    "fused_after_batchnorm": lambda: [Conv2D(8, 3, activation="relu"), MaxPooling2D(),
                                      BatchNormalization(), Conv2D(8, 3, activation="relu"),
                                      MaxPooling2D()],
    "fused_after_activation": lambda: [Conv2D(8, 3), MaxPooling2D(), Activation("tanh"),
                                       Conv2D(40, 3, activation="relu"), MaxPooling2D()],
    "batchnorm_first": lambda: [BatchNormalization(), Conv2D(8, 3, activation="relu"),
                                MaxPooling2D()],
}


def _one_step(arch, fuse, monkeypatch):
    with monkeypatch.context() as m:
        if not fuse:
            m.setattr(fusion, "fusable", lambda conv, pool: False)
        set_random_seed(0)
        model = Sequential([Input((16, 16, 1)), *arch(), Flatten(),
                            Dense(10, activation="softmax")])
        model.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        x = rng.random((32, 16, 16, 1), dtype=np.float32)
        y = rng.integers(0, 10, 32)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "Gradients do not exist" fails the test
            model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        plan = [type(s).__name__ for s in fusion.execution_plan(model.layers)]
        return [w.numpy().copy() for w in model.weights], plan


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_fused_step_trains_like_the_separate_layers(name, monkeypatch):
    fused, plan = _one_step(ARCHS[name], True, monkeypatch)
    assert "ConvPool" in plan  # the case really runs fused
    separate, _ = _one_step(ARCHS[name], False, monkeypatch)
    for a, b in zip(fused, separate):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
