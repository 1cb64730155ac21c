"""Netweaver desktop editor (PySide6): canvas, palette, inspector, projects.

The GUI owns no model state: ``core.graph.GraphDocument`` is the truth and the
widgets here mirror it and edit it through undo commands.

>>> from desktop.app import main  # doctest: +SKIP
>>> main(["resources/examples/mnist_cnn.nwproj"])  # doctest: +SKIP
"""

# Before anything loads numpy (pyqtgraph does): core sets the OpenBLAS thread timeout,
# which OpenBLAS reads only when it loads (see core/__init__.py). core loads lazily.
import core  # noqa: E402, F401
