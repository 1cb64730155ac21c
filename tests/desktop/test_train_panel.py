"""The Training panel's texts wrap inside the dock: a long status never widens the
scrolled form past the dock's edge (the cold start's kernel line once cut the form's
right column off while it showed)."""

from PySide6.QtWidgets import QFormLayout, QLineEdit, QScrollArea, QWidget

from desktop.training.train_panel import TrainPanel


def test_long_texts_wrap_instead_of_widening_the_form(qtbot):
    form = QWidget()
    rows = QFormLayout(form)
    rows.addRow("Loss", QLineEdit("sparse_categorical_crossentropy"))
    panel = TrainPanel(form)
    qtbot.addWidget(panel)
    panel.resize(360, 500)
    panel.show()
    qtbot.waitExposed(panel)
    scroll = panel.findChild(QScrollArea, "trainingScroll")
    long = "Kernels: compiling 7 for this model (training on numpy meanwhile)... " * 2
    panel.kernel_label.setText(long)
    panel.state_label.setText("Training Run 1: 5 epochs, batch 32 (memory estimate 43.1 MB).")
    qtbot.wait(50)  # the layouts settle
    assert scroll.widget().width() <= scroll.viewport().width()
