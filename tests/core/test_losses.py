"""Losses: values against Keras' formulas written out here, gradients against central
finite differences (float64), fused kernels against their numpy twins, bad input."""

import numpy as np
import pytest

from core import losses
from core.kernels import losses as k

EPS = 1e-7
rng = np.random.default_rng(0)


def fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * h)
    return g


def rel_err(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-30)


def probs(n, c, dtype=np.float64):
    p = rng.uniform(0.05, 1.0, (n, c))
    return (p / p.sum(1, keepdims=True)).astype(dtype)


def onehot(labels, c):
    return np.eye(c)[labels]


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ------------------------------------------------------------------ values
def test_regression_values_match_keras_formulas():
    yt = rng.normal(size=(6, 4))
    yp = rng.normal(size=(6, 4)) * 2
    assert losses.MeanSquaredError()(yt, yp) == pytest.approx(np.mean(np.mean((yt - yp) ** 2, -1)))
    assert losses.MeanAbsoluteError()(yt, yp) == pytest.approx(np.mean(np.abs(yt - yp)))
    e = yp - yt
    hub = [[0.5 * x * x if abs(x) <= 1.3 else 1.3 * abs(x) - 0.5 * 1.3 ** 2 for x in row]
           for row in e]
    assert losses.Huber(delta=1.3)(yt, yp) == pytest.approx(np.mean(hub))
    w = np.array([0.1, 2, 0, 1, 1, 3.0])
    per = np.mean((yt - yp) ** 2, -1)
    assert losses.MeanSquaredError()(yt, yp, sample_weight=w) == pytest.approx(
        np.sum(per * w) / 6)
    assert losses.MeanSquaredError(reduction="sum")(yt, yp) == pytest.approx(per.sum())
    np.testing.assert_allclose(losses.mse(yt, yp), per)


def test_keras_documented_examples():
    # Examples from the Keras docstrings.
    yt = np.array([[0, 1, 0], [0, 0, 1]])
    yp = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    cce = losses.CategoricalCrossentropy()
    assert cce(yt, yp) == pytest.approx(1.177, abs=1e-3)
    assert cce(yt, yp, sample_weight=np.array([0.3, 0.7])) == pytest.approx(0.814, abs=1e-3)
    bce = losses.BinaryCrossentropy(from_logits=True)
    yt = np.array([[0, 1], [0, 0]])
    yp = np.array([[-18.6, 0.51], [2.94, -12.8]])
    assert bce(yt, yp) == pytest.approx(0.8654, abs=1e-4)
    assert bce(yt, yp, sample_weight=[0.8, 0.2]) == pytest.approx(0.243, abs=1e-3)
    assert losses.BinaryCrossentropy(from_logits=True, reduction="sum")(yt, yp) == \
        pytest.approx(1.730, abs=1e-3)


def test_crossentropy_values_with_clipping_and_smoothing():
    yt = onehot(np.array([0, 2, 1, 1]), 3)
    yp = np.array([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5], [0.6, 0.4, 0.0], [1.0, 1.0, 2.0]])
    q = np.clip(yp / yp.sum(1, keepdims=True), EPS, 1 - EPS)
    assert losses.CategoricalCrossentropy()(yt, yp) == pytest.approx(
        np.mean(-(yt * np.log(q)).sum(1)))
    ls = 0.2
    ys = yt * (1 - ls) + ls / 3
    assert losses.CategoricalCrossentropy(label_smoothing=ls)(yt, yp) == pytest.approx(
        np.mean(-(ys * np.log(q)).sum(1)))
    z = rng.normal(size=(4, 3))
    logsm = z - np.log(np.exp(z).sum(1, keepdims=True))
    assert losses.CategoricalCrossentropy(from_logits=True)(yt, z) == pytest.approx(
        np.mean(-(yt * logsm).sum(1)))
    labels = np.array([0, 2, 1, 1])
    assert losses.SparseCategoricalCrossentropy()(labels, yp) == pytest.approx(
        np.mean(-np.log(q[np.arange(4), labels])))
    assert losses.SparseCategoricalCrossentropy(from_logits=True)(labels[:, None], z) == \
        pytest.approx(np.mean(-logsm[np.arange(4), labels]))
    # ignore_class: mean over the rows that are not ignored (Keras' mask weighting)
    ign = losses.SparseCategoricalCrossentropy(ignore_class=2)
    assert ign(labels, yp) == pytest.approx(np.mean(-np.log(q[[0, 2, 3], labels[[0, 2, 3]]])))
    # binary: clip at eps, mean over last axis, smoothing towards 0.5
    bt = np.array([[1.0, 0.0], [0.0, 1.0]])
    bp = np.array([[1.0, 0.3], [0.4, 0.9]])
    o = np.clip(bp, EPS, 1 - EPS)
    bs = bt * 0.9 + 0.05
    assert losses.BinaryCrossentropy(label_smoothing=0.1)(bt, bp) == pytest.approx(
        np.mean(-(bs * np.log(o) + (1 - bs) * np.log(1 - o))))


def test_rank_one_labels_against_single_unit_output():
    yt = np.array([1.0, 0.0, 1.0])
    yp = np.array([[0.9], [0.2], [0.4]])
    expect = np.mean(-(yt * np.log(yp[:, 0]) + (1 - yt) * np.log(1 - yp[:, 0])))
    assert losses.BinaryCrossentropy()(yt, yp) == pytest.approx(expect)
    value, g = losses.BinaryCrossentropy().value_and_grad(yt, yp)
    assert g.shape == (3, 1)


# --------------------------------------------------------------- gradients
GRAD_CASES = [
    (losses.MeanSquaredError(), "reg"),
    (losses.MeanAbsoluteError(), "reg"),
    (losses.Huber(delta=0.7), "reg"),
    (losses.BinaryCrossentropy(), "prob"),
    (losses.BinaryCrossentropy(label_smoothing=0.1), "prob"),
    (losses.BinaryCrossentropy(from_logits=True), "logit"),
    (losses.CategoricalCrossentropy(), "cat"),
    (losses.CategoricalCrossentropy(label_smoothing=0.15), "cat"),
    (losses.CategoricalCrossentropy(from_logits=True), "catlogit"),
    (losses.SparseCategoricalCrossentropy(), "sparse"),
    (losses.SparseCategoricalCrossentropy(from_logits=True), "sparselogit"),
    (losses.SparseCategoricalCrossentropy(ignore_class=1), "sparse"),
]


def _case_inputs(kind):
    if kind == "reg":
        yt = rng.normal(size=(5, 3))
        # keep |error| away from 0 and from the Huber kink
        yp = yt + rng.choice([-1, 1], (5, 3)) * rng.uniform(0.1, 0.6, (5, 3)) * \
            rng.choice([1, 3], (5, 3))
        return yt, yp
    if kind == "prob":
        return rng.integers(0, 2, (5, 3)).astype(float), rng.uniform(0.05, 0.95, (5, 3))
    if kind == "logit":
        return rng.integers(0, 2, (5, 3)).astype(float), rng.normal(size=(5, 3)) * 2
    labels = rng.integers(0, 4, 6)
    labels[:2] = [1, 2]
    if kind == "cat":
        return onehot(labels, 4), rng.uniform(0.1, 1.0, (6, 4))  # unnormalised on purpose
    if kind == "catlogit":
        return onehot(labels, 4), rng.normal(size=(6, 4))
    if kind == "sparse":
        return labels, rng.uniform(0.1, 1.0, (6, 4))
    return labels, rng.normal(size=(6, 4))


@pytest.mark.parametrize("loss,kind", GRAD_CASES, ids=lambda v: getattr(v, "name", v))
@pytest.mark.parametrize("weighted", [False, True])
def test_value_and_grad_matches_finite_differences(loss, kind, weighted):
    yt, yp = _case_inputs(kind)
    sw = rng.uniform(0.2, 2.0, len(yp)) if weighted else None
    value, g = loss.value_and_grad(yt, yp, sample_weight=sw)
    assert value == pytest.approx(loss(yt, yp, sample_weight=sw), rel=1e-12)
    assert g.shape == yp.shape and g.dtype == np.float64
    num = fd_grad(lambda x: loss(yt, x, sample_weight=sw), yp.copy())
    assert rel_err(g, num) < 1e-6


def test_sum_reduction_and_multidim_outputs_gradient():
    loss = losses.CategoricalCrossentropy(reduction="sum")
    yt = onehot(rng.integers(0, 3, 8), 3).reshape(2, 4, 3)
    yp = rng.uniform(0.1, 1, (2, 4, 3))
    _, g = loss.value_and_grad(yt, yp)
    assert rel_err(g, fd_grad(lambda x: loss(yt, x), yp.copy())) < 1e-6


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_logits_grad_equals_finite_differences_through_softmax(sparse, weighted):
    n, c = 7, 5
    labels = rng.integers(0, c, n)
    z = rng.normal(size=(n, c))
    sw = rng.uniform(0.5, 2, n) if weighted else None
    if sparse:
        loss, yt = losses.SparseCategoricalCrossentropy(), labels
    else:
        loss, yt = losses.CategoricalCrossentropy(label_smoothing=0.1), onehot(labels, c)
    value, g = loss.value_and_logits_grad(yt, softmax(z), sample_weight=sw)
    assert value == pytest.approx(loss(yt, softmax(z), sample_weight=sw), rel=1e-9)
    num = fd_grad(lambda x: loss(yt, softmax(x), sample_weight=sw), z.copy())
    assert rel_err(g, num) < 1e-6
    np.testing.assert_allclose(loss.logits_grad(yt, softmax(z), sample_weight=sw), g)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_binary_logits_grad_equals_finite_differences_through_sigmoid(smoothing):
    yt = rng.integers(0, 2, (6, 3)).astype(float)
    z = rng.normal(size=(6, 3)) * 2
    sw = rng.uniform(0.5, 2, 6)
    loss = losses.BinaryCrossentropy(label_smoothing=smoothing)

    def sig(x):
        return 1 / (1 + np.exp(-x))

    value, g = loss.value_and_logits_grad(yt, sig(z), sample_weight=sw)
    assert value == pytest.approx(loss(yt, sig(z), sample_weight=sw), rel=1e-12)
    num = fd_grad(lambda x: loss(yt, sig(x), sample_weight=sw), z.copy())
    assert rel_err(g, num) < 1e-6
    # saturated and wrong: the clipped value has no gradient, the fused one still learns
    _, g_sat = loss.value_and_logits_grad(np.array([[0.0]]), np.array([[1.0]]))
    assert g_sat[0, 0] == pytest.approx(1.0 - 0.5 * smoothing)


def test_logits_grad_with_ignore_class_and_one_hot_formula():
    loss = losses.SparseCategoricalCrossentropy(ignore_class=0)
    labels = np.array([0, 1, 2, 2, 0])
    z = rng.normal(size=(5, 3))
    _, g = loss.value_and_logits_grad(labels, softmax(z))
    num = fd_grad(lambda x: loss(labels, softmax(x)), z.copy())
    assert rel_err(g, num) < 1e-6
    assert not g[[0, 4]].any()
    p = softmax(z)
    y = onehot(np.array([1, 0, 2, 1, 1]), 3)
    np.testing.assert_allclose(losses.CategoricalCrossentropy().logits_grad(y, p), (p - y) / 5)


# ---------------------------------------------------------------- kernels
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_kernels_match_numpy_twins_float32(weighted):
    n, c = 33, 10
    p = probs(n, c, np.float32)
    labels = rng.integers(0, c, n)
    y = onehot(labels, c).astype(np.float32)
    w = rng.uniform(0.5, 2, n).astype(np.float32) if weighted else np.empty(0, np.float32)
    out, ref = np.empty_like(p), np.empty_like(p)
    scale = np.float32(1 / n)
    t1 = k.softmax_ce_grad(p, y, w, out, scale, EPS)
    t2 = k.softmax_ce_grad_ref(p, y, w, ref, scale, EPS)
    assert abs(t1 - t2) / abs(t2) < 1e-5 and rel_err(out, ref) < 1e-5
    for ign in (False, True):
        t1 = k.sparse_softmax_ce_grad(p, labels, w, out, scale, EPS, ign, int(labels[0]))
        t2 = k.sparse_softmax_ce_grad_ref(p, labels, w, ref, scale, EPS, ign, int(labels[0]))
        assert abs(t1 - t2) / abs(t2) < 1e-5 and rel_err(out, ref) < 1e-5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_rows_kernel_matches_its_twin_at_the_clips_and_on_nan(dtype):
    n, c = 41, 7
    p = probs(n, c, dtype)
    labels = rng.integers(0, c, n)
    p[0, labels[0]] = 0.0  # clipped at eps
    p[1] = 0.0
    p[1, labels[1]] = 3.0  # share 1: clipped at 1 - eps
    p[2, (labels[2] + 1) % c] = np.nan  # NaN row sum: NaN loss
    got = [np.empty(n, dtype) for _ in range(3)]
    want = [np.empty(n, dtype) for _ in range(3)]
    k.sparse_ce_rows(p, labels, EPS, *got)
    k.sparse_ce_rows_ref(p, labels, EPS, *want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-6, equal_nan=True)
    assert np.isnan(got[0][2]) and got[0][0] == pytest.approx(-np.log(EPS), rel=1e-6)


def test_sparse_crossentropy_value_and_grad_through_the_row_kernel():
    """The loss called as a function (the row kernel) against float64 numpy, and its
    gradient (which reads that kernel's row sums and shares) against differences."""
    y_pred = probs(6, 4, np.float64).reshape(2, 3, 4) * 1.7  # unnormalised rows
    labels = rng.integers(0, 4, (2, 3))
    loss = losses.SparseCategoricalCrossentropy()
    q = np.take_along_axis(y_pred / y_pred.sum(-1, keepdims=True), labels[..., None], -1)
    assert loss(labels, y_pred) == pytest.approx(np.mean(-np.log(q)), rel=1e-12)
    _, grad = loss.value_and_grad(labels, y_pred)
    np.testing.assert_allclose(grad, fd_grad(lambda p: loss(labels, p), y_pred),
                               rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_logits_kernels_match_numpy_twins_float32(weighted):
    n, c = 29, 7
    z = (rng.normal(size=(n, c)) * 4).astype(np.float32)
    labels = rng.integers(0, c, n)
    y = (onehot(labels, c) * 0.9 + 0.1 / c).astype(np.float32)
    w = rng.uniform(0.5, 2, n).astype(np.float32) if weighted else np.empty(0, np.float32)
    out, ref = np.empty_like(z), np.empty_like(z)
    scale = np.float32(1 / n)
    t1 = k.logits_ce_grad(z, y, w, out, scale)
    t2 = k.logits_ce_grad_ref(z, y, w, ref, scale)
    assert abs(t1 - t2) / abs(t2) < 1e-5 and rel_err(out, ref) < 1e-5
    for ign in (False, True):
        t1 = k.sparse_logits_ce_grad(z, labels, w, out, scale, ign, int(labels[0]))
        t2 = k.sparse_logits_ce_grad_ref(z, labels, w, ref, scale, ign, int(labels[0]))
        assert abs(t1 - t2) / abs(t2) < 1e-5 and rel_err(out, ref) < 1e-5


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
def test_from_logits_kernel_path_with_ignore_class_and_reductions(reduction):
    labels = np.array([0, 3, 1, 3, 2, 1])
    z = rng.normal(size=(6, 4)) * 3
    sw = rng.uniform(0.5, 2, 6)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3,
                                                reduction=reduction)
    value, g = loss.value_and_grad(labels, z, sample_weight=sw)
    assert value == pytest.approx(loss(labels, z, sample_weight=sw), rel=1e-12)
    assert rel_err(g, fd_grad(lambda x: loss(labels, x, sample_weight=sw), z.copy())) < 1e-6
    cat = losses.CategoricalCrossentropy(from_logits=True, reduction=reduction)
    y = onehot(labels, 4)
    value, g = cat.value_and_grad(y, z, sample_weight=sw)
    assert value == pytest.approx(cat(y, z, sample_weight=sw), rel=1e-12)
    assert rel_err(g, fd_grad(lambda x: cat(y, x, sample_weight=sw), z.copy())) < 1e-6


def test_float32_inputs_stay_float32():
    p = probs(4, 3, np.float32)
    _, g = losses.CategoricalCrossentropy().value_and_grad(onehot([0, 1, 2, 0], 3), p)
    assert g.dtype == np.float32
    assert losses.SparseCategoricalCrossentropy().logits_grad([0, 1, 2, 0], p).dtype == np.float32


# -------------------------------------------------------------- bad input
def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"mean_squared_error.*\(4, 3\).*\(4, 2\)"):
        losses.MeanSquaredError()(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"y_true.shape=\(4, 3\).*y_pred.shape=\(4, 2\)"):
        losses.CategoricalCrossentropy().logits_grad(np.zeros((4, 3)), np.ones((4, 2)) / 2)
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*\(4, 2\).*\(4, 3\)"):
        losses.SparseCategoricalCrossentropy()(np.zeros((4, 2)), np.ones((4, 3)) / 3)


def test_sparse_labels_out_of_range_or_fractional():
    p = probs(3, 4)
    loss = losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*label 4 .*4 classes"):
        loss(np.array([0, 4, 1]), p)
    with pytest.raises(ValueError, match=r"label -1 .*4 classes"):
        loss.logits_grad(np.array([0, -1, 1]), p)
    with pytest.raises(ValueError, match=r"label 1.5 is not an integer.*4 classes"):
        loss(np.array([0, 1.5, 1]), p)
    # an ignored class may lie outside the range
    assert np.isfinite(losses.SparseCategoricalCrossentropy(ignore_class=-1)([0, -1, 1], p))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="label_smoothing=1.5"):
        losses.CategoricalCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction='avg'"):
        losses.MeanSquaredError(reduction="avg")
    with pytest.raises(ValueError, match="delta=-1"):
        losses.Huber(delta=-1)
    with pytest.raises(ValueError, match="from_logits=True"):
        losses.CategoricalCrossentropy(from_logits=True).logits_grad([[1, 0]], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="sample_weight of shape"):
        losses.MeanSquaredError()(np.zeros((4, 2)), np.ones((4, 2)), sample_weight=np.ones(3))


# ------------------------------------------------------- get / serialization
def test_get_and_serialization_roundtrip():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("CategoricalCrossentropy"), losses.CategoricalCrossentropy)
    assert isinstance(losses.get(losses.binary_crossentropy), losses.BinaryCrossentropy)
    assert losses.get(None) is None
    inst = losses.Huber(2.0)
    assert losses.get(inst) is inst
    with pytest.raises(ValueError, match="Unknown loss 'msee'"):
        losses.get("msee")
    # A user function is wrapped as Keras' LossFunctionWrapper (gradient from its ops);
    # a non-callable is refused.
    assert isinstance(losses.get(lambda a, b: a), losses.LossFunctionWrapper)
    with pytest.raises(ValueError, match="Could not interpret loss"):
        losses.get(3)
    cce = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    cfg = losses.serialize(cce)
    assert cfg == {"module": "keras.losses", "class_name": "CategoricalCrossentropy",
                   "config": {"name": "categorical_crossentropy",
                              "reduction": "sum_over_batch_size", "from_logits": True,
                              "label_smoothing": 0.1, "axis": -1},
                   "registered_name": None}
    back = losses.deserialize(cfg)
    assert back.get_config() == cce.get_config()
    sp = losses.deserialize({"class_name": "SparseCategoricalCrossentropy",
                             "config": {"name": "scce", "reduction": "sum_over_batch_size",
                                        "from_logits": False, "ignore_class": 3,
                                        "dtype": None}})
    assert sp.ignore_class == 3 and sp.name == "scce"
