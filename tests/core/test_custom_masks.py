"""User layers and Keras' mask API: a layer that makes a mask (``compute_mask``), one that
changes it (splits the time axis), one that opts in to passing it on
(``supports_masking``) and one that consumes it (``call(..., mask=None)``), in eager
calls and in functional models, with the padded steps really skipped downstream."""

import numpy as np

import core as keras
from core import layers, ops
from core.layers.masks import get_mask

IDS = np.array([[5, 2, 7, 0, 0, 0], [1, 4, 0, 0, 0, 0]])


class HalfSplit(keras.layers.Layer):
    """Two halves along time; each half keeps its part of the mask."""

    def call(self, inputs):
        return ops.split(inputs, 2, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else ops.split(mask, 2, axis=1)


class LookupWithMask(keras.layers.Layer):
    """A hand-made embedding: id 0 means padding."""

    def __init__(self, vocab, dim, **kwargs):
        super().__init__(**kwargs)
        self.vocab, self.dim = vocab, dim

    def build(self, input_shape):
        self.table = self.add_weight((self.vocab, self.dim), initializer="random_normal")

    def call(self, inputs):
        return ops.take(self.table, inputs, axis=0)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)


class PassThroughRelu(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.relu(inputs)


class MaskedTimeSoftmax(keras.layers.Layer):
    """Softmax over time that gives masked steps zero weight."""

    def call(self, inputs, mask=None):
        keep = ops.expand_dims(ops.cast(mask, "float32"), -1)
        e = ops.exp(inputs) * keep
        return e / ops.sum(e, axis=1, keepdims=True)


def test_a_layer_that_changes_the_mask_splits_it_with_its_output():
    x = layers.Masking()(ops.cast(ops.expand_dims(IDS, -1), "float32"))
    first, second = HalfSplit()(x)
    assert get_mask(first).tolist() == (IDS[:, :3] != 0).tolist()
    assert get_mask(second).tolist() == (IDS[:, 3:] != 0).tolist()


def test_a_mask_making_layer_feeds_an_lstm_that_skips_padding():
    inputs = keras.Input((None,), dtype="int32")
    x = LookupWithMask(10, 4)(inputs)
    model = keras.Model(inputs, layers.LSTM(3)(PassThroughRelu()(x)))
    padded = model.predict(IDS, verbose=0)
    short = [model.predict(IDS[i:i + 1, :n], verbose=0) for i, n in enumerate((3, 2))]
    np.testing.assert_allclose(padded, np.concatenate(short), rtol=1e-5, atol=1e-6)


def test_without_opting_in_a_custom_layer_drops_the_mask():
    class PlainRelu(keras.layers.Layer):
        def call(self, inputs):
            return ops.relu(inputs)

    y = PlainRelu()(layers.Embedding(10, 4, mask_zero=True)(IDS))
    assert get_mask(y) is None
    assert get_mask(PassThroughRelu()(layers.Embedding(10, 4, mask_zero=True)(IDS))) \
        .tolist() == (IDS != 0).tolist()


def test_a_mask_consumer_gets_the_mask_and_zeroes_the_padded_steps():
    inputs = keras.Input((None,), dtype="int32")
    x = layers.Dense(1)(layers.Embedding(10, 8, mask_zero=True)(inputs))
    model = keras.Model(inputs, MaskedTimeSoftmax()(x))
    w = model.predict(IDS, verbose=0)[..., 0]
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)
    assert (w[IDS == 0] == 0).all() and (w[IDS != 0] > 0).all()


def test_an_explicit_mask_from_compute_mask_reaches_the_lstm_inside_a_layer():
    class EncodeIds(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.embed = layers.Embedding(10, 4, mask_zero=True)
            self.lstm = layers.LSTM(3)

        def call(self, inputs):
            return self.lstm(self.embed(inputs), mask=self.embed.compute_mask(inputs))

    layer = EncodeIds()
    out = layer(IDS)
    vectors = layer.embed(IDS)
    np.testing.assert_allclose(out, layer.lstm(vectors, mask=IDS != 0), rtol=1e-6)
    unmasked = layer.lstm(np.array(vectors), mask=np.ones(IDS.shape, bool))
    assert not np.allclose(out, unmasked, atol=1e-4)  # the mask changed the result
