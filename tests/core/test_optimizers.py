"""Optimizers: 5 steps against Keras' documented update rules re-implemented here in
numpy, kernels against their numpy twins, Keras variable order/config, schedules,
bad arguments."""

import math

import numpy as np
import pytest

from core import optimizers
from core.optimizers import schedules
from core.variables import Variable

rng = np.random.default_rng(1)
SHAPES = [(4, 3), (3,)]


def make_vars(dtype):
    return [Variable(rng.normal(size=s).astype(dtype), name=n, path=f"dense/{n}")
            for s, n in zip(SHAPES, ("kernel", "bias"))]


def grad_seq(steps=5):
    return [[rng.normal(size=s) * 3 for s in SHAPES] for _ in range(steps)]


# ------------------------------------------------- reference update rules
def ref_sgd(lr=0.01, momentum=0.0, nesterov=False):
    def step(w, g, s, t):
        if momentum == 0:
            return w - lr * g
        m = s.setdefault("m", np.zeros_like(w))
        m[...] = momentum * m - lr * g
        return w + (momentum * m - lr * g if nesterov else m)
    return step


def ref_adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
    def step(w, g, s, t):
        m = s.setdefault("m", np.zeros_like(w))
        v = s.setdefault("v", np.zeros_like(w))
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        vv = v
        if amsgrad:
            vh = s.setdefault("vh", np.zeros_like(w))
            vh[...] = np.maximum(vh, v)
            vv = vh
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - alpha * m / (np.sqrt(vv) + eps)
    return step


def ref_rmsprop(lr=0.001, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    def step(w, g, s, t):
        v = s.setdefault("v", np.zeros_like(w))
        v[...] = rho * v + (1 - rho) * g * g
        denom = v + eps
        if centered:
            a = s.setdefault("a", np.zeros_like(w))
            a[...] = rho * a + (1 - rho) * g
            denom = v - a * a + eps
        inc = lr * g / np.sqrt(denom)
        if momentum > 0:
            mo = s.setdefault("mo", np.zeros_like(w))
            mo[...] = momentum * mo + inc
            return w - mo
        return w - inc
    return step


def ref_adagrad(lr=0.001, init=0.1, eps=1e-7):
    def step(w, g, s, t):
        acc = s.setdefault("acc", np.full_like(w, init))
        acc += g * g
        return w - lr * g / np.sqrt(acc + eps)
    return step


def run_ref(rule, ws, grads, lr=None, weight_decay=None, clipnorm=None, clipvalue=None,
            global_clipnorm=None, loss_scale=None):
    ws = [w.copy() for w in ws]
    states = [{} for _ in ws]
    for t, gs in enumerate(grads, start=1):
        gs = [g / loss_scale if loss_scale else g for g in gs]
        if clipnorm:
            gs = [g * clipnorm / max(np.linalg.norm(g), clipnorm) for g in gs]
        if global_clipnorm:
            norm = math.sqrt(sum((g * g).sum() for g in gs))
            gs = [g * global_clipnorm / max(norm, global_clipnorm) for g in gs]
        if clipvalue:
            gs = [np.clip(g, -clipvalue, clipvalue) for g in gs]
        cur_lr = lr(t - 1) if callable(lr) else lr
        if weight_decay:
            ws = [w - w * weight_decay * cur_lr for w in ws]
        ws = [rule(cur_lr)(w, g, s, t) for w, g, s in zip(ws, gs, states)]
    return ws


CASES = [
    ("SGD", {}, lambda lr: ref_sgd(lr)),
    ("SGD", {"momentum": 0.9}, lambda lr: ref_sgd(lr, 0.9)),
    ("SGD", {"momentum": 0.8, "nesterov": True}, lambda lr: ref_sgd(lr, 0.8, True)),
    ("Adam", {}, lambda lr: ref_adam(lr)),
    ("Adam", {"amsgrad": True, "beta_1": 0.8}, lambda lr: ref_adam(lr, b1=0.8, amsgrad=True)),
    ("RMSprop", {}, lambda lr: ref_rmsprop(lr)),
    ("RMSprop", {"momentum": 0.5}, lambda lr: ref_rmsprop(lr, momentum=0.5)),
    ("RMSprop", {"centered": True, "rho": 0.8}, lambda lr: ref_rmsprop(lr, 0.8, centered=True)),
    ("RMSprop", {"centered": True, "momentum": 0.3},
     lambda lr: ref_rmsprop(lr, momentum=0.3, centered=True)),
    ("Adagrad", {}, lambda lr: ref_adagrad(lr)),
    ("Adagrad", {"initial_accumulator_value": 0.5}, lambda lr: ref_adagrad(lr, 0.5)),
]
DEFAULT_LR = {"SGD": 0.01, "Adam": 0.001, "RMSprop": 0.001, "Adagrad": 0.001, "AdamW": 0.001}


@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_five_steps_match_keras_update_rules(name, kwargs, ref, dtype):
    ws = make_vars(dtype)
    start = [w.value.astype(np.float64) for w in ws]
    grads = grad_seq()
    opt = getattr(optimizers, name)(**kwargs)
    buffers = [w.value for w in ws]
    for gs in grads:
        opt.apply([g.astype(dtype) for g in gs], ws)
    expect = run_ref(ref, start, grads, lr=DEFAULT_LR[name])
    rtol = 1e-6 if dtype == np.float64 else 2e-5
    for w, e, buf in zip(ws, expect, buffers):
        assert w.value is buf  # updated in place
        np.testing.assert_allclose(w.value, e, rtol=rtol, atol=1e-7 if dtype == np.float32 else 0)
    assert opt.iterations == 5


@pytest.mark.parametrize("extra", [
    {"weight_decay": 0.1}, {"clipnorm": 1.0}, {"clipvalue": 0.5}, {"global_clipnorm": 2.0},
    {"loss_scale_factor": 4.0},
])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_clipping_decay_and_loss_scale_in_keras_order(name, extra):
    ws = make_vars(np.float64)
    start = [w.value.copy() for w in ws]
    grads = grad_seq()
    lr = 0.1
    opt = getattr(optimizers, name)(learning_rate=lr, momentum=0.5, **extra) if name == "SGD" \
        else getattr(optimizers, name)(learning_rate=lr, **extra)
    for gs in grads:
        opt.apply(gs, ws)
    rule = (lambda r: ref_sgd(r, 0.5)) if name == "SGD" else (lambda r: ref_adam(r))
    kw = {"loss_scale": extra.get("loss_scale_factor")}
    kw.update({a: extra[a] for a in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm")
               if a in extra})
    expect = run_ref(rule, start, grads, lr=lr, **kw)
    for w, e in zip(ws, expect):
        np.testing.assert_allclose(w.value, e, rtol=1e-6)


def test_adamw_default_decay_and_schedule():
    ws = make_vars(np.float64)
    start = [w.value.copy() for w in ws]
    grads = grad_seq()
    sched = schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)
    opt = optimizers.AdamW(learning_rate=sched)
    assert opt.weight_decay == 0.004
    opt.apply_gradients(zip(grads[0], ws))
    for gs in grads[1:]:
        opt.apply(gs, ws)
    expect = run_ref(lambda r: ref_adam(r), start, grads, lr=sched, weight_decay=0.004)
    for w, e in zip(ws, expect):
        np.testing.assert_allclose(w.value, e, rtol=1e-6)
    assert opt.learning_rate == pytest.approx(0.01 * 0.5 ** 2.5)
    assert [v.name for v in opt.variables][:3] == ["iteration", "dense_kernel_momentum",
                                                   "dense_kernel_velocity"]


def test_learning_rate_settable_between_steps():
    w = Variable(np.zeros(2), name="w")
    opt = optimizers.SGD(learning_rate=0.1)
    opt.apply([np.ones(2)], [w])
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    opt.apply([np.ones(2)], [w])
    np.testing.assert_allclose(w.value, [-0.6, -0.6])
    opt.learning_rate = schedules.PiecewiseConstantDecay([2], [1.0, 0.1])
    assert "learning_rate" not in [v.name for v in opt.variables]
    opt.apply([np.ones(2)], [w])  # step 2 <= 2 -> 1.0
    opt.apply([np.ones(2)], [w])  # step 3 -> 0.1
    np.testing.assert_allclose(w.value, [-1.7, -1.7])
    with pytest.raises(TypeError, match="hence its learning rate is not settable"):
        opt.learning_rate = 0.2  # Keras 3.15.1 refuses a float once a schedule is set
    assert isinstance(opt._learning_rate, schedules.PiecewiseConstantDecay)
    with pytest.raises(ValueError, match=r"SGD optimizer 'SGD'.*learning_rate=-0.1"):
        opt.learning_rate = -0.1


def test_gradient_accumulation_and_ema():
    w = Variable(np.zeros(3), name="w")
    opt = optimizers.SGD(learning_rate=1.0, gradient_accumulation_steps=2)
    g1, g2 = np.array([1.0, 2, 3]), np.array([3.0, 2, 1])
    opt.apply([g1], [w])
    np.testing.assert_allclose(w.value, 0)
    opt.apply([g2], [w])
    np.testing.assert_allclose(w.value, -(g1 + g2) / 2)
    assert opt.iterations == 1 and int(opt.variables[0].value) == 2
    np.testing.assert_allclose(opt.variables[2].value, 0)  # accumulator reset
    v = Variable(np.zeros(2), name="v")
    ema = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    ema.apply([np.ones(2)], [v])  # first step: average = value
    ema.apply([np.ones(2)], [v])  # average = 0.5 * -1 + 0.5 * -2
    np.testing.assert_allclose(ema.variables[2].value, -1.5)
    ema.finalize_variable_values([v])
    np.testing.assert_allclose(v.value, -1.5)


# ------------------------------------------------------------ variables
def test_variables_in_keras_order_with_paths_and_shapes():
    ws = make_vars(np.float32)
    opt = optimizers.Adam(amsgrad=True)
    opt.build(ws)
    names = [v.name for v in opt.variables]
    assert names == ["iteration", "learning_rate", "dense_kernel_momentum",
                     "dense_kernel_velocity", "dense_bias_momentum", "dense_bias_velocity",
                     "dense_kernel_velocity_hat", "dense_bias_velocity_hat"]
    # int32 as Keras 3.15 writes it (dtype="int" is int32 on every backend but TensorFlow)
    assert opt.variables[0].shape == () and opt.variables[0].dtype == np.int32
    assert opt.variables[1].shape == () and opt.variables[1].dtype == np.float32
    assert opt.variables[2].path == "adam/dense_kernel_momentum"
    assert opt.variables[2].shape == (4, 3) and opt.variables[2].dtype == np.float32
    rms = optimizers.RMSprop(momentum=0.9, centered=True, name="r")
    rms.build(ws)
    assert [v.name for v in rms.variables][2:] == [
        "dense_kernel_velocity", "dense_bias_velocity", "dense_kernel_momentum",
        "dense_bias_momentum", "dense_kernel_average_gradient", "dense_bias_average_gradient"]
    sgd = optimizers.SGD()
    sgd.build(ws)
    assert len(sgd.variables) == 2
    ada = optimizers.Adagrad()
    ada.build(ws)
    np.testing.assert_allclose(ada.variables[2].value, 0.1)
    store = {}
    opt.save_own_variables(store)
    again = optimizers.Adam(amsgrad=True)
    again.build(ws)
    again.load_own_variables(store)
    assert all(np.array_equal(a.value, b.value) for a, b in zip(opt.variables, again.variables))


def test_config_roundtrip_with_keras_keys():
    opt = optimizers.Adam(learning_rate=0.01, clipnorm=1.0)
    cfg = opt.get_config()
    assert list(cfg) == ["name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm",
                         "clipvalue", "use_ema", "ema_momentum", "ema_overwrite_frequency",
                         "loss_scale_factor", "gradient_accumulation_steps", "beta_1", "beta_2",
                         "epsilon", "amsgrad"]
    assert cfg["learning_rate"] == pytest.approx(0.01) and cfg["epsilon"] == 1e-7
    back = optimizers.deserialize(optimizers.serialize(opt))
    assert back.get_config() == cfg
    sched = optimizers.SGD(learning_rate=schedules.CosineDecay(0.1, 100))
    cfg = sched.get_config()
    assert cfg["learning_rate"]["class_name"] == "CosineDecay"
    again = optimizers.SGD.from_config(cfg)
    assert isinstance(again._learning_rate, schedules.CosineDecay)
    for name, cls in [("sgd", optimizers.SGD), ("adam", optimizers.Adam),
                      ("adamw", optimizers.AdamW), ("rmsprop", optimizers.RMSprop),
                      ("adagrad", optimizers.Adagrad), ("Adam", optimizers.Adam)]:
        assert type(optimizers.get(name)) is cls
    assert optimizers.get(opt) is opt
    d = optimizers.RMSprop().get_config()
    assert (d["learning_rate"], d["rho"], d["momentum"], d["epsilon"], d["centered"]) == (
        pytest.approx(0.001), 0.9, 0.0, 1e-7, False)


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize("factory,pattern", [
    (lambda: optimizers.Adam(learning_rate=-1.0), r"Adam optimizer 'adam'.*learning_rate=-1.0"),
    (lambda: optimizers.Adam(beta_1=1.0), r"Adam optimizer 'adam'.*beta_1=1.0"),
    (lambda: optimizers.Adam(beta_2=-0.1), r"beta_2=-0.1"),
    (lambda: optimizers.SGD(momentum=1.5), r"SGD optimizer 'SGD'.*momentum=1.5"),
    (lambda: optimizers.RMSprop(rho=1.0), r"RMSprop optimizer 'rmsprop'.*rho=1.0"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1), r"initial_accumulator_value=-1"),
    (lambda: optimizers.AdamW(weight_decay=None), r"AdamW optimizer 'adamw'.*weight_decay"),
    (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=1.0), r"only one of"),
    (lambda: optimizers.SGD(gradient_accumulation_steps=1), r"gradient_accumulation_steps=1"),
    (lambda: optimizers.SGD(foo=1), r"not recognized"),
    (lambda: optimizers.get("adamax"), r"Unknown optimizer 'adamax'"),
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), r"ExponentialDecay.*decay_steps=0"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1]), r"boundaries"),
])
def test_invalid_arguments_raise_value_error(factory, pattern):
    with pytest.raises(ValueError, match=pattern):
        factory()


def test_apply_errors_name_variables():
    ws = make_vars(np.float32)
    opt = optimizers.SGD()
    opt.apply([np.ones((4, 3), "float32"), np.ones(3, "float32")], ws)
    with pytest.raises(ValueError, match="unknown variable"):
        opt.apply([np.ones(2)], [Variable(np.zeros(2), name="other")])
    with pytest.raises(ValueError, match=r"shape \(5,\).*'dense/bias' of shape \(3,\)"):
        opt.apply([np.ones((4, 3)), np.ones(5)], ws)
    with pytest.raises(ValueError, match="must already be built"):
        optimizers.Adam().apply([np.ones(3)])


# -------------------------------------------------------------- schedules
def test_schedules_values():
    e = schedules.ExponentialDecay(0.1, 10, 0.5)
    assert e(5) == pytest.approx(0.1 * 0.5 ** 0.5)
    assert schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)(15) == pytest.approx(0.05)
    p = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [p(s) for s in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    c = schedules.CosineDecay(0.1, 100, alpha=0.1)
    assert c(0) == pytest.approx(0.1)
    assert c(50) == pytest.approx(0.1 * (0.9 * 0.5 + 0.1))
    assert c(500) == pytest.approx(0.01)
    w = schedules.CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=10)
    assert w(5) == pytest.approx(0.5) and w(10) == pytest.approx(1.0)
    assert w(15) == pytest.approx(0.5)
    assert schedules.deserialize(schedules.serialize(p)).get_config() == p.get_config()
