"""Training logic the app and the command line share (no Qt here).

* ``ports``: a document's Input and output nodes, by name and shape.
* ``targets``: what the task is (classification / regression) and the loss's targets.
* ``network_data``: a loaded data set mapped onto every Input and output of a network.
* ``task_results``: test-set results that fit the task (confusion matrix, regression
  errors against the last-value baseline, misclassified texts).
"""
