"""How much memory a training run needs, and how much the machine has free.

The estimate adds, in bytes: weights, their gradients, the optimizer's slot
variables, the two NaN-guard snapshots the training callback keeps, the
activations of one batch (forward output, backward cache and gradient: three
copies of every layer output) and the prepared data arrays. It is a planning
figure, deliberately on the generous side. (The engine itself checks single
allocations -- weights, one-hot arrays, batch buffers -- with ``core.safety``.)

>>> est = estimate_training_memory(param_count=1000, layer_output_sizes=[784, 10],
...                                batch_size=32, optimizer="adam", data_bytes=0)
>>> est.total > 0
True
"""

from __future__ import annotations

from dataclasses import dataclass

# One reading of free memory and one byte format for the app and the engine's checks.
from core.safety import available_memory, fmt_bytes

__all__ = ["MemoryEstimate", "available_memory", "estimate_training_memory", "fmt_bytes"]

# Slot variables per weight (Keras 3 defaults: SGD without momentum has none).
OPTIMIZER_SLOTS = {"sgd": 1, "adam": 2, "adamw": 2, "nadam": 2, "adamax": 2, "rmsprop": 2,
                   "adagrad": 1, "adadelta": 2, "ftrl": 2, "lion": 1}
ACTIVATION_COPIES = 3  # output + what backward keeps + its gradient


@dataclass
class MemoryEstimate:
    weights: int
    gradients: int
    optimizer: int
    snapshots: int
    activations: int
    data: int

    @property
    def total(self) -> int:
        return (self.weights + self.gradients + self.optimizer + self.snapshots
                + self.activations + self.data)

    def describe(self) -> str:
        parts = [("weights", self.weights), ("gradients", self.gradients),
                 ("optimizer state", self.optimizer), ("weight snapshots", self.snapshots),
                 ("activations", self.activations), ("data", self.data)]
        return f"{fmt_bytes(self.total)} (" + ", ".join(
            f"{name} {fmt_bytes(b)}" for name, b in parts) + ")"


def estimate_training_memory(param_count: int, layer_output_sizes, batch_size: int,
                             optimizer: str, data_bytes: int, itemsize: int = 4
                             ) -> MemoryEstimate:
    """``layer_output_sizes``: values per sample of every layer output (batch dim excluded)."""
    p = int(param_count) * itemsize
    slots = OPTIMIZER_SLOTS.get(str(optimizer).lower(), 2)
    act = sum(int(s) for s in layer_output_sizes) * int(batch_size) * itemsize
    return MemoryEstimate(weights=p, gradients=p, optimizer=slots * p, snapshots=2 * p,
                          activations=ACTIVATION_COPIES * act, data=int(data_bytes))
