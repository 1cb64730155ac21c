"""Data panel: the embedded sample loads off the GUI thread, bad files are refused with
the reason and leave the project untouched, and "Fit network to data" is one undo step."""

import gzip

import numpy as np
import pytest

from core.session.data_source import DataError, DataSpec, load_dataset, prepare
from tests.desktop.training_helpers import make_cnn_doc, make_host, wait_data


def test_sample_loads_and_prepares_for_a_cnn():
    ds = load_dataset(DataSpec(kind="sample"))
    assert ds.x_train.shape == (4000, 28, 28) and ds.x_test.shape == (1000, 28, 28)
    assert ds.num_classes == 10 and ds.suggested_input_shape() == (28, 28, 1)
    p = prepare(ds, (28, 28, 1), 10, "sparse_categorical_crossentropy")
    assert p.x_train.dtype == np.float32 and p.x_train.shape == (4000, 28, 28, 1)
    assert 0.0 <= p.x_train.min() and p.x_train.max() <= 1.0
    np.testing.assert_allclose(p.x_train[0, :, :, 0], ds.x_train[0] / 255.0, rtol=1e-6)
    onehot = prepare(ds, (784,), 10, "categorical_crossentropy")
    assert onehot.y_train.shape == (4000, 10)
    assert np.array_equal(onehot.y_train.argmax(1), ds.y_train)


def test_prepare_names_both_shapes_and_the_class_count():
    ds = load_dataset(DataSpec(kind="sample"))
    with pytest.raises(DataError, match=r"\(28, 28\).*784.*\(32, 32, 3\).*3072"):
        prepare(ds, (32, 32, 3), 10, "sparse_categorical_crossentropy")
    with pytest.raises(DataError, match="10 classes.*outputs 5"):
        prepare(ds, (28, 28, 1), 5, "sparse_categorical_crossentropy")


def test_user_npz_and_csv_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (30, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 3, 30)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load_dataset(DataSpec(kind="file", path=str(tmp_path / "d.npz")))
    assert ds.sample_shape == (4, 4) and ds.x_test is None and len(ds.x_train) == 30
    rows = "\n".join(",".join(map(str, list(x[i].ravel()) + [y[i]])) for i in range(30))
    (tmp_path / "d.csv").write_text(rows + "\n")
    ds2 = load_dataset(DataSpec(kind="file", path=str(tmp_path / "d.csv"), label_column="-1"))
    assert ds2.sample_shape == (16,)
    assert np.array_equal(ds2.y_train, y)


@pytest.mark.parametrize("content", [b"this is not a zip file", b""])
def test_unreadable_file_is_refused_and_project_unchanged(qtbot, tmp_path, content):
    win = make_host(qtbot)
    ui = win.training_ui
    wait_data(qtbot, ui)
    before = (win.document.training.to_dict(), dict(win.document.meta), ui.data_panel.dataset)
    bad = tmp_path / "broken.npz"
    bad.write_bytes(content)
    with qtbot.waitSignal(ui.data_panel.loadFinished, timeout=10000) as blocker:
        ui.data_panel.load(DataSpec(kind="file", path=str(bad)))
    accepted, message = blocker.args
    assert not accepted
    assert "broken.npz" in message and "Refused" in message
    assert ui.data_panel.message.text() == message
    after = (win.document.training.to_dict(), dict(win.document.meta), ui.data_panel.dataset)
    assert after == before
    assert win.undo_stack.count() == 0
    ui.shutdown()


def test_data_that_does_not_fit_is_held_back_then_fit_network_is_one_undo(qtbot, tmp_path):
    win = make_host(qtbot, make_cnn_doc(units=3))  # 3 outputs; the sample has 10 classes
    ui = win.training_ui
    with qtbot.waitSignal(ui.data_panel.loadFinished, timeout=20000) as blocker:
        pass
    accepted, message = blocker.args
    assert not accepted and "10 classes" in message and "outputs 3" in message
    held = [p.message for p in win.document.problems() if p.severity == "warning"]
    assert any("holds back Embedded sample" in t and "outputs 3" in t for t in held)
    assert ui.data_panel.dataset is None and ui.data_panel.candidate is not None
    doc = win.document
    in_id, out_id = "n1", "n4"
    doc.set_config(in_id, "shape", [784])  # same number of values, other layout
    assert ui.data_panel.fit_network_to_data() is None
    assert doc.nodes[in_id].config["shape"] == [28, 28, 1]
    assert doc.nodes[out_id].config["units"] == 10
    assert ui.data_panel.dataset is not None
    texts = [win.undo_stack.text(i) for i in range(win.undo_stack.count())]
    assert texts.count("Fit network to data") == 1  # both edits in ONE command
    fit_index = texts.index("Fit network to data")
    while win.undo_stack.index() > fit_index:
        win.undo_stack.undo()
    assert doc.nodes[in_id].config["shape"] == [784]
    assert doc.nodes[out_id].config["units"] == 3
    ui.shutdown()


def test_idx_pair_needs_its_labels(tmp_path):
    p = tmp_path / "imgs-idx3-ubyte.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2]) + bytes(4))
    with pytest.raises(DataError, match="labels file"):
        load_dataset(DataSpec(kind="file", path=str(p)))


def test_fashion_mnist_from_a_local_folder_is_remembered(qtbot, shared_data):
    win = make_host(qtbot)
    ui = win.training_ui
    wait_data(qtbot, ui)
    folder = str(shared_data / "fashion-mnist")
    ui.data_panel.source.setCurrentIndex(ui.data_panel.source.findData("fashion_mnist"))
    assert ui.data_panel.file_box.isVisibleTo(ui.data_panel)
    ui.data_panel.path.setText(folder)
    with qtbot.waitSignal(ui.data_panel.loadFinished, timeout=60000) as blocker:
        ui.data_panel.load_button.click()
    assert blocker.args[0], blocker.args[1]
    ds = ui.data_panel.dataset
    assert len(ds.x_train) == 60000 and len(ds.x_test) == 10000
    assert ds.class_names[9] == "Ankle boot"
    assert win.document.training.dataset == "fashion_mnist"
    assert win.document.meta["data_path"] == folder
    assert win.document.data_info == ((28, 28, 1), 10)
    ui.shutdown()


def _thumb_images(panel):
    grid = panel.examples_grid
    return [grid.itemAt(i).widget().pixmap().toImage() for i in range(grid.count())]


def test_refused_load_shows_the_accepted_data_with_its_own_thumbnails(qtbot, tmp_path):
    """Defect 12: a held-back (unfit) file's thumbnails stayed next to the accepted
    data's text after a later load was refused."""
    from core.session.data_source import scale_inputs
    from desktop.panels.results import image_pixmap

    win = make_host(qtbot)
    ui = win.training_ui
    panel = ui.data_panel
    wait_data(qtbot, ui)
    accepted = panel.dataset
    own = _thumb_images(panel)
    assert own and own[0] == image_pixmap(scale_inputs(accepted.x_train[0]), size=36).toImage()
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "other.npz", x=rng.integers(0, 255, (20, 8, 8), dtype=np.uint8),
             y=rng.integers(0, 3, 20))  # 8x8 images do not fit the 28x28 CNN: held back
    with qtbot.waitSignal(panel.loadFinished, timeout=10000) as blocker:
        panel.load(DataSpec(kind="file", path=str(tmp_path / "other.npz")))
    assert not blocker.args[0] and panel.candidate is not None
    assert _thumb_images(panel) != own
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with qtbot.waitSignal(panel.loadFinished, timeout=10000) as blocker:
        panel.load(DataSpec(kind="file", path=str(tmp_path / "broken.npz")))
    assert not blocker.args[0]
    assert accepted.name in panel.info.text()
    assert _thumb_images(panel) == own  # the thumbnails match the text again
    assert panel.candidate is None  # 'Fit network' cannot act on data no longer shown
    ui.shutdown()


def test_mnist_offline_says_so_plainly(qtbot, tmp_path, monkeypatch):
    """Defect 12: offline, the MNIST choice showed urllib's raw '<urlopen error ...>'."""
    import urllib.error
    import urllib.request

    from core.datasets import mnist

    def offline(*a, **k):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(mnist, "find_local", lambda path="mnist.npz": None)
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    win = make_host(qtbot)
    ui = win.training_ui
    wait_data(qtbot, ui)
    panel = ui.data_panel
    before = (win.document.training.to_dict(), dict(win.document.meta), panel.dataset)
    panel.source.setCurrentIndex(panel.source.findData("mnist"))
    with qtbot.waitSignal(panel.loadFinished, timeout=10000) as blocker:
        panel.load_button.click()
    accepted, message = blocker.args
    assert not accepted
    assert "urlopen" not in message and "Errno" not in message
    assert "offline" in message and "mnist.npz" in message
    assert (win.document.training.to_dict(), dict(win.document.meta), panel.dataset) == before
    ui.shutdown()
