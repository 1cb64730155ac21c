"""The status bar says when a training runs on numpy while its kernels compile."""

from core.kernels import _cold


def test_status_bar_says_a_cold_training_waits_for_kernels(window, monkeypatch):
    window.show_compiling()
    assert window.compile_label.isHidden()  # nothing compiling: nothing said
    monkeypatch.setattr(_cold, "compiling", lambda: ["adam_step_par", "conv2d_relu_maxpool",
                                                     "relu_maxpool"])
    window.show_compiling()
    text = window.compile_label.text()
    assert not window.compile_label.isHidden()
    assert text.startswith("First run on this machine: preparing 3 fast kernels")
    assert "numpy" in text and "adam_step_par" not in text  # plain words on the bar
    assert window.compile_label.toolTip() == ("Compiling: adam_step_par, "
                                              "conv2d_relu_maxpool, relu_maxpool")
    monkeypatch.setattr(_cold, "compiling", lambda: [])
    window.show_compiling()
    assert window.compile_label.isHidden() and window.compile_label.text() == ""
    assert window.compile_label.toolTip() == ""


def test_compile_state_is_polled_only_from_a_training_start(window):
    timer = window._compile_timer
    assert not timer.isActive()  # an idle window polls nothing
    window.training_ui.controller.stateChanged.emit("running")
    assert timer.isActive()
    window.show_compiling()  # nothing compiling and the controller idle: it stops
    assert not timer.isActive()
