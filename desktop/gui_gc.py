"""Python's cyclic garbage collector, run on the GUI thread only.

Automatic collection runs in whichever thread happens to allocate past the
threshold: the training worker, or a pool thread loading a data set. When the
garbage holds Qt widgets (a closed window, a replaced panel), their C++
destructors then run off the GUI thread, which Qt forbids. Seen in the test
suite as a deadlock: a pool thread collecting a dead window's ``QMenu`` waited
for the GIL inside ``~QObject`` while the GUI thread, holding the GIL, waited for
that object's mutex. So while the app runs, automatic collection is off and a
timer on the GUI thread collects the generations that are due, exactly as the
automatic collector would (pyqtgraph's ``GarbageCollector`` does the same).

>>> from PySide6.QtWidgets import QApplication
>>> app = QApplication.instance() or QApplication([])
>>> collector = install(app)   # idempotent: one per application
>>> install(app) is collector
True
>>> uninstall(app)              # automatic collection back on
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 100


class GuiGarbageCollector(QObject):
    """Turns automatic collection off and collects due generations on a GUI timer."""

    def __init__(self, parent=None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start(interval_ms)

    def collect_due(self) -> int:
        """Collect the oldest generation whose count passed its threshold (as the
        automatic collector would); returns the number of objects found unreachable."""
        counts, limits = gc.get_count(), gc.get_threshold()
        generation = -1
        for g in range(3):
            if limits[g] and counts[g] > limits[g]:
                generation = g
        return gc.collect(generation) if generation >= 0 else 0

    def stop(self) -> None:
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()


def install(app) -> GuiGarbageCollector:
    """The application's collector, created on first call (call it on the GUI thread)."""
    collector = getattr(app, "_netweaver_gc", None)
    if collector is None:
        collector = GuiGarbageCollector(app)
        app._netweaver_gc = collector
    return collector


def uninstall(app) -> None:
    """Stop the application's collector (tests), collecting once on this thread."""
    collector = getattr(app, "_netweaver_gc", None)
    if collector is not None:
        collector.stop()
        app._netweaver_gc = None
