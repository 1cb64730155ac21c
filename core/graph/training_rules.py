"""Problems that ruin training although the network is valid Keras (no Qt here; the
Problems panel only mirrors them).

* a probability loss (crossentropy without ``from_logits``) on an output layer whose
  activation is linear or ReLU: the loss sees values that are not probabilities, so
  training stalls or turns NaN. Fix: softmax (sigmoid for binary / one unit).
* an absurd learning rate (> 1 for the adaptive optimizers): the loss diverges at once.
  Fix: Keras' default 0.001.
* binary_crossentropy on data with more than two classes. Fix: the sparse categorical loss.
* a layer whose weights alone are huge (over ``LARGE_LAYER_BYTES``), and a model whose
  training memory estimate (``core.graph.memory``) exceeds what the machine has free.
* ``pre_train_problems(doc)`` is what Train refuses on: every error, and targets that do
  not fit the output (``core.graph.target_rules``). (Several Inputs or
  outputs train from the canvas: ``core.session.network_data`` maps the data by name
  and says at Train which Input it has no data for.)

Structure rules (one-input merge, dangling outputs, Flatten last) are in
``core.graph.structure_rules``; they are added here.

>>> from core.graph import GraphDocument
>>> doc = GraphDocument()
>>> i = doc.add_node("InputLayer", {"shape": [4]})
>>> d = doc.add_node("Dense", {"units": 3})
>>> _ = doc.connect(i, d)
>>> [p.message[:40] for p in training_problems(doc)]
["Output 'dense' has a linear activation b"]
"""

from __future__ import annotations

from core.graph import memory
from core.graph.datatypes import Fix, Problem

PROBABILITY_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy",
                      "binary_crossentropy")
NOT_PROBABILITIES = (None, "linear", "relu")
ADAPTIVE = ("adam", "adamw", "rmsprop", "adagrad")
DEFAULT_LR = 0.001
LARGE_LAYER_BYTES = 512 * 1024**2  # float32 weights of one layer; 134 M parameters


def training_problems(doc, available=memory.available_memory) -> list[Problem]:
    """Warnings about a sound graph. ``available()``: free bytes or None (tests pass one)."""
    from core.graph.structure_rules import structure_problems
    from core.graph.target_rules import target_problems

    return [*structure_problems(doc), *target_problems(doc), *_output_activation_problems(doc),
            *_learning_rate_problems(doc), *_binary_on_many_classes(doc),
            *memory_problems(doc, available)]


def pre_train_problems(doc, available=memory.available_memory) -> list[Problem]:
    """What Train refuses on: every error of the document. Warnings about a sound graph
    do not block (the user may know better), but targets that cannot fit the output
    (``core.graph.target_rules``) do: such a run could only fail."""
    from core.graph.target_rules import target_problems

    return [p for p in doc.problems() if p.severity == "error"] + target_problems(doc)


def _num_inputs(doc, node):
    try:
        return getattr(doc.layer_class(node.type), "num_inputs", 1)
    except ValueError:
        return None


def _binary_on_many_classes(doc):
    classes = doc.data_info[1] if doc.data_info else None
    if doc.training.loss != "binary_crossentropy" or classes is None or classes <= 2:
        return []
    want = "sparse_categorical_crossentropy"
    return [Problem(None, f"binary_crossentropy separates two classes, but the data set has "
                          f"{classes}. Use {want} with a softmax output of {classes} units.",
                    (Fix(f"Set the loss to {want}", lambda d: d.set_training(loss=want)),),
                    "warning")]


def memory_problems(doc, available=memory.available_memory) -> list[Problem]:
    out = []
    states = {nid: doc.state(nid) for nid in doc.nodes}
    for nid, st in states.items():
        if st.param_count and st.param_count * 4 > LARGE_LAYER_BYTES:
            out.append(Problem(nid, f"'{doc.nodes[nid].name}' has {st.param_count:,} weights "
                                    f"({memory.fmt_bytes(st.param_count * 4)} as float32): "
                                    "training it needs several times that and will be very "
                                    "slow. Use fewer units, or pooling/strides before it.",
                               (), "warning"))
    s = doc.training
    params = sum(st.param_count or 0 for st in states.values())
    sizes = [_values(st.output_shape) for st in states.values() if st.output_shape]
    est = memory.estimate_training_memory(params, sizes, s.batch_size, s.optimizer, 0)
    free = available()
    if free is not None and est.total > free:
        out.append(Problem(None, f"Training this model with batch size {s.batch_size} needs "
                                 f"about {est.describe()} before any data, but the machine "
                                 f"has {memory.fmt_bytes(free)} free. Lower the batch size or "
                                 "make the network smaller.", (), "warning"))
    return out


def _values(shape) -> int:
    n = 1
    for d in shape[1:]:
        n *= int(d) if d is not None else 1
    return n


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
