"""What a run leaves behind and reads back: weight copies by layer name, the last
epoch's weights beside early stopping's best, the pre-Train warning note (no Qt; the
app's training controller and run restore use them). The epochs behind the project's
weights: ``core.graph.run_history``.

>>> weights_by_layer(type("M", (), {"layers": []})())
{}
"""

from __future__ import annotations

import numpy as np


def weights_by_layer(model) -> dict:
    return {layer.name: [np.array(w.value, copy=True) for w in layer.weights]
            for layer in model.layers if layer.weights}


def last_epoch_weights(callbacks, final) -> dict | None:
    """The last epoch's weights when early stopping replaced them by its best epoch's
    (``final``, what the project keeps), else None: nothing else to restore.
    ``callbacks``: the run's callbacks (``settings_callbacks`` put a ``LastEpochWeights``
    before the EarlyStopping)."""
    from core.graph.run_states import LastEpochWeights

    for cb in callbacks or ():
        last = cb.weights if isinstance(cb, LastEpochWeights) else None
        if last and final and (set(last) != set(final) or any(
                len(last[k]) != len(final[k]) or not all(np.array_equal(a, b) for a, b in
                                                         zip(last[k], final[k]))
                for k in last)):
            return last
    return None


def restore_weights(model, saved) -> bool:
    """Put ``saved`` (layer name -> arrays) into ``model`` when every shape fits, else
    change nothing and return False. A nested model takes an entry under its own name
    (``weights_by_layer``, what the app writes) or one per leaf layer
    (``core.graph.build.model_weights``, what the command line writes)."""
    if not saved:
        return False
    plan = _weight_plan(model, saved)
    if plan is None:
        return False
    for layer, arrays in plan:
        layer.set_weights(arrays)
    return True


def _fits(layer, arrays) -> bool:
    return arrays is not None and len(arrays) == len(layer.weights) and all(
        np.shape(a) == w.shape for a, w in zip(arrays, layer.weights))


def _weight_plan(model, saved):
    """``[(layer, arrays)]`` covering every weighted layer of ``model``, or None."""
    from core.graph.groups import leaf_layers

    plan = []
    for layer in (ly for ly in model.layers if ly.weights):
        arrays = saved.get(layer.name)
        if _fits(layer, arrays):
            plan.append((layer, arrays))
            continue
        leaves = [ly for ly in leaf_layers(layer) if ly.weights] if hasattr(
            layer, "layers") else []
        if not leaves or not all(_fits(ly, saved.get(ly.name)) for ly in leaves):
            return None
        plan += [(ly, saved[ly.name]) for ly in leaves]
    return plan


def warning_note(doc) -> str:
    """The pre-Train check's word on warnings: they do not block, but are not hidden
    (short: the status line sits above the form; the Problems panel has the text)."""
    warnings = [p for p in doc.problems() if p.severity == "warning"]
    if not warnings:
        return ""
    return f" Note: {plural(len(warnings), 'warning')} in Problems."


def plural(n: int, word: str) -> str:
    """``plural(1, "epoch")`` -> ``1 epoch``; ``plural(3, "epoch")`` -> ``3 epochs``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
