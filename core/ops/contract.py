"""Two-operand Einstein sums as one batched matrix product (BLAS), plain numpy.

``np.einsum`` without ``optimize`` loops in C over every index: for the products in
attention (``"aecd,abcd->acbe"``) that is 30x slower than a ``matmul``, and
``optimize=True`` pays a path search on every call. Two operands need no path: the
letters split into batch (in both and the output), contracted (in both, not the
output) and free ones (one operand and the output); transposing each operand to
(batch, free, contracted) makes the sum one ``np.matmul``. Anything else (one
operand, three, a letter repeated within an operand, ``...``) goes to ``np.einsum``.

>>> import numpy as np
>>> a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
>>> bool(np.allclose(contract("ij,jk->ik", a, b), a @ b))
True
"""

from __future__ import annotations

import math

import numpy as np


def contract(subscripts: str, *arrays):
    """``np.einsum(subscripts, *arrays)`` (explicit ``->`` form), fast for two operands."""
    if len(arrays) != 2 or "..." in subscripts or "->" not in subscripts:
        return np.einsum(subscripts, *arrays)
    ins, out = subscripts.split("->")
    sa, sb = ins.split(",")
    a, b = arrays
    if len(set(sa)) != len(sa) or len(set(sb)) != len(sb) or len(set(out)) != len(out) \
            or a.ndim != len(sa) or b.ndim != len(sb) or set(out) - set(sa) - set(sb):
        return np.einsum(subscripts, *arrays)
    # Letters in one operand only and not in the output are summed out first.
    a, sa = _sum_out(a, sa, set(sb) | set(out))
    b, sb = _sum_out(b, sb, set(sa) | set(out))
    size = {}
    for s, arr in ((sa, a), (sb, b)):
        for ch, n in zip(s, arr.shape):
            if size.setdefault(ch, n) != n:
                return np.einsum(subscripts, *arrays)  # broadcasting: numpy's message
    batch = [c for c in out if c in sa and c in sb]
    free_a = [c for c in out if c in sa and c not in sb]
    free_b = [c for c in out if c in sb and c not in sa]
    summed = [c for c in sa if c in sb and c not in out]
    am = np.transpose(a, [sa.index(c) for c in batch + free_a + summed])
    bm = np.transpose(b, [sb.index(c) for c in batch + summed + free_b])
    nb = math.prod(size[c] for c in batch)
    m, k = math.prod(size[c] for c in free_a), math.prod(size[c] for c in summed)
    n = math.prod(size[c] for c in free_b)
    r = np.matmul(am.reshape(nb, m, k), bm.reshape(nb, k, n))
    r = r.reshape([size[c] for c in batch + free_a + free_b])
    order = batch + free_a + free_b
    return np.transpose(r, [order.index(c) for c in out])


def _sum_out(x, subs, keep):
    drop = tuple(i for i, c in enumerate(subs) if c not in keep)
    if not drop:
        return x, subs
    return x.sum(axis=drop), "".join(c for c in subs if c in keep)
