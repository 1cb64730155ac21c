"""Regularizer penalties as ops on the training tape (issue #9, structure move 1).

The built-in ``L1``/``L2``/``L1L2`` penalty is one op whose forward and VJP are the
numba kernels: checked against central differences in float64, PyTorch autograd and
real Keras 3's values. User-written regularizers (a plain function of ``core.ops``, a
``Regularizer`` subclass) train through the same tape: against central differences of
the regularized loss and against real Keras trained on the same weights and batches.
A ``compute_loss`` override counts the penalties only when it adds ``self.losses``
(Keras), and a regularizer computed with plain numpy is refused with its name.
"""

import os

import numpy as np
import pytest

import core
from core import ops, regularizers
from core.autodiff import Tape
from core.layers import Dense
from core.models import Sequential, load_model
from core.ops.function_grad import record_function
from core.variables import Variable

os.environ.setdefault("KERAS_BACKEND", "torch")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CASES = [regularizers.L1(0.3), regularizers.L2(0.7), regularizers.L1L2(0.3, 0.7)]


def _x(shape=(7, 5), seed=0):
    x = np.random.default_rng(seed).normal(size=shape)
    x[np.abs(x) < 0.05] += 0.1  # away from |x|'s kink at 0
    return x


@pytest.mark.parametrize("reg", CASES, ids=repr)
def test_penalty_op_vjp_by_central_differences_and_torch(reg):
    torch = pytest.importorskip("torch")
    x = _x()
    y, backward = record_function(reg, [x])
    (dx,) = backward(np.float64(1.7))  # an upstream gradient other than 1 scales it
    eps = 1e-6
    numeric = np.empty_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = 1.7 * (float(reg(up)) - float(reg(down))) / (2 * eps)
    np.testing.assert_allclose(dx, numeric, rtol=1e-7, atol=1e-9)
    t = torch.tensor(x, requires_grad=True)
    (reg.l1 * t.abs().sum() + reg.l2 * (t * t).sum()).backward(torch.tensor(1.7, dtype=t.dtype))
    np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert float(y) == pytest.approx(reg.l1 * np.abs(x).sum() + reg.l2 * np.square(x).sum(),
                                     rel=1e-13)


@pytest.mark.parametrize("make", [lambda K: K.regularizers.L1(0.3),
                                  lambda K: K.regularizers.L2(0.7),
                                  lambda K: K.regularizers.L1L2(0.3, 0.7)])
def test_penalty_values_are_keras(make):
    keras = pytest.importorskip("keras")
    x = _x((33, 17), 3).astype("float32")
    want = np.asarray(make(keras)(x))
    got = make(core)(x)
    assert got.dtype == np.float32 and want.dtype == np.float32  # the input's dtype
    np.testing.assert_allclose(got, want, rtol=2e-6)


def test_the_weight_gradient_is_written_into_the_buffer_after_the_layers():
    """The penalty's VJP adds to what the layer wrote, in the same tape step, without
    replacing the variable's gradient buffer."""
    layer = Dense(3, kernel_regularizer=regularizers.L1L2(0.2, 0.3), dtype="float64")
    x = _x((4, 2), 1)
    layer.build((None, 2))
    k = layer.kernel
    buf = k.grad_buffer()
    with Tape() as tape:
        (pen,) = regularizers.weight_penalties([k])
        y = layer(x, training=True)
    tape.backward([y, pen], [np.ones_like(y), np.ones(())])
    assert k.grad is buf
    want = x.T @ np.ones((4, 3)) + 0.2 * np.sign(k.value) + 2 * 0.3 * k.value
    np.testing.assert_allclose(k.grad, want, rtol=1e-13)
    assert float(pen) == pytest.approx(0.2 * np.abs(k.value).sum() +
                                       0.3 * np.square(k.value).sum(), rel=1e-13)


class HalfAbs(regularizers.Regularizer):
    """Keras style: ``__call__`` written with ops."""

    def __call__(self, x):
        return 0.05 * ops.sum(ops.abs(x)) + ops.sum(ops.square(x)) * 0.02

    def get_config(self):
        return {}


def cubic(w):
    """A plain function, as Keras accepts for a regularizer."""
    return 0.01 * ops.sum(ops.abs(w) ** 3)


def _model(kernel_reg, activity_reg=None, dtype="float64"):
    model = Sequential([
        Dense(4, activation="tanh", input_shape=(3,), dtype=dtype,
              kernel_regularizer=kernel_reg, bias_regularizer=cubic,
              activity_regularizer=activity_reg, bias_initializer="random_normal"),
        Dense(2, dtype=dtype, kernel_regularizer=kernel_reg)])
    model.compile(optimizer="sgd", loss="mse")
    model.optimizer.learning_rate = 1.0
    return model


@pytest.mark.parametrize("kernel_reg, activity_reg", [(HalfAbs(), None), (cubic, None),
                                                      ("l1l2", cubic), (None, HalfAbs())],
                         ids=["subclass", "function", "activity_function",
                              "activity_subclass"])
def test_user_regularizers_train_by_central_differences(kernel_reg, activity_reg):
    """SGD(1) moves each weight by exactly its gradient; central differences of
    test_on_batch's loss (which includes every penalty) must agree."""
    rng = np.random.default_rng(4)
    model = _model(kernel_reg, activity_reg)
    x = rng.normal(size=(6, 3)).astype(np.float32).astype(np.float64)
    y = rng.normal(size=(6, 2)).astype(np.float32).astype(np.float64)
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
    model.train_on_batch(x, y)
    for w, b, g in zip(model.trainable_weights, before, want):
        np.testing.assert_allclose(b - w.value, g, rtol=1e-6, atol=1e-9)
    assert len(model.losses) == (3 if kernel_reg is not None else 1)


def _keras_pair(keras, K, reg_of, compute_loss=None):
    inputs = K.Input((3,))
    h = K.layers.Dense(4, activation="tanh", kernel_regularizer=reg_of(K),
                       bias_regularizer=reg_of(K))(inputs)
    out = K.layers.Dense(2, kernel_regularizer=reg_of(K))(h)
    if compute_loss is None:
        return K.Model(inputs, out)

    class Custom(K.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            mse = K.ops.mean((y_pred - y) ** 2)
            if compute_loss == "super":
                return super().compute_loss(x, y, y_pred, sample_weight, training)
            if compute_loss == "losses":
                return mse + sum(K.ops.sum(v) for v in self.losses)
            return mse  # Keras: no penalties unless the override adds them
    return Custom(inputs, out)


@pytest.mark.parametrize("kind", ["built_in", "function", "subclass"])
@pytest.mark.parametrize("compute_loss", [None, "super", "losses", "ignored"])
def test_training_matches_keras(kind, compute_loss):
    keras = pytest.importorskip("keras")

    def reg_of(K):
        if kind == "built_in":
            return K.regularizers.L1L2(0.01, 0.02)
        if kind == "function":
            return lambda w: 0.02 * K.ops.sum(K.ops.abs(w) ** 3)

        class Reg(K.regularizers.Regularizer):
            def __call__(self, x):
                return 0.03 * K.ops.sum(K.ops.square(x)) + 0.01 * K.ops.sum(K.ops.abs(x))
        return Reg()

    rng = np.random.default_rng(7)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 2)).astype("float32")
    results = []
    for K in (keras, core):
        model = _keras_pair(keras, K, reg_of, compute_loss)
        if K is keras:
            start = [np.asarray(w) for w in model.get_weights()]
        else:
            model.set_weights(start)
        model.compile(optimizer=K.optimizers.SGD(0.2), loss="mse")
        hist = model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False).history
        results.append((hist["loss"], [np.asarray(w) for w in model.get_weights()],
                        model.evaluate(x, y, verbose=0)))
    (k_loss, k_w, k_eval), (loss, w, ev) = results
    np.testing.assert_allclose(loss, k_loss, rtol=5e-5)
    np.testing.assert_allclose(ev, k_eval, rtol=5e-5)
    for ours, theirs in zip(w, k_w):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_a_penalty_computed_with_plain_numpy_is_refused_with_its_name():
    def numpy_l1(w):
        return 0.01 * float(np.abs(np.asarray(w)).sum())

    model = _model(numpy_l1)
    x = np.ones((2, 3))
    assert model.test_on_batch(x, np.ones((2, 2))) > 0  # the value alone is fine
    with pytest.raises(ValueError, match=r"Regularizer numpy_l1 of weight '.*kernel'.*"
                                         r"core\.ops"):
        model.train_on_batch(x, np.ones((2, 2)))
    w = Variable(np.ones(3), name="w")
    w.regularizer = numpy_l1
    with Tape(), pytest.raises(ValueError, match="numpy_l1 of weight 'w'"):
        regularizers.weight_penalties([w])


def test_function_and_subclass_regularizers_save_and_load(tmp_path):
    from core.saving import get_custom_objects, register_keras_serializable

    before = dict(get_custom_objects())
    try:
        fn = register_keras_serializable(package="R")(cubic)
        cls = register_keras_serializable(package="R")(HalfAbs)
        model = _model(cls(), activity_reg=fn)
        cfg = model.layers[0].get_config()
        assert cfg["activity_regularizer"]["config"] == "R>cubic"
        assert cfg["kernel_regularizer"]["registered_name"] == "R>HalfAbs"
        x = np.random.default_rng(0).normal(size=(4, 3))
        model.fit(x, np.zeros((4, 2)), verbose=0)
        model.save(tmp_path / "m.keras")
        loaded = load_model(tmp_path / "m.keras")
        assert loaded.layers[0].activity_regularizer is cubic
        assert type(loaded.layers[0].kernel.regularizer) is HalfAbs
        np.testing.assert_allclose([float(v) for v in loaded.losses],
                                   [float(v) for v in model.losses], rtol=1e-6)
    finally:
        get_custom_objects().clear()
        get_custom_objects().update(before)
