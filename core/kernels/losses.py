"""Fused softmax + crossentropy kernels: loss value and d(loss)/d(logits) in one pass.

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


def warmup() -> None:
    """Compile (or load from cache) both kernels for float32 on tiny inputs."""
    p = np.full((2, 3), 1 / 3, np.float32)
    y = np.zeros((2, 3), np.float32)
    y[:, 0] = 1
    g = np.empty_like(p)
    e = np.empty(0, np.float32)
    softmax_ce_grad(p, y, e, g, np.float32(0.5), 1e-7)
    sparse_softmax_ce_grad(p, np.zeros(2, np.int64), e, g, np.float32(0.5), 1e-7, False, -1)
