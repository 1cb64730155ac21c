"""``core.constraints`` against Keras 3's formulas, and where the optimizer applies them.
The same numbers against real Keras are in ``tests/interop`` (fixture ``seq_constrained``)."""

import numpy as np
import pytest

from core import constraints, optimizers
from core.layers import BatchNormalization, Conv2D, Dense
from core.models import Sequential, load_model
from core.variables import Variable

EPS = 1e-7  # keras.backend.epsilon()


def _norms(w, axis):
    return np.sqrt((w.astype(np.float64) ** 2).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("axis", [0, 1, [0, 1]])
def test_formulas_are_keras(axis):
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 4)) * 2
    n = _norms(w, tuple(axis) if isinstance(axis, list) else axis)
    np.testing.assert_allclose(constraints.MaxNorm(1.5, axis=axis)(w),
                               w * np.clip(n, 0, 1.5) / (EPS + n), rtol=1e-12)
    np.testing.assert_allclose(constraints.UnitNorm(axis=axis)(w), w / (EPS + n), rtol=1e-12)
    want = w * (0.3 * np.clip(n, 0.5, 2.0) + 0.7 * n) / (EPS + n)
    np.testing.assert_allclose(constraints.MinMaxNorm(0.5, 2.0, rate=0.3, axis=axis)(w), want,
                               rtol=1e-12)
    np.testing.assert_array_equal(constraints.NonNeg()(w), np.maximum(w, 0))
    w32 = w.astype(np.float32)
    assert constraints.MaxNorm(1.5, axis=axis)(w32).dtype == np.float32  # stays float32


def test_get_serialize_and_configs_are_keras():
    assert constraints.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert constraints.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0,
                                                     "rate": 1.0, "axis": 0}
    for ident, cls in (("max_norm", "MaxNorm"), ("NonNeg", "NonNeg"),
                       ("unit_norm", "UnitNorm"), ("min_max_norm", "MinMaxNorm")):
        c = constraints.get(ident)
        d = constraints.serialize(c)
        assert type(c).__name__ == cls == d["class_name"] and d["module"] == "keras.constraints"
        assert constraints.get(d).get_config() == c.get_config()
    assert type(constraints.get(constraints.non_neg)) is constraints.NonNeg
    for bad in ("nonneg", lambda w: w, {"class_name": "Clip", "config": {}}):
        with pytest.raises(ValueError, match="Could not interpret constraint"):
            constraints.get(bad)
    with pytest.raises(ValueError, match=r"Layer 'd': kernel_constraint: .*'max'"):
        Dense(2, kernel_constraint="max", name="d")


def test_the_optimizer_projects_after_its_update_as_keras():
    """Keras 3 applies a variable's constraint in optimizer.apply, after the update."""
    v = Variable(np.array([[3.0, 0.5], [4.0, 0.5]], "float32"), name="w")
    v.constraint = constraints.MaxNorm(2.0)
    free = Variable(v.value.copy(), name="free")
    opt = optimizers.SGD(learning_rate=0.5)
    g = np.array([[1.0, 1.0], [1.0, -1.0]], "float32")
    opt.apply([g, g], [v, free])
    stepped = np.array([[3.0, 0.5], [4.0, 0.5]], "float32") - 0.5 * g
    np.testing.assert_allclose(free.value, stepped)
    np.testing.assert_allclose(v.value, constraints.MaxNorm(2.0)(stepped), rtol=1e-6)
    assert np.linalg.norm(v.value[:, 0]) == pytest.approx(2.0, rel=1e-6)


def test_training_keeps_weights_inside_and_files_keep_constraints(tmp_path):
    model = Sequential([
        Conv2D(2, 3, input_shape=(5, 5, 1), kernel_constraint=constraints.UnitNorm([0, 1, 2]),
               bias_constraint="non_neg"),
        BatchNormalization(gamma_constraint=constraints.MinMaxNorm(0.5, 1.0, rate=1.0),
                           beta_constraint="non_neg"),
        Dense(3, kernel_constraint=constraints.MaxNorm(0.25)),
    ])
    model.compile(optimizer=optimizers.SGD(learning_rate=1.0), loss="mse")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 5, 5, 1)).astype("float32")
    model.fit(x, rng.normal(size=(16, 3, 3, 3)).astype("float32") * 10, epochs=3, verbose=0)
    conv, bn, dense = model.layers
    np.testing.assert_allclose(_norms(conv.kernel.value, (0, 1, 2)), 1.0, rtol=1e-5)
    assert (conv.bias.value >= 0).all() and (bn.beta.value >= 0).all()
    gamma_norm = float(np.linalg.norm(bn.gamma.value))
    assert 0.5 - 1e-5 <= gamma_norm <= 1.0 + 1e-5
    assert (_norms(dense.kernel.value, 0) <= 0.25 + 1e-6).all()
    path = tmp_path / "c.keras"
    model.save(path)
    loaded = load_model(path)
    assert [ly.get_config() for ly in loaded.layers] == [ly.get_config() for ly in model.layers]
    assert type(loaded.layers[2].kernel.constraint) is constraints.MaxNorm
