"""The Keras 3 guides *Working with RNNs* and *Understanding masking & padding* run here
with only ``import keras`` changed to ``import core as keras``.

The blocks are the guides' own code (keras-team/keras-io, ``guides/working_with_rnns.py``
and ``guides/understanding_masking_and_padding.py``; Apache License 2.0), run in order in
one namespace per guide, as a reader runs them. ``EXCLUDED`` lists the blocks left out
and why. The masking guide in keras-io still calls TensorFlow (``tf.split``,
``tf.nn.relu``...) in its custom layers; those blocks run with each ``tf`` call replaced
by the ``keras.ops`` function of the same meaning, marked ``adapted`` (every replacement
named), since the point of the block is the masking API around it, not TensorFlow.
Datasets that need a download are replaced by arrays of the same shape and dtype.
"""

import numpy as np
import pytest

from core.layers.masks import get_mask

SETUP = "import numpy as np\nimport core as keras\nfrom core import layers\nfrom core import ops\n"

RNN_BLOCKS = {
    "simple example": '''
model = keras.Sequential()
model.add(layers.Embedding(input_dim=1000, output_dim=64))
model.add(layers.LSTM(128))
model.add(layers.Dense(10))
model.summary()
''',
    "outputs and states": '''
model = keras.Sequential()
model.add(layers.Embedding(input_dim=1000, output_dim=64))
model.add(layers.GRU(256, return_sequences=True))
model.add(layers.SimpleRNN(128))
model.add(layers.Dense(10))
model.summary()
''',
    "encoder-decoder initial_state": '''
encoder_vocab = 1000
decoder_vocab = 2000
encoder_input = layers.Input(shape=(None,))
encoder_embedded = layers.Embedding(input_dim=encoder_vocab, output_dim=64)(
    encoder_input
)
output, state_h, state_c = layers.LSTM(64, return_state=True, name="encoder")(
    encoder_embedded
)
encoder_state = [state_h, state_c]
decoder_input = layers.Input(shape=(None,))
decoder_embedded = layers.Embedding(input_dim=decoder_vocab, output_dim=64)(
    decoder_input
)
decoder_output = layers.LSTM(64, name="decoder")(
    decoder_embedded, initial_state=encoder_state
)
output = layers.Dense(10)(decoder_output)
model = keras.Model([encoder_input, decoder_input], output)
model.summary()
''',
    "cross-batch statefulness": '''
paragraph1 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph2 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph3 = np.random.random((20, 10, 50)).astype(np.float32)
lstm_layer = layers.LSTM(64, stateful=True)
output = lstm_layer(paragraph1)
output = lstm_layer(paragraph2)
output = lstm_layer(paragraph3)
lstm_layer.reset_states()
''',
    "state reuse": '''
paragraph1 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph2 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph3 = np.random.random((20, 10, 50)).astype(np.float32)
lstm_layer = layers.LSTM(64, stateful=True)
output = lstm_layer(paragraph1)
output = lstm_layer(paragraph2)
existing_state = lstm_layer.states
new_lstm_layer = layers.LSTM(64)
new_output = new_lstm_layer(paragraph3, initial_state=existing_state)
''',
    "bidirectional": '''
model = keras.Sequential()
model.add(
    layers.Bidirectional(layers.LSTM(64, return_sequences=True), input_shape=(5, 10))
)
model.add(layers.Bidirectional(layers.LSTM(32)))
model.add(layers.Dense(10))
model.summary()
''',
    "build_model": '''
batch_size = 64
input_dim = 28
units = 64
output_size = 10
def build_model(allow_cudnn_kernel=True):
    if allow_cudnn_kernel:
        lstm_layer = keras.layers.LSTM(units, input_shape=(None, input_dim))
    else:
        lstm_layer = keras.layers.RNN(
            keras.layers.LSTMCell(units), input_shape=(None, input_dim)
        )
    model = keras.models.Sequential(
        [
            lstm_layer,
            keras.layers.BatchNormalization(),
            keras.layers.Dense(output_size),
        ]
    )
    return model
''',
    # keras.datasets.mnist.load_data() downloads: arrays of MNIST's shape and dtype.
    "load the data (shrunk, no download)": '''
rng = np.random.default_rng(0)
x_train, y_train = rng.integers(0, 256, (256, 28, 28), dtype=np.uint8), rng.integers(0, 10, 256)
x_test, y_test = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8), rng.integers(0, 10, 64)
x_train, x_test = x_train / 255.0, x_test / 255.0
sample, sample_label = x_train[0], y_train[0]
''',
    "train": '''
model = build_model(allow_cudnn_kernel=True)
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer="sgd",
    metrics=["accuracy"],
)
model.fit(
    x_train, y_train, validation_data=(x_test, y_test), batch_size=batch_size, epochs=1
)
''',
    "non-cuDNN model": '''
noncudnn_model = build_model(allow_cudnn_kernel=False)
noncudnn_model.set_weights(model.get_weights())
noncudnn_model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer="sgd",
    metrics=["accuracy"],
)
noncudnn_model.fit(
    x_train, y_train, validation_data=(x_test, y_test), batch_size=batch_size, epochs=1
)
''',
}

MASKING_BLOCKS = {
    # adapted: tf.keras.preprocessing.sequence.pad_sequences -> keras.utils.pad_sequences
    "padding": '''
raw_inputs = [
    [711, 632, 71],
    [73, 8, 3215, 55, 927],
    [83, 91, 1, 645, 1253, 927],
]
padded_inputs = keras.utils.pad_sequences(raw_inputs, padding="post")
print(padded_inputs)
''',
    # adapted: tf.cast(tf.tile(tf.expand_dims(...))) -> ops.cast(ops.tile(ops.expand_dims(...)));
    # the guide's print(x._keras_mask) reads Keras' private tensor attribute: our arrays
    # carry their mask in core.layers.masks, checked by the test instead.
    "mask-generating layers": '''
embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
masked_output = embedding(padded_inputs)
masking_layer = layers.Masking()
unmasked_embedding = ops.cast(
    ops.tile(ops.expand_dims(padded_inputs, axis=-1), [1, 1, 10]), "float32"
)
masked_embedding = masking_layer(unmasked_embedding)
''',
    "mask propagation": '''
model = keras.Sequential(
    [layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True), layers.LSTM(32),]
)
inputs = keras.Input(shape=(None,), dtype="int32")
x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
outputs = layers.LSTM(32)(x)
model = keras.Model(inputs, outputs)
''',
    "passing mask tensors directly": '''
class MyLayer(layers.Layer):
    def __init__(self, **kwargs):
        super(MyLayer, self).__init__(**kwargs)
        self.embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
        self.lstm = layers.LSTM(32)

    def call(self, inputs):
        x = self.embedding(inputs)
        mask = self.embedding.compute_mask(inputs)
        output = self.lstm(x, mask=mask)  # The layer will ignore the masked values
        return output


layer = MyLayer()
x = np.random.random((32, 10)) * 100
x = x.astype("int32")
layer(x)
''',
    # adapted: tf.split -> ops.split
    "TemporalSplit": '''
class TemporalSplit(keras.layers.Layer):
    def call(self, inputs):
        return ops.split(inputs, 2, axis=1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.split(mask, 2, axis=1)


first_half, second_half = TemporalSplit()(masked_embedding)
''',
    # adapted: tf.nn.embedding_lookup -> ops.take(..., axis=0); tf.not_equal -> ops.not_equal
    "CustomEmbedding": '''
class CustomEmbedding(keras.layers.Layer):
    def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
        super(CustomEmbedding, self).__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.mask_zero = mask_zero

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer="random_normal",
            dtype="float32",
        )

    def call(self, inputs):
        return ops.take(self.embeddings, inputs, axis=0)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)


layer = CustomEmbedding(10, 32, mask_zero=True)
x = np.random.random((3, 10)) * 9
x = x.astype("int32")
y = layer(x)
mask = layer.compute_mask(x)
print(mask)
''',
    # adapted: tf.nn.relu -> ops.relu; the print of x._keras_mask is left out (see above)
    "MyActivation (opt-in propagation)": '''
class MyActivation(keras.layers.Layer):
    def __init__(self, **kwargs):
        super(MyActivation, self).__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.relu(inputs)


inputs = keras.Input(shape=(None,), dtype="int32")
x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
x = MyActivation()(x)  # Will pass the mask along
outputs = layers.LSTM(32)(x)  # Will receive the mask
model = keras.Model(inputs, outputs)
''',
    # adapted: tf.expand_dims/tf.cast/tf.exp/tf.reduce_sum -> ops.expand_dims/cast/exp/sum;
    # the guide's last line passes a float array as the positional `training` argument of
    # model(...), which has no meaning; the model is called on its input alone.
    "TemporalSoftmax (mask consumer)": '''
class TemporalSoftmax(keras.layers.Layer):
    def call(self, inputs, mask=None):
        broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
        inputs_exp = ops.exp(inputs) * broadcast_float_mask
        inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
        return inputs_exp / inputs_sum


inputs = keras.Input(shape=(None,), dtype="int32")
x = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
x = layers.Dense(1)(x)
outputs = TemporalSoftmax()(x)
model = keras.Model(inputs, outputs)
y = model(np.random.randint(0, 10, size=(32, 100)))
''',
}

EXCLUDED = {
    ("rnn", "CuDNN on CPU"): "tf.device('CPU:0') and tf.argmax: TensorFlow-specific, and "
                             "matplotlib for the picture",
    ("rnn", "NestedCell"): "tf.TensorShape state sizes and tf.nest.flatten: TensorFlow-"
                           "specific; a cell with nested (dict/tuple) inputs is not "
                           "supported by our RNN either",
    ("rnn", "nested-input model and its training"): "needs the NestedCell above",
}


def _run(blocks):
    namespace = {}
    exec(SETUP, namespace)  # noqa: S102  (test data: the guides' own code)
    for title, code in blocks.items():
        try:
            exec(code, namespace)  # noqa: S102
        except Exception as exc:  # name the block that failed
            pytest.fail(f"guide block {title!r} failed: {type(exc).__name__}: {exc}")
    return namespace


def test_working_with_rnns_guide_runs():
    ns = _run(RNN_BLOCKS)
    assert ns["model"].count_params() == ns["noncudnn_model"].count_params()
    np.testing.assert_allclose(ns["noncudnn_model"].predict(ns["x_test"], verbose=0).shape,
                               (64, 10))
    assert [s.shape for s in ns["existing_state"]] == [(20, 64), (20, 64)]
    assert ns["new_output"].shape == (20, 64)


def test_masking_and_padding_guide_runs():
    ns = _run(MASKING_BLOCKS)
    padded = ns["padded_inputs"]
    assert padded.tolist() == [[711, 632, 71, 0, 0, 0], [73, 8, 3215, 55, 927, 0],
                               [83, 91, 1, 645, 1253, 927]]
    assert get_mask(ns["masked_output"]).tolist() == (padded != 0).tolist()
    assert get_mask(ns["masked_embedding"]).tolist() == (padded != 0).tolist()
    assert get_mask(ns["first_half"]).tolist() == (padded[:, :3] != 0).tolist()
    assert get_mask(ns["second_half"]).tolist() == (padded[:, 3:] != 0).tolist()
    assert get_mask(ns["y"]) is None  # the model's output: TemporalSoftmax drops the mask


def test_the_masks_in_the_guide_change_the_results():
    """The guide's models really skip the padded steps (not just run)."""
    ns = _run({k: v for k, v in MASKING_BLOCKS.items() if k in (
        "padding", "MyActivation (opt-in propagation)")})
    model = ns["model"]
    a, b = np.array([[3, 4, 0, 0]]), np.array([[3, 4]])
    np.testing.assert_allclose(model.predict(a, verbose=0), model.predict(b, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_the_exclusions_are_few_and_named():
    blocks = len(RNN_BLOCKS) + len(MASKING_BLOCKS)
    assert blocks == 18 and len(EXCLUDED) == 3
