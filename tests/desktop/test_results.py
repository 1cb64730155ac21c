"""Results view pieces: confusion matrix counts, heatmap cells, gallery, test-pad
preprocessing (MNIST-like centring and scaling) and off-thread prediction."""

import numpy as np

from core.graph.memory import estimate_training_memory
from core.session.task_results import confusion_matrix
from desktop.panels.results import ResultsPanel
from desktop.panels.test_pad import TestPad, _area_matrix, mnist_preprocess


def test_confusion_matrix_counts_pairs():
    labels = np.array([0, 0, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 2, 0, 2])
    cm = confusion_matrix(labels, pred, 3)
    expected = np.zeros((3, 3), int)
    for t, p in zip(labels, pred):
        expected[t, p] += 1
    assert np.array_equal(cm, expected)
    assert cm.sum() == len(labels)


def test_area_matrix_rows_average_to_one_and_preserve_mass():
    m = _area_matrix(7, 3)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    x = np.arange(7.0)
    # each output cell covers 7/3 input cells: mass is conserved up to that factor
    np.testing.assert_allclose((m @ x).sum() * 7 / 3, x.sum())


def test_mnist_preprocess_scales_longer_side_to_20_and_centres_mass():
    ink = np.zeros((280, 280))
    ink[30:230, 40:90] = 1.0  # a tall bar in the top-left: 200 x 50
    img = mnist_preprocess(ink)
    assert img.shape == (28, 28) and img.dtype == np.float32
    rows = np.flatnonzero(img.max(axis=1) > 0.05)
    cols = np.flatnonzero(img.max(axis=0) > 0.05)
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 == 5
    yy, xx = np.mgrid[0:28, 0:28]
    cy, cx = (img * yy).sum() / img.sum(), (img * xx).sum() / img.sum()
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5
    assert not mnist_preprocess(np.zeros((280, 280))).any()


def test_memory_estimate_adds_up():
    est = estimate_training_memory(1000, [784, 100, 10], 32, "adam", data_bytes=5000)
    assert est.weights == 4000 and est.gradients == 4000 and est.optimizer == 8000
    assert est.activations == 3 * (894 * 32 * 4)
    assert est.total == 4000 + 4000 + 8000 + 8000 + est.activations + 5000
    assert "optimizer state" in est.describe()


def test_results_panel_shows_matrix_and_gallery(qtbot):
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    cm = np.array([[5, 1], [2, 7]])
    res = {"source": "Test set", "count": 15, "accuracy": 12 / 15,
           "scores": {"loss": 0.3, "accuracy": 0.8}, "confusion": cm,
           "wrong_images": np.random.default_rng(0).random((3, 28, 28, 1), np.float32),
           "wrong_true": np.array([0, 1, 1]), "wrong_pred": np.array([1, 0, 0])}
    panel.show_results(res, ["cat", "dog"])
    assert panel.confusion.matrix.sum() == 15
    assert sorted(t.toPlainText() for t in panel.confusion._texts) == ["1", "2", "5", "7"]
    assert "80.00%" in panel.summary.text()
    # title + 3 image cells
    assert panel.gallery_grid.count() == 4


class _FakeModel:
    """Records the thread it predicted on; returns fixed probabilities."""

    def __init__(self):
        import threading
        self.threads = []
        self._t = threading

    def predict(self, x, verbose=0):
        self.threads.append(self._t.get_ident())
        assert x.shape == (1, 28, 28, 1)
        p = np.zeros((1, 10), np.float32)
        p[0, 3] = 1.0
        return p


def test_pad_predicts_off_the_gui_thread(qtbot):
    import threading

    from PySide6.QtCore import QPoint, Qt

    pad = TestPad()
    qtbot.addWidget(pad)
    model = _FakeModel()
    pad.set_model(model, (28, 28, 1), [str(i) for i in range(10)])
    with qtbot.waitSignal(pad.predicted, timeout=5000) as blocker:
        qtbot.mousePress(pad.area, Qt.LeftButton, pos=QPoint(100, 60))
        for y in range(60, 220, 20):
            qtbot.mouseMove(pad.area, QPoint(100, y))
        qtbot.mouseRelease(pad.area, Qt.LeftButton, pos=QPoint(100, 220))
    qtbot.waitUntil(lambda: not pad._busy, timeout=5000)
    assert int(np.argmax(blocker.args[0])) == 3
    assert model.threads and threading.get_ident() not in model.threads
    assert pad.bars[3].value() == 1000
    pad.shutdown()
