"""``TimeDistributed`` (Keras 3): apply one layer to every time step of its input.

(batch, time, ...) is folded to (batch * time, ...), the wrapped layer runs once on
all steps (same weights for every step, as Keras' per-step loop), and the result is
unfolded to (batch, time, ...). The wrapped layer is called through its own
``__call__``, so it records itself on the tape and any layer (or model) can be
wrapped (an instance, or its serialized dict ``{"class_name": "Dense", "config":
{...}}``, which Keras' constructor does not take); the two reshapes are recorded
too, so gradients reach the input. A time mask arriving on the input is passed to
the wrapped layer (folded like the input) when it takes one, and stays on the
output. Config as Keras: ``{"layer": <the wrapped layer's serialized dict>}``;
its weights are saved under ``.../layer``.

One difference from Keras' per-step loop: a wrapped ``BatchNormalization`` in
training takes its statistics over all steps at once, not per step.

>>> import numpy as np
>>> from core.layers import Dense
>>> TimeDistributed(Dense(4))(np.ones((2, 3, 5), "float32")).shape
(2, 3, 4)
"""

from __future__ import annotations

from core import backend
from core.layers import masks as _masks
from core.layers.base import Layer
from core.layers.spec import register_layer


class _Fold:
    """Tape record of a reshape: backward reshapes the gradient back."""

    _tracked_layers = ()

    def __init__(self, shape):
        self.shape = shape

    def _own_trainable_variables(self):
        return []

    def backward(self, cache, grad_output, need_input_grad=True):
        return grad_output.reshape(self.shape) if need_input_grad else None


@register_layer
class TimeDistributed(Layer):
    call_takes_mask = True
    group = "Sequence"
    supports_masking = True
    params = ()  # the wrapped layer is set in code (Keras: a layer instance)

    def __init__(self, layer=None, **kwargs):
        super().__init__(**kwargs)
        if layer is None:
            raise ValueError(f"Layer '{self.name}' (TimeDistributed) needs the layer to "
                             "wrap: TimeDistributed(Dense(8)), set in code or loaded from a "
                             "file (the graph editor cannot choose one yet).")
        if isinstance(layer, dict) and "class_name" in layer:
            # A serialized layer (JSON form, as a graph document holds it); it takes
            # the wrapper's dtype unless it names its own.
            from core.saving.serialization import deserialize_layer

            layer = deserialize_layer({**layer, "config": {"dtype": self.dtype,
                                                           **(layer.get("config") or {})}})
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer '{self.name}' (TimeDistributed) must wrap a Layer "
                             f"instance, received {layer!r}.")
        self.layer = layer

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(f"Layer '{self.name}' (TimeDistributed) needs an input with at "
                             f"least 3 dimensions (batch, time, ...), received input with "
                             f"shape {tuple(input_shape) if input_shape else input_shape}")
        return (None,) + tuple(input_shape[2:])

    def build(self, input_shape):
        self.layer._maybe_build(self._child_shape(input_shape))

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        return (input_shape[0], input_shape[1]) + tuple(child[1:])

    def call(self, inputs, training=False, mask=None):
        n, t = inputs.shape[:2]
        folded = inputs.reshape((n * t,) + inputs.shape[2:])
        tape = backend.get_tape()
        if tape is not None:
            tape.record(_Fold(inputs.shape), inputs, folded, None)
        extra = {}
        if mask is not None and _masks.takes_mask(self.layer):
            extra["mask"] = mask.reshape((n * t,) + mask.shape[2:])
        out = self.layer(folded, training=training, **extra)
        unfolded = out.reshape((n, t) + out.shape[1:])
        if tape is not None:
            tape.record(_Fold(out.shape), out, unfolded, None)
        return unfolded

    def get_config(self):
        from core.saving.serialization import serialize_layer

        config = super().get_config()
        config["layer"] = serialize_layer(self.layer)
        return config

    @classmethod
    def from_config(cls, config):
        from core.saving.serialization import deserialize_layer

        config = dict(config)
        layer = deserialize_layer(config.pop("layer"))
        return super().from_config({**config, "layer": layer})
