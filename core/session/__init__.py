"""Training logic the app and the command line share (no Qt here).

* ``data_source``: ``DataSpec`` (what the project remembers), ``Dataset`` (loaded
  arrays), ``load_dataset``; ``shipped_samples`` (the sequence templates' offline sets),
  ``own_data`` (the user's folder or CSV), ``project_data`` (the data choice <-> the
  project: ``load_project_data(doc)`` loads what the data panel would).
* ``ports``: a document's Input and output nodes, by name and shape.
* ``targets``: what the task is (classification / regression) and the loss's targets.
* ``network_data``: a loaded data set mapped onto every Input and output of a network.
* ``run_setup``: checks, memory estimate, build and compile before ``fit``.
* ``job`` / ``training_run``: one run's flags and events, the ``fit`` loop under them
  (pause, stop, learning rate, NaN guard, early stopping), the run record's ending.
* ``smoothing``: per-batch curve values from ``fit``'s running means.
* ``task_results``: test-set results that fit the task (confusion matrix, regression
  errors against the last-value baseline, misclassified texts).
"""
