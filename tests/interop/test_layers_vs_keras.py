"""Every case of the shared layer test (tests/core/test_layers_all.py) against real
Keras 3 (torch backend), in process, so a new layer's one test case also checks it
against Keras.

For each case: Keras builds the layer from the dict we serialize; after a call on
the same input both serialize to the same dict (class, config keys and values,
``build_config``, which our ``built_at_init`` fact leaves out); Keras' layer built in ``__init__``
exactly when ours says so; weight names and shapes match; and with our weights
Keras computes our inference outputs (1e-5). Skipped when Keras is not importable.
"""

from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from core import backend  # noqa: E402
from core.layers import get_layer_class  # noqa: E402
from core.saving.serialization import serialize_layer  # noqa: E402
from tests.core.test_layers_all import CASES, _case_id  # noqa: E402

pytestmark = pytest.mark.skipif(keras.backend.backend() != "torch",
                                reason="compares with Keras on the torch backend")

# Cases left out, each with the reason (the layer is compared with Keras elsewhere).
ELSEWHERE = {
    # Keras builds the wrapped layer from an instance; the test case passes a dict the
    # Keras constructor does not take (tests/interop/test_sequence_vs_keras.py,
    # test_keras3_files.py compare them).
    "Bidirectional", "TimeDistributed",
}


def _cases():
    return [c for c in CASES if c[0] not in ELSEWHERE]


def keras_checked_layers() -> set:
    """The layer classes this file compares with real Keras."""
    return {c[0] for c in _cases()}


def _inputs(shapes, opts, seed=3):
    rng = np.random.default_rng(seed)
    lo, hi = opts.get("input_range", (-1.0, 1.0))
    many = isinstance(shapes, list)
    xs = [rng.uniform(lo, hi, s).astype("float32") for s in (shapes if many else [shapes])]
    if "input_range" in opts:  # token ids
        xs = [np.floor(x).astype("int32") for x in xs]
    return xs if many else xs[0]


def _plain(obj):
    return json.loads(json.dumps(obj))


@pytest.fixture(autouse=True)
def _fresh():
    backend.clear_session()
    keras.utils.clear_session()


@pytest.mark.parametrize("case", _cases(), ids=_case_id)
def test_keras_builds_serializes_and_computes_as_we_do(case):
    name, kwargs, in_shape, _, opts = case
    ours = get_layer_class(name)(**kwargs)
    kl = keras.layers.deserialize(_plain(serialize_layer(ours)))
    assert type(kl).__name__ == name
    assert kl.built == type(ours).built_at_init, "built_at_init differs from Keras'"
    x = _inputs(in_shape, opts)
    many = isinstance(x, list)
    y = ours(x, training=False)
    # Keras' MultiHeadAttention takes (query, value, key) as separate arguments
    spread = many and len(inspect.signature(type(kl).build).parameters) > 2
    if not kl.built:
        shapes = [(None,) + a.shape[1:] for a in x] if many else (None,) + x.shape[1:]
        kl.build(*shapes) if spread else kl.build(shapes)
    assert [w.path.split("/")[-1] for w in ours.weights] == \
        [w.path.split("/")[-1] for w in kl.weights]
    kl.set_weights(ours.get_weights())
    ky = kl(*x, training=False) if spread else kl(x, training=False)
    ys = y if isinstance(y, list) else [y]
    kys = ky if isinstance(ky, (list, tuple)) else [ky]
    for a, b in zip(ys, kys):
        np.testing.assert_allclose(np.asarray(a), keras.ops.convert_to_numpy(b),
                                   rtol=1e-5, atol=1e-5)
    theirs = _plain(keras.layers.serialize(kl))
    assert _plain(serialize_layer(ours)) == theirs
