"""Which blocks of each Keras 3 guide run, which are excluded and why, and what the data
substitutions are. Block numbers count the code blocks of the keras-io source
(``guides/keras_core/<name>.py``, the Keras 3 guides; ``import keras_core as keras``
is treated like ``import keras``; ``working_with_rnns``,
``intro_to_keras_for_engineers`` and ``customizing_saving_and_serialization`` have no
keras_core copy: their sources are
``guides/<name>.py``, the Keras 3 versions; the data folder's README names each file's
commit), first block 0; each
exclusion names a snippet of its block so that a changed guide is noticed instead of
silently misread.

* ``excluded``: blocks that need something outside what the issue asks of ``core``:
  TensorFlow (``tf.data``), a download or a pretrained model, or an image renderer.
* ``known_failures``: blocks that should run but do not yet, with the reason (so that
  fixing one shows up as a test to update, never as silence).
* ``keras_failures``: blocks that fail on real Keras 3.15.1 itself (the guide was written
  for an older Keras); each names a snippet of the error they must fail with here too,
  since ``core`` does what Keras does, and why Keras fails
  (``tests/interop/test_keras3_state_hooks.py`` shows Keras failing the same way).
* ``substitutions``: the only edits to the code besides the import line: the MNIST /
  CIFAR-10 downloads become random arrays of the same per-sample shape, and the
  hard-coded sample counts shrink with them (plus ``np.Inf`` -> ``np.inf`` in one
  callbacks block: NumPy 2 removed the alias).
"""

_MNIST = ("keras.datasets.mnist.load_data()",
          "((np.random.randint(0, 256, (600, 28, 28)).astype('uint8'), "
          "np.random.randint(0, 10, 600).astype('uint8')), "
          "(np.random.randint(0, 256, (100, 28, 28)).astype('uint8'), "
          "np.random.randint(0, 10, 100).astype('uint8')))")
_CIFAR = ("keras.datasets.cifar10.load_data()",
          "((np.random.randint(0, 256, (1000, 32, 32, 3)).astype('uint8'), "
          "np.random.randint(0, 10, (1000, 1))), "
          "(np.random.randint(0, 256, (100, 32, 32, 3)).astype('uint8'), "
          "np.random.randint(0, 10, (100, 1))))")
# A smaller MNIST stand-in for the engineers' intro, whose convnet trains up to 20 epochs.
_MNIST_SMALL = ("keras.datasets.mnist.load_data()",
                "((np.random.randint(0, 256, (256, 28, 28)).astype('uint8'), "
                "np.random.randint(0, 10, 256).astype('uint8')), "
                "(np.random.randint(0, 256, (64, 28, 28)).astype('uint8'), "
                "np.random.randint(0, 10, 64).astype('uint8')))")
_PLOT = ("plot_model", "needs pydot and graphviz to render an image")
_TF_DATA = ("tf.data", "needs TensorFlow (tf.data.Dataset)")

GUIDES = {
    "sequential_model": {"excluded": {}, "known_failures": {}, "substitutions": {}},
    "functional_api": {
        "excluded": {
            9: _PLOT, 10: _PLOT, 17: _PLOT, 22: _PLOT,
            25: ("keras.applications.VGG19()", "needs a pretrained model (download)"),
            26: ("vgg19.layers", "uses the pretrained VGG19 of block 25"),
            27: ("vgg19.input", "uses the pretrained VGG19 of block 25"),
        },
        "known_failures": {},
        "substitutions": {
            11: [_MNIST, ("reshape(60000, 784)", "reshape(600, 784)"),
                 ("reshape(10000, 784)", "reshape(100, 784)")],
            23: [_CIFAR],
        },
    },
    "making_new_layers_and_models_via_subclassing": {
        "excluded": {},
        "known_failures": {},
        "substitutions": {18: [_MNIST, ("reshape(60000, 784)", "reshape(600, 784)")]},
    },
    "training_with_built_in_methods": {
        "excluded": {
            17: _TF_DATA, 18: _TF_DATA, 19: _TF_DATA, 20: _TF_DATA, 30: _TF_DATA,
            32: _PLOT, 39: _TF_DATA,
        },
        "known_failures": {},
        "substitutions": {
            # tf is only used by the tf.data blocks, which are excluded.
            0: [("import tensorflow as tf\n", "")],
            2: [_MNIST, ("reshape(60000, 784)", "reshape(600, 784)"),
                ("reshape(10000, 784)", "reshape(100, 784)"),
                ("x_train[-10000:]", "x_train[-100:]"), ("y_train[-10000:]", "y_train[-100:]"),
                ("x_train[:-10000]", "x_train[:-100]"), ("y_train[:-10000]", "y_train[:-100]")],
        },
    },
    "understanding_masking_and_padding": {"excluded": {}, "known_failures": {},
                                          "substitutions": {}},
    "working_with_rnns": {
        "excluded": {
            11: ("tf.device", "needs TensorFlow (tf.device, tf.argmax) and matplotlib"),
            12: ("tf.nest.flatten", "the NestedCell is written with TensorFlow (tf.TensorShape "
                                    "state sizes, tf.nest, tf.matmul, tf.einsum)"),
            13: ("NestedCell(unit_1", "uses the TensorFlow NestedCell of block 12"),
            14: ("model.fit(input_data", "trains the NestedCell model of block 13"),
        },
        "known_failures": {},
        # tf is only used by the excluded blocks 11-12; MNIST shrinks as elsewhere.
        "substitutions": {0: [("import tensorflow as tf\n", "")],
                          8: [("mnist.load_data()", _MNIST[1])]},
    },
    "serialization_and_saving": {"excluded": {}, "known_failures": {}, "substitutions": {}},
    # guides/intro_to_keras_for_engineers.py (Keras 3, "backend-agnostic"; its
    # KERAS_BACKEND="jax" line only concerns the real Keras; the runner restores it).
    "intro_to_keras_for_engineers": {
        "excluded": {14: _TF_DATA},
        "known_failures": {},
        "substitutions": {1: [_MNIST_SMALL]},
    },
    # guides/customizing_saving_and_serialization.py (Keras 3 text, keras.ops only).
    "customizing_saving_and_serialization": {
        "excluded": {},
        "known_failures": {},
        "keras_failures": {
            1: ("Cannot assign value of shape (10, 1) to variable "
                "'layer_with_custom_variable/my_variable' of shape (1,)",
                "Keras 3.15.1's Dense.save_own_variables stores only the kernel and the "
                "bias ('0', '1'), but the guide's load_own_variables assigns store[i] to "
                "self.weights[i] = [my_variable, kernel, bias]: the kernel goes to "
                "my_variable and Keras raises 'The shape of the target variable and the "
                "shape of the target value in variable.assign(value) must match'"),
        },
        "substitutions": {},
    },
    "writing_your_own_callbacks": {
        "excluded": {}, "known_failures": {},
        # np.Inf was removed in NumPy 2.0 (the guide predates it): the one non-data edit.
        "substitutions": {2: [_MNIST], 6: [("np.Inf", "np.inf")]},
    },
}
