"""``core.ops`` against real ``keras.ops`` (PyTorch backend) on the same calls: the
defaults (``gelu``'s approximation, ``leaky_relu``'s slope, "same" padding, the
crossentropies' clipping) must give Keras' values. Skipped where Keras is missing."""

import os

import numpy as np
import pytest

from core import ops

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
# Keras' torch backend converts numpy inputs with a copy= keyword numpy 2 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

rng = np.random.default_rng(7)
X = rng.standard_normal((2, 5, 6, 3)).astype("float32")
K = rng.standard_normal((3, 3, 3, 4)).astype("float32")
P = rng.uniform(0.05, 1, (4, 5)).astype("float32")
P = P / P.sum(-1, keepdims=True)
M = rng.standard_normal((4, 5)).astype("float32")
LABELS = np.array([0, 4, 2, 1])

CALLS = [
    ("gelu", (M,), {}), ("gelu", (M,), {"approximate": False}), ("leaky_relu", (M,), {}),
    ("hard_sigmoid", (M * 4,), {}), ("elu", (M,), {}), ("selu", (M,), {}),
    ("softplus", (M,), {}), ("silu", (M,), {}), ("relu6", (M * 5,), {}),
    ("softmax", (M,), {"axis": 0}), ("log_softmax", (M,), {}), ("sigmoid", (M,), {}),
    ("softsign", (M,), {}), ("celu", (M * 2,), {"alpha": 0.7}), ("hard_tanh", (M * 2,), {}),
    ("hard_silu", (M * 4,), {}), ("hard_swish", (M * 4,), {}),
    ("hard_shrink", (M,), {"threshold": 0.3}), ("soft_shrink", (M,), {}),
    ("tanh_shrink", (M,), {}), ("log_sigmoid", (M * 4,), {}), ("squareplus", (M,), {"b": 2}),
    ("sparse_plus", (M * 2,), {}), ("sparse_sigmoid", (M * 2,), {}),
    ("logsumexp", (M,), {"axis": 1}), ("std", (M,), {"axis": 0}), ("var", (M,), {}),
    ("conv", (X, K), {"strides": 2, "padding": "same"}),
    ("conv", (X, K), {"padding": "valid", "dilation_rate": 2}),
    ("max_pool", (X, 2), {"padding": "same"}), ("max_pool", (X, 3), {"strides": 1}),
    ("average_pool", (X, 2), {"padding": "same"}),
    ("average_pool", (X, (2, 3)), {"strides": (1, 2)}),
    ("categorical_crossentropy", (np.eye(5, dtype="float32")[LABELS], P), {}),
    ("categorical_crossentropy", (np.eye(5, dtype="float32")[LABELS], M),
     {"from_logits": True}),
    ("sparse_categorical_crossentropy", (LABELS, P), {}),
    ("sparse_categorical_crossentropy", (LABELS, M), {"from_logits": True}),
    ("binary_crossentropy", ((P > 0.2).astype("float32"), P), {}),
    ("binary_crossentropy", ((P > 0.2).astype("float32"), M), {"from_logits": True}),
    ("normalize", (M,), {}), ("normalize", (M,), {"order": 1, "axis": 0}),
    ("moments", (X,), {"axes": [0, 1, 2]}), ("norm", (M,), {"ord": 1, "axis": 1}),
    ("norm", (M,), {}), ("one_hot", (LABELS, 5), {}), ("split", (M, [1, 3]), {"axis": 1}),
    ("repeat", (M, 2), {"axis": 0}), ("tile", (M, (2, 1)), {}), ("cumsum", (M,), {"axis": 0}),
    ("pad", (M, ((1, 2), (0, 1))), {}), ("clip", (M, -0.5, 0.5), {}),
    ("einsum", ("ij,kj->ik", M, M), {}), ("tensordot", (M, M.T), {"axes": 1}),
    ("take_along_axis", (M, np.argsort(M, 1)), {"axis": 1}), ("where", (M > 0, M, -M), {}),
    ("arange", (1, 10, 3), {}), ("linspace", (0.0, 1.0, 4), {}), ("eye", (3, 4), {}),
]


@pytest.mark.parametrize("name,args,kwargs", CALLS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CALLS)])
def test_same_values_as_keras_ops(name, args, kwargs):
    mine = getattr(ops, name)(*args, **kwargs)
    theirs = getattr(keras.ops, name)(*args, **kwargs)
    mine = mine if isinstance(mine, (list, tuple)) else [mine]
    theirs = theirs if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        b = keras.ops.convert_to_numpy(b)
        assert np.shape(a) == b.shape
        assert np.asarray(a).dtype == b.dtype, (np.asarray(a).dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["relu", "relu6", "hard_tanh", "sigmoid", "softsign",
                                  "tanh_shrink", "squareplus", "sparse_plus", "sparse_sigmoid"])
def test_integer_inputs_give_keras_dtype_and_values(name):
    from core import ops

    x = np.array([[1, -2, 3, 7], [0, 5, -9, 2]])
    theirs = keras.ops.convert_to_numpy(getattr(keras.ops, name)(x))
    ours = np.asarray(getattr(ops, name)(x))
    assert ours.dtype == theirs.dtype, name
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
