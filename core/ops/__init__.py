# ruff: noqa: F401  (this package re-exports its ops)
"""``core.ops``: the ``keras.ops`` functions that have a direct numpy meaning, each
with its gradient, recorded on the same tape as the layers (``core.autodiff``).

Use them in a layer's ``call`` (weights from ``add_weight`` are accepted as they are)
and between layers; Python operators on what a layer returns under a tape
(``y * 2.0``, ``y[:, :3]``, ``y.T``) are these ops too::

    from core import ops

    class MyDense(Layer):
        def build(self, input_shape):
            self.w = self.add_weight((input_shape[-1], 8), name="kernel")
            self.b = self.add_weight((8,), initializer="zeros", name="bias")
        def call(self, x):
            return ops.relu(ops.matmul(x, self.w) + self.b)

Groups (one file each): ``engine`` (tape records, ``Tracked``), ``elementwise``,
``reduce`` (products and reductions), ``shape``, ``core_ops`` (creation, conversion,
control flow), ``activations``, ``nn`` (conv, pooling, crossentropies, moments),
``linalg``; ``dispatch`` maps numpy calls on tracked arrays to them.

Left out, and why:
* ``ops.nn``: ``depthwise_conv``, ``separable_conv``, ``conv_transpose``, ``ctc_loss``,
  ``multi_hot``, ``batch_normalization``, ``dot_product_attention`` — not needed by
  the foundation; each is a composition of the ops here or a layer of its own.
* ``ops.linalg``: ``eig``, ``eigh``, ``svd``, ``lu_factor``, ``lstsq``, matrix
  ``norm`` other than Frobenius — their gradients are not implemented (degenerate
  cases need care); ``qr`` only in 'reduced' mode for rows >= columns.
* ``einsum`` with ``...`` or a repeated letter in one operand; ``pad`` modes other
  than 'constant'; ``prod``'s gradient at an exact zero factor (raises).
* ``ops.image``, ``ops.fft``/``stft``, ``ops.segment_*``, ``top_k``, ``in_top_k``,
  ``unique``, sparse tensors: no direct numpy equivalent with a useful gradient yet.
* ``cond``/``while_loop``/``fori_loop``/``scan`` run eagerly in Python (there is no
  graph to trace); gradients flow through the ops their bodies call.
* ``data_format="channels_first"`` for conv/pooling (channels_last only).

>>> import numpy as np
>>> from core import ops
>>> float(ops.sum(ops.square(np.array([1.0, 2.0]))))
5.0
"""

from core.ops import linalg, nn
from core.ops.activations import (
    celu,
    elu,
    gelu,
    hard_shrink,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_shrink,
    softmax,
    softplus,
    softsign,
    sparse_plus,
    sparse_sigmoid,
    squareplus,
    swish,
    tanh_shrink,
)
from core.ops.core_ops import (
    arange,
    cond,
    convert_to_numpy,
    convert_to_tensor,
    eye,
    fori_loop,
    full,
    full_like,
    identity,
    linspace,
    ndim,
    ones,
    ones_like,
    scan,
    shape,
    stop_gradient,
    while_loop,
    zeros,
    zeros_like,
)
from core.ops.elementwise import (
    abs,
    absolute,
    add,
    arctan,
    ceil,
    clip,
    cos,
    cosh,
    divide,
    equal,
    exp,
    expm1,
    floor,
    floor_divide,
    greater,
    greater_equal,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    not_equal,
    power,
    reciprocal,
    round,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    true_divide,
)
from core.ops.engine import Tracked
from core.ops.linalg import cholesky, det, inv, norm, qr, solve
from core.ops.manipulation import (
    argsort,
    broadcast_to,
    cast,
    concatenate,
    expand_dims,
    flip,
    getitem,
    one_hot,
    pad,
    repeat,
    reshape,
    sort,
    split,
    squeeze,
    stack,
    take,
    take_along_axis,
    tile,
    transpose,
    where,
)
from core.ops.nn import (
    average_pool,
    binary_crossentropy,
    categorical_crossentropy,
    conv,
    max_pool,
    moments,
    normalize,
    sparse_categorical_crossentropy,
)
from core.ops.reduce import (
    amax,
    amin,
    argmax,
    argmin,
    cumsum,
    dot,
    einsum,
    logsumexp,
    matmul,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    tensordot,
    var,
)

__all__ = sorted(n for n in dir() if not n.startswith("_") and n not in {
    "linalg", "nn", "Tracked", "activations", "contract", "core_ops", "elementwise", "engine",
    "reduce",
    "manipulation", "dispatch"})
