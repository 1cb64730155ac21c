"""Metrics on hand-computed examples (incl. Keras docstring values), batch-size weighted
running means, accuracy resolution from shapes/loss, configs, bad input."""

import numpy as np
import pytest

from core import losses, metrics


def test_running_mean_is_weighted_by_batch_size():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state([0, 1, 2, 0], np.eye(3)[[0, 1, 2, 1]])  # 3 of 4
    m.update_state([1], [[0.2, 0.7, 0.1]])  # 1 of 1
    assert m.result() == pytest.approx(4 / 5)  # not (0.75 + 1) / 2
    m.reset_state()
    assert m.result() == 0.0
    mean = metrics.Mean()
    mean.update_state([1.0, 2.0, 3.0], sample_weight=[1.0, 0.0, 1.0])
    assert mean.result() == pytest.approx(2.0)


def test_accuracy_family_hand_computed():
    a = metrics.Accuracy()
    a.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert a.result() == pytest.approx(0.75)
    b = metrics.BinaryAccuracy()
    b.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    assert b.result() == pytest.approx(0.75)
    b2 = metrics.BinaryAccuracy(threshold=0.7)
    b2.update_state([1, 1, 0, 0], [[0.98], [0.65], [0], [0.6]])  # rank-1 labels vs (N, 1)
    assert b2.result() == pytest.approx(0.75)
    c = metrics.CategoricalAccuracy()
    c.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert c.result() == pytest.approx(0.5)
    c.reset_state()
    c.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
                   sample_weight=[0.7, 0.3])
    assert c.result() == pytest.approx(0.3)
    s = metrics.SparseCategoricalAccuracy()
    s.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    assert s.result() == pytest.approx(0.5)
    t = metrics.TopKCategoricalAccuracy(k=1)
    t.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert t.result() == pytest.approx(0.5)
    st = metrics.SparseTopKCategoricalAccuracy(k=2)
    st.update_state([2, 1, 0], [[0.1, 0.9, 0.8], [0.05, 0.95, 0], [0.2, 0.5, 0.3]])
    assert st.result() == pytest.approx(2 / 3)
    tie = metrics.SparseTopKCategoricalAccuracy(k=1)
    tie.update_state([1], [[0.5, 0.5, 0.0]])  # a tie with the top score counts
    assert tie.result() == 1.0


def test_regression_metrics():
    m = metrics.MeanAbsoluteError()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    assert m.result() == pytest.approx(0.25)
    q = metrics.MeanSquaredError()
    q.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    assert q.result() == pytest.approx(0.5)


def test_precision_recall_hand_computed():
    p = metrics.Precision()
    p.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert p.result() == pytest.approx(2 / 3)
    p.reset_state()
    p.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert p.result() == pytest.approx(1.0)
    r = metrics.Recall()
    r.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert r.result() == pytest.approx(2 / 3)
    # one-hot, elementwise at 0.5 (Keras default) vs top-class (top_k=1)
    y = [[0, 0, 1], [0, 1, 0]]
    yp = [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    p = metrics.Precision()
    p.update_state(y, yp)
    assert p.result() == pytest.approx(2 / 3)
    p1 = metrics.Precision(top_k=1)
    p1.update_state(y, yp)
    assert p1.result() == pytest.approx(0.5)
    r1 = metrics.Recall(class_id=2)
    r1.update_state(y, yp)
    assert r1.result() == pytest.approx(1.0)
    multi = metrics.Precision(thresholds=[0.0, 0.85])
    multi.update_state(y, yp)
    np.testing.assert_allclose(multi.result(), [2 / 5, 1 / 2], rtol=1e-6)  # 0 is not > 0
    assert metrics.Precision().result() == 0.0


def test_f1_score_keras_docstring_example_and_averages():
    yt = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
    yp = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)
    m = metrics.F1Score(threshold=0.5)
    m.update_state(yt, yp)
    np.testing.assert_allclose(m.result(), [0.5, 0.8, 0.6666667], rtol=1e-5)
    # hand-computed per class: tp, fp, fn = [1,2,1], [0,1,1], [2,0,0]
    macro = metrics.F1Score(average="macro", threshold=0.5)
    macro.update_state(yt, yp)
    assert macro.result() == pytest.approx((0.5 + 0.8 + 2 / 3) / 3, rel=1e-5)
    weighted = metrics.F1Score(average="weighted", threshold=0.5)
    weighted.update_state(yt, yp)
    assert weighted.result() == pytest.approx((3 * 0.5 + 2 * 0.8 + 1 * 2 / 3) / 6, rel=1e-5)
    micro = metrics.F1Score(average="micro", threshold=0.5)
    micro.update_state(yt, yp)
    prec, rec = 4 / 6, 4 / 6
    assert micro.result() == pytest.approx(2 * prec * rec / (prec + rec), rel=1e-5)
    top = metrics.F1Score()  # threshold None: each row's top score is the prediction
    top.update_state(np.eye(3)[[0, 1, 2]], [[0.5, 0.2, 0.3], [0.1, 0.1, 0.8], [0, 0, 0]])
    np.testing.assert_allclose(top.result(), [1.0, 0.0, 0.0], atol=1e-6)


ACC_CASES = [
    ((None,), (None, 10), None, metrics.SparseCategoricalAccuracy),
    ((None, 1), (None, 10), None, metrics.SparseCategoricalAccuracy),
    ((None, 10), (None, 10), None, metrics.CategoricalAccuracy),
    ((None, 1), (None, 1), None, metrics.BinaryAccuracy),
    ((None,), (None, 1), None, metrics.BinaryAccuracy),
    ((None, 5), (None, 5), "binary_crossentropy", metrics.BinaryAccuracy),
    ((None, 5), (None, 5), losses.BinaryCrossentropy(), metrics.BinaryAccuracy),
    (None, (None, 10), "sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
    (None, (None, 10), losses.CategoricalCrossentropy(), metrics.CategoricalAccuracy),
]


@pytest.mark.parametrize("t_shape,p_shape,loss,cls", ACC_CASES)
def test_accuracy_resolution_like_keras_compile(t_shape, p_shape, loss, cls):
    for ident in ("accuracy", "acc"):
        m = metrics.get(ident, y_true_shape=t_shape, y_pred_shape=p_shape, loss=loss)
        assert type(m) is cls and m.name == ident
    assert type(metrics.get("accuracy", output_shape=p_shape, y_true_shape=t_shape,
                            loss=loss)) is cls


def test_accuracy_without_output_shape_resolves_on_first_batch():
    m = metrics.get("accuracy")
    assert m.name == "accuracy" and m.result() == 0.0
    m.update_state([[1], [0]], [[0.7], [0.8]])
    assert isinstance(m.resolved, metrics.BinaryAccuracy) and m.result() == 0.5
    s = metrics.get("acc", loss="sparse_categorical_crossentropy")
    s.update_state([2, 0], [[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]])
    assert isinstance(s.resolved, metrics.SparseCategoricalAccuracy) and s.result() == 0.5
    s.reset_state()
    assert s.result() == 0.0


def test_get_names_and_config_roundtrip():
    assert metrics.get("mae").name == "mae" and isinstance(metrics.get("mae"),
                                                           metrics.MeanAbsoluteError)
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("Precision"), metrics.Precision)
    assert isinstance(metrics.get("f1_score"), metrics.F1Score)
    m = metrics.BinaryAccuracy(threshold=0.3)
    assert metrics.get(m) is m
    cfg = metrics.serialize(m)
    assert cfg["config"] == {"name": "binary_accuracy", "dtype": "float32", "threshold": 0.3}
    assert metrics.deserialize(cfg).get_config() == m.get_config()
    f = metrics.F1Score(average="macro", threshold=0.4)
    assert f.get_config() == {"name": "f1_score", "dtype": "float32", "average": "macro",
                              "threshold": 0.4}
    assert metrics.deserialize(metrics.serialize(f)).get_config() == f.get_config()
    p = metrics.Precision(thresholds=0.3, name="p")
    assert p.get_config() == {"name": "p", "dtype": "float32", "thresholds": 0.3,
                              "top_k": None, "class_id": None}


def test_bad_input_raises_value_error_with_names_and_values():
    with pytest.raises(ValueError, match=r"Unknown metric 'acuracy'"):
        metrics.get("acuracy")
    with pytest.raises(ValueError, match=r"'categorical_accuracy'.*\(2, 3\).*\(2, 4\)"):
        metrics.CategoricalAccuracy().update_state(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"'sparse_categorical_accuracy'.*\(3,\).*\(2, 4\)"):
        metrics.SparseCategoricalAccuracy().update_state(np.zeros(3), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"average='mean'"):
        metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match=r"threshold=1.5"):
        metrics.F1Score(threshold=1.5)
    with pytest.raises(ValueError, match=r"thresholds=1.2"):
        metrics.Precision(thresholds=1.2)
    with pytest.raises(ValueError, match=r"k=0"):
        metrics.TopKCategoricalAccuracy(k=0)
    with pytest.raises(ValueError, match=r"label 5 is out of range for 3 classes"):
        metrics.SparseTopKCategoricalAccuracy(k=1).update_state([5], [[0.1, 0.2, 0.7]])
    with pytest.raises(ValueError, match=r"2D inputs"):
        metrics.F1Score().update_state(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\)"):
        metrics.Mean().update_state(np.zeros((2, 2)), sample_weight=np.ones(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_argmax_kernel_matches_numpy_on_ties_and_nan(dtype):
    from core.kernels.metrics import argmax_hits, argmax_hits_ref

    rng = np.random.default_rng(5)
    scores = rng.integers(0, 3, (200, 6)).astype(dtype)  # many tied maxima
    scores[::17, 2] = np.nan  # numpy's argmax: the first NaN
    scores[5] = np.nan
    labels = rng.integers(0, 6, 200).astype(np.float64)
    labels[::7] = np.argmax(scores, axis=1)[::7]  # some hits whatever the scores
    got, want = np.empty(200), np.empty(200)
    argmax_hits(scores, labels, got)
    argmax_hits_ref(scores, labels, want)
    np.testing.assert_array_equal(got, want)
    assert 0 < got.sum() < 200


@pytest.mark.parametrize("shape", [(40, 5), (6, 7, 5)])
def test_categorical_accuracy_equals_argmax_formula(shape):
    # Keras: argmax(y_true) == argmax(y_pred), first of tied maxima, NaN scores as numpy
    rng = np.random.default_rng(3)
    p = rng.integers(0, 3, shape).astype(np.float32)  # ties
    p.reshape(-1, 5)[::9, 1] = np.nan
    t = np.eye(5, dtype=np.int64)[rng.integers(0, 5, shape[:-1])]
    want = (np.argmax(t, -1) == np.argmax(p, -1)).astype(np.float64)
    got = metrics.categorical_accuracy(t, p)
    assert got.shape == shape[:-1]
    np.testing.assert_array_equal(got, want)
    assert 0 < got.sum() < got.size
    with pytest.raises(ValueError, match="incompatible shapes"):
        metrics.categorical_accuracy(t[..., :4], p)


def test_sparse_accuracy_on_int_scores_and_fractional_labels():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(np.array([1.0, 1.5, 0.0]), np.array([[0, 2], [0, 2], [3, 1]]))
    assert m.result() == pytest.approx(2 / 3)  # 1.5 is no class: no hit
    with pytest.raises(ValueError, match="class indices"):
        m.update_state(np.array(["a"]), np.array([[0.0, 1.0]]))


def test_which_metrics_merge_batches():
    assert metrics.SparseCategoricalAccuracy().merges_batches()
    assert metrics.AUC().merges_batches() and metrics.Precision().merges_batches()
    assert not metrics.MeanMetricWrapper(lambda t, p: np.mean(p)).merges_batches()

    class Mine(metrics.SparseCategoricalAccuracy):  # a user's subclass may keep more
        pass
    assert not Mine().merges_batches()
