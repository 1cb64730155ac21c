"""Functional models: a graph of layer calls recorded as ``Node``s on ``KerasTensor``s.

``Functional(inputs, outputs)`` walks the nodes from the outputs back to the
inputs (Keras 3's ``map_graph``, in ``core.models.graph``), orders them by depth,
keeps them as its public ``graph``, and at call time runs
each layer through ``Layer.__call__`` so the active tape records it: one
training mechanism for every kind of model.

>>> from core.layers import Input, Dense, Concatenate
>>> a, b = Input((4,)), Input((3,))
>>> shared = Dense(2)
>>> out = Dense(1)(Concatenate()([shared(a), Dense(2)(b)]))
>>> model = Model([a, b], out)          # returns a Functional
>>> [t.shape for t in model.inputs]
[(None, 4), (None, 3)]
"""

from __future__ import annotations

from core import backend
from core.layers.node import KerasTensor
from core.layers.positional_call import POSITIONAL
from core.models.graph import ModelGraph, map_graph, nodes_in_order
from core.models.inference import run_plain, traits
from core.models.mask_graph import MaskOp, MaskPlan, keras_operations
from core.models.model import Model
from core.saving.object_registry import register_builtin_model


def _flatten(struct):
    # Keras' tree.flatten: a dict's values in sorted-key order (so ``outputs``,
    # ``output_names`` and the layer order match Keras for dict-structured models).
    if isinstance(struct, dict):
        return [struct[k] for k in sorted(struct)]
    if isinstance(struct, (list, tuple)):
        return list(struct)
    return [struct]


@register_builtin_model
class Functional(Model):
    """A model defined by ``inputs`` and ``outputs`` symbolic tensors."""

    call_takes_mask = True  # Keras' Functional.call(inputs, training=None, mask=None)
    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._nested_inputs = inputs
        self._nested_outputs = outputs
        self.inputs = _flatten(inputs)
        self.outputs = _flatten(outputs)
        for role, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            bad = [t for t in tensors if not isinstance(t, KerasTensor)]
            if bad or not tensors:
                raise ValueError(
                    f"Model '{self.name}': {role} must be KerasTensors (from Input() and layer "
                    f"calls), received {bad if bad else tensors!r}."
                )
        self._nodes_by_depth, ops = map_graph(self.inputs, self.outputs)
        self._operations = ops
        # Keras' mask ops are graph nodes there and change the order; summary() and
        # saving list them too, so the plan and the ordered items are kept.
        self._mask_plan = MaskPlan(self)
        self._graph_items = (keras_operations(self, self._mask_plan)
                             if self._mask_plan.ops else list(ops))
        ops = [ly for ly in self._graph_items if not isinstance(ly, MaskOp)]
        self._operations = ops
        # The public graph (core.models.graph): what saving, the exporters, the editor
        # and plotting read; its steps are the flat execution plan ``call`` runs.
        self._graph = ModelGraph(nodes_in_order(self.inputs, self._nodes_by_depth),
                                 tuple(ops), tuple(self._graph_items), tuple(self.inputs),
                                 tuple(self.outputs), inputs, outputs, self._mask_plan)
        self._plan = list(self._graph.steps)
        self._tracked_layers = [ly for ly in ops if ly.num_inputs != 0]
        self._all_layers = ops
        shapes = [tuple(t.shape) for t in self.inputs]
        self._build_input_shape = shapes if len(shapes) > 1 else shapes[0]
        self.built = True
        self.output_names = [t._keras_history[0].name for t in self.outputs]
        self.input_names = [t._keras_history[0].name for t in self.inputs]

    @property
    def graph(self) -> ModelGraph:
        """The model's graph of layer calls, in Keras' order (``core.models.graph``)."""
        return self._graph

    @property
    def input(self):
        """The inputs as given to the constructor (Keras: ``_inputs_struct``)."""
        return self._nested_inputs

    @property
    def output(self):
        """The outputs as given to the constructor (Keras: ``_outputs_struct``)."""
        return self._nested_outputs

    @property
    def layers(self):
        return list(self._all_layers)

    def build(self, input_shape):
        self.built = True

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, dict):
            inputs = self._inputs_from_dict(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def _inputs_from_dict(self, inputs: dict):
        """Dict data in the model's input order: keyed as the ``inputs`` dict given to
        the model, or by the Input layers' names (both accepted, as in Keras)."""
        nested = self._nested_inputs
        keys = sorted(nested) if isinstance(nested, dict) else None
        if keys is None or any(k not in inputs for k in keys):
            keys = self.input_names
        missing = [n for n in keys if n not in inputs]
        if missing:
            raise ValueError(f"Model '{self.name}': missing data for {missing}; "
                             f"received keys {sorted(inputs)} (expected {keys}).")
        xs = [inputs[n] for n in keys]
        return xs if len(xs) > 1 else xs[0]

    def call(self, inputs, training=False):
        if isinstance(inputs, dict):
            inputs = self._inputs_from_dict(inputs)
        xs = _flatten(inputs)
        if len(xs) != len(self.inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self.inputs)} input(s) "
                f"{[t.shape for t in self.inputs]}, but received {len(xs)}."
            )
        values = {id(t): x for t, x in zip(self.inputs, xs)}
        for layer, in_ids, out_ids, multi_in, multi_out, kwargs in self._execution_plan():
            args = [values[i] for i in in_ids] if multi_in else values[in_ids[0]]
            out = layer(*args, training=training, **kwargs) if multi_in == POSITIONAL \
                else layer(args, training=training, **kwargs)
            self._store(values, out_ids, multi_out, out)
        return self._pack_outputs(values)

    _infer_matches = call  # predict's _infer stands for this call (not a subclass's own)

    def _execution_plan(self):
        plan = getattr(self, "_fused_plan", None)
        if plan is None:  # layers are built with the graph; fuse conv + pool pairs once
            from core.layers.fusion import functional_plan
            plan = self._fused_plan = functional_plan(
                self._plan, {id(t) for t in self.outputs})
        return plan

    @staticmethod
    def _store(values, out_ids, multi_out, out):
        if multi_out:
            for i, o in zip(out_ids, out):
                values[i] = o
        else:
            values[out_ids[0]] = out

    def _pack_outputs(self, values):
        outs = [values[id(t)] for t in self.outputs]
        if isinstance(self._nested_outputs, (list, tuple)):
            # Keras' unpack_singleton: outputs=[y] still returns y itself.
            return outs[0] if len(outs) == 1 else outs
        if isinstance(self._nested_outputs, dict):
            return dict(zip(sorted(self._nested_outputs), outs))
        return outs[0]

    def _infer(self, x, inputs=None, training=False):
        """The plan after a first checked batch (``predict``, and ``fit``'s / ``evaluate``'s
        later steps): plain layers run as ``core.models.inference.run_plain``, as in
        ``Sequential._infer`` (whose docstring says why); ``x`` is one array, or a list
        of one per input."""
        plan, plain, check_at, _ = self._inference_steps()
        if inputs is None or not inputs.pending:
            check_at = -1
        xs = x if len(self.inputs) > 1 else [x]
        values = {id(t): v for t, v in zip(self.inputs, xs)}
        tape = backend.get_tape()
        for k, (layer, in_ids, out_ids, multi_in, multi_out, kwargs) in enumerate(plan):
            args = [values[i] for i in in_ids] if multi_in else values[in_ids[0]]
            if k == check_at:
                out, finite = layer.forward_reporting_finite(args)
                inputs.report(finite)
            elif plain[k] and multi_in != POSITIONAL:
                out = run_plain(layer, args, training, tape)
            elif multi_in == POSITIONAL:
                out = layer(*args, training=training, **kwargs)
            else:
                out = layer(args, training=training, **kwargs)
            self._store(values, out_ids, multi_out, out)
        return self._pack_outputs(values)

    def _input_check_index(self):
        return self._inference_steps()[2] if len(self.inputs) == 1 else None

    def _reentrant_inference(self) -> bool:
        return self._inference_steps()[3]

    def _inference_steps(self):
        """(plan, plain flags, input-checking Dense index, all reentrant): see
        ``core.models.inference.traits``."""
        cached = getattr(self, "_inference_cache", None)
        if cached is None:
            plan = self._execution_plan()
            cached = self._inference_cache = (plan, *traits(plan, id(self.inputs[0])))
        return cached

    def compute_output_shape(self, input_shape):
        shapes = [tuple(t.shape) for t in self.outputs]
        if isinstance(self._nested_outputs, (list, tuple, dict)):
            return shapes
        return shapes[0]

    def get_config(self):
        from core.models.functional_config import functional_config
        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from core.models.functional_config import functional_from_config
        return functional_from_config(config, custom_objects=custom_objects)

    @staticmethod
    def from_graph_config(config, custom_objects=None, model_class=None):
        """The model a Keras functional config describes, made as
        ``model_class(inputs, outputs)`` (``Model`` when None: a Functional), so a
        registered ``Model`` subclass saved functionally loads as that class. Saving
        finds this through the object registry (``builtin_model("Functional")``).

        >>> from core.layers import Dense, Input
        >>> x = Input((2,))
        >>> config = Model(x, Dense(1)(x)).get_config()
        >>> type(Functional.from_graph_config(config)).__name__
        'Functional'
        """
        from core.models.functional_config import functional_from_config
        return functional_from_config(config, custom_objects=custom_objects, cls=model_class)

