"""Masked recurrent layers exported to ONNX against real Keras 3 (torch backend), in
process: Keras' weights into our model, its ONNX file in onnxruntime equals Keras'
predict within 1e-5 for masked steps at the start, inside, at the end and a fully
masked row. Skipped when Keras is not importable."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")

from core import layers as L  # noqa: E402
from core.export.onnx import export_onnx  # noqa: E402
from core.models import Sequential  # noqa: E402
from tests.export.test_onnx_sequence import masked_steps  # noqa: E402

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch",
                                reason="compares with Keras on the torch backend")

CASES = [
    ("LSTM", {"return_sequences": True}),
    ("GRU", {"go_backwards": True, "return_sequences": True}),
    ("GRU", {"reset_after": False}),
    ("SimpleRNN", {"activation": "relu"}),
]


def _pair(make):
    """The same stack in Keras and here: Masking, then ``make(layers module)``."""
    k = keras.Sequential([keras.Input((7, 3)), keras.layers.Masking(), *make(keras.layers)])
    ours = Sequential([L.Input((7, 3)), L.Masking(), *make(L)])
    rng = np.random.default_rng(2)
    k.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in k.get_weights()])
    ours.set_weights(k.get_weights())
    return k, ours


@pytest.mark.parametrize("kind,kw", CASES, ids=[f"{c}-{'-'.join(k)}" for c, k in CASES])
def test_masked_rnn_in_onnxruntime_equals_keras(kind, kw, tmp_path):
    k, ours = _pair(lambda mod: [getattr(mod, kind)(4, **kw)])
    _compare(k, ours, tmp_path)


def test_masked_bidirectional_in_onnxruntime_equals_keras(tmp_path):
    k, ours = _pair(lambda mod: [mod.Bidirectional(mod.LSTM(3, return_sequences=True)),
                                 mod.Bidirectional(mod.GRU(2), merge_mode="ave")])
    _compare(k, ours, tmp_path)


def _compare(k, ours, tmp_path):
    x = masked_steps()[0]
    export_onnx(ours, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(out, np.asarray(k.predict(x, verbose=0)), atol=1e-5, rtol=1e-5)
