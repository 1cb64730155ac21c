"""What a run keeps so that it can be restored later: the network it trained, its
weights and (through its ``doc.history`` record) its settings. No Qt.

``doc.run_states`` maps a run's name to ``{"network": {...}, "weights": {layer: arrays},
"last_weights": {...} | None}``:

* ``network``: the nodes, wires and groups the run trained, in the project file's own
  JSON form (so restoring works after the graph changed);
* ``weights``: what the run left in the project (with early stopping, Keras'
  ``restore_best_weights``: the best epoch's weights);
* ``last_weights``: the last epoch's weights, kept only when early stopping put an
  earlier (best) epoch's weights back, so both can be restored.

Bound: the ``KEEP_RUNS`` most recent runs keep their states, and all kept states
together hold at most ``MAX_BYTES`` of arrays (older runs lose theirs first; a run
larger than that alone keeps none). Older runs stay in the table and can still give
their settings back. In the project file the states are the top-level ``"run_states"``
object, weights in the raw-bytes encoding of ``core.graph.project_weights`` (never
pickle); ``read_run_states`` checks every network as strictly as the project's own and
every array against the weight shapes of the network it belongs to.

>>> from core.graph import GraphDocument
>>> doc = GraphDocument()
>>> a = doc.add_node("InputLayer", {"shape": [3]})
>>> d = doc.add_node("Dense", {"units": 2})
>>> _ = doc.connect(a, d)
>>> doc.history.append({"name": "Run 1", "settings": doc.training.to_dict()})
>>> keep_run(doc, "Run 1", network_of(doc), {"dense": [np.ones((3, 2), "float32"),
...                                                    np.zeros(2, "float32")]})
>>> restorable(doc)
{'Run 1': 'weights'}
"""

from __future__ import annotations

import numpy as np

from core.callbacks import Callback
from core.graph.datatypes import Snapshot, copy_json
from core.graph.project_weights import check_weights_fit, decode_weights, encode_weights

KEEP_RUNS = 5
MAX_BYTES = 256 * 1024 * 1024  # raw array bytes of all kept run states together


def states(doc) -> dict:
    """``doc.run_states`` (made empty on documents that predate it)."""
    if not isinstance(getattr(doc, "run_states", None), dict):
        doc.run_states = {}
    return doc.run_states


def network_of(doc) -> dict:
    """The network part of ``doc`` (nodes, wires, groups) as project-file JSON."""
    from core.graph.project_file import document_to_dict

    data = document_to_dict(doc)
    return {k: data[k] for k in ("nodes", "edges", "next_id", "groups") if k in data}


def _nbytes(weights) -> int:
    return sum(int(np.asarray(a).nbytes) for arrays in (weights or {}).values()
               for a in arrays)


def state_bytes(state: dict) -> int:
    return _nbytes(state.get("weights")) + _nbytes(state.get("last_weights"))


def keep_run(doc, name: str, network: dict, weights: dict | None,
             last_weights: dict | None = None) -> None:
    """Keep run ``name``'s state, then drop the oldest states past the bound."""
    if not weights:
        return
    store = states(doc)
    store[name] = {"network": copy_json(network), "weights": weights,
                   "last_weights": last_weights or None}
    prune(doc)


def prune(doc) -> None:
    """Keep the states of the ``KEEP_RUNS`` most recent runs within ``MAX_BYTES``."""
    store = states(doc)
    order = [r.get("name") for r in doc.history if isinstance(r, dict)]
    for name in [n for n in store if n not in order]:
        del store[name]  # the run is gone from the history (undo of its run, a new file)
    total = 0
    for k, name in enumerate(reversed(order)):
        if name not in store:
            continue
        size = state_bytes(store[name])
        if k >= KEEP_RUNS or total + size > MAX_BYTES:
            del store[name]
        else:
            total += size


def restorable(doc) -> dict:
    """Run name -> ``"weights"`` or ``"weights+last"`` for runs whose state is kept."""
    return {name: "weights+last" if s.get("last_weights") else "weights"
            for name, s in states(doc).items()}


def restore_snapshot(doc, name: str, settings: dict | None = None) -> tuple:
    """``(snapshot, weights)`` that put run ``name`` back: a full ``doc.snapshot()``
    with the run's network and training settings (the data set choice stays the
    project's), to hand to ``doc.restore_state``. ``KeyError`` when the run keeps no
    state; ``ValueError`` when its network no longer builds here."""
    from core.graph.settings import TrainingSettings

    state = states(doc)[name]
    net = _parse_network(state["network"], doc, f"run {name!r}")
    now = doc.snapshot()
    training = doc.training
    if settings:
        known = TrainingSettings.__dataclass_fields__
        changes = {k: v for k, v in settings.items() if k in known and k != "dataset"}
        training = training.replaced(**changes)
    extra = dict(now.extra, training=training, next_id=max(net._next_id, doc._next_id),
                 groups=copy_json(net.groups))
    return Snapshot(tuple(net.nodes.values()), tuple(net.edges), full=True, extra=extra), \
        state


def _parse_network(network, doc, where: str):
    """A document holding ``network`` (checked as a project file's nodes are)."""
    from core.graph.project_file import FORMAT, SCHEMA_VERSION, document_from_dict

    if not isinstance(network, dict):
        raise ValueError(f"{where}: the network is not an object")
    data = {"format": FORMAT, "schema_version": SCHEMA_VERSION,
            **{k: network[k] for k in ("nodes", "edges", "next_id", "groups")
               if k in network}}
    try:
        return document_from_dict(data, registry=doc._registry, source=where)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


# --------------------------------------------------------------- project file
def encode_run_states(doc) -> dict | None:
    """The ``"run_states"`` block of a project file (None when no run keeps one)."""
    prune(doc)
    store = states(doc)
    if not store:
        return None
    return {name: {"network": s["network"], "weights": encode_weights(s["weights"]),
                   "last_weights": encode_weights(s["last_weights"])
                   if s.get("last_weights") else None}
            for name, s in store.items()}


def read_run_states(doc, block) -> dict:
    """The run states of a project file, checked: each belongs to a run of
    ``doc.history``, its network parses strictly and its weights fit that network.
    ``ValueError`` (a sentence to follow the file name) otherwise. An absent block
    (older files) gives ``{}``."""
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise ValueError("has a 'run_states' entry that is not an object")
    runs = {r.get("name") for r in doc.history}
    out = {}
    for name, item in block.items():
        where = f"run {name!r}"
        if name not in runs:
            raise ValueError(f"keeps weights for {where}, which is not in its history")
        if not isinstance(item, dict) or set(item) - {"network", "weights", "last_weights"}:
            raise ValueError(f"has a bad saved state for {where}")
        net = _parse_network(item.get("network"), doc, where)
        kept = {"network": item["network"], "last_weights": None}
        for key in ("weights", "last_weights"):
            if key == "last_weights" and item.get(key) is None:
                continue
            try:
                weights = decode_weights(item.get(key))
                check_weights_fit(net, weights)
            except (ValueError, TypeError, AttributeError) as exc:
                raise ValueError(f"has {key.replace('_', ' ')} of {where} that cannot be "
                                 f"used: {exc}") from None
            kept[key] = weights
        out[name] = kept
    return out


class LastEpochWeights(Callback):
    """Copies the weights at the end of training *before* ``EarlyStopping`` puts its
    best epoch's weights back (it must come before it in the callback list)."""

    def __init__(self):
        super().__init__()
        self.weights = None

    def on_train_end(self, logs=None):
        self.weights = {ly.name: [np.array(w.value, copy=True) for w in ly.weights]
                        for ly in self.model.layers if ly.weights}
