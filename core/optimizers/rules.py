"""The update rules: ``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad`` (Keras 3
defaults, slot names/order and update formulas; see ``core.kernels.optim``).

>>> import numpy as np
>>> from core.variables import Variable
>>> w = Variable(np.zeros(3, "float32"), name="w")
>>> opt = Adam(learning_rate=0.1)
>>> opt.apply([np.ones(3, "float32")], [w])
>>> [v.name for v in opt.variables]
['iteration', 'learning_rate', 'w_momentum', 'w_velocity']
>>> round(float(w.value[0]), 4)
-0.1
"""

from __future__ import annotations

import math

from core.kernels import optim as _k
from core.optimizers.base import Optimizer


class SGD(Optimizer):
    """``w -= lr * g``; with momentum ``m = momentum * m - lr * g; w += m``; Nesterov
    ``w += momentum * m - lr * g``."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="SGD", **kwargs):
        self._label = f"SGD optimizer '{name}'"
        self._number("momentum", momentum, lo=0, hi=1)
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self._kernels = ((_k.momentum_step, _k.momentum_step_par) if self.momentum != 0
                         else (_k.sgd_step, _k.sgd_step_par))

    def _build_slots(self, var_list):
        if self.momentum == 0:
            self.momentums = []
            return []
        self.momentums = self.add_optimizer_variables(var_list, "momentum")
        return [self.momentums]

    def _step_args(self, lr, step, dt):
        if self.momentum == 0:
            return (dt(lr),)
        return (dt(lr), dt(self.momentum), self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with Keras' epsilon-hat: ``w -= alpha * m / (sqrt(v) + eps)`` where
    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``; optional AMSGrad."""

    _kernels = (_k.adam_step, _k.adam_step_par)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adam", **kwargs):
        self._label = f"{type(self).__name__} optimizer '{name}'"
        self._number("beta_1", beta_1, lo=0, hi=1, hi_strict=True)
        self._number("beta_2", beta_2, lo=0, hi=1, hi_strict=True)
        self._number("epsilon", epsilon, lo=0)
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def _build_slots(self, var_list):
        # Keras creates momentum and velocity interleaved per variable, then velocity_hats.
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        self._velocity_hats = (self.add_optimizer_variables(var_list, "velocity_hat")
                               if self.amsgrad else None)
        return [self._momentums, self._velocities, self._velocity_hats]

    def _step_args(self, lr, step, dt):
        # Keras computes the bias corrections in the variable dtype.
        b1p = dt(self.beta_1) ** dt(step)
        b2p = dt(self.beta_2) ** dt(step)
        alpha = dt(lr) * dt(math.sqrt(dt(1) - b2p)) / (dt(1) - b1p)
        return (dt(alpha), dt(1 - self.beta_1), dt(1 - self.beta_2), dt(self.epsilon),
                self.amsgrad)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay ``w -= w * weight_decay * lr`` before each step."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError(f"AdamW optimizer '{name}': argument weight_decay=None is "
                             "invalid; expected a float.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay,
                         clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                         ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)


class RMSprop(Optimizer):
    """``v = rho v + (1-rho) g^2``; ``w -= lr g / sqrt(v + eps)`` (centered: ``v - mg^2``),
    with optional plain momentum on the increment."""

    _kernels = (_k.rmsprop_step, _k.rmsprop_step_par)

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="rmsprop", **kwargs):
        self._label = f"RMSprop optimizer '{name}'"
        self._number("rho", rho, lo=0, hi=1, hi_strict=True)
        self._number("momentum", momentum, lo=0, hi=1)
        self._number("epsilon", epsilon, lo=0)
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.rho, self.momentum = float(rho), float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _build_slots(self, var_list):
        # Keras order: all velocities, then momentums, then average gradients.
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = (self.add_optimizer_variables(var_list, "momentum")
                           if self.momentum > 0 else None)
        self._average_gradients = (self.add_optimizer_variables(var_list, "average_gradient")
                                   if self.centered else None)
        return [self._velocities, self._momentums, self._average_gradients]

    def _step_args(self, lr, step, dt):
        return (dt(lr), dt(self.rho), dt(1 - self.rho), dt(self.momentum), dt(self.epsilon),
                self.centered)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """``acc += g^2; w -= lr g / sqrt(acc + eps)``, accumulators start at
    ``initial_accumulator_value``."""

    _kernels = (_k.adagrad_step, _k.adagrad_step_par)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        self._label = f"Adagrad optimizer '{name or 'adagrad'}'"
        self._number("initial_accumulator_value", initial_accumulator_value, lo=0)
        self._number("epsilon", epsilon, lo=0)
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _build_slots(self, var_list):
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", fill=self.initial_accumulator_value)
        return [self._accumulators]

    def _step_args(self, lr, step, dt):
        return (dt(lr), dt(self.epsilon))

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
