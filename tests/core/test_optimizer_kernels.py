"""Optimizer kernels (core.kernels.optim) against their numpy twins: every rule,
serial and parallel, the parallel switch for large variables, and slot flushing."""

import numpy as np
import pytest

from core import optimizers
from core.kernels import optim as k
from core.variables import Variable

rng = np.random.default_rng(1)


@pytest.mark.parametrize("par", [False, True])
def test_kernels_match_numpy_twins_float32(par):
    n = 40_000 if par else 777
    f = np.float32

    def arrs(count, positive=False):
        return [(np.abs(rng.normal(size=n)) if positive else rng.normal(size=n)).astype(f)
                for _ in range(count)]

    one, zero, lr = f(1), f(0), f(0.01)
    cases = [
        ("sgd_step", arrs(2), (lr, f(0.7), f(0.5), f(0.01))),
        ("momentum_step", arrs(3), (lr, f(0.9), True, one, zero, f(0.001))),
        ("momentum_step", arrs(3), (lr, f(0.9), False, one, f(1.0), zero)),
        ("adam_step", arrs(2) + arrs(1) + arrs(2, True),
         (f(0.003), f(0.1), f(0.001), f(1e-7), True, one, zero, f(0.004))),
        ("rmsprop_step", arrs(2) + arrs(1, True) + arrs(1) + [np.zeros(n, f)],
         (lr, f(0.9), f(0.1), f(0.5), f(1e-7), True, one, zero, zero)),
        ("adagrad_step", arrs(2) + arrs(1, True), (lr, f(1e-7), f(2.0), f(0.3), zero)),
    ]
    for name, arrays, scalars in cases:
        a = [x.copy() for x in arrays]
        b = [x.copy() for x in arrays]
        params = np.array(scalars, f)
        getattr(k, name + ("_par" if par else ""))(*a, params)
        getattr(k, name + "_ref")(*b, params)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=name)
    x = rng.normal(size=n).astype(f)
    assert k.sum_squares(x) == pytest.approx(k.sum_squares_ref(x), rel=1e-5)
    avg, w = rng.normal(size=n).astype(f), rng.normal(size=n).astype(f)
    a2 = avg.copy()
    k.ema_step(avg, w, f(0.9), f(0.1))
    k.ema_step_ref(a2, w, f(0.9), f(0.1))
    np.testing.assert_allclose(avg, a2, rtol=1e-5)


def test_large_variables_use_the_parallel_kernel_and_agree():
    big = Variable(rng.normal(size=(1025, 1024)).astype(np.float32), name="big")
    small = Variable(big.value.copy(), name="small")
    g = rng.normal(size=(1025, 1024)).astype(np.float32)
    o1, o2 = optimizers.Adam(), optimizers.Adam()
    o1.build([big])
    assert o1._plan[0][0] is k.adam_step_par
    o2.build([small])
    o2._plan[0] = (k.adam_step,) + o2._plan[0][1:]
    for _ in range(3):
        o1.apply([g], [big])
        o2.apply([g], [small])
    np.testing.assert_array_equal(big.value, small.value)


@pytest.mark.parametrize("par", [False, True])
def test_decaying_slots_flush_tiny_values_to_zero_like_their_twins(par):
    """Slots that fall below FLUSH are stored as exact 0 (no float32 denormals), NaN
    stays NaN, and with epsilon 0 the velocity is kept so 0/0 cannot appear."""
    n = 40_000 if par else 777
    f = np.float32
    tiny = np.full(n, 1e-33, f)
    tiny[::7] = 1e-3          # normal values next to tiny ones survive
    tiny[5] = np.nan
    zero_g = np.zeros(n, f)
    sfx = "_par" if par else ""
    for eps in (f(1e-7), f(0)):
        w, m, v = np.ones(n, f), tiny.copy(), tiny.copy()
        w2, m2, v2 = w.copy(), m.copy(), v.copy()
        p = np.array([0.001, 0.1, 0.001, eps, 0, 1, 0, 0], f)
        getattr(k, "adam_step" + sfx)(w, zero_g, m, v, np.zeros(0, f), p)
        k.adam_step_ref(w2, zero_g, m2, v2, np.zeros(0, f), p)
        np.testing.assert_array_equal(m, m2)
        np.testing.assert_array_equal(v, v2)
        np.testing.assert_array_equal(w, w2)
        assert m[1] == 0 and m[7] == f(1e-3) * f(0.9) and np.isnan(m[5])
        assert (v[1] == 0) == (eps > 0)
        assert not np.any((m != 0) & (np.abs(m) < np.finfo(f).tiny))
    m, m2 = tiny.copy(), tiny.copy()
    w, w2 = np.ones(n, f), np.ones(n, f)
    p = np.array([0.01, 0.9, 0, 1, 0, 0], f)
    getattr(k, "momentum_step" + sfx)(w, zero_g, m, p)
    k.momentum_step_ref(w2, zero_g, m2, p)
    np.testing.assert_array_equal(m, m2)
    assert m[1] == 0 and np.isnan(m[5])
    vel, mom, avg = tiny.copy(), tiny.copy(), tiny.copy()
    b = [np.ones(n, f), zero_g, vel.copy(), mom.copy(), avg.copy()]
    p = np.array([0.01, 0.9, 0.1, 0.5, 1e-7, 1, 1, 0, 0], f)
    getattr(k, "rmsprop_step" + sfx)(np.ones(n, f), zero_g, vel, mom, avg, p)
    k.rmsprop_step_ref(*b, p)
    for x, y in zip((vel, mom, avg), b[2:]):
        np.testing.assert_array_equal(x, y)
        assert x[1] == 0
