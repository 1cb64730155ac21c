"""The worker starts after the window has painted the run's new state, never before,
and a window closed in between never starts it (``TrainingController.start``)."""

from PySide6.QtCore import QEvent, QObject, Qt

from tests.desktop.training_helpers import make_host, template_doc, wait_data


class _PaintLog(QObject):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Paint:
            self.log.append("paint " + obj.objectName())
        return False


def test_the_worker_starts_after_the_new_state_is_painted(qtbot, monkeypatch):
    from desktop.training import controller as ctl_mod

    win = make_host(qtbot, template_doc())
    win.document.set_training(epochs=1)
    ui, ctl = win.training_ui, win.training_ui.controller
    wait_data(qtbot, ui)
    win.show()
    qtbot.waitExposed(win)
    log = []
    painted = _PaintLog(log)
    ui.train_button.installEventFilter(painted)
    launch = ctl_mod.TrainingController._launch
    monkeypatch.setattr(ctl_mod.TrainingController, "_launch",
                        lambda self: (log.append("launch"), launch(self)))
    with qtbot.waitSignal(ctl.runFinished, timeout=240_000):
        qtbot.mouseClick(ui.train_button, Qt.LeftButton)
        assert ctl.state == "running" and not ctl.thread.isRunning()  # not yet
        assert log == []
    assert "launch" in log and log.index("paint " + ui.train_button.objectName()) < \
        log.index("launch")  # the greyed Train button was on screen first
    assert ctl.last_result["epochs_done"] == 1
    ui.shutdown()


def test_a_shutdown_before_the_start_means_no_worker(qtbot):
    win = make_host(qtbot, template_doc())
    ui, ctl = win.training_ui, win.training_ui.controller
    wait_data(qtbot, ui)
    assert ctl.start()
    ctl.shutdown()
    qtbot.wait(200)  # the posted start events arrive and do nothing
    assert not ctl.thread.isRunning() and ctl.worker.prepared is None
    assert ctl.job.stop_requested
