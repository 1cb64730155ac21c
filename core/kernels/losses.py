"""Fused softmax + crossentropy kernels: loss value and d(loss)/d(logits) in one pass.

Two families: ``*softmax_ce_grad`` take the probabilities a softmax layer produced
(Keras renormalises and clips them before the log); ``*logits_ce_grad`` take raw
logits (``from_logits=True``: exact log-softmax, no clipping).

After a softmax output layer, the gradient of the crossentropy with respect to
the *logits* is simply ``p * sum(y) - y`` per row (``p - y`` for one-hot
labels), so the model can skip the softmax backward entirely. These kernels
compute that gradient, already scaled and sample-weighted, together with the
(weighted) sum of the per-row losses that Keras reports: the probabilities are
renormalised and clipped to ``[eps, 1 - eps]`` exactly as Keras' crossentropy
does before the log.

``probs`` is 2-D ``(rows, classes)``; ``weights`` holds one weight per row or is
empty (all ones); ``out`` receives the gradient. The sparse variant takes int64
labels (no one-hot is built) and can skip rows equal to ``ignore``.

>>> import numpy as np
>>> p = np.array([[0.25, 0.75]], "float32"); y = np.array([[0.0, 1.0]], "float32")
>>> g = np.empty_like(p)
>>> round(softmax_ce_grad(p, y, np.empty(0, "float32"), g, np.float32(1.0), 1e-7), 4)
0.2877
>>> g.tolist()
[[0.25, -0.25]]
"""

from __future__ import annotations

import numpy as np

from core.kernels import _cold
from core.kernels._jit import njit


@njit
def softmax_ce_grad(probs, y, weights, out, scale, eps):
    n, c = probs.shape
    has_w = weights.shape[0] > 0
    total = 0.0
    for r in range(n):
        s = 0.0
        t = 0.0
        for k in range(c):
            s += probs[r, k]
            t += y[r, k]
        row = 0.0
        for k in range(c):
            if y[r, k] != 0:
                q = probs[r, k] / s
                if q < eps:
                    q = eps
                elif q > 1.0 - eps:
                    q = 1.0 - eps
                row -= y[r, k] * np.log(q)
        wr = scale
        if has_w:
            wr = scale * weights[r]
            row *= weights[r]
        total += row
        for k in range(c):
            out[r, k] = (probs[r, k] * t - y[r, k]) * wr
    return total


def softmax_ce_grad_ref(probs, y, weights, out, scale, eps):
    p64 = probs.astype(np.float64)
    q = np.clip(p64 / p64.sum(axis=1, keepdims=True), eps, 1.0 - eps)
    rows = -(y * np.log(q)).sum(axis=1)
    w = np.ones(len(probs)) if weights.shape[0] == 0 else weights.astype(np.float64)
    out[...] = (probs * y.sum(axis=1, keepdims=True) - y) * (scale * w)[:, None]
    return float((rows * w).sum())


@njit
def sparse_softmax_ce_grad(probs, labels, weights, out, scale, eps, has_ignore, ignore):
    n, c = probs.shape
    has_w = weights.shape[0] > 0
    total = 0.0
    for r in range(n):
        lab = labels[r]
        if has_ignore and lab == ignore:
            for k in range(c):
                out[r, k] = 0.0
            continue
        s = 0.0
        for k in range(c):
            s += probs[r, k]
        q = probs[r, lab] / s
        if q < eps:
            q = eps
        elif q > 1.0 - eps:
            q = 1.0 - eps
        row = -np.log(q)
        wr = scale
        if has_w:
            wr = scale * weights[r]
            row *= weights[r]
        total += row
        for k in range(c):
            out[r, k] = probs[r, k] * wr
        out[r, lab] -= wr
    return total


def sparse_softmax_ce_grad_ref(probs, labels, weights, out, scale, eps, has_ignore, ignore):
    n = len(probs)
    valid = (labels != ignore) if has_ignore else np.ones(n, bool)
    safe = np.where(valid, labels, 0)
    p64 = probs.astype(np.float64)
    q = np.clip(p64[np.arange(n), safe] / p64.sum(axis=1), eps, 1.0 - eps)
    w = np.ones(n) if weights.shape[0] == 0 else weights.astype(np.float64)
    w = w * valid
    onehot = np.zeros_like(probs)
    onehot[np.arange(n), safe] = 1
    out[...] = (probs - onehot) * (scale * w)[:, None]
    return float((-np.log(q) * w).sum())


@njit(error_model="numpy")
def logits_ce_grad(z, y, weights, out, scale):
    """Crossentropy on logits (``from_logits=True``): exact log-softmax, no clipping.
    Returns the weighted sum of row losses; ``out = (softmax(z) * sum(y) - y) * scale * w``."""
    n, c = z.shape
    has_w = weights.shape[0] > 0
    total = 0.0
    for r in range(n):
        mx = z[r, 0]
        for k in range(1, c):
            if z[r, k] > mx:
                mx = z[r, k]
        s = 0.0
        t = 0.0
        for k in range(c):
            e = np.exp(np.float64(z[r, k] - mx))
            out[r, k] = e
            s += e
            t += y[r, k]
        lse = mx + np.log(s)
        row = 0.0
        for k in range(c):
            if y[r, k] != 0:
                row += y[r, k] * (lse - z[r, k])
        wr = scale * weights[r] if has_w else scale
        if has_w:
            row *= weights[r]
        total += row
        inv = 1.0 / s
        for k in range(c):
            out[r, k] = (out[r, k] * inv * t - y[r, k]) * wr
    return total


def logits_ce_grad_ref(z, y, weights, out, scale):
    z64 = z.astype(np.float64)
    zs = z64 - z64.max(axis=1, keepdims=True)
    lse = np.log(np.exp(zs).sum(axis=1, keepdims=True))
    rows = (y * (lse - zs)).sum(axis=1)
    w = np.ones(len(z)) if weights.shape[0] == 0 else weights.astype(np.float64)
    sm = np.exp(zs - lse)
    out[...] = (sm * y.sum(axis=1, keepdims=True) - y) * (scale * w)[:, None]
    return float((rows * w).sum())


@njit(error_model="numpy")
def sparse_logits_ce_grad(z, labels, weights, out, scale, has_ignore, ignore):
    """Sparse crossentropy on logits; rows whose label is ``ignore`` contribute nothing."""
    n, c = z.shape
    has_w = weights.shape[0] > 0
    total = 0.0
    for r in range(n):
        lab = labels[r]
        if has_ignore and lab == ignore:
            for k in range(c):
                out[r, k] = 0.0
            continue
        mx = z[r, 0]
        for k in range(1, c):
            if z[r, k] > mx:
                mx = z[r, k]
        s = 0.0
        for k in range(c):
            e = np.exp(np.float64(z[r, k] - mx))
            out[r, k] = e
            s += e
        row = mx + np.log(s) - z[r, lab]
        wr = scale * weights[r] if has_w else scale
        if has_w:
            row *= weights[r]
        total += row
        inv = 1.0 / s
        for k in range(c):
            out[r, k] = out[r, k] * inv * wr
        out[r, lab] -= wr
    return total


def sparse_logits_ce_grad_ref(z, labels, weights, out, scale, has_ignore, ignore):
    n = len(z)
    valid = (labels != ignore) if has_ignore else np.ones(n, bool)
    safe = np.where(valid, labels, 0)
    onehot = np.zeros_like(z)
    onehot[np.arange(n), safe] = 1
    w = np.ones(n) if weights.shape[0] == 0 else weights.astype(np.float64)
    w = w * valid
    z64 = z.astype(np.float64)
    zs = z64 - z64.max(axis=1, keepdims=True)
    lse = np.log(np.exp(zs).sum(axis=1))
    rows = lse - zs[np.arange(n), safe]
    out[...] = (np.exp(zs - lse[:, None]) - onehot) * (scale * w)[:, None]
    return float((rows * w).sum())


@njit(error_model="numpy")
def sparse_ce_rows(probs, labels, eps, per, sums, shares):
    """Per-row crossentropy of probabilities against int labels, without a gradient (the
    loss called as a function, ``evaluate``): each row's sum into ``sums``, the label's
    share of it into ``shares``, ``per = -log(share clipped to [eps, 1 - eps])``.
    numpy reduces a 10-wide last axis at ~20 ns a row; this takes ~1."""
    n, c = probs.shape
    for r in range(n):
        s = 0.0
        for k in range(c):
            s += probs[r, k]
        q = probs[r, labels[r]] / s
        sums[r] = s
        shares[r] = q
        if q < eps:
            q = eps
        elif q > 1.0 - eps:
            q = 1.0 - eps
        per[r] = q
    for r in range(n):  # (a loop of its own: the logs vectorise, 30% less time)
        per[r] = -np.log(per[r])


def sparse_ce_rows_ref(probs, labels, eps, per, sums, shares):
    p64 = probs.astype(np.float64)
    s = p64.sum(axis=1)
    q = p64[np.arange(len(probs)), labels] / s
    sums[...] = s
    shares[...] = q
    per[...] = np.clip(q, eps, 1.0 - eps)  # (stored, then the log in per's dtype)
    per[...] = -np.log(per)


def warmup() -> None:
    """Compile (or load from cache) the kernels for float32 on tiny inputs."""
    p = np.full((2, 3), 1 / 3, np.float32)
    y = np.zeros((2, 3), np.float32)
    y[:, 0] = 1
    g = np.empty_like(p)
    e = np.empty(0, np.float32)
    lab = np.zeros(2, np.int64)
    softmax_ce_grad(p, y, e, g, np.float32(0.5), 1e-7)
    sparse_softmax_ce_grad(p, lab, e, g, np.float32(0.5), 1e-7, False, -1)
    logits_ce_grad(p, y, e, g, np.float32(0.5))
    sparse_logits_ce_grad(p, lab, e, g, np.float32(0.5), False, -1)
    rows = np.empty(2, np.float32)
    sparse_ce_rows(p, lab, 1e-7, rows, rows.copy(), rows.copy())


# Not compiled yet (a fresh install): run the numpy version meanwhile (core.kernels._cold).
_cold.wrap(globals(), ["softmax_ce_grad", "sparse_softmax_ce_grad", "logits_ce_grad",
           "sparse_logits_ce_grad", "sparse_ce_rows"])
