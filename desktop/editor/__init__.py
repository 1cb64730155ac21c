"""The node editor: scene mirroring the graph document, view, items, palette,
inspector and the undo commands that are the only way the GUI edits a document.

>>> from desktop.editor.layout import layered_layout
>>> layered_layout(["a", "b"], [("a", "b")])["b"][1] > 0
True
"""
