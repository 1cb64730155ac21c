"""What the masking guide relies on: ``tensor._keras_mask`` on eager outputs and on
symbolic tensors, a mask-consuming custom ``call(inputs, mask=None)`` traced with a
mask in a functional model, and a custom ``supports_masking`` layer passing the mask
on to an LSTM.

References: numpy (``inputs != 0``, the guide's masked softmax) and the LSTM run on
the unpadded sequence (a post-padded, masked sequence must give the same output).
"""

from __future__ import annotations

import numpy as np

import core as keras
from core import layers, ops


class PassMask(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.relu(inputs)


class DropsMask(layers.Layer):
    def call(self, inputs):
        return ops.relu(inputs)


class MaskedSoftmax(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        assert mask is not None
        m = ops.expand_dims(ops.cast(mask, "float32"), -1)
        e = ops.exp(inputs) * m
        return e / ops.sum(e, axis=1, keepdims=True)


def test_eager_outputs_carry_their_mask_and_compute_as_plain_arrays():
    ids = np.array([[5, 3, 0, 0], [1, 2, 3, 0]])
    out = layers.Embedding(10, 4, mask_zero=True)(ids)
    np.testing.assert_array_equal(out._keras_mask, ids != 0)
    assert type(out * 2.0) is np.ndarray and type(np.sum(out, axis=-1)) is np.ndarray
    x = np.float32(np.repeat(ids[..., None], 3, axis=-1))
    np.testing.assert_array_equal(layers.Masking()(x)._keras_mask, ids != 0)
    assert not hasattr(np.zeros(2), "_keras_mask")  # plain inputs are left alone


def test_symbolic_masks_follow_keras_propagation_rules():
    inputs = keras.Input((None,), dtype="int32")
    emb = layers.Embedding(10, 4, mask_zero=True)(inputs)
    assert inputs._keras_mask is None
    assert emb._keras_mask.shape == (None, None) and emb._keras_mask.dtype == "bool"
    assert PassMask()(emb)._keras_mask is not None
    assert DropsMask()(emb)._keras_mask is None
    assert layers.LSTM(3)(emb)._keras_mask is None  # last step only: no mask
    assert layers.LSTM(3, return_sequences=True)(emb)._keras_mask is not None


def test_mask_consuming_call_is_traced_with_a_mask_and_matches_numpy():
    inputs = keras.Input((None,), dtype="int32")
    emb_layer = layers.Embedding(10, 3, mask_zero=True)
    dense = layers.Dense(1)
    model = keras.Model(inputs, MaskedSoftmax()(dense(emb_layer(inputs))))
    ids = np.array([[4, 2, 7, 0, 0], [1, 1, 0, 0, 0]])
    got = model.predict(ids, verbose=0)
    z = emb_layer.embeddings.value[ids] @ dense.kernel.value + dense.bias.value
    e = np.exp(np.float64(z)) * (ids != 0)[..., None]
    np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True), rtol=1e-5)


def test_mask_reaches_the_lstm_through_a_custom_layer():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None,), dtype="int32")
    emb = layers.Embedding(20, 4, mask_zero=True)
    lstm = layers.LSTM(5)
    model = keras.Model(inputs, lstm(PassMask()(emb(inputs))))
    padded = np.array([[3, 8, 1, 0, 0, 0]])
    short = keras.Model(inputs, lstm(PassMask()(layers.Embedding(20, 4)(inputs))))
    short.layers[1].set_weights(emb.get_weights())
    np.testing.assert_allclose(model.predict(padded, verbose=0),
                               short.predict(padded[:, :3], verbose=0), rtol=1e-5, atol=1e-6)
    dropped = keras.Model(inputs, lstm(DropsMask()(emb(inputs))))
    assert not np.allclose(dropped.predict(padded, verbose=0),
                           short.predict(padded[:, :3], verbose=0), atol=1e-4)
