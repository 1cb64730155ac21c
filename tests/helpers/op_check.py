"""One check for a ``core.ops`` op: forward against numpy, gradient against central
finite differences (float64) and against PyTorch autograd when torch imports, and the
same gradient when the input is a trainable ``Variable`` (written to ``var.grad``).

The scalar differentiated is ``f = sum(out * R)`` for a fixed random ``R`` per output.

>>> import numpy as np
>>> from core import ops
>>> x = np.random.default_rng(0).normal(size=(3, 4))
>>> check_op(ops.tanh, [x], np.tanh)["input_0"] < 1e-6
True
"""

from __future__ import annotations

import numpy as np

from core.autodiff import Tape
from core.variables import Variable
from tests.helpers.gradcheck import _InputGradSink, numeric_gradient, relative_error

try:  # optional third oracle
    import torch
except Exception:  # pragma: no cover - torch is installed in the dev venv
    torch = None


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _objective(fn, xs, rs):
    outs = _as_list(fn(*xs))
    return sum(float(np.sum(np.asarray(o, np.float64) * r)) for o, r in zip(outs, rs))


def tape_gradients(fn, xs, wrt, rs=None, seed=0):
    """``(outputs, {i: grad of input i}, R)`` from one tape step (inputs watched)."""
    sink = _InputGradSink()
    with Tape() as tape:
        tape.record(sink, [], [xs[i] for i in wrt], None)
        tape.watch(*[xs[i] for i in wrt])
        out = fn(*xs)
    outs = _as_list(out)
    if rs is None:
        rng = np.random.default_rng(seed)
        rs = [rng.standard_normal(np.shape(o)) for o in outs]
    tape.backward(outs, rs)
    grads = {i: (None if sink.grads is None else sink.grads[k]) for k, i in enumerate(wrt)}
    return outs, grads, rs


def variable_gradients(fn, xs, wrt, rs):
    """The gradients written into ``Variable.grad`` when the ``wrt`` inputs are
    trainable Variables (as weights from ``add_weight``)."""
    args = list(xs)
    variables = {}
    for i in wrt:
        variables[i] = Variable(np.array(xs[i]), name=f"v{i}")
        args[i] = variables[i]
    with Tape() as tape:
        out = fn(*args)
    tape.backward(_as_list(out), rs)
    return {i: (v.grad.copy() if v.grad_step == tape.step else None)
            for i, v in variables.items()}


def torch_gradients(torch_fn, xs, wrt, rs):
    ts = [torch.tensor(np.asarray(x)) for x in xs]
    for i in wrt:
        ts[i].requires_grad_(True)
    outs = _as_list(torch_fn(*ts))
    total = sum((o * torch.tensor(r)).sum() for o, r in zip(outs, rs))
    total.backward()
    return [o.detach().numpy() for o in outs], {i: ts[i].grad.numpy() for i in wrt}


def check_op(fn, inputs, reference=None, torch_fn=None, wrt=None, grad=True,
             rtol=1e-6, atol=1e-7, h=1e-6, seed=0):
    """Check ``fn(*inputs)``; returns ``{name: relative gradient error}``.

    ``reference(*inputs)`` gives numpy's expected output(s). ``wrt``: indices of the
    inputs to differentiate (default: every float input). Raises ``AssertionError``
    naming what disagrees.
    """
    xs = [np.array(x, dtype=np.float64) if np.asarray(x).dtype.kind == "f" else np.asarray(x)
          for x in inputs]
    if reference is not None:
        got = _as_list(fn(*xs))
        want = _as_list(reference(*[np.array(x) for x in xs]))
        assert len(got) == len(want), f"{len(got)} outputs, numpy gives {len(want)}"
        for k, (g, w) in enumerate(zip(got, want)):
            assert type(g) is not Variable
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-6, atol=atol,
                                       err_msg=f"forward output {k} differs from numpy")
            assert np.shape(g) == np.shape(w), f"output {k}: {np.shape(g)} != {np.shape(w)}"
    if not grad:
        return {}
    if wrt is None:
        wrt = [i for i, x in enumerate(xs) if x.dtype.kind == "f"]
    outs, grads, rs = tape_gradients(fn, xs, wrt, seed=seed)
    errors, failures = {}, []
    for i in wrt:
        name = f"input_{i}"
        if grads[i] is None:
            failures.append(f"{name}: no gradient reached the input")
            continue
        if np.shape(grads[i]) != xs[i].shape:
            failures.append(f"{name}: gradient shape {np.shape(grads[i])} != {xs[i].shape}")
            continue
        num = numeric_gradient(lambda: _objective(fn, xs, rs), xs[i], h)
        errors[name] = relative_error(num, grads[i])
    var_grads = variable_gradients(fn, xs, wrt, rs)
    for i in wrt:
        if grads[i] is None:
            continue
        if var_grads[i] is None:
            failures.append(f"input_{i} as a Variable: no gradient written")
        else:
            errors[f"variable_{i}"] = relative_error(var_grads[i], grads[i])
    if torch_fn is not None and torch is not None:
        t_outs, t_grads = torch_gradients(torch_fn, xs, wrt, rs)
        for k, (o, t) in enumerate(zip(outs, t_outs)):
            np.testing.assert_allclose(np.asarray(o), t, rtol=1e-6, atol=atol,
                                       err_msg=f"forward output {k} differs from torch")
        for i in wrt:
            if grads[i] is not None:
                errors[f"torch_{i}"] = relative_error(t_grads[i], grads[i])
    failures += [f"{k}: relative error {e:.3g} >= {rtol:g}" for k, e in errors.items()
                 if not e < rtol]
    if failures:
        raise AssertionError("op check failed: " + "; ".join(failures))
    return errors
