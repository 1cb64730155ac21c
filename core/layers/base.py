"""The Layer contract (Keras 3 semantics) shared by every layer and model.

A layer:
  * ``__init__`` validates and stores its config (``self._check(param, value)``
    against the class's ``params`` spec) and nothing else;
  * ``build(input_shape)`` creates weights with ``add_weight`` (shape includes
    the batch dimension as ``None``);
  * ``forward(inputs, training) -> (outputs, cache)`` computes outputs and keeps
    what ``backward`` needs; ``call`` is ``forward(...)[0]`` unless overridden;
  * ``backward(cache, grad_outputs, need_input_grad) -> grad_inputs`` writes
    weight gradients with ``self.write_grad`` / ``self.write_grad_matmul``;
  * ``compute_output_shape``, ``get_config``/``from_config``.

A layer that defines only ``call`` and calls other layers inside it is a
*composite*: its inner layers record themselves on the tape, so it needs no
``backward`` of its own.

>>> from core.layers import Dense
>>> d = Dense(3, name="d")
>>> d.build((None, 5))
>>> [w.shape for w in d.weights]
[(5, 3), (3,)]
"""

from __future__ import annotations

from core import backend
from core.layers import masks as _masks
from core.layers.call_args import _call_accepts, traced_output_shape
from core.layers.facts import LayerFacts
from core.layers.layer_weights import LayerWeights
from core.layers.mask_attr import expose
from core.layers.node import KerasTensor, Node
from core.layers.positional_call import build_for_call, symbolic_positional_call
from core.layers.spec import Param, check
from core.layers.values import _as_arrays, _is_symbolic, _with_none_batch, shape_of
from core.ops.engine import track, unwrap_all
from core.variables import Variable, VariableOwner

_BASE_KWARGS = {"name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape",
                "batch_size", "autocast", "activity_regularizer"}


class Layer(LayerFacts, LayerWeights, VariableOwner):
    """Base class of every layer (and of ``Model``). Its class facts (masks, build at
    init, recorded call arguments, reentrancy...) are in ``core.layers.facts``."""

    group = "Core"
    num_inputs: int | str = 1  # 0 (Input), 1, or "many" (merge layers)
    params: tuple[Param, ...] = ()

    def __init_subclass__(cls, **kwargs):
        # As Keras' build wrapper: a direct ``layer.build(shape)`` marks the layer
        # built, so the next call does not create its weights a second time.
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_marks_built", False):
            def build_and_mark(self, *args, __build=build, **kw):
                out = __build(self, *args, **kw)
                self.built = True
                return out
            build_and_mark.__doc__ = build.__doc__
            build_and_mark.__name__ = build.__name__
            build_and_mark.__qualname__ = build.__qualname__
            build_and_mark._marks_built = True
            cls.build = build_and_mark

    def __init__(self, name=None, trainable=True, dtype=None, **kwargs):
        unknown = set(kwargs) - _BASE_KWARGS
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: unrecognized keyword argument(s) {sorted(unknown)}"
            )
        self._tracked_layers: list[Layer] = []
        self._trainable_variables: list[Variable] = []
        self._non_trainable_variables: list[Variable] = []
        self._inbound_nodes: list[Node] = []
        self.built = False
        self._build_input_shape = None
        self.name = name or backend.unique_name(backend.to_snake_case(type(self).__name__))
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Layer name must be a non-empty string, got {name!r}")
        self._trainable = bool(trainable)
        self.dtype = backend.standardize_dtype(dtype)
        from core import regularizers  # every layer takes one, as in Keras 3
        self.activity_regularizer, = self._get_each(
            regularizers, activity_regularizer=kwargs.get("activity_regularizer"))
        input_shape = kwargs.get("input_shape")
        if kwargs.get("batch_input_shape") is not None:
            input_shape = tuple(kwargs["batch_input_shape"])[1:]
        if kwargs.get("input_dim") is not None and input_shape is None:
            input_shape = (int(kwargs["input_dim"]),)
        self._declared_input_shape = None if input_shape is None else tuple(
            None if d is None else int(d) for d in (
                input_shape if isinstance(input_shape, (tuple, list)) else (input_shape,))
        )

    # ------------------------------------------------------------------ config
    def _check(self, param_name: str, value):
        for p in type(self).params:
            if p.name == param_name:
                return check(self.name, p, value)
        raise KeyError(f"{type(self).__name__} has no Param named {param_name!r}")

    def _refuse_unsupported(self, **arguments) -> None:
        """Raise ValueError for any Keras argument given a value this engine cannot honour
        yet (regularizers, constraints, LoRA): silently ignoring it would train a
        different model than the user wrote."""
        for arg, value in arguments.items():
            if value is not None:
                raise ValueError(f"Layer '{self.name}': {arg} is not supported yet "
                                 f"(got {value!r}); leave it as None.")

    def _get_each(self, module, **arguments) -> list:
        """``module.get`` of each argument (e.g. ``core.regularizers``), in order; errors
        name this layer and the argument."""
        out = []
        for arg, value in arguments.items():
            try:
                out.append(module.get(value))
            except ValueError as e:
                raise ValueError(f"Layer '{self.name}': {arg}: {e}") from None
        return out

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.activity_regularizer is not None:  # Keras writes it only when set
            from core import regularizers
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._declared_input_shape is not None:
            config["batch_input_shape"] = (None,) + self._declared_input_shape
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        dtype = config.get("dtype")
        if isinstance(dtype, dict):
            config["dtype"] = backend.standardize_dtype(dtype)
        if "batch_shape" in config:  # Keras 3 spelling
            config["batch_input_shape"] = config.pop("batch_shape")
        return cls(**config)

    # -------------------------------------------------------------- computation
    def build(self, input_shape) -> None:
        self.built = True

    def forward(self, inputs, training=False):
        """Return ``(outputs, cache)``. Layers with weights or backward override this."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def call(self, inputs, training=False, **kwargs):
        tape = backend.get_tape()
        if tape is not None and type(self).backward is not Layer.backward:
            # ``super().call(x)`` from a subclass's own ``call`` (Keras runs that call):
            # the built-in's forward records its fused backward on the tape here.
            outputs, cache = self.forward(unwrap_all(inputs), training=training, **kwargs)
            outputs = track(outputs)
            tape.record(self, inputs, outputs, cache)
            return outputs
        return self.forward(inputs, training=training, **kwargs)[0]  # kwargs: mask=

    def backward(self, cache, grad_outputs, need_input_grad=True):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward()")

    def compute_output_shape(self, input_shape):
        return input_shape

    def _has_backward(self) -> bool:
        """A fused backward runs the layer: not when a subclass overrides ``call`` below
        the class with ``backward`` (its ``call`` runs, as in Keras; see ``call``)."""
        cls = type(self)
        if cls.backward is Layer.backward:
            return False
        owner = next(c for c in cls.__mro__ if "call" in c.__dict__)
        fused = next(c for c in cls.__mro__ if "backward" in c.__dict__)
        return owner is Layer or owner is fused or not issubclass(owner, fused)

    def _validate_input_shape(self, input_shape) -> None:
        """Raise ValueError naming this layer and both shapes when ``input_shape`` does
        not fit the shape the layer was built for."""
        built = self._build_input_shape
        if built is None:
            return
        got, want = (input_shape, built) if isinstance(built, list) else ([input_shape], [built])
        if len(got) != len(want):
            raise ValueError(
                f"Layer '{self.name}' expects {len(want)} input(s), but it received "
                f"{len(got)} input tensors."
            )
        for i, (g, w) in enumerate(zip(got, want)):
            ok = len(g) == len(w) and all(
                a is None or b is None or a == b for a, b in zip(g[1:], w[1:])
            )
            if not ok:
                raise ValueError(
                    f"Input {i} of layer '{self.name}' is incompatible with the layer: "
                    f"expected shape {tuple(w)}, but received input with shape {tuple(g)}"
                )

    def _maybe_build(self, input_shape) -> None:
        if not self.built:
            shape = _with_none_batch(input_shape)
            self.build(shape)
            self.built = True
            self._build_input_shape = shape
            for v in self._trainable_variables + self._non_trainable_variables:
                v.path = f"{self.name}/{v.name}"

    def __call__(self, inputs, *args, training=None, **kwargs):
        if args and (_is_symbolic(inputs) or _is_symbolic(list(args))):
            # layer(targets, logits): one node with every positional tensor as input
            return symbolic_positional_call(self, [inputs, *args], kwargs)
        if _is_symbolic(inputs):
            return self._symbolic_call(inputs, **kwargs)
        if args and not self.built:
            build_for_call(self, [shape_of(inputs)] + [shape_of(a) for a in args
                                                       if hasattr(a, "shape")])
        if training is None:
            training = bool(getattr(backend._state, "training", False))
        mask_kw, mask = _masks.call_arguments(self, inputs, kwargs)
        inputs = _as_arrays(inputs, self.dtype)
        shape = shape_of(inputs)
        self._maybe_build(shape)
        if self.__dict__.get("_added_losses"):
            # a new call replaces the last one's (and those of a build that ran call)
            self.__dict__["_added_losses"] = []
        self._validate_input_shape(shape)
        previous = getattr(backend._state, "training", False)
        backend._state.training = training
        try:
            tape = backend.get_tape()
            if tape is not None:
                tape.note_call(self)
            if tape is not None and self._has_backward():
                # forward computes on plain arrays (its numpy must not record ops); the
                # outputs leave as fresh Tracked views so code after the layer that
                # uses operators (``y * 2.0``) stays on the tape.
                outputs, cache = self.forward(unwrap_all(inputs), training=training,
                                              **mask_kw)
                outputs = track(outputs)
                tape.record(self, inputs, outputs, cache)
            else:
                outputs = self.call(inputs, *args,
                                    **self._call_arguments(training, dict(kwargs, **mask_kw)))
            _masks.attach(self, inputs, outputs, mask)
            if self.activity_regularizer is not None:
                backend.add_activity_loss(outputs, self.activity_regularizer)
            return expose(outputs) if mask is not None or self._creates_masks() or \
                type(self).compute_mask is not Layer.compute_mask else outputs
        finally:
            backend._state.training = previous

    def _symbolic_output_shape(self, input_shape, with_mask=False):
        """``compute_output_shape``; a layer that only defines ``call`` (user code with
        ops) gets its output shape the way Keras traces it: by running ``call`` once,
        off the tape (``call_args.traced_output_shape``)."""
        cls = type(self)
        if cls.compute_output_shape is not Layer.compute_output_shape or \
                cls.call is Layer.call or self._has_backward():
            return self.compute_output_shape(input_shape)
        return traced_output_shape(self, input_shape, with_mask)

    def _call_arguments(self, training, kwargs) -> dict:
        """The keyword arguments for ``call``: ``training`` and ``mask`` only when
        ``call`` declares them (or takes ``**kwargs``), as Keras does."""
        accepts = _call_accepts(type(self))
        if "training" in accepts:
            kwargs = dict(kwargs, training=training)
        if "mask" in kwargs and "mask" not in accepts:
            kwargs = {k: v for k, v in kwargs.items() if k != "mask"}
        return kwargs

    # ------------------------------------------------------------------ masks
    def compute_mask(self, inputs, mask=None):
        """The output's mask (Keras): the input's when ``supports_masking``, else None."""
        return mask if self.supports_masking else None

    def _creates_masks(self) -> bool:
        """True when this layer (or one inside it) may put a mask on an unmasked input's
        output (Embedding with mask_zero, Masking); ``predict``'s fast path, which skips
        ``__call__``, is then not used."""
        return any(layer._creates_masks() for layer in self._tracked_layers)

    def _symbolic_call(self, inputs, **kwargs):
        shape = shape_of(inputs)
        self._maybe_build(shape)
        self._validate_input_shape(shape)
        # A call(inputs, mask=None) is traced with a mask when its input carries one
        # (TemporalSoftmax asserts it gets one), as Keras' symbolic call passes it.
        with_mask = isinstance(inputs, KerasTensor) and inputs._keras_mask is not None
        out_shape = self._symbolic_output_shape(_with_none_batch(shape), with_mask)
        return self._add_node(inputs, out_shape, kwargs).output_tensors_as_called

    def _add_node(self, inputs, out_shape, kwargs) -> Node:
        """Record this call of the layer: symbolic outputs of ``out_shape`` (a list of
        shapes: several outputs) made by a new ``Node`` from ``inputs``."""
        index = len(self._inbound_nodes)
        if isinstance(out_shape, list):
            outputs = [KerasTensor(s, self.dtype, history=(self, index, i))
                       for i, s in enumerate(out_shape)]
        else:
            outputs = KerasTensor(out_shape, self.dtype, history=(self, index, 0))
        return Node(self, inputs, outputs, kwargs)

    # ------------------------------------------------------------------- misc
    @property
    def input(self):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on a tensor.")
        t = self._inbound_nodes[0].input_tensors
        return t if self._inbound_nodes[0].is_multi_input else t[0]

    @property
    def output(self):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on a tensor.")
        t = self._inbound_nodes[0].output_tensors
        return t if self._inbound_nodes[0].is_multi_output else t[0]

    @property
    def input_shape(self):
        return self._build_input_shape

    @property
    def output_shape(self):
        if self._build_input_shape is None:
            raise AttributeError(f"Layer '{self.name}' has not been built yet.")
        return self.compute_output_shape(self._build_input_shape)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

