"""Problems that ruin training although the network is valid Keras (no Qt here; the
Problems panel only mirrors them).

* a probability loss (crossentropy without ``from_logits``) on an output layer whose
  activation is linear or ReLU: the loss sees values that are not probabilities, so
  training stalls or turns NaN. Fix: softmax (sigmoid for binary / one unit).
* an absurd learning rate (> 1 for the adaptive optimizers): the loss diverges at once.
  Fix: Keras' default 0.001.

>>> from core.graph import GraphDocument
>>> doc = GraphDocument()
>>> i = doc.add_node("InputLayer", {"shape": [4]})
>>> d = doc.add_node("Dense", {"units": 3})
>>> _ = doc.connect(i, d)
>>> [p.message[:40] for p in training_problems(doc)]
["Output 'dense' has a linear activation b"]
"""

from __future__ import annotations

from core.graph.datatypes import Fix, Problem

PROBABILITY_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy",
                      "binary_crossentropy")
NOT_PROBABILITIES = (None, "linear", "relu")
ADAPTIVE = ("adam", "adamw", "rmsprop", "adagrad")
DEFAULT_LR = 0.001


def training_problems(doc) -> list[Problem]:
    return [*_output_activation_problems(doc), *_learning_rate_problems(doc)]


def _sinks(doc):
    return [n for n in doc.nodes.values() if not doc.outputs_of(n.id)]


def _output_activation_problems(doc):
    loss = doc.training.loss
    if loss not in PROBABILITY_LOSSES:
        return []
    out = []
    for node in _sinks(doc):
        if node.type != "Dense" or not doc.inputs_of(node.id):
            continue
        act = node.config.get("activation")
        if act not in NOT_PROBABILITIES:
            continue
        binary = loss == "binary_crossentropy" or node.config.get("units") == 1
        want = "sigmoid" if binary else "softmax"
        out.append(Problem(
            node.id,
            f"Output '{node.name}' has a {act or 'linear'} activation but the loss {loss} "
            f"expects probabilities: training will stall or turn NaN. Use {want} on the "
            "output layer.",
            (Fix(f"Set activation of '{node.name}' to {want}",
                 lambda d, i=node.id, a=want: _set_activation(d, i, a)),),
            "warning"))  # valid Keras (builds, exports); a warning, so nothing is blocked
    return out


def _set_activation(doc, node_id, activation) -> None:
    with doc.batch():
        doc.set_config(node_id, "activation", activation)


def _learning_rate_problems(doc):
    s = doc.training
    limit = 1.0 if s.optimizer in ADAPTIVE else 10.0
    if s.learning_rate <= limit:
        return []
    return [Problem(None, f"The learning rate {s.learning_rate:g} is far too high for "
                          f"{s.optimizer} (typical: 1e-4 to 1e-2): the loss will diverge.",
                    (Fix(f"Set the learning rate to {DEFAULT_LR:g}",
                         lambda d: d.set_training(learning_rate=DEFAULT_LR)),), "warning")]
