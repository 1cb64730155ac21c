"""``Sequential``: a plain stack of single-input, single-output layers.

The input shape comes from an ``Input``/``InputLayer`` first entry, from
``input_shape=``/``input_dim=`` on the first layer, or — deferred — from the
first batch of data. Once known, the stack is traced symbolically (so every
layer has its weights and a ``Node`` with its output shape, as in Keras 3).

>>> from core.layers import Dense
>>> model = Sequential()
>>> model.add(Dense(64, activation="relu", input_dim=100))
>>> model.add(Dense(10, activation="softmax"))
>>> model.count_params()
7114
"""

from __future__ import annotations

from core import backend
from core.layers.base import Layer
from core.layers.node import KerasTensor
from core.models.graph import PlanStep
from core.models.inference import run_plain, traits
from core.models.model import Model
from core.saving.object_registry import register_builtin_model


def _is_input_layer(layer) -> bool:
    return getattr(layer, "num_inputs", 1) == 0


@register_builtin_model
class Sequential(Model):
    call_takes_mask = True  # Keras' Sequential.call(inputs, training=None, mask=None)

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._input_layer = None
        self._layers: list[Layer] = []
        self._symbolic_input = None
        self._symbolic_output = None
        for layer in layers or ():
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    # -------------------------------------------------------------- editing
    def add(self, layer, rebuild=True) -> None:
        if isinstance(layer, KerasTensor) and layer._keras_history is not None:
            layer = layer._keras_history[0]  # Input(...) tensor -> its InputLayer
        if not isinstance(layer, Layer):
            raise ValueError(
                f"Sequential '{self.name}': only Layer instances can be added, "
                f"received {layer!r} of type {type(layer).__name__}."
            )
        if _is_input_layer(layer):
            if self._input_layer is not None or self._layers:
                raise ValueError(
                    f"Sequential '{self.name}': an input layer ('{layer.name}') can only be "
                    "the first layer of the model."
                )
            self._input_layer = layer
        else:
            if any(existing.name == layer.name for existing in self._layers):
                raise ValueError(
                    f"Sequential '{self.name}': all layers must have unique names; "
                    f"'{layer.name}' is already in the model."
                )
            if not self._layers and self._input_layer is None and \
                    layer._declared_input_shape is not None:
                from core.layers import InputLayer
                self._input_layer = InputLayer(shape=layer._declared_input_shape)
            self._layers.append(layer)
        self._tracked_layers = list(self._layers)
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True) -> Layer:
        if not self._layers:
            raise IndexError(f"Sequential '{self.name}' has no layers to pop.")
        layer = self._layers.pop()
        self._tracked_layers = list(self._layers)
        self.built = False
        self._build_input_shape = None
        if rebuild:
            self._maybe_rebuild()
        return layer

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def inputs(self):
        return [self._symbolic_input] if self._symbolic_input is not None else None

    @property
    def outputs(self):
        return [self._symbolic_output] if self._symbolic_output is not None else None

    @property
    def input_names(self):
        return [self._input_layer.name] if self._input_layer is not None else []

    @property
    def output_names(self):
        return [self._layers[-1].name] if self._layers else []

    # ----------------------------------------------------------------- build
    def _maybe_rebuild(self) -> None:
        if self._input_layer is not None and self._layers:
            self.build(self._input_layer_shape())

    def _input_layer_shape(self):
        layer = self._input_layer
        shape = getattr(layer, "batch_shape", None) or getattr(layer, "_batch_shape", None)
        if shape is None:
            shape = layer.output.shape
        return tuple(shape)

    def build(self, input_shape=None) -> None:
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(
                    f"Sequential '{self.name}' cannot be built without an input shape: "
                    "give the first layer input_shape=..., start with an Input, or call "
                    "the model on data."
                )
            input_shape = self._input_layer_shape()
        if isinstance(input_shape, list):
            raise ValueError(
                f"Sequential '{self.name}' takes a single input, received shapes {input_shape}."
            )
        input_shape = (None,) + tuple(input_shape[1:])
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers to build.")
        from core.layers import InputLayer
        if self._input_layer is None or self._input_layer_shape()[1:] != input_shape[1:]:
            self._input_layer = InputLayer(shape=input_shape[1:])
        x = self._input_layer.output
        self._symbolic_input = x
        for layer in self._layers:
            x = layer(x)
            if isinstance(x, (list, tuple)):
                raise ValueError(
                    f"Sequential '{self.name}': layer '{layer.name}' returns several tensors; "
                    "Sequential models only take single-output layers. Use the functional API."
                )
        self._symbolic_output = x
        self.built = True
        self._build_input_shape = input_shape

    def call(self, inputs, training=False):
        x = inputs
        for step in self._execution_plan():
            x = step(x, training=training)
        return x

    _infer_matches = call  # predict's _infer stands for this call (not a subclass's own)

    def _infer(self, x, inputs=None, training=False):
        """The model's plan once its first batch went through every ``Layer.__call__``
        check (``predict``'s later batches, and ``fit``'s / ``evaluate``'s steps after the
        first): plain layers run as ``core.models.inference.run_plain`` (40 us a batch
        less on the MLP), recording on the active tape. ``inputs``: predict's
        ``FiniteInputs``; while its check is pending, the first Dense reports whether
        this batch's values were finite."""
        steps, check_at, _ = self._inference_steps()
        if inputs is None or not inputs.pending:
            check_at = -1
        tape = backend.get_tape()
        for i, (step, plain) in enumerate(steps):
            if i == check_at:
                x, finite = step.forward_reporting_finite(x)
                inputs.report(finite)
            elif plain:
                x = run_plain(step, x, training, tape)
            else:
                x = step(x, training=training)
        return x

    def _input_check_index(self):
        return self._inference_steps()[1]

    def _reentrant_inference(self) -> bool:
        """Whether several threads may run ``_infer`` at once (``predict``)."""
        return self._inference_steps()[2]

    def _inference_steps(self):
        """``_infer``'s steps as (step, plain) pairs, the index of the Dense that checks
        the input (or None) and whether every step is reentrant
        (``core.models.inference.traits``); cached with the execution plan."""
        plan = self._execution_plan()
        cached = getattr(self, "_inference_cache", None)
        if cached is not None and cached[0] is plan:
            return cached[1]
        plain, index, reentrant = traits(
            [PlanStep(step, [k], [k + 1], False, False, {}) for k, step in enumerate(plan)], 0)
        result = (list(zip(plan, plain)), index, reentrant)
        self._inference_cache = (plan, result)
        return result

    def _execution_plan(self):
        """The layers, with Conv2D + MaxPooling2D pairs fused (``core.layers.fusion``);
        cached once every layer is built, since fusion needs built layers."""
        key = tuple(map(id, self._layers))
        cached = getattr(self, "_plan_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        from core.layers.fusion import execution_plan
        plan = execution_plan(self._layers, keep=self._layers[-1:])
        if all(layer.built for layer in self._layers):
            self._plan_cache = (key, plan)
        return plan

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict:
        from core.saving.serialization import serialize_layer
        layers = []
        if self._input_layer is not None:
            layers.append(serialize_layer(self._input_layer))
        layers.extend(serialize_layer(layer) for layer in self._layers)
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                  "layers": layers}
        if self.built:
            config["build_input_shape"] = self._build_input_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from core.saving.serialization import deserialize_layer
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config.get("layers", []):
            model.add(deserialize_layer(layer_config, custom_objects), rebuild=False)
        model._maybe_rebuild()
        if not model.built and config.get("build_input_shape"):
            model.build(tuple(config["build_input_shape"]))
        return model
