"""Netweaver desktop editor (PySide6): canvas, palette, inspector, projects.

The GUI owns no model state: ``core.graph.GraphDocument`` is the truth and the
widgets here mirror it and edit it through undo commands.

>>> from desktop.app import main  # doctest: +SKIP
>>> main(["resources/examples/mnist_cnn.nwproj"])  # doctest: +SKIP
"""
