"""Dockable panels of the main window (problems, summary, training panels).

>>> from desktop.panels.problems import ProblemsPanel  # doctest: +SKIP
"""
