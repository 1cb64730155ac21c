"""Plain-language diagnoses from a run's per-epoch logs (no Qt; the curves panel shows them).

Each rule reads the ``fit`` history the app records per epoch (``loss``, ``val_loss``,
``accuracy``, ...) and names the likely cause with what to try:

* ``diverging``: the loss turned NaN/inf, or rose for two epochs in a row past where it
  started: the learning rate is too high.
* ``overfitting``: validation loss rose for ``OVERFIT_EPOCHS`` epochs after its best
  while the training loss kept falling (the train/validation gap grows): add Dropout,
  stop early, or get more data.
* ``chance``: accuracy no better than guessing (1 / classes) after two epochs: the
  network is not learning at all.
* ``plateau``: the training loss improved by under ``PLATEAU_GAIN`` across the last
  ``PLATEAU_EPOCHS`` epochs (after at least one more): lower the learning rate or give the
  network more capacity.

>>> [d.kind for d in diagnose([{"loss": 1.0, "val_loss": 1.0}, {"loss": 0.8, "val_loss": 0.9},
...                            {"loss": 0.6, "val_loss": 1.0}, {"loss": 0.4, "val_loss": 1.2}])]
['overfitting']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OVERFIT_EPOCHS = 2     # epochs of rising validation loss after its best
PLATEAU_EPOCHS = 3     # window for the plateau rule
PLATEAU_GAIN = 0.01    # relative improvement of the training loss over that window
CHANCE_MARGIN = 0.02   # accuracy within this of 1/classes counts as chance


@dataclass(frozen=True)
class Diagnosis:
    kind: str        # diverging | overfitting | chance | plateau
    message: str     # one or two sentences for people
    fix_label: str = ""          # a one-click remedy on the training settings, if any
    settings_fix: tuple = ()     # ((setting, value), ...) for doc.set_training

    @property
    def changes(self) -> dict:
        return dict(self.settings_fix)


EARLY_STOP_PATIENCE = 3


def _series(epochs, key) -> list[float]:
    out = []
    for logs in epochs:
        v = logs.get(key) if isinstance(logs, dict) else None
        if v is None:
            return out  # a run without validation data has no val_loss at all
        out.append(float(v))
    return out


def diagnose(epochs, num_classes: int | None = None, learning_rate: float | None = None,
             nan_at=None) -> list[Diagnosis]:
    """Diagnoses for one run, most serious first (``nan_at``: where the loss went NaN)."""
    loss = _series(epochs, "loss")
    lr = f" ({learning_rate:g})" if learning_rate else ""
    lower = (f" Try {learning_rate / 10:g}." if learning_rate else " Try ten times lower.")
    slower = ((f"Set the learning rate to {learning_rate / 10:g}",
               (("learning_rate", learning_rate / 10),)) if learning_rate else ("", ()))
    if nan_at is not None or any(not math.isfinite(v) for v in loss):
        return [Diagnosis("diverging", f"The loss became NaN or infinite: the learning rate"
                                       f"{lr} is too high for this network.{lower}", *slower)]
    out = []
    if len(loss) >= 3 and loss[-1] > loss[-2] > loss[-3] and loss[-1] > loss[0]:
        out.append(Diagnosis("diverging", f"The training loss is rising ({loss[0]:.3g} at "
                                          f"epoch 1, {loss[-1]:.3g} now): the learning rate"
                                          f"{lr} is probably too high.{lower}", *slower))
    val = _series(epochs, "val_loss")
    if len(val) == len(loss) and len(val) >= OVERFIT_EPOCHS + 2:
        best = min(range(len(val)), key=val.__getitem__)
        rising = len(val) - 1 - best
        steadily = all(val[i + 1] > val[i] for i in range(best, len(val) - 1))
        gap_grows = val[-1] - loss[-1] > val[best] - loss[best]
        if rising >= OVERFIT_EPOCHS and steadily and loss[-1] < loss[best] and gap_grows:
            out.append(Diagnosis("overfitting", f"Validation loss has risen for {rising} epochs "
                                                f"since its best (epoch {best + 1}) while the "
                                                "training loss keeps falling: the network is "
                                                "overfitting. Add Dropout, stop earlier (early "
                                                "stopping) or use more data.",
                                                f"Turn on early stopping (patience "
                                                f"{EARLY_STOP_PATIENCE})",
                                                (("early_stopping", EARLY_STOP_PATIENCE),)))
    acc = _series(epochs, "accuracy")
    if num_classes and num_classes > 1 and len(acc) >= 2:
        chance = 1.0 / num_classes
        if acc[-1] <= chance + CHANCE_MARGIN:
            out.append(Diagnosis("chance", f"Accuracy is {acc[-1]:.1%}, what guessing gets with "
                                           f"{num_classes} classes: the network is not learning. "
                                           "Check the Problems list (output activation, loss), "
                                           "lower the learning rate or scale the inputs."))
    window = loss[-PLATEAU_EPOCHS:]
    if (not out and len(loss) > PLATEAU_EPOCHS and window[0] > 0
            and window[0] - min(window) < PLATEAU_GAIN * window[0]):
        out.append(Diagnosis("plateau", f"The training loss has improved by under "
                                        f"{PLATEAU_GAIN:.0%} over the last {PLATEAU_EPOCHS} "
                                        f"epochs (stuck near {loss[-1]:.3g}). Fix any warning "
                                        "in Problems first; then lower the learning rate, or "
                                        "give the network more units or layers."))
    return out
