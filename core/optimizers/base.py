"""The ``Optimizer`` base class: Keras 3's BaseOptimizer bookkeeping around fused kernels.

Keras order of work per ``apply`` call: unscale by ``loss_scale_factor``, (gradient
accumulation), clip (``clipnorm`` / ``global_clipnorm`` / ``clipvalue``), decoupled
weight decay ``w -= w * weight_decay * lr``, the update rule, EMA of the weights, then
``iterations += 1``. Here the scaling, clipping and decay are folded into the one
kernel call each variable gets (see ``core.kernels.optim``), and the per-variable
plan (flat views, kernel, slots) is built once in ``build``.

``variables`` follow Keras' order so ``model.weights.h5`` paths line up:
``iteration``, ``learning_rate`` (when it is a float), EMA ``average``s,
``gradient_accumulator``s, then each rule's slots.

>>> import numpy as np
>>> from core.optimizers import SGD
>>> from core.variables import Variable
>>> w = Variable(np.ones(2, "float32"), name="w")
>>> opt = SGD(learning_rate=0.5)
>>> opt.apply([np.ones(2, "float32")], [w])
>>> w.value.tolist(), opt.iterations
([0.5, 0.5], 1)
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np

from core import backend
from core.kernels import optim as _k
from core.optimizers import schedules
from core.optimizers.clipping import clip_scales
from core.variables import Variable


class Optimizer:
    """Base optimizer; subclasses set ``_kernels`` and implement ``_build_slots`` and
    ``_step_args``."""

    _kernels: tuple = ()

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                          stacklevel=2)
        self._label = f"{type(self).__name__} optimizer" + (f" '{name}'" if name else "")
        if kwargs:
            raise ValueError(f"{self._label}: argument(s) not recognized: {kwargs}")
        self._check_lr(learning_rate)
        self._number("weight_decay", weight_decay, lo=0, optional=True)
        for arg, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                       ("global_clipnorm", global_clipnorm)):
            self._number(arg, v, lo=0, optional=True)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"{self._label}: only one of `clipnorm`, `clipvalue` and "
                             f"`global_clipnorm` can be set. Received: clipnorm={clipnorm}, "
                             f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self._number("ema_momentum", ema_momentum, lo=0, hi=1)
        if ema_overwrite_frequency is not None and (
                not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1):
            raise ValueError(f"{self._label}: ema_overwrite_frequency="
                             f"{ema_overwrite_frequency!r} is invalid; expected an integer "
                             ">= 1 or None.")
        self._number("loss_scale_factor", loss_scale_factor, lo=0, lo_strict=True,
                     optional=True)
        if gradient_accumulation_steps is not None and (
                isinstance(gradient_accumulation_steps, bool)
                or not isinstance(gradient_accumulation_steps, int)
                or gradient_accumulation_steps < 2):
            raise ValueError(f"{self._label}: gradient_accumulation_steps="
                             f"{gradient_accumulation_steps!r} is invalid; expected an "
                             "integer >= 2 or None.")
        # ---- all arguments valid: now create state
        self.name = name or backend.unique_name(backend.to_snake_case(type(self).__name__))
        self._label = f"{type(self).__name__} optimizer '{self.name}'"
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = bool(use_ema)
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False
        # int32 as Keras' dtype="int" on every backend but TensorFlow (saved files match).
        self._iterations = Variable(np.zeros((), np.int32), name="iteration", trainable=False,
                                    path=f"{self.name}/iteration")
        self._variables: list[Variable] = [self._iterations]
        self._learning_rate = None
        self._lr_var: Variable | None = None
        self.learning_rate = learning_rate
        self._trainable_variables: list[Variable] = []
        self._index: dict[int, int] = {}
        self._exclude_ids: set[int] = set()
        self._exclude_pattern = None

    # ------------------------------------------------------------- validation
    def _number(self, arg, value, lo=None, hi=None, lo_strict=False, hi_strict=False,
                optional=False):
        if value is None and optional:
            return None
        ok = not isinstance(value, bool) and isinstance(value, (int, float, np.floating)) \
            and math.isfinite(value)
        if ok and lo is not None:
            ok = value > lo if lo_strict else value >= lo
        if ok and hi is not None:
            ok = value < hi if hi_strict else value <= hi
        if not ok:
            rng = []
            if lo is not None:
                rng.append(f"{'>' if lo_strict else '>='} {lo}")
            if hi is not None:
                rng.append(f"{'<' if hi_strict else '<='} {hi}")
            raise ValueError(f"{self._label}: argument {arg}={value!r} is invalid; expected "
                             f"a number {' and '.join(rng)}".rstrip() + ".")
        return value

    def _check_lr(self, lr):
        if isinstance(lr, schedules.LearningRateSchedule) or (
                callable(lr) and not isinstance(lr, (int, float))):
            return
        self._number("learning_rate", lr, lo=0)

    # ---------------------------------------------------------- learning rate
    @property
    def learning_rate(self) -> float:
        """The current learning rate (a schedule is evaluated at the iteration count)."""
        lr = self._learning_rate
        if self._lr_var is not None:
            return float(self._lr_var.value)
        if isinstance(lr, schedules.LearningRateSchedule):
            return float(lr(int(self._iterations.value)))
        return float(lr())

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self._check_lr(value)
        if isinstance(value, schedules.LearningRateSchedule) or callable(value):
            if self._lr_var is not None:  # Keras untracks the variable
                self._variables.remove(self._lr_var)
                self._lr_var = None
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            raise TypeError(  # Keras 3's words: a schedule's optimizer keeps its schedule
                f"{self._label}: This optimizer was created with a `LearningRateSchedule` "
                "object as its `learning_rate` constructor argument, hence its learning rate "
                "is not settable. If you need the learning rate to be settable, you should "
                "instantiate the optimizer with a float `learning_rate` argument.")
        if self._lr_var is None:
            self._lr_var = Variable(np.zeros((), backend.floatx()), name="learning_rate",
                                    trainable=False, path=f"{self.name}/learning_rate")
            self._variables.insert(1, self._lr_var)
        self._lr_var.value[()] = value
        self._learning_rate = self._lr_var

    # ------------------------------------------------------------- iterations
    @property
    def iterations(self) -> int:
        n = int(self._iterations.value)
        steps = self.gradient_accumulation_steps
        return n // steps if steps else n

    @property
    def variables(self) -> list[Variable]:
        return list(self._variables)

    # ------------------------------------------------------------------ build
    def add_variable_from_reference(self, reference: Variable, name: str,
                                    fill: float = 0.0) -> Variable:
        vname = f"{reference.path.replace('/', '_')}_{name}"
        value = np.full(reference.shape, fill, dtype=reference.dtype)
        var = Variable(value, name=vname, trainable=False, path=f"{self.name}/{vname}")
        self._variables.append(var)
        return var

    def add_optimizer_variables(self, var_list, names, fill=0.0):
        """Slots for every variable, interleaved per variable when several names are
        given (Keras' ``add_optimizer_variables`` order)."""
        single = isinstance(names, str)
        names = [names] if single else list(names)
        out = tuple([] for _ in names)
        for v in var_list:
            for i, n in enumerate(names):
                out[i].append(self.add_variable_from_reference(v, n, fill))
        return out[0] if single else out

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        if self.built:
            raise ValueError(f"{self._label}: exclude_from_weight_decay() can only be "
                             "configured before the optimizer is built.")
        self._exclude_ids = {id(v) for v in (var_list or [])}
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def build(self, var_list) -> None:
        if self.built:
            return
        var_list = list(var_list)
        for v in var_list:
            if not isinstance(v, Variable):
                raise ValueError(f"{self._label}: can only optimize core Variables, got "
                                 f"{type(v).__name__}.")
        self._trainable_variables = var_list
        self._index = {id(v): i for i, v in enumerate(var_list)}
        self._ema = self.add_optimizer_variables(var_list, "average") if self.use_ema else []
        self._accum = self.add_optimizer_variables(var_list, "gradient_accumulator") \
            if self.gradient_accumulation_steps else []
        slots = self._build_slots(var_list)
        serial, parallel = self._kernels
        self._plan = []
        self._flat_grads = [(None, None)] * len(var_list)
        for i, v in enumerate(var_list):
            flat = v.value.reshape(-1)  # a view: values are C-contiguous and never rebound
            fn = parallel if flat.size >= _k.PAR_MIN else serial
            own = tuple(s[i].value.reshape(-1) if s is not None else _EMPTY[v.dtype.char]
                        for s in slots)
            decays = not (id(v) in self._exclude_ids or (
                self._exclude_pattern is not None and self._exclude_pattern.search(v.name)))
            self._plan.append((fn, flat, own, decays, v))
        self.built = True

    def _build_slots(self, var_list) -> list:
        """Create the rule's slots; return one list per kernel slot argument (or None
        for an argument this configuration does not use)."""
        raise NotImplementedError

    def _step_args(self, lr: float, step: int, dt) -> tuple:
        """The rule's leading kernel scalars for this step (``p`` in core.kernels.optim)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ apply
    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars)
        self.apply(list(grads), list(variables))
        return self.iterations

    def apply(self, grads, trainable_variables=None) -> None:
        """Update ``trainable_variables`` in place from ``grads`` (one-to-one)."""
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(f"{self._label}: when passing `grads` without `variables`, "
                                 "the optimizer must already be built; call "
                                 "`optimizer.build(trainable_variables)` first.")
            trainable_variables = self._trainable_variables
        elif not self.built:
            self.build(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(f"{self._label}: got {len(grads)} gradients for "
                             f"{len(trainable_variables)} variables.")
        index = self._index
        flat_cache = self._flat_grads
        pairs = []
        for g, v in zip(grads, trainable_variables):
            i = index.get(id(v))
            if i is None:
                raise ValueError(f"{self._label}: unknown variable {v!r}. This optimizer can "
                                 "only be called for the variables it was built with.")
            if g is None:
                continue
            src, flat = flat_cache[i]
            if g is not src:  # a new gradient buffer: validate it and cache its flat view
                flat = self._flat_grad(i, g, v)
                if flat.base is g or flat is g:
                    flat_cache[i] = (g, flat)
            pairs.append((i, flat))
        if not pairs:
            raise ValueError(f"{self._label}: no gradients provided for any variable.")
        self._apply_pairs(pairs)

    def _flat_grad(self, i, g, v):
        g = g.value if isinstance(g, Variable) else np.asarray(g)
        w = self._plan[i][1]
        if g.size != w.size:
            raise ValueError(f"{self._label}: gradient of shape {g.shape} does not match "
                             f"variable '{v.path}' of shape {v.shape}.")
        if g.dtype != w.dtype:
            g = g.astype(w.dtype)
        return g.reshape(-1)

    def _apply_pairs(self, pairs) -> None:
        it = self._iterations.value
        real_step = int(it)
        gscale = 1.0 if self.loss_scale_factor is None else 1.0 / self.loss_scale_factor
        steps = self.gradient_accumulation_steps
        if steps:
            if (real_step + 1) % steps != 0:
                for i, g in pairs:
                    acc = self._accum[i].value.reshape(-1)
                    acc += g if gscale == 1.0 else g * gscale
                self._finish_step(real_step, pairs)
                return
            for i, g in pairs:  # average of this and the accumulated gradients
                acc = self._accum[i].value.reshape(-1)
                acc += g if gscale == 1.0 else g * gscale
            pairs = [(i, self._accum[i].value.reshape(-1)) for i, _ in pairs]
            gscale = 1.0 / steps
        scales = clip_scales(pairs, gscale, self.clipnorm, self.global_clipnorm)
        lr = self.learning_rate
        local = real_step // steps if steps else real_step
        wd = self.weight_decay or 0.0
        clip = self.clipvalue if self.clipvalue else 0.0
        # Scalars are cast once per step and dtype (and per variable only under clipnorm).
        cache = {}
        plan = self._plan
        for (i, g), gs in zip(pairs, scales):
            fn, w, slots, decays, _ = plan[i]
            key = (w.dtype.char, decays, gs)
            args = cache.get(key)
            if args is None:
                args = cache[key] = np.array(self._step_args(lr, local + 1, w.dtype.type) + (
                    gs, clip, wd * lr if decays else 0.0), dtype=w.dtype)
            fn(w, g, *slots, args)
        if steps:
            for i, _ in pairs:
                self._accum[i].value.fill(0)
        self._finish_step(real_step, pairs)

    def _finish_step(self, real_step, pairs) -> None:
        if self.use_ema:
            n = self.iterations
            m = self.ema_momentum if n != 0 else 0.0
            for (_, w, _, _, _v), avg in zip(self._plan, self._ema):
                dt = w.dtype.type
                _k.ema_step(avg.value.reshape(-1), w, dt(m), dt(1.0 - m))
            f = self.ema_overwrite_frequency
            if f and (n + 1) % f == 0:
                self.finalize_variable_values(self._trainable_variables)
        for i, _ in pairs:  # Keras: constraints project after the update (and the EMA)
            v = self._plan[i][4]
            if v.constraint is not None:
                v.value[...] = v.constraint(v.value)
        self._iterations.value[()] = real_step + 1

    def finalize_variable_values(self, var_list) -> None:
        """With ``use_ema``, overwrite the model variables with their moving averages."""
        if self.use_ema:
            for v in var_list:
                np.copyto(v.value, self._ema[self._index[id(v)]].value)

    # ----------------------------------------------------------------- state
    def set_weights(self, weights) -> None:
        if len(weights) != len(self._variables):
            raise ValueError(f"{self._label}: expected {len(self._variables)} arrays, "
                             f"got {len(weights)}.")
        for var, w in zip(self._variables, weights):
            var.assign(w)

    def get_weights(self) -> list:
        return [v.numpy() for v in self._variables]

    def save_own_variables(self, store) -> None:
        for i, v in enumerate(self._variables):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store) -> None:
        if len(store.keys()) != len(self._variables):
            warnings.warn(f"Skipping variable loading for optimizer '{self.name}', because "
                          f"it has {len(self._variables)} variables whereas the saved "
                          f"optimizer has {len(store.keys())} variables.", stacklevel=2)
            return
        for i, v in enumerate(self._variables):
            v.assign(np.asarray(store[str(i)]))

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif self._lr_var is not None:
            lr = float(self._lr_var.value)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, iterations={self.iterations}>"


_EMPTY = {c: np.zeros(0, dtype=c) for c in "efd"}
