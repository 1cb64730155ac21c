"""Curves: bulk points, overlays (the smoothing itself: tests/session/test_smoothing.py)."""

from desktop.panels import curves as curves_mod
from desktop.panels.curves import CurvesPanel


def _panel_on_clock(qtbot, monkeypatch, metrics):
    """A panel in a fresh run whose redraw clock the test moves: ``(panel, now)``."""
    now = [100.0]
    monkeypatch.setattr(curves_mod, "_clock", lambda: now[0])
    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.begin_run("Run 1", metrics)
    return panel, now


def _drawn(panel, key: str) -> int:
    """How many points of series ``key`` the plot holds (not just the panel)."""
    x = panel.series[key].item.getData()[0]
    return 0 if x is None else len(x)


def test_curves_take_points_in_bulk_and_overlay_history(qtbot):
    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.set_history([{"name": "Run 1", "epochs": [{"loss": 1.0, "val_loss": 1.2},
                                                   {"loss": 0.5, "val_loss": 0.9}]}])
    panel.begin_run("Run 2", ["accuracy"])
    assert len(panel._overlay_items) == 2
    panel.add_batches([(0.1 * i, {"loss": 1.0 / (i + 1), "accuracy": 0.1 * i})
                       for i in range(10)])
    panel.add_epoch(0, {"loss": 0.4, "accuracy": 0.9, "val_loss": 0.5, "val_accuracy": 0.8})
    assert panel.point_count("loss", batch=True) == 10
    assert panel.point_count("accuracy", batch=True) == 10
    assert panel.point_count("loss") == 1 and panel.point_count("val_accuracy") == 1
    x, y = panel.series["val_accuracy"].item.getData()
    assert list(x) == [1.0] and list(y) == [0.8]
    panel.overlay_box.setChecked(False)
    assert panel._overlay_items == []


def test_batch_curves_redraw_at_most_every_interval(qtbot, monkeypatch):
    """Per-batch points are kept at once but pushed to the plots at most every
    BATCH_REDRAW_S; an epoch end (or flush) draws everything pending."""
    panel, now = _panel_on_clock(qtbot, monkeypatch, [])
    panel.add_batches([(0.1, {"loss": 1.0})])

    def drawn():
        return _drawn(panel, "loss#batch")

    assert drawn() == 1  # the first points draw at once
    now[0] += curves_mod.BATCH_REDRAW_S / 2
    panel.add_batches([(0.2, {"loss": 0.9})])
    assert drawn() == 1 and panel.point_count("loss", batch=True) == 2  # kept, not drawn
    now[0] += curves_mod.BATCH_REDRAW_S
    panel.add_batches([(0.3, {"loss": 0.8})])
    assert drawn() == 3
    panel.add_batches([(0.4, {"loss": 0.7})])
    panel.add_epoch(0, {"loss": 0.7})
    assert drawn() == 4


def test_batch_redraws_take_one_plot_at_a_time_and_fit_its_range(qtbot, monkeypatch):
    """Both plots pending: one call redraws the plot that waited longest, the next the
    other, so no event-loop turn paints both; the drawn plot's range already holds its
    points (fitted at the flush, not in the paint, which then asked for a second one)."""
    panel, now = _panel_on_clock(qtbot, monkeypatch, ["accuracy"])

    def drawn(key):
        return _drawn(panel, key + "#batch")

    panel.add_batches([(0.5, {"loss": 1.0, "accuracy": 0.2})])
    assert (drawn("loss"), drawn("accuracy")) == (1, 0)
    now[0] += curves_mod.BATCH_REDRAW_S * 0.6
    panel.add_batches([(3.0, {"loss": 0.9, "accuracy": 0.3})])
    assert (drawn("loss"), drawn("accuracy")) == (1, 2)
    x_range = panel.metric_plot.getPlotItem().vb.viewRange()[0]
    assert x_range[0] <= 0.5 and x_range[1] >= 3.0  # never painted, yet fitted
    now[0] += curves_mod.BATCH_REDRAW_S * 0.6
    panel.add_batches([(3.5, {"loss": 0.8, "accuracy": 0.4})])
    assert (drawn("loss"), drawn("accuracy")) == (3, 2)
    panel.flush()
    assert (drawn("loss"), drawn("accuracy")) == (3, 3)


def test_an_epoch_end_while_training_takes_its_plots_turn(qtbot, monkeypatch):
    """The controller's epoch ends (``redraw=False``) draw nothing at once: both plots
    become due and the next calls redraw them one at a time, as batch points; a plain
    ``add_epoch`` draws at once."""
    panel, now = _panel_on_clock(qtbot, monkeypatch, ["accuracy"])

    def drawn(key):
        return _drawn(panel, key)

    panel.add_batches([(0.5, {"loss": 1.0, "accuracy": 0.2})])
    panel.add_batches([(0.6, {"loss": 0.9, "accuracy": 0.3})])  # both drawn once now
    assert (drawn("loss#batch"), drawn("accuracy#batch")) == (1, 2)
    now[0] += 0.01  # well within BATCH_REDRAW_S
    panel.add_epoch(0, {"loss": 0.8, "accuracy": 0.4}, redraw=False)
    assert (drawn("loss"), drawn("accuracy")) == (0, 0)
    panel.add_batches([])
    assert (drawn("loss"), drawn("accuracy")) == (1, 0)
    assert drawn("loss#batch") == 2  # the plot's pending batch points came along
    panel.add_batches([])
    assert (drawn("loss"), drawn("accuracy")) == (1, 1)
    panel.add_epoch(1, {"loss": 0.7, "accuracy": 0.5})
    assert (drawn("loss"), drawn("accuracy")) == (2, 2)


def test_counters_change_at_most_every_interval_and_at_each_epoch_end(qtbot, monkeypatch):
    """The counters line (and the progress bar) take the newest batch at most every
    COUNTERS_S; an epoch end shows it at once, and so does the run's end. The counters
    label's width does not follow its text (a new count must not re-lay the panel)."""
    from PySide6.QtWidgets import QSizePolicy

    from core.session.job import TrainingJob
    from core.session.smoothing import BatchSmoother
    from desktop.training import controller as ctl_mod

    now = [100.0]
    monkeypatch.setattr(ctl_mod.time, "perf_counter", lambda: now[0])
    panel = CurvesPanel()
    qtbot.addWidget(panel)
    assert panel.counters.sizePolicy().horizontalPolicy() == QSizePolicy.Ignored
    ctl = ctl_mod.TrainingController(lambda: None, lambda: None, curves=panel)
    ctl.job = TrainingJob(model=None, epochs=2, batch_size=10)
    ctl.run = {"epochs": [], "settings": {}}
    ctl._stats = {"t0": 99.0, "samples": 0, "steps": None, "last_batch": None, "rate": 0.0,
                  "paused_s": 0.0, "pause_t": None, "smoother": BatchSmoother()}
    monkeypatch.setattr(ctl, "_diagnose", lambda nan_at=None: [])
    progress = []
    ctl.batchProgress.connect(lambda done, total: progress.append(done))

    def batch(b, epoch=0):
        ctl.job.events.put(("batch", {"epoch": epoch, "batch": b, "steps": 5,
                                      "logs": {"loss": 1.0}, "time": now[0]}))

    batch(0)
    ctl.drain()
    assert progress == [1] and "batch 1/5" in panel.counters.text()  # the first at once
    now[0] += ctl_mod.COUNTERS_S * 0.6
    batch(1)
    ctl.drain()
    assert progress == [1] and "batch 1/5" in panel.counters.text()  # too soon
    now[0] += ctl_mod.COUNTERS_S * 0.6
    batch(2)
    ctl.drain()
    assert progress == [1, 3] and "batch 3/5" in panel.counters.text()
    now[0] += 0.01
    batch(3)
    batch(4)
    ctl.job.events.put(("epoch", {"epoch": 0, "logs": {"loss": 0.9}, "time": now[0]}))
    ctl.drain()
    assert progress == [1, 3, 5] and "batch 5/5" in panel.counters.text()  # epoch end
    now[0] += 0.01
    batch(0, epoch=1)
    ctl.drain()
    assert progress == [1, 3, 5]
    ctl._update_counters()  # what the run's end (_finish_thread) does after its drain
    assert progress == [1, 3, 5, 6] and "Epoch 2/2 · batch 1/5" in panel.counters.text()


def test_validation_curves_appear_with_their_first_point(qtbot):
    """A run without validation lists no validation curve; one with validation gets
    its curves (and legend entries, after the train ones) at the first epoch end."""
    panel = CurvesPanel()
    qtbot.addWidget(panel)

    def legend(plot):
        return [label.text for _, label in plot.getPlotItem().legend.items]

    panel.begin_run("Run 1", ["accuracy"])
    panel.add_epoch(0, {"loss": 0.5, "accuracy": 0.8})
    assert legend(panel.loss_plot) == ["train loss"]
    assert legend(panel.metric_plot) == ["train accuracy"]
    assert not any(key.startswith("val_") for key in panel.series)
    panel.begin_run("Run 2", ["accuracy"])
    panel.add_epoch(0, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.7})
    assert legend(panel.loss_plot) == ["train loss", "validation loss"]
    assert legend(panel.metric_plot) == ["train accuracy", "validation accuracy"]
    assert panel.point_count("val_loss") == panel.point_count("val_accuracy") == 1
