"""Training from the canvas: data, settings, the worker thread, curves and results.

``install_training_ui(main_window)`` (in ``dock``) adds the Data, Training, Curves and
Results panels and File > Export model...; ``controller.TrainingController`` is the
train/pause/resume/stop state machine, ``worker.TrainingWorker`` runs ``fit`` on a
QThread, ``job`` holds the flags and event queue they share (no Qt), ``data_source``
loads and shapes data (no Qt); ``core.graph.memory`` estimates what a run needs.

>>> from desktop.training.dock import install_training_ui  # doctest: +SKIP
>>> ui = install_training_ui(window)                        # doctest: +SKIP
"""
