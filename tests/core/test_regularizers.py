"""``core.regularizers`` against Keras 3's formulas, the kernels against their numpy twins,
and the penalty's place in training: loss, gradient (central differences in float64),
``model.losses``, frozen layers, configs and files. The same numbers against real Keras
are in ``tests/interop`` (fixture ``seq_regularized``)."""

import numpy as np
import pytest

from core import regularizers
from core.kernels import regularize as K
from core.layers import BatchNormalization, Conv2D, Dense, Flatten, Layer
from core.models import Sequential, load_model


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_match_twins_and_keras_formulas(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=1001).astype(dtype)
    x[::97] = 0.0  # sign(0) = 0
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for l1, l2 in ((0.01, 0.0), (0.0, 0.02), (0.3, 0.7)):
        want = l1 * np.abs(x.astype(np.float64)).sum() + l2 * np.square(x.astype(np.float64)).sum()
        assert K.penalty(x, l1, l2) == pytest.approx(want, rel=tol)
        assert K.penalty_ref(x, l1, l2) == pytest.approx(want, rel=tol)
        for accumulate, base in ((True, 0.5), (False, 0.0)):
            g, g_ref = np.full_like(x, 0.5), np.full_like(x, 0.5)
            K.penalty_grad(x, g, l1, l2, accumulate)
            K.penalty_grad_ref(x, g_ref, l1, l2, accumulate)
            np.testing.assert_allclose(g, g_ref, rtol=tol, atol=tol)
            np.testing.assert_allclose(g, base + l1 * np.sign(x) + 2 * l2 * x, rtol=tol,
                                       atol=tol)


def test_classes_defaults_and_configs_are_keras():
    x = np.array([[-2.0, 0.0], [3.0, 1.0]])
    assert regularizers.L1()(x) == pytest.approx(0.01 * 6)
    assert regularizers.L2()(x) == pytest.approx(0.01 * 14)
    assert regularizers.L1L2(l1=0.5, l2=0.25)(x) == pytest.approx(0.5 * 6 + 0.25 * 14)
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.L2(0.5).get_config() == {"l2": 0.5}
    # Keras stores L1's factor as a float32 tensor and writes float(tensor).
    assert regularizers.L1(0.01).get_config() == {"l1": 0.009999999776482582}
    assert regularizers.l1_l2 is regularizers.L1L2 and regularizers.l2 is regularizers.L2


def test_get_and_serialize():
    for ident, cls, cfg in (("l1", "L1", {"l1": 0.009999999776482582}), ("L2", "L2", {"l2": 0.01}),
                            ("l1l2", "L1L2", {"l1": 0.0, "l2": 0.0})):
        reg = regularizers.get(ident)
        assert type(reg).__name__ == cls and reg.get_config() == cfg
        d = regularizers.serialize(reg)
        assert d == {"module": "keras.regularizers", "class_name": cls, "config": cfg,
                     "registered_name": None}
        assert regularizers.get(d).get_config() == cfg
    assert type(regularizers.get(regularizers.l2)) is regularizers.L2  # the class itself
    assert regularizers.get(None) is None and regularizers.serialize(None) is None
    fn = lambda w: 0.0  # noqa: E731  (Keras takes any callable)
    assert regularizers.get(fn) is fn
    for bad in ("l1_l2", "orthogonal_regularizer", 3.0,
                {"module": "keras.regularizers", "class_name": "OrthogonalRegularizer",
                 "config": {}}):
        with pytest.raises(ValueError, match="Could not interpret regularizer"):
            regularizers.get(bad)
    for bad in (-1, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="non-negative float"):
            regularizers.L2(bad)


def test_layer_errors_name_the_layer_and_argument():
    with pytest.raises(ValueError, match=r"Layer 'd': kernel_regularizer: .*'l3'"):
        Dense(2, kernel_regularizer="l3", name="d")
    with pytest.raises(ValueError, match=r"Layer 'f': activity_regularizer: .*'l7'"):
        Flatten(activity_regularizer="l7", name="f")


L1_DEFAULT = float(np.float32(0.01))  # "l1": Keras keeps 0.01 as a float32 tensor


def _model(dtype="float64"):
    rng = np.random.default_rng(1)
    model = Sequential([
        Dense(4, activation="tanh", input_shape=(3,), dtype=dtype,
              kernel_regularizer=regularizers.L1L2(l1=0.03, l2=0.05),
              bias_regularizer=regularizers.L2(0.07), bias_initializer="random_normal"),
        Dense(2, dtype=dtype, kernel_regularizer="l1"),
    ])
    model.compile(optimizer="sgd", loss="mse")
    # Values float32 holds exactly: the model (dtype float32) casts its data.
    x = rng.normal(size=(6, 3)).astype(np.float32).astype(np.float64)
    y = rng.normal(size=(6, 2)).astype(np.float32).astype(np.float64)
    return model, x, y


def test_training_gradient_includes_the_penalty_by_central_differences():
    """SGD with learning rate 1 moves each weight by exactly its gradient; the gradient
    of the regularized loss (test_on_batch's value, which includes the penalty, as in
    Keras 3) by central differences in float64 must agree."""
    model, x, y = _model()
    model.optimizer.learning_rate = 1.0
    before = [w.value.copy() for w in model.trainable_weights]
    want = []
    eps = 1e-6
    for w in model.trainable_weights:
        g = np.empty_like(w.value)
        for i in np.ndindex(w.shape):
            orig = w.value[i]
            w.value[i] = orig + eps
            up = model.test_on_batch(x, y)
            w.value[i] = orig - eps
            down = model.test_on_batch(x, y)
            w.value[i] = orig
            g[i] = (up - down) / (2 * eps)
        want.append(g)
    loss = model.train_on_batch(x, y)
    for w, b, g in zip(model.trainable_weights, before, want):
        np.testing.assert_allclose(b - w.value, g, rtol=1e-6, atol=1e-9)
    k1, b1, k2, b2 = before
    mse = np.mean(np.square(np.tanh(x @ k1 + b1) @ k2 + b2 - y))
    penalty = (0.03 * np.abs(k1).sum() + 0.05 * np.square(k1).sum()
               + 0.07 * np.square(b1).sum() + L1_DEFAULT * np.abs(k2).sum())
    assert loss == pytest.approx(mse + penalty, rel=1e-12)


def test_losses_count_trainable_weights_only_and_evaluate_includes_them():
    model, x, y = _model()
    k1, b1, k2 = (w.value for w in model.weights[:3])
    first = 0.03 * np.abs(k1).sum() + 0.05 * np.square(k1).sum() + 0.07 * np.square(b1).sum()
    np.testing.assert_allclose(model.losses, [0.03 * np.abs(k1).sum() + 0.05 *
                                              np.square(k1).sum(), 0.07 * np.square(b1).sum(),
                                              L1_DEFAULT * np.abs(k2).sum()], rtol=1e-12)
    with_all = model.evaluate(x, y, verbose=0)
    model.layers[1].trainable = False  # Keras: a frozen weight's penalty no longer counts
    model.compile(optimizer="sgd", loss="mse")
    assert len(model.losses) == 2 and sum(model.losses) == pytest.approx(first)
    assert with_all - model.evaluate(x, y, verbose=0) == pytest.approx(
        L1_DEFAULT * np.abs(k2).sum())


def test_custom_layer_add_weight_regularizer_is_honoured():
    class Scale(Layer):
        def build(self, input_shape):
            self.w = self.add_weight((input_shape[-1],), initializer="ones",
                                     regularizer="l2", name="w")

        def forward(self, inputs, training=False):
            return inputs * self.w.value, inputs

        def backward(self, cache, grad_output, need_input_grad=True):
            self.write_grad(self.w, (grad_output * cache).sum(axis=0))
            return grad_output * self.w.value if need_input_grad else None

    layer = Scale()
    layer.build((None, 3))
    assert layer.losses == [pytest.approx(0.01 * 3)]
    with pytest.raises(ValueError, match=r"Layer 'scale': regularizer: .*'l5'"):
        layer.add_weight((2,), regularizer="l5")


def test_configs_and_files_keep_regularizers(tmp_path):
    model = Sequential([
        Conv2D(2, 3, input_shape=(5, 5, 1), kernel_regularizer=regularizers.L1L2(0.1, 0.2),
               bias_regularizer="l1"),
        BatchNormalization(gamma_regularizer="l2", beta_regularizer=regularizers.L1(0.5)),
        Dense(3, kernel_regularizer=regularizers.L2(0.25)),
    ])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(2).normal(size=(4, 5, 5, 1)).astype("float32")
    y = np.zeros((4, 3, 3, 3), "float32")
    model.fit(x, y, verbose=0)
    cfg = model.layers[0].get_config()
    assert cfg["kernel_regularizer"] == {"module": "keras.regularizers", "class_name": "L1L2",
                                         "config": {"l1": 0.1, "l2": 0.2},
                                         "registered_name": None}
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    assert [ly.get_config() for ly in loaded.layers] == [ly.get_config() for ly in model.layers]
    np.testing.assert_allclose(loaded.losses, model.losses, rtol=1e-6)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0),
                                                             rel=1e-6)


def test_activity_regularizers_gradient_by_central_differences():
    """Penalties on layer outputs (divided by the batch size, as Keras 3), on a hidden
    Dense, a Flatten and the softmax output, whose penalty turns off the fused
    softmax + crossentropy gradient: SGD(1) moves each weight by the gradient of
    test_on_batch's loss, checked by central differences in float64."""
    rng = np.random.default_rng(5)
    model = Sequential([
        Flatten(input_shape=(2, 3), activity_regularizer=regularizers.L1(0.02), dtype="float64"),
        Dense(4, activation="tanh", dtype="float64",
              activity_regularizer=regularizers.L1L2(l1=0.03, l2=0.05)),
        Dense(3, activation="softmax", dtype="float64",
              activity_regularizer=regularizers.L2(0.4)),
    ])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.optimizer.learning_rate = 1.0
    x = rng.normal(size=(5, 2, 3)).astype(np.float32).astype(np.float64)
    y = rng.integers(0, 3, 5)
    before = [w.value.copy() for w in model.trainable_weights]
    want = []
    for w in model.trainable_weights:
        g = np.empty_like(w.value)
        for i in np.ndindex(w.shape):
            orig = w.value[i]
            w.value[i] = orig + 1e-6
            up = model.test_on_batch(x, y)
            w.value[i] = orig - 1e-6
            down = model.test_on_batch(x, y)
            w.value[i] = orig
            g[i] = (up - down) / 2e-6
        want.append(g)
    k1, b1, k2, b2 = before
    h = np.tanh(x.reshape(5, -1) @ k1 + b1)
    z = h @ k2 + b2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    ce = -np.mean(np.log(p[np.arange(5), y]))
    l1 = float(np.float32(0.02))  # L1 keeps Keras' float32 factor
    # A penalty has its input's dtype, as in Keras: the Flatten passes on the model's
    # float32 data, so its penalty is a float32 (summed in float64, then rounded).
    act = (np.float32(l1 * np.abs(x).sum()) + 0.03 * np.abs(h).sum()
           + 0.05 * np.square(h).sum() + 0.4 * np.square(p).sum()) / 5
    assert model.train_on_batch(x, y) == pytest.approx(ce + act, rel=1e-10)
    for w, b, g in zip(model.trainable_weights, before, want):
        np.testing.assert_allclose(b - w.value, g, rtol=1e-6, atol=1e-9)


def test_activity_regularizer_configs_and_conv_pool_fusion():
    from core.layers import MaxPooling2D

    assert "activity_regularizer" not in Flatten().get_config()  # written only when set
    cfg = Flatten(activity_regularizer="l1").get_config()
    assert cfg["activity_regularizer"]["class_name"] == "L1"
    assert Conv2D(2, 3).get_config()["activity_regularizer"] is None  # Conv2D always writes it
    model = Sequential([Conv2D(2, 3, activation="relu", input_shape=(6, 6, 1),
                               activity_regularizer="l2"), MaxPooling2D(), Flatten()])
    model.build((None, 6, 6, 1))
    assert all(type(s).__name__ != "ConvPool" for s in model._execution_plan())
