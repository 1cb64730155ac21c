"""The graph document: what the editor edits and the engine builds models from.

>>> from core.graph import GraphDocument
>>> doc = GraphDocument()
>>> i = doc.add_node("InputLayer", {"shape": [784]})
>>> d = doc.add_node("Dense", {"units": 10})
>>> _ = doc.connect(i, d)
>>> model = doc.build_model()
"""

from core.graph.datatypes import (
    Edge,
    Fix,
    GraphError,
    GraphEvent,
    NodeData,
    NodeState,
    Problem,
    Snapshot,
)
from core.graph.document import GraphDocument
from core.graph.settings import TrainingSettings

__all__ = ["Edge", "Fix", "GraphDocument", "GraphError", "GraphEvent", "NodeData", "NodeState",
           "Problem", "Snapshot", "TrainingSettings"]
