"""ONNX export of EinsumDense and MultiHeadAttention: every mask the engine merges
(Embedding(mask_zero) on query, value and key, use_causal_mask, sliding_window, an
attention_mask input, several attention axes) gives the engine's predictions in
onnxruntime within 1e-5, and the masks change the numbers (so they are tested)."""

import numpy as np
import pytest

import core  # noqa: F401  (before numpy-heavy imports, see README)
from core import layers as L
from core.models import Model
from tests.helpers.onnx_check import check_same, randomize

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def _ids(batch=6, steps=7, vocab=9, seed=0):
    """Padding (0) trailing, inside, leading, and one row of padding only."""
    x = np.random.default_rng(seed).integers(1, vocab, (batch, steps)).astype(np.float32)
    x[0, 4:] = 0
    x[1, 1] = 0
    x[2, :2] = 0
    x[3] = 0
    return x


def _embedded_attention(mask_zero=True, **call):
    ids = L.Input((7,))
    e = L.Embedding(9, 4, mask_zero=mask_zero)(ids)
    a = L.MultiHeadAttention(2, 3)(e, e, **call)
    return Model(ids, L.GlobalAveragePooling1D()(L.Add()([e, a])))


@pytest.mark.parametrize("causal", [False, True])
def test_padding_mask_of_embedding_reaches_attention_and_residual(causal, tmp_path):
    model = _embedded_attention(use_causal_mask=causal)
    randomize(model, seed=3)
    check_same(model, tmp_path / "m.onnx", xs=[_ids()])


def test_cross_attention_with_masked_query_value_and_key(tmp_path):
    q_ids, v_ids, k_ids = L.Input((7,)), L.Input((5,)), L.Input((5,))
    emb = [L.Embedding(9, 4, mask_zero=True)(t) for t in (q_ids, v_ids, k_ids)]
    out, scores = L.MultiHeadAttention(2, 3, value_dim=2, use_gate=True)(
        emb[0], emb[1], key=emb[2], return_attention_scores=True)
    model = Model([q_ids, v_ids, k_ids], [L.GlobalAveragePooling1D()(out), scores])
    randomize(model, seed=5)
    xs = [_ids(), _ids(steps=5, seed=1), _ids(steps=5, seed=2)]
    xs[2][4, 3] = 0  # a key masked where its value is not
    check_same(model, tmp_path / "m.onnx", xs=xs)


def test_attention_mask_input_sliding_window_and_unknown_lengths(tmp_path):
    x, m = L.Input((None, 4)), L.Input((None, None))
    y = L.MultiHeadAttention(2, 2, sliding_window=2)(x, x, attention_mask=m,
                                                     use_causal_mask=True)
    model = Model([x, m], y)
    randomize(model, seed=7)
    rng = np.random.default_rng(0)
    for steps in (5, 8):
        xs = [rng.normal(size=(3, steps, 4)).astype(np.float32),
              rng.uniform(size=(3, steps, steps)).astype(np.float32)]  # > 0.5 keeps
        check_same(model, tmp_path / "m.onnx", xs=xs)


def test_several_attention_axes(tmp_path):
    x = L.Input((3, 4, 5))
    model = Model(x, L.MultiHeadAttention(2, 2, attention_axes=(1, 2))(x, x))
    randomize(model, seed=2)
    check_same(model, tmp_path / "m.onnx")


def test_masks_matter_so_the_mask_tests_can_fail(tmp_path):
    masked = _embedded_attention(use_causal_mask=True)
    randomize(masked, seed=3)
    sess = check_same(masked, tmp_path / "m.onnx", xs=[_ids()])
    plain = _embedded_attention(mask_zero=False)  # same weights, no mask at all
    for a, b in zip(plain.weights, masked.weights):
        a.assign(b.numpy())
    rows = slice(0, 3)  # padded rows; row 3 (all padding) averages to nan when masked
    ours = sess.run(None, {sess.get_inputs()[0].name: _ids()})[0][rows]
    assert not np.allclose(ours, plain.predict(_ids(), verbose=0)[rows], atol=1e-3)


def test_the_graph_uses_einsum_and_the_stated_opset(tmp_path):
    from core.export.onnx import OPSET, export_onnx
    x = L.Input((6, 4))
    export_onnx(Model(x, L.MultiHeadAttention(2, 2)(x, x)), tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert proto.opset_import[0].version == OPSET >= 12  # Einsum is opset 12
    assert sum(n.op_type == "Einsum" for n in proto.graph.node) == 6
