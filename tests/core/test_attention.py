"""MultiHeadAttention against torch.nn.MultiheadAttention (weights mapped; outputs,
per-head attention weights and gradients to 1e-4), masks from Embedding(mask_zero) in
a model, the editor's two-wire self-attention, and the clear errors."""

import numpy as np
import pytest

from core.graph.document import GraphDocument
from core.layers import Embedding, GlobalAveragePooling1D, Input, MultiHeadAttention
from core.layers import masks as _masks
from core.models import Model, load_model
from core.models.functional_config import functional_config
from core.ops.contract import contract
from tests.helpers.op_check import tape_gradients

torch = pytest.importorskip("torch")

B, T, S, E, H = 3, 5, 4, 8, 2


def _mapped(mha, tmha):
    """Copy our MultiHeadAttention's weights into torch's (kernel (E, H, d) -> rows)."""
    qk, qb, kk, kb, vk, vb, ok, ob = [w.value.astype(np.float64) for w in mha.weights]
    w_in = np.concatenate([k.reshape(E, -1).T for k in (qk, kk, vk)])
    with torch.no_grad():
        tmha.in_proj_weight.copy_(torch.tensor(w_in))
        tmha.in_proj_bias.copy_(torch.tensor(np.concatenate([qb.ravel(), kb.ravel(),
                                                             vb.ravel()])))
        tmha.out_proj.weight.copy_(torch.tensor(ok.reshape(-1, E).T))
        tmha.out_proj.bias.copy_(torch.tensor(ob))


@pytest.mark.parametrize("masked", [False, True])
def test_matches_torch_multihead_attention_forward_scores_and_gradients(masked):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(B, T, E))
    v = rng.normal(size=(B, S, E))
    mha = MultiHeadAttention(H, E // H, dtype="float64")
    mha(q, v)
    for w in mha.weights:
        w.assign(rng.normal(0, 0.3, w.shape))
    tmha = torch.nn.MultiheadAttention(E, H, batch_first=True, dtype=torch.float64)
    _mapped(mha, tmha)
    key_ok = np.array([[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 1, 1]], bool)
    r = [rng.normal(size=(B, T, E)), np.zeros((B, H, T, S))]

    def ours(a, b):
        if masked:
            _masks.set_mask(b, key_ok)
        return mha(a, b, return_attention_scores=True)

    (y, scores), in_grads, _ = tape_gradients(ours, [q, v], [0, 1], rs=r)
    tq, tv = (torch.tensor(a, requires_grad=True) for a in (q, v))
    ty, tw = tmha(tq, tv, tv, key_padding_mask=torch.tensor(~key_ok) if masked else None,
                  average_attn_weights=False)
    (ty * torch.tensor(r[0])).sum().backward()
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scores, tw.detach().numpy(), rtol=1e-4, atol=1e-4)
    grads = {w.path.split("/", 1)[1]: w.grad for w in mha.weights}
    np.testing.assert_allclose(in_grads[0], tq.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(in_grads[1], tv.grad.numpy(), rtol=1e-4, atol=1e-4)
    t_in = tmha.in_proj_weight.grad.numpy()
    np.testing.assert_allclose(grads["query/kernel"].reshape(E, -1).T, t_in[:E], atol=1e-4)
    np.testing.assert_allclose(grads["value/kernel"].reshape(E, -1).T, t_in[2 * E:],
                               atol=1e-4)
    np.testing.assert_allclose(grads["attention_output/kernel"].reshape(-1, E).T,
                               tmha.out_proj.weight.grad.numpy(), atol=1e-4)


def test_contract_equals_einsum_on_attention_equations():
    rng = np.random.default_rng(1)
    for eq, shapes in [("aecd,abcd->acbe", [(2, 5, 3, 4), (2, 6, 3, 4)]),
                       ("acbe,aecd->abcd", [(2, 3, 6, 5), (2, 5, 3, 4)]),
                       ("abcd,cde->abe", [(2, 6, 3, 4), (3, 4, 7)]),
                       ("abc,cd->ad", [(2, 3, 4), (4, 5)])]:
        a, b = (rng.normal(size=s) for s in shapes)
        np.testing.assert_allclose(contract(eq, a, b), np.einsum(eq, a, b), atol=1e-12)


def test_embedding_mask_reaches_attention_and_the_output_carries_it(tmp_path):
    ids = Input((6,))
    e = Embedding(10, 4, mask_zero=True)(ids)
    y = MultiHeadAttention(2, 2, name="mha")(e, e)
    model = Model(ids, GlobalAveragePooling1D()(y))
    x = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]], "float32")
    out = model.predict(x, verbose=0)
    # padded keys get no attention: changing an embedding at a padded step changes nothing
    x2 = x.copy()
    x2[0, 4] = 0
    emb = model.layers[1]
    w = emb.get_weights()[0].copy()
    w[0] += 5.0  # the padding row (id 0) changes
    emb.set_weights([w])
    np.testing.assert_allclose(model.predict(x2, verbose=0)[0], out[0], rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(load_model(tmp_path / "m.keras").predict(x2, verbose=0),
                               model.predict(x2, verbose=0), rtol=1e-6)


def test_symbolic_attention_mask_and_key_are_written_as_keras_does():
    q, v, m = Input((5, 4)), Input((3, 4)), Input((5, 3))
    y = MultiHeadAttention(2, 2, name="mha")(q, v, attention_mask=m)
    model = Model([q, v, m], y)
    node = next(ly for ly in functional_config(model)["layers"]
                if ly["name"] == "mha")["inbound_nodes"][0]
    assert len(node["args"]) == 2 and sorted(node["kwargs"]) == ["attention_mask"]
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 3, 4)),
          (rng.random((2, 5, 3)) > 0.4).astype("float32")]
    direct = model.layers[-1](xs[0].astype("float32"), xs[1].astype("float32"),
                              attention_mask=xs[2] > 0.5)
    np.testing.assert_allclose(model.predict(xs, verbose=0), direct, rtol=1e-5, atol=1e-6)


def test_editor_self_attention_with_two_wires_from_one_layer():
    doc = GraphDocument()
    x = doc.add_node("InputLayer", {"shape": [6, 8]})
    mha = doc.add_node("MultiHeadAttention", {"num_heads": 2, "key_dim": 4})
    doc.connect(x, mha, 0)
    doc.connect(x, mha, 1)
    assert doc.state(mha).output_shape == (None, 6, 8)
    model = doc.build_model()
    xb = np.random.default_rng(3).normal(size=(2, 6, 8)).astype("float32")
    layer = model.get_layer(doc.nodes[mha].name)
    np.testing.assert_allclose(model.predict(xb, verbose=0), layer(xb, xb), rtol=1e-6)


def test_errors_name_the_layer_and_shapes():
    mha = MultiHeadAttention(2, 3, name="att")
    with pytest.raises(ValueError, match=r"att.*takes \[query, value\].*received 1"):
        mha([np.zeros((1, 4, 5), "float32")])
    mha(np.zeros((1, 4, 5), "float32"), np.zeros((1, 3, 5), "float32"))
    with pytest.raises(ValueError, match=r"'value' of layer 'att'.*\(None, 3, 5\).*\(1, 3, 7\)"):
        mha(np.zeros((1, 4, 5), "float32"), np.zeros((1, 3, 7), "float32"))
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(0, 3)


def test_gradients_with_masks_causal_and_dropout_off_match_finite_differences():
    from core.layers import Layer
    from tests.helpers.gradcheck import check_layer_gradients

    key_ok = np.array([[1, 1, 0, 1], [0, 1, 1, 1]], bool)
    allowed = np.random.default_rng(4).random((2, 4, 4)) > 0.3
    allowed[:, :, 1] = True

    class Masked(Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.mha = MultiHeadAttention(2, 3, value_dim=2, use_gate=True, dtype="float64")

        def call(self, inputs):
            q, v = inputs
            _masks.set_mask(v, key_ok)
            return self.mha(q, v, attention_mask=allowed, use_causal_mask=True)

    layer = Masked(dtype="float64")
    rng = np.random.default_rng(5)
    xs = [rng.uniform(-1, 1, (2, 4, 5)), rng.uniform(-1, 1, (2, 4, 5))]
    layer(xs)
    for w in layer.trainable_weights:
        w.assign(w.value + rng.normal(0, 0.2, w.shape))
    errors = check_layer_gradients(layer, xs, rtol=1e-6)
    assert len(errors) == 2 + 10  # both inputs, five projections' kernels and biases
