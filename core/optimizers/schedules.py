"""Learning-rate schedules (``keras.optimizers.schedules``): callables from the
optimizer's iteration count to a learning rate.

>>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> round(s(20), 6)
0.025
>>> serialize(s)["class_name"]
'ExponentialDecay'
"""

from __future__ import annotations

import math


def _bad(cls, arg, value, expected):
    raise ValueError(f"Schedule {cls}: argument {arg}={value!r} is invalid; expected {expected}.")


def _number(cls, arg, value, lo=None, lo_strict=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _bad(cls, arg, value, "a finite number")
    if lo is not None and (value <= lo if lo_strict else value < lo):
        _bad(cls, arg, value, f"a number {'>' if lo_strict else '>='} {lo}")
    return value


class LearningRateSchedule:
    """Base class: ``schedule(step) -> float``; ``get_config``/``from_config``."""

    def __call__(self, step) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step)")

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored exponent
    when ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        cls = type(self).__name__
        self.initial_learning_rate = _number(cls, "initial_learning_rate",
                                             initial_learning_rate, 0)
        self.decay_steps = _number(cls, "decay_steps", decay_steps, 0, lo_strict=True)
        self.decay_rate = _number(cls, "decay_rate", decay_rate, 0)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        cls = type(self).__name__
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"Schedule {cls}: the length of boundaries should be 1 less than the length "
                f"of values; received boundaries={boundaries} ({len(boundaries)}) and "
                f"values={values} ({len(values)}).")
        for b in boundaries:
            _number(cls, "boundaries", b)
        for v in values:
            _number(cls, "values", v, 0)
        if any(b2 < b1 for b1, b2 in zip(boundaries, boundaries[1:])):
            _bad(cls, "boundaries", boundaries, "an increasing list")
        self.boundaries, self.values, self.name = boundaries, values, name

    def __call__(self, step):
        x = float(step)
        for b, v in zip(self.boundaries, self.values):
            if x <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` (or from ``warmup_target`` after a
    linear warmup of ``warmup_steps``) down to ``alpha`` times that rate."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        cls = type(self).__name__
        self.initial_learning_rate = _number(cls, "initial_learning_rate",
                                             initial_learning_rate, 0)
        self.decay_steps = _number(cls, "decay_steps", decay_steps, 0, lo_strict=True)
        self.alpha = _number(cls, "alpha", alpha, 0)
        self.warmup_target = None if warmup_target is None else _number(
            cls, "warmup_target", warmup_target, 0)
        self.warmup_steps = _number(cls, "warmup_steps", warmup_steps, 0)
        self.name = name

    def _decay(self, step, from_lr):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return from_lr * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        s = float(step)
        if self.warmup_target is None:
            return self._decay(min(s, self.decay_steps), self.initial_learning_rate)
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:
            frac = s / self.warmup_steps
            return (self.warmup_target - self.initial_learning_rate) * frac + \
                self.initial_learning_rate
        return self._decay(s - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict:
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config: dict) -> LearningRateSchedule:
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in _SCHEDULES:
        raise ValueError(f"Unknown learning-rate schedule {name!r} in {config!r}; known: "
                         f"{sorted(_SCHEDULES)}.")
    return _SCHEDULES[name].from_config(dict(config.get("config") or {}))
