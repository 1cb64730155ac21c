"""Sequence layers beyond the shared checks: kernels against their numpy twins, Conv1D
against PyTorch, masks end to end, Embedding's id errors, a model saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest

from core import backend
from core.autodiff import Tape
from core.kernels import layer_norm as ln
from core.layers import Dense, Dropout, Flatten, Input, masks
from core.layers.conv1d import padding_1d
from core.layers.sequence import (
    Conv1D,
    Embedding,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    LayerNormalization,
    Masking,
    TimeDistributed,
)
from core.models import Model, Sequential, load_model


@pytest.fixture(autouse=True)
def _fresh():
    backend.clear_session()


# ------------------------------------------------------------- layer norm kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rms", [False, True])
def test_layer_norm_kernels_match_their_twins(dtype, rms):
    rng = np.random.default_rng(3)
    x = (rng.normal(2.0, 3.0, (37, 11))).astype(dtype)
    g, b = rng.normal(size=11).astype(dtype), rng.normal(size=11).astype(dtype)
    outs = []
    for fwd in (ln.layer_norm_forward, ln.layer_norm_forward_ref):
        y, mean, inv = np.empty_like(x), np.empty(37), np.empty(37)
        fwd(x, g, b, 1e-3, rms, y, mean, inv)
        outs.append((y, mean, inv))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, r in zip(outs[0], outs[1]):
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol)
    dy = rng.normal(size=x.shape).astype(dtype)
    grads = []
    for bwd in (ln.layer_norm_backward, ln.layer_norm_backward_ref):
        dx, dg, db = np.empty_like(x), np.empty(11), np.empty(11)
        bwd(x, dy, g, outs[1][1], outs[1][2], rms, dx, dg, db, True)
        grads.append((dx, dg, db))
    for a, r in zip(grads[0], grads[1]):
        np.testing.assert_allclose(a, r, rtol=tol * 10, atol=tol * 10)


def test_layer_normalization_matches_the_formula():
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    layer = LayerNormalization(dtype="float64", epsilon=1e-3)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(layer(x), want, rtol=1e-12)
    assert [w.name for w in layer.weights] == ["gamma", "beta"]
    assert LayerNormalization(rms_scaling=True)(x.astype("float32")) is not None


# ------------------------------------------------------------------ Conv1D vs torch
@pytest.mark.parametrize("kw", [
    {"kernel_size": 3},
    {"kernel_size": 4, "strides": 2, "padding": "same"},
    {"kernel_size": 3, "padding": "causal", "dilation_rate": 2},
    {"kernel_size": 2, "padding": "same", "dilation_rate": 3},
    {"kernel_size": 5, "strides": 3, "use_bias": False},
])
def test_conv1d_matches_torch_forward_and_gradients(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 11, 4))
    layer = Conv1D(5, dtype="float64", **kw)
    y = layer(x)
    k, s, d = layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
    # padding by hand (Keras' split), then a valid torch conv
    left, right, _ = padding_1d(layer.padding, 11, k, s, d)
    xt = torch.tensor(np.pad(x, ((0, 0), (left, right), (0, 0))).transpose(0, 2, 1),
                      requires_grad=True)
    conv = torch.nn.Conv1d(4, 5, k, stride=s, dilation=d, bias=layer.use_bias,
                           dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(layer.kernel.value.transpose(2, 1, 0)))
        if layer.use_bias:
            conv.bias.copy_(torch.tensor(layer.bias.value))
    yt = conv(xt)
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 1), rtol=1e-10,
                               atol=1e-12)
    dy = rng.normal(size=y.shape)
    yt.backward(torch.tensor(dy.transpose(0, 2, 1)))
    with Tape() as tape:
        tape.watch(x)
        out = layer(x, training=True)
    dx = layer.backward(tape.records[-1].cache, dy, need_input_grad=True)
    dxt = xt.grad.numpy().transpose(0, 2, 1)[:, left:left + 11]
    np.testing.assert_allclose(dx, dxt, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.kernel.grad, conv.weight.grad.numpy().transpose(2, 1, 0),
                               rtol=1e-10, atol=1e-12)
    if layer.use_bias:
        np.testing.assert_allclose(layer.bias.grad, conv.bias.grad.numpy(), rtol=1e-10)
    assert out.shape == y.shape


# --------------------------------------------------------------------------- masks
def _ids():
    return np.array([[3, 1, 0, 0], [2, 2, 2, 0], [1, 0, 0, 0]])


def test_embedding_mask_reaches_global_average_pooling_through_dropout_and_dense():
    emb = Embedding(5, 3, mask_zero=True)
    model = Sequential([Input((4,)), emb, Dropout(0.5), Dense(2),
                        GlobalAveragePooling1D()])
    ids = _ids()
    got = model(ids)
    h = model.layers[2](emb(ids))
    keep = ids != 0
    want = (h * keep[..., None]).sum(1) / keep.sum(1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    unmasked = h.mean(1)
    assert not np.allclose(got, unmasked)
    # predict's later batches take the fast path: they must keep the mask too
    many = np.concatenate([ids] * 5)
    np.testing.assert_allclose(model.predict(many, batch_size=3, verbose=0),
                               np.concatenate([want] * 5), rtol=1e-6)


def test_layers_without_masking_drop_the_mask_and_global_max_ignores_it():
    x = np.ones((2, 3, 2), "float32")
    x[:, 2] = 0
    y = Masking()(x)
    assert masks.get_mask(y).tolist() == [[True, True, False]] * 2
    assert masks.get_mask(Flatten()(y)) is None
    assert masks.get_mask(LayerNormalization()(y)) is not None
    assert masks.get_mask(GlobalAveragePooling1D()(y)) is None  # the time axis is gone
    # Keras 3's GlobalMaxPooling1D takes no mask: the max is over every step
    np.testing.assert_array_equal(GlobalMaxPooling1D()(-y), np.zeros((2, 2)))


def test_an_explicit_mask_argument_wins_and_a_fresh_array_has_no_mask():
    x = np.arange(6, dtype="float32").reshape(1, 3, 2)
    y = GlobalAveragePooling1D()(x, mask=np.array([[True, False, False]]))
    np.testing.assert_array_equal(y, [[0.0, 1.0]])
    for _ in range(100):  # ids of freed arrays are reused; their masks must not be
        masks.set_mask(np.zeros(3), np.ones(3, bool))
        assert masks.get_mask(np.zeros(3)) is None


def test_masked_model_trains_and_masked_steps_get_no_gradient():
    ids = _ids()
    inp = Input((4,))
    emb = Embedding(5, 3, mask_zero=True)
    out = Dense(1)(GlobalAveragePooling1D()(TimeDistributed(Dense(3))(emb(inp))))
    model = Model(inp, out)
    model.compile("sgd", "mse")
    before = emb.embeddings.numpy()
    model.fit(ids, np.ones((3, 1)), epochs=1, batch_size=3, verbose=0)
    moved = np.abs(emb.embeddings.numpy() - before).sum(axis=1)
    assert moved[0] == 0.0  # id 0 only ever appears at masked steps
    assert (moved[1:4] > 0).all()


def test_embedding_rejects_out_of_range_ids_naming_layer_id_and_position():
    emb = Embedding(4, 2, name="words")
    with pytest.raises(ValueError, match=r"'words'.*token id 7 at position \(1, 0\)"):
        emb(np.array([[1, 2], [7, 0]]))
    with pytest.raises(ValueError, match=r"token id -1 at position \(0, 1\)"):
        emb(np.array([[1, -1], [2, 0]]))


def test_timedistributed_config_nests_the_layer_and_weights_live_inside():
    td = TimeDistributed(Dense(3, name="inner"))
    td(np.zeros((2, 4, 5), "float32"))
    config = td.get_config()
    assert config["layer"]["class_name"] == "Dense"
    assert config["layer"]["config"]["name"] == "inner"
    assert [w.path for w in td.weights] == ["inner/kernel", "inner/bias"]


def test_sequence_model_saves_and_loads(tmp_path):
    model = Sequential([
        Input((6,)), Embedding(9, 4, mask_zero=True), Conv1D(3, 2, padding="causal"),
        LayerNormalization(), TimeDistributed(Dense(2)), GlobalAveragePooling1D(),
    ])
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 1]])
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(model.predict(ids, verbose=0), loaded.predict(ids, verbose=0))
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]


def test_palette_lists_the_sequence_group():
    from core.layers import get_layer_specs

    names = {cls.__name__ for cls in get_layer_specs()["Sequence"]}
    assert {"Embedding", "Conv1D", "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D",
            "GlobalAveragePooling1D", "Masking", "TimeDistributed"} <= names
    assert {c.__name__ for c in get_layer_specs()["Reshaping"]} >= {"RepeatVector", "Permute"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_ids", [12, 4096])  # np.add.at, then the bincount path
def test_embedding_gradient_sums_repeated_ids(dtype, n_ids):
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 50, (n_ids // 4, 4))
    emb = Embedding(50, 6, dtype=dtype)
    with Tape() as tape:
        out = emb(ids, training=True)
    dy = rng.normal(size=out.shape).astype(dtype)
    emb.backward(tape.records[-1].cache, dy, need_input_grad=False)
    want = np.zeros((50, 6))
    for i, row in zip(ids.reshape(-1), dy.reshape(-1, 6)):
        want[i] += row
    assert emb.embeddings.grad.dtype == np.dtype(dtype)
    np.testing.assert_allclose(emb.embeddings.grad, want, rtol=1e-5 if dtype == "float32"
                               else 1e-12, atol=1e-5 if dtype == "float32" else 1e-12)
