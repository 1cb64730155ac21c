"""Problems of what a network is asked to output (no Qt; the Problems panel mirrors them).

* An output that gives an image (more than one axis per sample) while the targets are the
  data set's labels, one class or value per sample: the labels cannot fit it. When the
  output has the input's shape and the loss compares values, the fix is to learn the
  input itself (``target = "input"``, an autoencoder); otherwise the message says what
  would fit (Flatten + Dense for classes, an output of the input's shape for
  reconstruction).
* ``target = "input"`` on a network whose output cannot be its input (another shape, a
  loss that does not compare values). Fix: train on the labels.

Both are warnings (the network is valid Keras and still exports), but Train refuses on
them (``training_rules.pre_train_problems``): the run could only fail.

>>> from core.graph import GraphDocument
>>> doc = GraphDocument()
>>> i = doc.add_node("InputLayer", {"shape": [8, 8, 1]})
>>> c = doc.add_node("Conv2D", {"filters": 1, "kernel_size": [3, 3], "padding": "same"})
>>> _ = doc.connect(i, c)
>>> _ = doc.set_training(loss="mse")
>>> _ = doc.set_data_info((8, 8, 1), 10)
>>> [f.label for p in target_problems(doc) for f in p.fixes]
['Target: the input itself (reconstruction)']
"""

from __future__ import annotations

from core.graph.datatypes import Fix, Problem
from core.session.reconstruction import image_output, reconstruction_fit

INPUT_FIX = "Target: the input itself (reconstruction)"


def _ends(doc):
    """(Input node, output node) of a one-Input one-output network, else None."""
    ins = [n for n in doc.nodes.values() if not doc.inputs_of(n.id)
           and getattr(_cls(doc, n), "num_inputs", 1) == 0]
    outs = [n for n in doc.nodes.values() if not doc.outputs_of(n.id) and doc.inputs_of(n.id)]
    return (ins[0], outs[0]) if len(ins) == 1 and len(outs) == 1 else None


def _cls(doc, node):
    try:
        return doc.layer_class(node.type)
    except ValueError:
        return None


def _shape_text(shape) -> str:
    return " × ".join(str(d) for d in shape)


def target_problems(doc) -> list[Problem]:
    ends = _ends(doc)
    if ends is None:
        return []
    inp, out = ends
    in_shape, out_shape = doc.state(inp.id).output_shape, doc.state(out.id).output_shape
    if in_shape is None or out_shape is None:
        return []
    s = doc.training
    reason = reconstruction_fit(in_shape, out_shape, s.loss, out.config.get("activation"))
    if s.target == "input":
        if reason is None:
            return []
        return [Problem(out.id, f"The target is the input itself, but {reason}: the output "
                                f"'{out.name}' cannot learn to give its input back.",
                        (Fix("Train on the data set's labels",
                             lambda d: d.set_training(target="labels")),), "warning")]
    if doc.data_info is None or not image_output(out_shape):
        return []
    classes = doc.data_info[1]
    kind = "class number" if classes else "value"
    text = (f"Output '{out.name}' gives {_shape_text(out_shape[1:])} values per sample (an "
            f"image), but the data set's labels are one {kind} per sample: they do not fit "
            "that output.")
    if reason is None:
        return [Problem(out.id, text + " Its shape is the input's, so it can learn to "
                                       "reconstruct its input (an autoencoder).",
                        (Fix(INPUT_FIX, lambda d: d.set_training(target="input")),),
                        "warning")]
    want = (f"end the network with Flatten and Dense({classes}, softmax)" if classes
            else "end the network with Flatten and Dense(1)")
    return [Problem(out.id, text + f" To learn the labels, {want}; to reconstruct the "
                                   f"input, the output needs the input's shape "
                                   f"{tuple(in_shape[1:])} with mse ({reason}).",
                    (), "warning")]
