"""Garbage cycles holding Qt objects are collected on the GUI thread, never by a
worker thread that happens to allocate."""

import gc
import threading

from PySide6.QtWidgets import QWidget

from desktop import gui_gc


def test_worker_allocations_do_not_collect_widgets(qapp, qtbot):
    """With automatic collection on, the worker below would collect the dead widget's
    cycle itself (its allocations pass generation 0's threshold) and run ~QWidget off
    the GUI thread; with the collector installed the GUI timer does it."""
    assert not gc.isenabled()  # the autouse fixture installed the collector
    destroyed_on = []

    class Cyclic(QWidget):
        def __init__(self):
            super().__init__()
            self.me = self  # a reference cycle: only the cyclic collector frees it

        def __del__(self):  # runs in the thread that collects the cycle
            destroyed_on.append(threading.get_ident())

    gc.collect()
    Cyclic()
    kept = []

    def allocate():
        kept.extend([i] for i in range(5 * gc.get_threshold()[0]))

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert destroyed_on == []  # the worker did not collect it
    # Let the GUI timer find every generation due (older garbage left by earlier tests
    # may reference the cycle, which a young-generation pass would keep alive).
    limits = gc.get_threshold()
    gc.set_threshold(1, 1, 1)
    try:
        qtbot.waitUntil(lambda: bool(destroyed_on), timeout=3000)
    finally:
        gc.set_threshold(*limits)
    assert destroyed_on == [threading.get_ident()]  # the GUI thread did


def test_collect_due_picks_the_generation_the_automatic_collector_would(qapp):
    collector = gui_gc.install(qapp)
    gc.collect()
    assert collector.collect_due() == 0  # nothing due right after a full collection
    threshold = gc.get_threshold()[0]
    cycles = []
    for _ in range(threshold + 10):
        a = []
        a.append(a)
        cycles.append(a)
    del a
    cycles.clear()  # threshold+10 unreachable cycles now wait in generation 0
    assert collector.collect_due() >= threshold


def test_uninstall_restores_automatic_collection(qapp):
    gui_gc.uninstall(qapp)
    assert gc.isenabled()
    gui_gc.install(qapp)
    assert not gc.isenabled()
