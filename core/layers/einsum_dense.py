"""``EinsumDense`` (Keras 3): ``activation(einsum(equation, inputs, kernel) + bias)``.

The equation is Keras' ``"abc,cde->abde"``, ``"...b,bc->...c"`` or ``"ab...,bc->ac..."``;
``output_shape`` gives the output's sizes after the batch (and any ``...``) axes; a None
stays None in the symbolic shape even where the input knows the size (Keras does not
fill it in either: its summary shows ``(None, None, 6)``). Weight shapes, bias
broadcasting (``bias_axes``), config keys and the kernel initializer's fans (a
VarianceScaling initializer is given the kernel's input/output axes, as Keras 3.15
does) follow ``keras/src/layers/core/einsum_dense.py``.
``MultiHeadAttention`` is built from four of these. Forward and backward are two-operand
contractions run as one batched matmul (``core.ops.contract``).

>>> import numpy as np
>>> layer = EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de")
>>> layer(np.ones((4, 5, 6), "float32")).shape
(4, 5, 2, 3)
>>> layer.compute_output_shape((None, 5, 6))
(None, None, 2, 3)
>>> [w.shape for w in layer.weights]
[(6, 2, 3), (2, 3)]
"""

from __future__ import annotations

import re
import string

import numpy as np

from core import activations, constraints, initializers, regularizers
from core.layers.base import Layer
from core.layers.kernel_bias import set_kernel_bias_objects
from core.layers.spec import KERNEL_BIAS_PARAMS, Param, register_layer
from core.ops.contract import contract


def _match(layer, equation):
    """``(input letters, kernel letters, output letters, side of the ...)``."""
    eq = equation.replace(" ", "")
    forms = ((r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", None),
             (r"\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)", "left"),
             (r"([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.", "right"))
    for pattern, side in forms:
        m = re.fullmatch(pattern, eq)
        if m:
            return (*m.groups(), side)
    raise ValueError(f"Layer '{layer}': invalid einsum equation '{equation}'. Equations "
                     "must be in the form [X],[Y]->[Z], ...[X],[Y]->...[Z], or "
                     "[X]...,[Y]->[Z]....")


def _parse(layer, equation, rank):
    """``(input letters, kernel letters, output letters, elided letters, side)`` with the
    ``...`` of ``equation`` spelled out for an input of ``rank`` axes."""
    sin, sw, sout, side = _match(layer, equation)
    n_elided = rank - len(sin)
    if side is None and n_elided != 0 or n_elided < 0:
        raise ValueError(f"Layer '{layer}': equation '{equation}' needs an input of rank "
                         f"{len(sin)}{'+' if side else ''}, received rank {rank}.")
    free = [c for c in string.ascii_letters if c not in sin + sw + sout]
    elided = "".join(free[:n_elided])
    if side == "left":
        return elided + sin, sw, elided + sout, elided, side
    if side == "right":
        return sin + elided, sw, sout + elided, elided, side
    return sin, sw, sout, "", None


def analyze(layer, equation, bias_axes, input_shape, partial_output_shape):
    """Keras' ``_analyze_einsum_string``: ``(kernel shape, bias shape or None, full output
    shape, kernel input axes, kernel output axes, explicit equation)``."""
    input_shape = tuple(input_shape)
    sin, sw, sout, elided, side = _parse(layer, equation, len(input_shape))
    partial = list(partial_output_shape)
    if side == "left":
        full = list(input_shape[:len(elided)]) + partial
    elif side == "right":
        full = [input_shape[0]] + partial + list(input_shape[len(input_shape) - len(elided):])
    else:
        full = [input_shape[0]] + partial
    if len(full) != len(sout):
        raise ValueError(f"Layer '{layer}': output_shape {tuple(partial_output_shape)} does "
                         f"not fit equation '{equation}' (output '{sout}').")
    dims = dict(zip(sin, input_shape))
    for i, c in enumerate(sout):
        if c in dims:
            if full[i] is not None and dims[c] is not None and full[i] != dims[c]:
                raise ValueError(
                    f"Layer '{layer}': input shape and output shape do not match at shared "
                    f"dimension '{c}'. Input shape is {dims[c]}, and output shape is {full[i]}.")
        elif c not in sw:
            raise ValueError(f"Layer '{layer}': dimension '{c}' was specified in the output "
                             f"'{sout}' but has no corresponding dim in the input spec "
                             f"'{sin}' or weight spec '{sw}'")
    out_dims = dict(zip(sout, full))
    kernel, in_axes, out_axes = [], [], []
    for i, c in enumerate(sw):
        if c in out_dims:
            kernel.append(out_dims[c])
            out_axes.append(i)
        elif c in dims:
            kernel.append(dims[c])
            in_axes.append(i)
        else:
            raise ValueError(f"Layer '{layer}': weight dimension '{c}' did not have a match "
                             f"in either the input spec '{sin}' or the output spec '{sout}'.")
    if any(d is None for d in kernel):
        raise ValueError(f"Layer '{layer}': the kernel shape {tuple(kernel)} of equation "
                         f"'{equation}' has unknown sizes for input {input_shape}.")
    bias = None
    if bias_axes is not None:
        bad = [c for c in bias_axes if c not in sout]
        if bad:
            raise ValueError(f"Layer '{layer}': bias dimension '{bad[0]}' was requested, but "
                             f"is not part of the output spec '{sout}'")
        first = min(sout.index(c) for c in bias_axes)
        bias = [out_dims[c] if c in bias_axes else 1 for c in sout[first:]]
    return kernel, bias, tuple(full), in_axes, out_axes, f"{sin},{sw}->{sout}"


@register_layer
class EinsumDense(Layer):
    serialized_variables = ("kernel", "bias")  # Keras' save_own_variables
    group = "Core"
    supports_masking = False
    params = (
        Param("equation", "str", None, doc="Einsum equation, e.g. 'abc,cd->abd'."),
        Param("output_shape", "shape", None,
              doc="Output sizes after the batch (and '...') axes; None where unknown."),
        Param("activation", "activation", None, optional=True, doc="Activation function."),
        Param("bias_axes", "str", None, optional=True,
              doc="Output letters that get a bias (e.g. 'd'); none when empty."),
    ) + KERNEL_BIAS_PARAMS

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None,
                 gptq_unpacked_column_size=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        self.equation = self._check("equation", equation)
        if isinstance(output_shape, int) and not isinstance(output_shape, bool):
            output_shape = (output_shape,)
        if not isinstance(output_shape, (list, tuple)) or not all(
                d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                for d in output_shape):
            raise ValueError(f"Layer '{self.name}': argument output_shape={output_shape!r} "
                             "is invalid; expected an integer or a tuple of positive "
                             "integers and None.")
        self.partial_output_shape = tuple(output_shape)
        self.bias_axes = None if bias_axes in (None, "") else self._check("bias_axes", bias_axes)
        _match(self.name, self.equation)  # a malformed equation fails here, not at build
        self.activation = activations.get(activation)
        set_kernel_bias_objects(self, kernel_initializer, bias_initializer,
                                kernel_regularizer, bias_regularizer,
                                kernel_constraint, bias_constraint)
        self._refuse_unsupported(lora_rank=lora_rank, lora_alpha=lora_alpha,
                                 gptq_unpacked_column_size=gptq_unpacked_column_size,
                                 quantization_config=quantization_config)

    def build(self, input_shape):
        kernel, bias, _, in_axes, out_axes, self._explicit = analyze(
            self.name, self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        init = self.kernel_initializer
        if isinstance(init, initializers.VarianceScaling) and (
                init.input_axes is None or init.output_axes is None):
            # Keras 3.15 gives the initializer the kernel's fan axes (a clone).
            init = type(init).from_config({**init.get_config(), "input_axes": in_axes,
                                           "output_axes": out_axes})
        self.kernel = self.add_weight(tuple(kernel), initializer=init, name="kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = None if bias is None else self.add_weight(
            tuple(bias), initializer=self.bias_initializer, name="bias",
            regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def compute_output_shape(self, input_shape):
        return analyze(self.name, self.equation, self.bias_axes, input_shape,
                       self.partial_output_shape)[2]

    def forward(self, inputs, training=False):
        w = self.kernel.value
        z = contract(self._explicit, inputs, w.astype(inputs.dtype, copy=False))
        if self.bias is not None:
            z = z + self.bias.value
        z = np.ascontiguousarray(z)
        y, act_cache = self.activation.forward(z, inplace=True)
        return y, (inputs, act_cache)

    def backward(self, cache, grad_output, need_input_grad=True):
        x, act_cache = cache
        dz = self.activation.backward(act_cache, grad_output)
        sin, sw, sout = re.split(r",|->", self._explicit)
        self.write_grad(self.kernel, contract(f"{sin},{sout}->{sw}", x, dz))
        if self.bias is not None:
            b = self.bias.value
            lead = dz.ndim - b.ndim
            axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(b.shape) if n == 1)
            self.write_grad(self.bias, dz.sum(axis=axes, keepdims=True).reshape(b.shape))
        if not need_input_grad:
            return None
        # Input letters the output and kernel lack were summed out: they broadcast back.
        kept = "".join(c for c in sin if c in sout or c in sw)
        dx = contract(f"{sout},{sw}->{kept}", dz, self.kernel.value.astype(dz.dtype))
        if kept != sin:
            dx = np.broadcast_to(dx.reshape([x.shape[i] if c in kept else 1
                                             for i, c in enumerate(sin)]), x.shape).copy()
        return dx

    def get_config(self):
        config = super().get_config()
        config.update({
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "quantization_config": None,
        })
        return config
