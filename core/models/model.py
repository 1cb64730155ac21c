"""``Model``: a ``Layer`` that owns layers and can be compiled, trained and saved.

Three ways to make one, all trained by the same tape (``core.autodiff``):

* functional — ``Model(inputs, outputs)`` returns a ``Functional``;
* subclassed — ``class M(Model)`` creating layers in ``__init__`` and
  composing them in ``call(self, inputs, training=None)``;
* ``Sequential`` (see ``core.models.sequential``).

>>> import numpy as np
>>> from core.layers import Dense
>>> class TwoLayer(Model):
...     def __init__(self):
...         super().__init__()
...         self.hidden = Dense(8, activation="relu")
...         self.out = Dense(2)
...     def call(self, inputs, training=None):
...         return self.out(self.hidden(inputs))
>>> TwoLayer()(np.ones((3, 4), "float32")).shape
(3, 2)
"""

from __future__ import annotations

import numpy as np

from core import backend
from core.layers.base import Layer
from core.layers.values import _with_none_batch
from core.models.train_step import StepMethods
from core.models.trainer import Trainer
from core.saving.object_registry import register_builtin_model


@register_builtin_model
class Model(StepMethods, Trainer, Layer):
    """Keras' ``Model``: functional when given ``(inputs, outputs)``, else subclassed."""

    def __new__(cls, *args, **kwargs):
        functional_args = len(args) >= 2 or "outputs" in kwargs
        if functional_args and cls is not Model:
            # A subclass's own constructor arguments (``VAE(784, 64, 32)``) say nothing;
            # only symbolic inputs (``CustomModel(inputs, outputs)``) make it functional,
            # as Keras decides from what reaches Model.__init__.
            functional_args = _symbolic(args[0] if args else kwargs.get("inputs"))
        if functional_args:
            from core.models.functional import Functional
            if cls is Model:
                return object.__new__(Functional)
            if not issubclass(cls, Functional):
                # ``class CustomModel(Model)`` overriding compute_loss, made as
                # ``CustomModel(inputs, outputs)``: a functional model of that class (Keras
                # injects Functional into the class the same way).
                return object.__new__(_functional_subclass(cls, Functional))
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise ValueError(
                f"{type(self).__name__}: passing inputs/outputs to a subclassed model's "
                "__init__ is not supported; build a functional Model(inputs, outputs) instead."
            )
        Layer.__init__(self, **kwargs)
        self._init_trainer()

    def __call__(self, inputs, *args, **kwargs):
        # A nested Python list is one tensor for a single-input model (as in Keras),
        # not a list of inputs.
        model_inputs = getattr(self, "inputs", None)
        if isinstance(inputs, (list, tuple)) and model_inputs is not None and \
                len(model_inputs) == 1 and inputs and \
                all(isinstance(t, (list, tuple, int, float)) for t in inputs):
            inputs = np.asarray(inputs)
        return Layer.__call__(self, inputs, *args, **kwargs)

    # ----------------------------------------------------------------- layers
    @property
    def layers(self) -> list[Layer]:
        return list(self._tracked_layers)

    def get_layer(self, name=None, index=None) -> Layer:
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. "
                             f"Received: index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model "
                                 f"'{self.name}' only has {len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[ly.name for ly in layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    # ------------------------------------------------------------------ build
    def build(self, input_shape) -> None:
        """Subclassed models build their sub-layers by running ``call`` on zeros."""
        if not self.built and type(self).call is not Model.call:
            dummy = _zeros_for(input_shape, self.dtype)
            tape = backend.get_tape()
            backend.set_tape(None)  # building is not part of any training step
            try:
                self.call(dummy, **self._call_arguments(False, {}))
            finally:
                backend.set_tape(tape)
        self.built = True
        self._build_input_shape = _with_none_batch(
            list(input_shape) if isinstance(input_shape, list) else tuple(input_shape))

    def call(self, inputs, training=None):
        raise NotImplementedError(
            f"Model '{self.name}' has no call(); subclass Model and define "
            "call(self, inputs, training=None), or use Model(inputs, outputs) / Sequential."
        )

    # ------------------------------------------------------------ reporting
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        from core.models.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      show_trainable=show_trainable, layer_range=layer_range)

    # ------------------------------------------------------------------ files
    def save(self, filepath, overwrite=True, **kwargs):
        import os

        from core import saving
        if not overwrite and os.path.exists(filepath):
            raise ValueError(f"Model '{self.name}': {filepath!r} exists and overwrite=False.")
        saving.save_model(self, filepath)

    def save_weights(self, filepath, overwrite=True):
        import os

        from core import saving
        if not overwrite and os.path.exists(filepath):
            raise ValueError(f"Model '{self.name}': {filepath!r} exists and overwrite=False.")
        saving.save_weights(self, filepath)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None,
               **kwargs):
        """Keras 3's ``export``; only ``format="onnx"`` is available here (no TensorFlow)."""
        if format != "onnx":
            raise ValueError(f"Model '{self.name}': export format {format!r} is not available; "
                             "Netweaver exports format='onnx' (save() writes .keras).")
        if input_signature is not None:
            raise ValueError(f"Model '{self.name}': input_signature is not supported; the "
                             "model's own input shapes (any batch size) are exported.")
        from core.export.onnx import export_onnx
        export_onnx(self, filepath)
        if verbose:
            print(f"Saved artifact at '{filepath}'.")

    def load_weights(self, filepath):
        from core import saving
        saving.load_weights(self, filepath)

    def to_json(self, **kwargs) -> str:
        import json

        from core.saving.serialization import serialize_layer
        return json.dumps(serialize_layer(self), **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if cls is Model or "input_layers" in config:
            from core.models.functional_config import functional_from_config
            return functional_from_config(config, custom_objects=custom_objects)
        from core.saving.object_registry import custom_object_scope
        with custom_object_scope(custom_objects):
            return super().from_config(config)


_FUNCTIONAL_SUBCLASSES: dict = {}


def _functional_subclass(cls, functional):
    klass = _FUNCTIONAL_SUBCLASSES.get(cls)
    if klass is None:
        klass = type(cls.__name__, (cls, functional),
                     {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
        _FUNCTIONAL_SUBCLASSES[cls] = klass
    return klass


def _symbolic(x) -> bool:
    """True for a KerasTensor or a list/tuple/dict holding only KerasTensors."""
    from core.layers.node import KerasTensor
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        return bool(x) and all(_symbolic(t) for t in x)
    return isinstance(x, KerasTensor)


def _zeros_for(shape, dtype):
    if isinstance(shape, list):
        return [_zeros_for(s, dtype) for s in shape]
    return np.zeros(tuple(1 if d is None else int(d) for d in shape), dtype=dtype)
