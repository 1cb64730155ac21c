"""Training settings stored with a project: what ``compile`` and ``fit`` receive.

Names follow Keras' ``compile``/``fit`` arguments. Defaults are the app's starting
point for a classifier (Adam at Keras' default rate 0.001, batch 32 as Keras, a 10 %
validation split so the curves show over-fitting); every field is validated on the
way in, so a document never holds settings that ``fit`` would reject.

>>> s = TrainingSettings(epochs=3)
>>> s.to_dict()["epochs"]
3
>>> TrainingSettings.from_dict({"batch_size": 0})
Traceback (most recent call last):
ValueError: Training setting batch_size=0 is invalid; expected an integer >= 1 and <= 2147483647.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields


def _fail(name: str, value, expected: str):
    raise ValueError(f"Training setting {name}={value!r} is invalid; expected {expected}.")


# Upper bounds keep a hostile project from reaching OverflowError in numpy/Qt
# (seeds are 32-bit in numpy's legacy API, spin boxes are 32-bit ints).
_MAX = {"seed": 2**32 - 1, "epochs": 1_000_000, "batch_size": 2**31 - 1,
        "early_stopping": 1_000_000, "reduce_lr": 1_000_000}


CLASS_WEIGHTS = ("none", "balanced")
# What the network learns to output: the data set's labels (classes or values), or the
# input itself (an autoencoder: core.session.reconstruction).
TARGETS = ("labels", "input")


def balanced_class_weight(labels) -> dict:
    """``fit(class_weight=...)`` that makes every class count as much in the loss:
    ``n_samples / (n_classes * count(c))`` (scikit-learn's "balanced"), for the classes
    present in ``labels`` (integer class ids).

    >>> balanced_class_weight([0, 0, 0, 1])
    {0: 0.6666666666666666, 1: 2.0}
    """
    counts: dict = {}
    for y in labels:
        counts[int(y)] = counts.get(int(y), 0) + 1
    n, k = sum(counts.values()), len(counts)
    return {c: n / (k * counts[c]) for c in sorted(counts)}


def _int(name, v, lo):
    hi = _MAX.get(name)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        _fail(name, v, f"an integer >= {lo}" + (f" and <= {hi}" if hi is not None else ""))
    return int(v)


def _check_field(name: str, v):
    if name in ("loss", "optimizer", "dataset"):
        if not isinstance(v, str) or (name != "dataset" and not v.strip()):
            _fail(name, v, "a non-empty string" if name != "dataset" else "a string")
        return v
    if name == "learning_rate":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v <= 0:
            _fail(name, v, "a number > 0")
        return float(v)
    if name == "metrics":
        if not isinstance(v, (list, tuple)) or not all(isinstance(m, str) and m for m in v):
            _fail(name, v, "a list of metric names")
        return list(v)
    if name == "epochs":
        return _int(name, v, 1)
    if name == "batch_size":
        return _int(name, v, 1)
    if name == "shuffle":
        if not isinstance(v, bool):
            _fail(name, v, "True or False")
        return v
    if name == "seed":
        return None if v is None else _int(name, v, 0)
    if name == "class_weight":
        if v not in CLASS_WEIGHTS:
            _fail(name, v, " or ".join(repr(c) for c in CLASS_WEIGHTS))
        return v
    if name == "target":
        if v not in TARGETS:
            _fail(name, v, " or ".join(repr(t) for t in TARGETS))
        return v
    if name in ("early_stopping", "reduce_lr"):
        return None if v is None else _int(name, v, 1)
    if name == "validation_split":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
            _fail(name, v, "a number in [0, 1)")
        return float(v)
    raise ValueError(f"Unknown training setting {name!r}.")


@dataclass
class TrainingSettings:
    """Arguments for ``model.compile`` and ``model.fit`` plus the data set choice.

    ``early_stopping`` / ``reduce_lr``: patience of the two callbacks, or None.
    ``dataset`` is a built-in id (``"sample"``, ``"mnist"``, ``"fashion_mnist"``) or a
    path to a user file; the data panel interprets it.
    """

    loss: str = "sparse_categorical_crossentropy"
    optimizer: str = "adam"
    learning_rate: float = 0.001
    metrics: list = field(default_factory=lambda: ["accuracy"])
    epochs: int = 5
    batch_size: int = 32
    shuffle: bool = True
    seed: int | None = None
    validation_split: float = 0.1
    dataset: str = "sample"
    # Callbacks, as patience in epochs on val_loss (loss without validation); None = off.
    # early_stopping: keras.callbacks.EarlyStopping(restore_best_weights=True), so the
    # project keeps the best epoch's weights; reduce_lr: ReduceLROnPlateau (factor 0.1).
    early_stopping: int | None = None
    reduce_lr: int | None = None
    # "balanced": fit(class_weight=balanced_class_weight(training labels)), for data sets
    # where some classes are rare (classification losses only).
    class_weight: str = "none"
    # "input": fit(x, x), the reconstruction target of an autoencoder (output shape =
    # input shape, a regression/reconstruction loss); "labels": the data set's y.
    target: str = "labels"

    def __post_init__(self):
        for f in fields(self):
            setattr(self, f.name, _check_field(f.name, getattr(self, f.name)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainingSettings:
        if not isinstance(data, dict):
            raise ValueError(f"Training settings must be a JSON object, got {data!r}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown training setting(s) {unknown}; known: {sorted(known)}.")
        return cls(**data)

    def replaced(self, **changes) -> TrainingSettings:
        """A validated copy with ``changes`` applied (raises ``ValueError`` first)."""
        data = self.to_dict()
        for k, v in changes.items():
            if k not in data:
                raise ValueError(f"Unknown training setting {k!r}.")
            data[k] = _check_field(k, v)
        return TrainingSettings(**data)
