"""``Lambda`` (Keras 3): a layer that calls a function; its gradient comes from the
``core.ops`` the function uses (recorded on the tape like any user ``call``).

Saved as Keras saves it: a named function by its registered name, a Python lambda
as bytecode (``__lambda__``), which loads only with ``safe_mode=False`` — with
Keras' own refusal message otherwise. Known to the loaders by name but not offered
in the editor's palette (it needs a Python function).

>>> import numpy as np
>>> from core import ops
>>> Lambda(lambda x: ops.square(x))(np.array([[2.0, 3.0]], "float32")).tolist()
[[4.0, 9.0]]
"""

from __future__ import annotations

import inspect
import types

import numpy as np

from core import backend
from core.layers.base import Layer
from core.layers.call_args import _zeros_like_shape
from core.layers.spec import register_nested_layer


def _is_lambda(fn) -> bool:
    return isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>"


def _function_config(fn):
    from core.saving.keras_objects import serialize_keras_object
    from core.saving.lambda_code import func_dump

    if _is_lambda(fn):
        code, defaults, closure = func_dump(fn)
        return {"class_name": "__lambda__",
                "config": {"code": code, "defaults": defaults, "closure": closure}}
    if callable(fn):
        return serialize_keras_object(fn)
    raise ValueError(f"Invalid input type for serialization. Received: {fn} of type "
                     f"{type(fn)}.")


def _function_from_config(fn_config, custom_objects, safe_mode):
    from core.saving.keras_objects import deserialize_keras_object
    from core.saving.lambda_code import load_lambda

    if isinstance(fn_config, dict) and fn_config.get("class_name") == "__lambda__":
        return load_lambda(fn_config.get("config") or {}, safe_mode, layer=True)
    return deserialize_keras_object(fn_config, custom_objects=custom_objects)


@register_nested_layer
class Lambda(Layer):
    """``Lambda(function, output_shape=None, mask=None, arguments=None)``."""

    call_takes_mask = True
    group = "Core"

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Layer '{self.name}' (Lambda): function must be callable, got "
                             f"{function!r}.")
        self.arguments = dict(arguments or {})
        self.function = function
        self.supports_masking = mask is not None
        self.mask = mask
        self._output_shape = output_shape
        try:
            args = inspect.getfullargspec(function).args
        except TypeError:
            args = []
        self._fn_expects_training_arg = "training" in args
        self._fn_expects_mask_arg = "mask" in args

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            # Keras traces the function; here: one call off the tape on zeros (batch 1).
            tape = backend.get_tape()
            backend.set_tape(None)
            try:
                out = self.call(_zeros_like_shape(input_shape, self.dtype))
            except Exception as e:
                raise NotImplementedError(
                    f"Layer '{self.name}' (Lambda): we could not automatically infer the "
                    f"shape of the Lambda's output ({type(e).__name__}: {e}). Please "
                    "specify the `output_shape` argument for this Lambda layer.") from e
            finally:
                backend.set_tape(tape)
            if isinstance(out, (list, tuple)):
                return [(None,) + tuple(np.shape(o))[1:] for o in out]
            return (None,) + tuple(np.shape(out))[1:]
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        first = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (first[0],) + tuple(self._output_shape)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def get_config(self):
        from core.saving.keras_objects import serialize_keras_object

        config = {"function": _function_config(self.function)}
        if self._output_shape is not None:
            config["output_shape"] = _function_config(self._output_shape) \
                if callable(self._output_shape) else list(self._output_shape)
        if self.mask is not None:
            config["mask"] = _function_config(self.mask) if callable(self.mask) else \
                serialize_keras_object(self.mask)
        config["arguments"] = serialize_keras_object(self.arguments)
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        from core.saving.keras_objects import deserialize_keras_object, in_safe_mode

        # Unset safe_mode falls back to the enclosing load's scope, an unset scope
        # counting as safe (Keras fails closed the same way).
        effective = safe_mode if safe_mode is not None else in_safe_mode()
        config = dict(config)
        config["function"] = _function_from_config(config["function"], custom_objects,
                                                   effective)
        if "output_shape" in config:
            shape = config["output_shape"]
            if isinstance(shape, dict):
                config["output_shape"] = _function_from_config(shape, custom_objects,
                                                               effective)
            elif isinstance(shape, list):
                config["output_shape"] = tuple(shape)
        if isinstance(config.get("mask"), dict):
            config["mask"] = _function_from_config(config["mask"], custom_objects, effective)
        if "arguments" in config:
            config["arguments"] = deserialize_keras_object(config["arguments"],
                                                           custom_objects=custom_objects)
        return super().from_config(config)
