"""What ``predict``'s fast path may do with a model's execution plan.

``predict`` runs batch 0 through ``Model.__call__`` with every check, then later
batches through the model's ``_infer``, which calls each plain layer's ``forward``
directly. For that plan this module answers, once per plan:

- which steps are *plain*: their class keeps ``Layer.call`` (so ``forward`` is
  the whole computation) and the node passes no extra call arguments; none is
  when a layer of the plan makes masks (Embedding(mask_zero), Masking) or may make
  one (its own ``compute_mask``) for another layer that takes them, since masks
  travel through ``Layer.__call__``;
- where a Dense sees every value of the model's (single) input: the first
  computing layer on the input's path, reached only through layers whose inference
  outputs hold exactly their input's values (``passes_values``: Flatten, Reshape,
  Dropout...; ``core.layers.facts``). Its
  pre-activations then stand in for the NaN/inf check of x
  (``core.models.predictor.FiniteInputs``);
- whether every step is plain and ``reentrant_inference``, so that several
  threads may run batches at once (``core.models.batch_threads``).

The same plan runs every step of ``fit`` and ``evaluate`` after the first
(``core.models.step.CompiledStep``): ``run_plain`` is what ``Layer.__call__`` does for
a plain, built layer once its input was checked, recording on the active tape
when there is one. A training step then costs ~5 us a layer of Python instead of ~25.

A plan entry is a ``core.models.graph.PlanStep`` (layer, input ids, output ids,
multi_in, multi_out, call kwargs); a Sequential's plan is the chain
``PlanStep(layer_k, [k], [k + 1], False, False, {})`` from input id 0.

>>> from core.layers import Dense, Flatten
>>> steps = [PlanStep(Flatten(), [0], [1], False, False, {}),
...          PlanStep(Dense(3), [1], [2], False, False, {})]
>>> traits(steps, 0)[1:]
(1, True)
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.layers.base import Layer
from core.layers.facts import passes_values
from core.layers.masks import takes_mask
from core.models.graph import PlanStep  # noqa: F401  (the entries' type, for the example)
from core.ops.engine import Tracked, track, unwrap_all


def is_plain(layer, kwargs=None) -> bool:
    """The layer's ``forward`` is the whole of its call (no override of ``call``)."""
    return getattr(type(layer), "call", None) is Layer.call and not kwargs


def _masks_matter(entries) -> bool:
    """Whether masks may travel through the plan: a layer makes them
    (``_creates_masks``), or one overrides ``compute_mask`` (it might make one from an
    unmasked input) while another consumes them (its computation takes ``mask``).
    The merges' ``compute_mask`` only combines masks they are given."""
    layers = [entry.layer for entry in entries]
    if any(getattr(layer, "_creates_masks", lambda: False)() for layer in layers):
        return True
    if not any(getattr(type(layer), "compute_mask", Layer.compute_mask)
               is not Layer.compute_mask for layer in layers):
        return False
    return any(isinstance(layer, Layer) and takes_mask(layer) for layer in layers)


def traits(entries, input_id):
    """``(plain flags, index of the input-checking Dense or None, all reentrant)``."""
    from core.layers import Dense

    plain = [is_plain(entry.layer, entry.kwargs) for entry in entries]
    if _masks_matter(entries):
        plain = [False] * len(entries)  # masks ride on Layer.__call__ (core.layers.masks)
    check_at, path = None, input_id
    for i, entry in enumerate(entries):
        layer, in_ids, out_ids = entry.layer, entry.in_ids, entry.out_ids
        if entry.multi_in or list(in_ids) != [path]:
            continue  # a step off the input's path
        if type(layer) is Dense and plain[i]:
            check_at = i
            break
        if not passes_values(layer) or not plain[i]:
            break
        path = out_ids[0]
    reentrant = all(p and getattr(entry.layer, "reentrant_inference", False)
                    for p, entry in zip(plain, entries))
    return plain, check_at, reentrant


def run_plain(layer, x, training, tape):
    """``layer(x, training=training)`` for a plain layer of a plan whose first batch went
    through every ``Layer.__call__`` check: its ``forward``, recorded on ``tape`` (None:
    no tape) as ``Layer.__call__`` records it, its ``add_loss`` values renewed and its
    activity penalty noted. A layer that is not built yet, has no ``backward`` under a
    tape (its ops must record) or gets a non-float input takes ``Layer.__call__``.

    >>> import numpy as np
    >>> from core.layers import Dense
    >>> d = Dense(2)
    >>> _ = d(np.ones((1, 3), "float32"))
    >>> run_plain(d, np.ones((4, 3), "float32"), False, None).shape
    (4, 2)
    """
    one = type(x) is np.ndarray or type(x) is Tracked  # (type checks: ~0.1 us each)
    if not layer.built or not (x.dtype.kind == "f" if one else _floats(x)) or (
            tape is not None and type(layer).backward is Layer.backward):
        return layer(x, training=training)
    if layer.__dict__.get("_added_losses"):
        layer.__dict__["_added_losses"] = []  # a new call replaces the last one's
    if tape is None:
        y = layer.forward(x, training=training)[0]
    else:
        # As Layer.__call__: forward on plain arrays, outputs as fresh Tracked views.
        given = (x.view(np.ndarray) if type(x) is Tracked else x) if one else unwrap_all(x)
        y, cache = layer.forward(given, training=training)
        y = y.view(Tracked) if type(y) is np.ndarray else track(y)
        tape.called_layers[id(layer)] = layer
        tape.record(layer, x, y, cache)
    if layer.activity_regularizer is not None:
        backend.add_activity_loss(y, layer.activity_regularizer)
    return y


def _floats(x) -> bool:
    if isinstance(x, list):
        return all(_floats(t) for t in x)
    return isinstance(x, np.ndarray) and x.dtype.kind == "f"
