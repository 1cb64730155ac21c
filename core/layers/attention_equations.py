"""The einsum equations and mask merge of ``MultiHeadAttention``, as Keras 3.15 builds
them (``keras/src/layers/attention/multi_head_attention.py``).

>>> build_proj_equation(2, 1, 2)
('abc,cde->abde', 'de', 4)
>>> build_attention_equation(4, (1,))[:2]
('aecd,abcd->acbe', 'acbe,aecd->abcd')
"""

from __future__ import annotations

import string

import numpy as np


def _letters(i):
    return string.ascii_lowercase[i]


def build_proj_equation(free_dims, bound_dims, output_dims):
    """Keras' ``_build_proj_equation``: ``(equation, bias axes, output rank)``."""
    inp = "".join(_letters(i) for i in range(free_dims + bound_dims))
    kernel = inp[free_dims:] + "".join(_letters(free_dims + bound_dims + i)
                                       for i in range(output_dims))
    bias = kernel[bound_dims:]
    out = inp[:free_dims] + bias
    return f"{inp},{kernel}->{out}", bias, len(out)


def build_attention_equation(rank, attn_axes):
    """Keras' ``_build_attention_equation``: ``(dot product, combine, scores rank)``."""
    target = "".join(_letters(i) for i in range(rank))
    batch_dims = tuple(np.delete(range(rank), attn_axes + (rank - 1,)))
    offset, source = rank, ""
    for i in range(rank):
        if i in batch_dims or i == rank - 1:
            source += target[i]
        else:
            source += _letters(offset)
            offset += 1
    product = "".join([target[i] for i in batch_dims] + [target[i] for i in attn_axes] +
                      [source[i] for i in attn_axes])
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


def partial_shape(output_rank, known):
    """Keras' ``_get_output_shape``: None for the leading axes, then ``known``."""
    return [None] * (output_rank - len(known)) + list(known)


def merge_masks(t, s, query_mask, value_mask, key_mask, attention_mask, use_causal_mask,
                sliding_window):
    """Keras' ``_compute_attention_mask``: query (B, T, 1) & value/key (B, 1, S) & causal
    (1, T, S) & sliding window & ``attention_mask`` (B, T, S) as one bool array, or None
    when there is no mask at all."""
    auto = None

    def join(m):
        return m if auto is None else auto & m

    if query_mask is not None:
        auto = np.asarray(query_mask, bool)[..., None]
    if value_mask is not None:
        auto = join(np.expand_dims(np.asarray(value_mask, bool), -2))
    if key_mask is not None:
        auto = join(np.expand_dims(np.asarray(key_mask, bool), -2))
    rows, cols = np.arange(t)[:, None], np.arange(s)[None, :]
    if use_causal_mask:
        auto = join((rows >= cols)[None])
    if sliding_window is not None:
        auto = join((np.abs(rows - cols) < sliding_window)[None])
    if attention_mask is not None:
        attention_mask = np.asarray(attention_mask)
        if attention_mask.dtype != bool:  # Keras' Softmax: a number mask means > 0.5
            attention_mask = attention_mask > 0.5
    if auto is not None:
        attention_mask = auto if attention_mask is None else attention_mask & auto
    return attention_mask
