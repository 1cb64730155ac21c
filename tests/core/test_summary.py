"""``Model.summary()`` text equals Keras 3's.

The expected tables are Keras 3's output at its default width in an 80-column
(non-interactive) terminal: ``min(88, 80 - 4) = 76`` characters, e.g. the
"Simple MNIST convnet" example on keras.io (34,826 params, 136.04 KB).
"""

import numpy as np
import pytest

from core import backend
from core.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
from core.models import Model, Sequential


@pytest.fixture(autouse=True)
def _fresh_names(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    backend.clear_session()
    yield
    backend.clear_session()


def _text(model, **kw):
    out = []
    model.summary(print_fn=out.append, **kw)
    assert len(out) == 1  # Keras 3 hands the whole summary to print_fn at once
    return out[0]


SEED_CNN = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 5408)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 128)            │       692,352 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 10)             │         1,290 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 693,962 (2.65 MB)
 Trainable params: 693,962 (2.65 MB)
 Non-trainable params: 0 (0.00 B)
"""


def test_seed_cnn_summary_equals_keras():
    model = Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                        MaxPooling2D((2, 2)), Flatten(), Dense(128, activation="relu"),
                        Dense(10, activation="softmax")])
    assert _text(model) == SEED_CNN
    assert model.count_params() == 693_962


MNIST_CONVNET = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 11, 11, 64)     │        18,496 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (MaxPooling2D)  │ (None, 5, 5, 64)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout (Dropout)               │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 10)             │        16,010 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 34,826 (136.04 KB)
 Trainable params: 34,826 (136.04 KB)
 Non-trainable params: 0 (0.00 B)
"""


def test_keras_io_mnist_convnet_summary_equals_keras():
    model = Sequential([Input(shape=(28, 28, 1)),
                        Conv2D(32, kernel_size=(3, 3), activation="relu"),
                        MaxPooling2D(pool_size=(2, 2)),
                        Conv2D(64, kernel_size=(3, 3), activation="relu"),
                        MaxPooling2D(pool_size=(2, 2)), Flatten(), Dropout(0.5),
                        Dense(10, activation="softmax")])
    assert _text(model) == MNIST_CONVNET


APPENDIX_MLP = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ flatten (Flatten)               │ (None, 784)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 128)            │       100,480 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout (Dropout)               │ (None, 128)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 10)             │         1,290 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 101,770 (397.54 KB)
 Trainable params: 101,770 (397.54 KB)
 Non-trainable params: 0 (0.00 B)
"""


def _appendix_mlp():
    return Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="relu"),
                       Dropout(0.2), Dense(10, activation="softmax")])


def test_appendix_mlp_summary_and_optimizer_params_after_training():
    model = _appendix_mlp()
    assert _text(model) == APPENDIX_MLP
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert _text(model) == APPENDIX_MLP  # optimizer not built yet: no extra line
    model.fit(np.zeros((4, 28, 28), "float32"), np.zeros(4, "int64"), verbose=0)
    # Keras 3 Adam: iterations + learning_rate + m and v per weight = 2 * 101,770 + 2,
    # as Keras 3 prints for this model after training.
    assert _text(model).splitlines()[-4:] == [
        " Total params: 305,312 (1.16 MB)",
        " Trainable params: 101,770 (397.54 KB)",
        " Non-trainable params: 0 (0.00 B)",
        " Optimizer params: 203,542 (795.09 KB)",
    ]


APPENDIX_CONV_STACK = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 11, 11, 64)     │        18,496 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (MaxPooling2D)  │ (None, 5, 5, 64)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_2 (Conv2D)               │ (None, 3, 3, 64)       │        36,928 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 55,744 (217.75 KB)
 Trainable params: 55,744 (217.75 KB)
 Non-trainable params: 0 (0.00 B)
"""


def test_appendix_conv_stack_summary_printed_to_stdout(capsys):
    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(MaxPooling2D((2, 2)))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(MaxPooling2D((2, 2)))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.summary()
    assert capsys.readouterr().out == APPENDIX_CONV_STACK


def test_unbuilt_sequential_shows_question_marks():
    model = Sequential([Dense(4), Dense(2)])
    text = _text(model)
    assert "│ dense (Dense)                   │ ?                      │   0 (unbuilt) │" in text
    assert " Total params: 0 (0.00 B)" in text


# A functional model with a merge gets Keras' four-column layout (line length
# min(108, 76) = 76, positions 0.3/0.56/0.74): rich shrinks the cells to
# 21/19/12/19 and wraps "input_layer (InputLayer)" at the space.
FUNCTIONAL = """\
Model: "functional"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ input_layer         │ (None, 8)         │          0 │ -                 │
│ (InputLayer)        │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense (Dense)       │ (None, 4)         │         36 │ input_layer[0][0] │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense_1 (Dense)     │ (None, 4)         │         36 │ input_layer[0][0] │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ concatenate         │ (None, 8)         │          0 │ dense[0][0],      │
│ (Concatenate)       │                   │            │ dense_1[0][0]     │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense_2 (Dense)     │ (None, 1)         │          9 │ concatenate[0][0] │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 81 (324.00 B)
 Trainable params: 81 (324.00 B)
 Non-trainable params: 0 (0.00 B)
"""


def test_functional_with_merge_has_connected_to_column():
    from core.layers import Concatenate
    inp = Input((8,))
    a, b = Dense(4)(inp), Dense(4)(inp)
    model = Model(inp, Dense(1)(Concatenate()([a, b])))
    assert _text(model) == FUNCTIONAL


def test_line_length_and_positions_are_honoured():
    model = _appendix_mlp()
    lines = _text(model, line_length=100).splitlines()
    assert len(lines[1]) == 100
    lines = _text(model, line_length=60, positions=[0.5, 0.8, 1.0]).splitlines()
    assert len(lines[1]) == 60


def test_a_word_longer_than_its_cell_gets_a_line_of_its_own():
    # Keras 3.15.1 (rich's divide_line, no folding) printed this 'Connected to' cell of
    # width 26 as two lines: the too-long first word fills the first line (cropped with
    # an ellipsis), the next word starts a new one (tests/fixtures/keras3 func_two_inputs).
    from core.models.summary import _wrap

    assert _wrap("global_average_pooling2d[0][0], dense[0][0]", 26) == [
        "global_average_pooling2d[…", "dense[0][0]"]
    assert _wrap("subtract[0][0], average[0][0]", 26) == ["subtract[0][0], ", "average[0][0]"]
