"""``keras.ops.linalg`` with gradients: inv, solve, det, cholesky, qr (reduced, m >= n),
and vector / Frobenius ``norm``. Batched over leading axes.

>>> import numpy as np
>>> from core import ops
>>> round(float(ops.det(np.eye(3) * 2.0)), 6)
8.0
"""

from __future__ import annotations

import numpy as np

from core.ops import elementwise as E
from core.ops import reduce as R
from core.ops.engine import primitive


def _T(a):  # noqa: N802
    return np.swapaxes(a, -1, -2)


def _inv_f(x):
    y = np.linalg.inv(x)
    return y, y


inv = primitive("inv", _inv_f, lambda y, g, need: [-_T(y) @ g @ _T(y)], 1, "Matrix inverse.")


def _solve_f(a, b):
    vec = b.ndim == a.ndim - 1
    x = np.linalg.solve(a, b[..., None] if vec else b)
    return (x[..., 0] if vec else x), (a, x, vec)


def _solve_b(c, g, need):
    a, x, vec = c
    g2 = g[..., None] if vec else g
    gb = np.linalg.solve(_T(a), g2)
    ga = -gb @ _T(x) if need[0] else None
    return [ga, (gb[..., 0] if vec else gb) if need[1] else None]


solve = primitive("solve", _solve_f, _solve_b, 2, "Solve ``a @ x = b`` for ``x``.")


def _det_f(x):
    d = np.linalg.det(x)
    return d, (x, d)


def _det_b(c, g, need):
    x, d = c
    return [(np.asarray(g) * d)[..., None, None] * _T(np.linalg.inv(x))]


det = primitive("det", _det_f, _det_b, 1, "Determinant.")


def _chol_f(x):
    low = np.linalg.cholesky(x)
    return low, low


def _chol_b(low, g, need):
    # Murray (2016): Phi(L^T gL) between the triangular solves, then symmetrized
    # (the input is symmetric; numpy reads only its lower triangle).
    p = _T(low) @ g
    p = np.tril(p)
    idx = np.arange(p.shape[-1])
    p[..., idx, idx] *= 0.5
    linv = np.linalg.inv(low)
    ga = _T(linv) @ p @ linv
    return [0.5 * (ga + _T(ga))]


cholesky = primitive("cholesky", _chol_f, _chol_b, 1, "Lower Cholesky factor of a "
                     "symmetric positive-definite matrix.")


def _qr_f(x, mode="reduced"):
    if mode != "reduced":
        raise ValueError(f"ops.qr: mode {mode!r} is not supported (only 'reduced')")
    if x.shape[-2] < x.shape[-1]:
        raise ValueError("ops.qr: only matrices with rows >= columns are supported")
    q, r = np.linalg.qr(x, mode="reduced")
    return (q, r), (q, r)


def _copyltu(m):
    low = np.tril(m, -1)
    return low + _T(low) + np.eye(m.shape[-1]) * np.diagonal(m, axis1=-2, axis2=-1)[..., None, :]


def _qr_b(c, gs, need):
    q, r = c
    gq, gr = gs
    m = r @ _T(gr) - _T(gq) @ q
    b = gq + q @ _copyltu(m)
    return [_T(np.linalg.solve(r, _T(b)))]


qr = primitive("qr", _qr_f, _qr_b, 1, "Reduced QR decomposition ``(q, r)`` (rows >= columns).")


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    """Vector norms (``ord`` None/2, 1, inf, -inf, p > 0) over an int ``axis`` or the
    whole tensor, and the Frobenius norm (``ord`` None or 'fro') over two axes."""
    if isinstance(axis, (list, tuple)) and len(axis) == 2 or ord == "fro":
        if ord not in (None, "fro"):
            raise ValueError(f"ops.norm: matrix norm ord={ord!r} is not supported "
                             "(only the Frobenius norm)")
        return E.sqrt(R.sum(E.square(x), axis=axis, keepdims=keepdims))
    if ord is None or ord == 2:
        return E.sqrt(R.sum(E.square(x), axis=axis, keepdims=keepdims))
    if ord == 1:
        return R.sum(E.abs(x), axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return R.max(E.abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return R.min(E.abs(x), axis=axis, keepdims=keepdims)
    if isinstance(ord, (int, float)) and ord > 0:
        s = R.sum(E.power(E.abs(x), float(ord)), axis=axis, keepdims=keepdims)
        return E.power(s, 1.0 / ord)
    raise ValueError(f"ops.norm: ord={ord!r} is not supported")
