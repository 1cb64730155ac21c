"""The models ``test_core_to_keras.py`` saves with ``core`` and checks in real Keras.

One builder per model, returning ``(model, (x, y))``: compiled, with a batch of data.
Together they cover every registered layer (the test checks that).
"""

import numpy as np

from core import constraints, initializers, losses, metrics, optimizers, regularizers
from core.layers import (
    ELU,
    Activation,
    Add,
    Average,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Input,
    LeakyReLU,
    Maximum,
    MaxPooling2D,
    Minimum,
    Multiply,
    ReLU,
    Reshape,
    Softmax,
    Subtract,
)
from core.models import Model, Sequential

SEED = 7
BATCH = 8


def seq_mlp():
    model = Sequential([
        Input((8,)), Dense(12, activation="relu"), Dropout(0.25),
        Dense(10, activation="gelu"), Dense(10, activation="tanh"), Dense(9, activation="elu"),
        Dense(9, activation="selu"), Dense(8, activation="softplus"),
        Dense(8, activation="silu"), Dense(8, activation="swish"),
        Dense(8, activation="leaky_relu"), Dense(6, activation="sigmoid"), Dense(6),
        Activation("relu"), Dense(4, activation="softmax")], name="seq_mlp")
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, lambda r: ([r.normal(size=(BATCH, 8))], [r.integers(0, 4, (BATCH,))])


def seq_cnn():
    model = Sequential([
        Input((10, 10, 3)), Conv2D(6, 3, padding="same", activation="relu"),
        Conv2D(8, 3, strides=2, padding="valid", use_bias=False), BatchNormalization(),
        LeakyReLU(negative_slope=0.1), Conv2D(8, (2, 3), dilation_rate=2, padding="same"),
        MaxPooling2D(2), Flatten(), Dense(5, activation="softmax")], name="seq_cnn")
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
                  loss="categorical_crossentropy", metrics=["categorical_accuracy"])
    return model, lambda r: ([r.normal(size=(BATCH, 10, 10, 3))],
                             [np.eye(5)[r.integers(0, 5, BATCH)]])


def seq_pool():
    model = Sequential([
        Input((9, 9, 2)),
        Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="swish"),
        AveragePooling2D(2, padding="same"), AveragePooling2D(2, strides=1, padding="valid"),
        Reshape((4, 8)), Dense(3, activation="tanh"), Flatten(), Dense(2)], name="seq_pool")
    model.compile(optimizer=optimizers.RMSprop(learning_rate=0.01, rho=0.8), loss="mse",
                  metrics=["mae"])
    return model, lambda r: ([r.normal(size=(BATCH, 9, 9, 2))], [r.normal(size=(BATCH, 2))])


def func_two_inputs():
    image, meta = Input((7, 7, 2), name="image"), Input((5,), name="meta")
    a = BatchNormalization(momentum=0.9)(Conv2D(4, 3, activation="leaky_relu")(image))
    ga, gm = GlobalAveragePooling2D()(a), GlobalMaxPooling2D()(a)
    b = Dense(4, activation="relu")(meta)
    s = Add()([ga, b])
    d = Subtract()([s, Multiply()([gm, b])])
    av = Average()([ga, gm, b])
    c = Concatenate()([Maximum()([d, av]), Minimum()([d, av]), s])
    out = Dense(1, activation="sigmoid")(ELU()(ReLU()(Dense(6)(c))))
    model = Model([image, meta], out, name="func_two_inputs")
    model.compile(optimizer=optimizers.AdamW(learning_rate=0.01, weight_decay=0.05),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model, lambda r: ([r.normal(size=(BATCH, 7, 7, 2)), r.normal(size=(BATCH, 5))],
                             [r.integers(0, 2, (BATCH, 1))])


def func_two_outputs():
    x = Input((6,), name="features")
    h = Dense(8, activation="tanh")(x)
    h2 = Dropout(0.5)(Activation("sigmoid")(Dense(8)(h)))
    cls = Softmax(name="cls")(Dense(3)(h2))
    reg = Dense(2, name="reg")(LeakyReLU()(Dense(4)(h)))
    model = Model(x, [cls, reg], name="func_two_outputs")
    model.compile(optimizer=optimizers.Adagrad(learning_rate=0.1),
                  loss=["categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                  metrics=[["accuracy"], ["mae"]])
    return model, lambda r: ([r.normal(size=(BATCH, 6))],
                             [np.eye(3)[r.integers(0, 3, BATCH)], r.normal(size=(BATCH, 2))])


def nested_objects():
    inner_seq = Sequential([Input((6,)), Dense(5, activation="relu",
                                               kernel_initializer="he_normal",
                                               bias_initializer=initializers.Constant(0.1))],
                           name="inner_seq")
    z = Input((5,), name="z")
    inner_func = Model(z, Dense(4, kernel_initializer=initializers.RandomNormal(
        stddev=0.2, seed=3))(z), name="inner_func")
    x = Input((6,), name="x")
    model = Model(x, Dense(3, activation="softmax")(inner_func(inner_seq(x))),
                  name="nested_objects")
    schedule = optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)
    model.compile(optimizer=optimizers.Adam(learning_rate=schedule, amsgrad=True, clipnorm=1.0),
                  loss=losses.CategoricalCrossentropy(label_smoothing=0.1),
                  metrics=[metrics.CategoricalAccuracy(name="acc"), "mae"])
    return model, lambda r: ([r.normal(size=(BATCH, 6))], [np.eye(3)[r.integers(0, 3, BATCH)]])


def seq_optimizer_options():
    model = Sequential([Input((5,)), Dense(6, activation="tanh"), Dense(1)],
                       name="seq_optimizer_options")
    model.compile(optimizer=optimizers.RMSprop(learning_rate=0.02, momentum=0.5, centered=True),
                  loss=losses.Huber(delta=0.5), metrics=["mae", "mse"])
    return model, lambda r: ([r.normal(size=(BATCH, 5))], [r.normal(size=(BATCH, 1))])


def seq_ema():
    model = Sequential([Input((5,)), Dense(6, activation="relu"),
                        Dense(1, activation="sigmoid")], name="seq_ema")
    model.compile(optimizer=optimizers.Adam(learning_rate=0.02, use_ema=True, ema_momentum=0.9,
                                            weight_decay=0.01),
                  loss="binary_crossentropy", metrics=[metrics.Precision(), metrics.Recall()])
    return model, lambda r: ([r.normal(size=(BATCH, 5))], [r.integers(0, 2, (BATCH, 1))])


def seq_regularized():
    model = Sequential([
        Input((6, 6, 2)),
        Conv2D(3, 3, kernel_regularizer=regularizers.L1L2(l1=0.01, l2=0.02),
               bias_regularizer="l2"),
        BatchNormalization(gamma_regularizer=regularizers.L2(0.05)),
        Flatten(),
        Dense(5, activation="relu", kernel_regularizer=regularizers.L2(0.03),
              bias_regularizer=regularizers.L1(0.02)),
        Dense(4, kernel_regularizer="l1", trainable=False),
        Dense(3, activation="softmax"),
    ], name="seq_regularized")
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, lambda r: ([r.normal(size=(BATCH, 6, 6, 2))], [r.integers(0, 3, BATCH)])


def seq_constrained():
    model = Sequential([
        Input((6, 6, 2)),
        Conv2D(3, 3, kernel_constraint=constraints.UnitNorm(axis=[0, 1, 2]),
               bias_constraint="non_neg"),
        BatchNormalization(gamma_constraint=constraints.MinMaxNorm(0.5, 1.0, rate=0.8)),
        Flatten(),
        Dense(5, activation="relu", kernel_constraint=constraints.MaxNorm(0.5),
              bias_constraint=constraints.NonNeg()),
        Dense(3, activation="softmax", kernel_constraint="max_norm"),
    ], name="seq_constrained")
    model.compile(optimizer=optimizers.SGD(learning_rate=0.5, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, lambda r: ([r.normal(size=(BATCH, 6, 6, 2))], [r.integers(0, 3, BATCH)])


def seq_activity():
    model = Sequential([
        Input((6, 6, 2)),
        Conv2D(3, 3, activation="relu", activity_regularizer="l2"),
        Flatten(activity_regularizer=regularizers.L1(0.001)),
        Dense(5, activation="tanh", activity_regularizer=regularizers.L1L2(l1=0.01, l2=0.02)),
        Dense(3, activation="softmax", activity_regularizer=regularizers.L2(0.5)),
    ], name="seq_activity")
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, lambda r: ([r.normal(size=(BATCH, 6, 6, 2))], [r.integers(0, 3, BATCH)])


def func_sequence():
    from core.layers.sequence import (
        Conv1D,
        Embedding,
        GlobalAveragePooling1D,
        GlobalMaxPooling1D,
        LayerNormalization,
        Masking,
        MaxPooling1D,
        Permute,
        RepeatVector,
        TimeDistributed,
    )

    ids, series = Input((7,), name="ids"), Input((9, 3), name="series")
    a = LayerNormalization()(Dropout(0.1)(Embedding(10, 4, mask_zero=True)(ids)))
    a = GlobalAveragePooling1D()(TimeDistributed(Dense(3, activation="tanh"))(a))
    b = Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu")(series)
    b = GlobalMaxPooling1D()(Permute((2, 1))(MaxPooling1D(2, padding="same")(b)))
    c = GlobalAveragePooling1D()(Masking()(series))  # the two zero steps are left out
    h = RepeatVector(2)(Dense(4, activation="relu")(Concatenate()([a, b, c])))
    out = Dense(3, activation="softmax")(Flatten()(LayerNormalization(axis=[1, 2])(h)))
    model = Model([ids, series], out, name="func_sequence")
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def data(r):
        tokens = r.integers(1, 10, (BATCH, 7))
        tokens[np.arange(7)[None, :] >= r.integers(2, 8, BATCH)[:, None]] = 0
        x = r.normal(size=(BATCH, 9, 3))
        x[:, -2:] = 0.0
        return [tokens, x], [r.integers(0, 3, BATCH)]
    return model, data


MODELS = {f.__name__: f for f in (seq_mlp, seq_cnn, seq_pool, func_two_inputs,
                                  func_two_outputs, nested_objects, seq_optimizer_options,
                                  seq_ema, seq_regularized, seq_constrained, seq_activity,
                                  func_sequence)}
