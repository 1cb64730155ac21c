"""``MultiHeadAttention`` (Keras 3.15): scaled dot-product attention over several heads.

As ``keras/src/layers/attention/multi_head_attention.py``: four ``EinsumDense``
sublayers named ``query``, ``key``, ``value`` and ``attention_output`` (kernels
``(dim, heads, key_dim)``, ``(dim, heads, key_dim)``, ``(dim, heads, value_dim)``,
``(heads, value_dim, out)``; with ``use_gate`` a sigmoid ``gate`` after ``key``), the
same einsum equations for any ``attention_axes``, the softmax over the attention axes
with masked logits set to -1e9 and masked probabilities to 0, dropout on the
probabilities while training. It is a composite: its ``call`` runs the sublayers
through ``Layer.__call__`` and the attention with ``core.ops``, so the tape gives the
gradients (no hand-written backward).

Call as Keras: ``mha(query, value, key=None, attention_mask=None,
return_attention_scores=False, training=None, use_causal_mask=False)``. ``query_mask``,
``value_mask`` and ``key_mask`` come from the inputs' masks (``core.layers.masks``, e.g.
``Embedding(mask_zero=True)``) and are merged with ``attention_mask`` (batch, T, S) and
the causal mask; the output carries the query's mask. The list form ``mha([q, v])``,
``[q, v, k]`` or ``[q, v, k, attention_mask]`` is what the functional plan and the
editor use (two wires from one layer give self-attention); in a saved file the node is
written as Keras writes it (``args=[q, v]``, ``kwargs={"key": ...}``).

Differences: the symbolic attention-score tensor has the true shape
(batch, heads, T, S); Keras' ``compute_output_spec`` says (batch, heads, T, T).
``flash_attention`` is accepted (same numbers; Keras' two refusals kept).

>>> import numpy as np
>>> mha = MultiHeadAttention(num_heads=2, key_dim=3)
>>> x = np.ones((1, 4, 5), "float32")
>>> y, scores = mha(x, x, return_attention_scores=True)
>>> y.shape, scores.shape
((1, 4, 5), (1, 2, 4, 4))
"""

from __future__ import annotations

import math

import numpy as np

from core import backend, constraints, initializers, ops, regularizers
from core.layers import masks as _masks
from core.layers.activation_layers import Softmax
from core.layers.attention_equations import (
    build_attention_equation,
    build_proj_equation,
    merge_masks,
    partial_shape,
)
from core.layers.base import Layer
from core.layers.core_layers import Dropout
from core.layers.einsum_dense import EinsumDense
from core.layers.node import KerasTensor, Node
from core.layers.spec import KERNEL_BIAS_PARAMS, Param, register_layer
from core.layers.values import _as_arrays, _is_symbolic

_CALL_KEYS = ("key", "query_mask", "value_mask", "key_mask", "attention_mask",
              "return_attention_scores", "training", "use_causal_mask")


@register_layer
class MultiHeadAttention(Layer):
    group = "Attention"
    num_inputs = "many"  # query, value (and key) wires, in that order
    supports_masking = True
    params = (
        Param("num_heads", "int", None, min=1, doc="Number of attention heads."),
        Param("key_dim", "int", None, min=1, doc="Size of each head for query and key."),
        Param("value_dim", "int", None, min=1, optional=True,
              doc="Size of each head for value (None: key_dim)."),
        Param("dropout", "float", 0.0, min=0.0, max=1.0, max_exclusive=True,
              doc="Dropout rate on the attention probabilities."),
        Param("use_bias", "bool", True, doc="Biases in the four projections."),
        Param("output_shape", "shape", None, optional=True, advanced=True,
              doc="Output sizes after batch and sequence (None: the query's last size)."),
        Param("attention_axes", "axis", None, optional=True, advanced=True,
              doc="Axes attention runs over (None: all but batch, heads and features)."),
        Param("use_gate", "bool", False, advanced=True,
              doc="Gate the heads' output with a sigmoid projection of the query."),
        Param("sliding_window", "int", None, min=1, optional=True, advanced=True,
              doc="Attend only to keys fewer than this many steps away."),
        Param("seed", "int", None, min=0, optional=True, advanced=True,
              doc="Seed of the dropout."),
    ) + KERNEL_BIAS_PARAMS

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs):
        super().__init__(**kwargs)  # the activity regularizer goes to the sublayers
        self._num_heads = self._check("num_heads", num_heads)
        self._key_dim = self._check("key_dim", key_dim)
        self._value_dim = self._check("value_dim", value_dim) or self._key_dim
        self._dropout = self._check("dropout", dropout)
        self._use_bias = self._check("use_bias", use_bias)
        self._use_gate = self._check("use_gate", use_gate)
        if isinstance(output_shape, int) and not isinstance(output_shape, bool):
            output_shape = (output_shape,)
        self._output_shape = tuple(self._check("output_shape", output_shape)) \
            if output_shape else None
        if isinstance(attention_axes, int) and not isinstance(attention_axes, bool):
            attention_axes = (attention_axes,)
        self._attention_axes = None if attention_axes is None else tuple(
            self._check("attention_axes", list(attention_axes)))
        self._sliding_window = self._check("sliding_window", sliding_window)
        self.seed = self._check("seed", seed)
        self._flash_attention = bool(flash_attention)
        if self._flash_attention and self._dropout > 0.0:
            raise ValueError("Dropout is not supported when flash attention is enabled. "
                             "Please set dropout to 0.0 to use flash attention.")
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer, self._bias_regularizer, self._activity_regularizer = \
            self._get_each(regularizers, kernel_regularizer=kernel_regularizer,
                           bias_regularizer=bias_regularizer,
                           activity_regularizer=activity_regularizer)
        self._kernel_constraint, self._bias_constraint = self._get_each(
            constraints, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)
    # Keras' public names of the projections (also the paths in model.weights.h5).
    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    # ------------------------------------------------------------------ build
    @staticmethod
    def _split_shapes(query_shape, value_shape, key_shape):
        if value_shape is None and isinstance(query_shape, list) and query_shape and \
                isinstance(query_shape[0], (list, tuple)):
            shapes = [tuple(s) for s in query_shape]
            query_shape, value_shape = shapes[0], shapes[1] if len(shapes) > 1 else None
            key_shape = shapes[2] if len(shapes) > 2 else None
        return query_shape, value_shape, key_shape

    def _sublayer_kwargs(self):
        def fresh(init):  # a clone per sublayer, as Keras
            return type(init).from_config(init.get_config())
        return dict(kernel_regularizer=self._kernel_regularizer,
                    bias_regularizer=self._bias_regularizer,
                    activity_regularizer=self._activity_regularizer,
                    kernel_constraint=self._kernel_constraint,
                    bias_constraint=self._bias_constraint, dtype=self.dtype,
                    kernel_initializer=fresh(self._kernel_initializer),
                    bias_initializer=fresh(self._bias_initializer))

    def _projection(self, name, shape, last_dim, activation=None):
        eq, bias_axes, rank = build_proj_equation(len(shape) - 1, 1, 2)
        layer = EinsumDense(eq, output_shape=partial_shape(rank - 1, [self._num_heads, last_dim]),
                            bias_axes=bias_axes if self._use_bias else None, name=name,
                            activation=activation, **self._sublayer_kwargs())
        layer._maybe_build(tuple(shape))
        return layer

    def build(self, query_shape, value_shape=None, key_shape=None):
        query_shape, value_shape, key_shape = self._split_shapes(query_shape, value_shape,
                                                                 key_shape)
        if value_shape is None:
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention) needs a query and a "
                             "value: call it as layer(query, value) or connect two inputs.")
        key_shape = value_shape if key_shape is None else key_shape
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"Layer '{self.name}': all dimensions of `value` and `key`, "
                             f"except the last one, must be equal. Received: value_shape="
                             f"{tuple(value_shape)} and key_shape={tuple(key_shape)}")
        for what, s in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(s) < 3 or s[-1] is None:
                raise ValueError(f"Layer '{self.name}' expects {what} of shape (batch, "
                                 f"..., features) with known features, received {tuple(s)}")
        # Keras' build order (it is the weights' order).
        self._query_dense = self._projection("query", query_shape, self._key_dim)
        self._key_dense = self._projection("key", key_shape, self._key_dim)
        if self._use_gate:
            self._gate_dense = self._projection("gate", query_shape, self._value_dim,
                                                activation="sigmoid")
        self._value_dense = self._projection("value", value_shape, self._value_dim)
        rank = len(query_shape) + 1
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, rank - 2))
        else:
            self._attention_axes = tuple(a if a >= 0 else (rank - 1) + a
                                         for a in self._attention_axes)
        self._dot_product_equation, self._combine_equation, scores_rank = \
            build_attention_equation(rank, self._attention_axes)
        n = len(self._attention_axes)
        self._norm_axes = tuple(range(scores_rank - n, scores_rank))
        self._softmax = Softmax(axis=list(self._norm_axes), dtype=self.dtype)
        self._dropout_layer = Dropout(rate=self._dropout, seed=self.seed, dtype=self.dtype)
        out_shape = list(self._output_shape) if self._output_shape else [query_shape[-1]]
        eq, bias_axes, out_rank = build_proj_equation(len(query_shape) - 1, 2, len(out_shape))
        self._output_dense = EinsumDense(
            eq, output_shape=partial_shape(out_rank - 1, out_shape),
            bias_axes=bias_axes if self._use_bias else None, name="attention_output",
            **self._sublayer_kwargs())
        proj = list(self._query_dense.compute_output_shape(tuple(query_shape)))
        proj[-1] = self._value_dim
        self._output_dense._maybe_build(tuple(proj))
        for sub in self._projections():
            for v in sub.weights:
                v.path = f"{self.name}/{sub.name}/{v.name}"

    def _projections(self):
        return [self._query_dense, self._key_dense] + \
            ([self._gate_dense] if self._use_gate else []) + \
            [self._value_dense, self._output_dense]

    def get_build_config(self):
        """Keras' ``{"shapes_dict": {"query_shape", "value_shape"[, "key_shape"]}}``."""
        shapes = self._build_input_shape
        if not self.built or not shapes:
            return None
        names = ("query_shape", "value_shape", "key_shape")
        return {"shapes_dict": {n: list(s) for n, s in zip(names, shapes)}}

    def build_from_config(self, config):
        d = config.get("shapes_dict") or {}
        shapes = [tuple(d[n]) for n in ("query_shape", "value_shape", "key_shape") if n in d]
        if len(shapes) >= 2:
            self._maybe_build(shapes)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape, value_shape, key_shape = self._split_shapes(query_shape, value_shape,
                                                                 key_shape)
        query_shape = tuple(query_shape)
        if value_shape is not None and key_shape is not None and \
                tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(f"Layer '{self.name}': all dimensions of `value` and `key`, "
                             f"except the last one, must be equal. Received: value_shape="
                             f"{tuple(value_shape)} and key_shape={tuple(key_shape)}")
        if self._output_shape:
            return query_shape[:-1] + tuple(self._output_shape)
        return query_shape

    def _scores_shape(self, query_shape, value_shape):
        rank = len(query_shape) + 1
        axes = self._attention_axes or tuple(range(1, rank - 2))
        batch = [query_shape[i] for i in range(len(query_shape) - 1) if i not in axes]
        return tuple(batch + [self._num_heads] + [query_shape[a] for a in axes] +
                     [value_shape[a] for a in axes])

    # ------------------------------------------------------------------- call
    def __call__(self, query, value=None, key=None, **kwargs):
        unknown = set(kwargs) - set(_CALL_KEYS)
        if unknown:
            raise TypeError(f"Layer '{self.name}' (MultiHeadAttention) got unexpected "
                            f"keyword argument(s) {sorted(unknown)}.")
        list_form = value is None and isinstance(query, (list, tuple))
        if list_form:
            parts = list(query)
            if not 2 <= len(parts) <= 4:
                raise ValueError(f"Layer '{self.name}' (MultiHeadAttention) takes [query, "
                                 f"value], [query, value, key] or [query, value, key, "
                                 f"attention_mask]; received {len(parts)} inputs.")
            query, value = parts[0], parts[1]
            key = parts[2] if len(parts) > 2 else None
            if len(parts) > 3:
                kwargs["attention_mask"] = parts[3]
        if value is None:
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention) needs a query and a "
                             "value: call it as layer(query, value) or connect two inputs.")
        tensors = [query, value, key, kwargs.get("attention_mask")]
        if any(_is_symbolic(t) for t in tensors if t is not None):
            return self._symbolic(query, value, key, kwargs, implicit_key=list_form)
        training = kwargs.get("training")
        if training is None:
            training = bool(getattr(backend._state, "training", False))
        # Keras fills query/value/key masks from the inputs' masks; the query's always.
        query_mask = _masks.get_mask(query)
        value_mask = kwargs.get("value_mask")
        value_mask = _masks.get_mask(value) if value_mask is None else value_mask
        key_mask = kwargs.get("key_mask")
        if key_mask is None and key is not None:
            key_mask = _masks.get_mask(key)
        q, v = _as_arrays(query, self.dtype), _as_arrays(value, self.dtype)
        k = None if key is None else _as_arrays(key, self.dtype)
        shapes = [tuple(q.shape), tuple(v.shape)] + ([tuple(k.shape)] if k is not None else [])
        self._maybe_build(shapes)
        self._check_call_shapes(shapes)
        previous = getattr(backend._state, "training", False)
        backend._state.training = training
        try:
            tape = backend.get_tape()
            if tape is not None:
                tape.note_call(self)
            out = self.call(q, v, k, query_mask=query_mask, value_mask=value_mask,
                            key_mask=key_mask, attention_mask=kwargs.get("attention_mask"),
                            return_attention_scores=kwargs.get("return_attention_scores",
                                                               False),
                            training=training,
                            use_causal_mask=kwargs.get("use_causal_mask", False))
        finally:
            backend._state.training = previous
        if query_mask is not None:
            _masks.set_mask(out[0] if isinstance(out, tuple) else out, query_mask)
        return list(out) if isinstance(out, tuple) else out

    def _check_call_shapes(self, shapes):
        built = list(self._build_input_shape)
        if len(built) == 2:
            built.append(built[1])  # key defaults to value
        for i, (what, got) in enumerate(zip(("query", "value", "key"), shapes)):
            want = built[i]
            if len(got) != len(want) or any(a is not None and b is not None and a != b
                                             for a, b in zip(got[1:], want[1:])):
                raise ValueError(f"Input '{what}' of layer '{self.name}' is incompatible "
                                 f"with the layer: expected shape {tuple(want)}, but received "
                                 f"input with shape {tuple(got)}")

    def _symbolic(self, query, value, key, kwargs, implicit_key):
        for name in ("query_mask", "value_mask", "key_mask"):
            if kwargs.get(name) is not None:
                raise ValueError(f"Layer '{self.name}': {name}= on symbolic tensors is not "
                                 "supported; masks of Embedding(mask_zero=True) or Masking "
                                 "reach this layer by themselves.")
        mask = kwargs.get("attention_mask")
        shapes = [tuple(query.shape), tuple(value.shape)]
        if key is not None and not (implicit_key and mask is not None and key is value):
            shapes.append(tuple(key.shape))
        self._maybe_build(shapes)
        self._check_call_shapes(shapes)
        out_shape = self.compute_output_shape(*[(None,) + s[1:] for s in shapes])
        index = len(self._inbound_nodes)
        outputs = KerasTensor(out_shape, self.dtype, history=(self, index, 0))
        if kwargs.get("return_attention_scores"):
            scores = self._scores_shape((None,) + shapes[0][1:], (None,) + shapes[1][1:])
            outputs = [outputs, KerasTensor(scores, self.dtype, history=(self, index, 1))]
        tensors, names = [query, value], []
        if key is not None or mask is not None:
            tensors.append(value if key is None else key)
            names.append("key" if len(shapes) == 3 else None)  # None: filled in, not written
        if mask is not None:
            tensors.append(mask)
            names.append("attention_mask")
        static = {k: kwargs[k] for k in ("return_attention_scores", "use_causal_mask")
                  if k in kwargs}
        node = Node(self, tensors, outputs, static)
        node.call_layout = (2, names)
        return outputs

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=False,
             use_causal_mask=False):
        if key is None:
            key = value
        if self._flash_attention and return_attention_scores:
            raise ValueError("Returning attention scores is not supported when flash "
                             "attention is enabled. Please disable flash attention to access"
                             " attention scores.")
        attention_mask = merge_masks(query.shape[1], value.shape[1], query_mask, value_mask,
                                     key_mask, attention_mask, use_causal_mask,
                                     self._sliding_window)
        gate = self._gate_dense(query, training=training) if self._use_gate else None
        q = self._query_dense(query, training=training)
        k = self._key_dense(key, training=training)
        v = self._value_dense(value, training=training)
        q = ops.multiply(q, np.asarray(self._inverse_sqrt_key_dim, q.dtype))
        scores = ops.einsum(self._dot_product_equation, k, q)
        scores = self._masked_softmax(scores, attention_mask)
        final = self._dropout_layer(scores, training=training) if self._dropout > 0.0 \
            else scores
        out = ops.einsum(self._combine_equation, final, v)
        if gate is not None:
            out = ops.multiply(out, gate)
        out = self._output_dense(out, training=training)
        return (out, scores) if return_attention_scores else out

    def _masked_softmax(self, scores, mask):
        if mask is None:
            return ops.softmax(scores, axis=self._norm_axes)
        axis = -len(self._attention_axes) * 2 - 1
        for _ in range(scores.ndim - mask.ndim):
            mask = np.expand_dims(mask, axis)
        for m, d in zip(mask.shape[::-1], scores.shape[::-1]):
            if m != 1 and m != d:
                raise ValueError(f"Layer '{self.name}': the attention mask of shape "
                                 f"{mask.shape} does not broadcast to the attention scores "
                                 f"{scores.shape}.")
        big = np.asarray(-1e9, scores.dtype)
        probs = ops.softmax(ops.where(mask, scores, big), axis=self._norm_axes)
        return ops.where(mask, probs, np.zeros((), scores.dtype))

    # ----------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)  # written in Keras' place below
        config.update({
            "num_heads": self._num_heads, "key_dim": self._key_dim,
            "value_dim": self._value_dim, "dropout": self._dropout,
            "use_bias": self._use_bias, "use_gate": self._use_gate,
            "output_shape": self._output_shape, "attention_axes": self._attention_axes,
            "sliding_window": self._sliding_window,
            "kernel_initializer": initializers.serialize(self._kernel_initializer),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self._bias_regularizer),
            "activity_regularizer": regularizers.serialize(self._activity_regularizer),
            "kernel_constraint": constraints.serialize(self._kernel_constraint),
            "bias_constraint": constraints.serialize(self._bias_constraint),
            "seed": self.seed,
        })
        return config
