"""Training from the canvas: data, settings, the worker thread, curves and results.

``install_training_ui(main_window)`` (in ``dock``) adds the Data, Training, Curves and
Results panels and File > Export model...; ``controller.TrainingController`` is the
train/pause/resume/stop state machine, ``worker.TrainingWorker`` runs a run on a
QThread. The training logic itself is Qt-free and shared with the command line:
``core.session`` (``job`` flags and events, ``training_run.run_job``, ``data_source``
and ``project_data`` for the data); ``core.graph.memory`` estimates what a run needs.

>>> from desktop.training.dock import install_training_ui  # doctest: +SKIP
>>> ui = install_training_ui(window)                        # doctest: +SKIP
"""
