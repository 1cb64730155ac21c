"""Cold start (``core.kernels._cold``): while a kernel compiles, its numpy version runs
and gives the same numbers; a model trained on the numpy versions, on the compiled
kernels, or switching from one to the other mid-epoch ends with the same weights; the
child process compiles into the on-disk cache and the kernel goes live."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import optimizers
from core.callbacks import Callback
from core.kernels import _cold, conv_pool, conv_pool_numpy
from core.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
from core.models import Sequential
from core.utils import set_random_seed

REPO = Path(__file__).resolve().parents[2]
GEOMETRIES = [  # (h, w, c, kh, kw, stride, dilation, pads (t, l), pool, relu)
    (9, 9, 1, 3, 3, 1, 1, (0, 0), (2, 2), True),
    (10, 8, 2, 3, 2, 2, 1, (1, 0), (2, 2), True),
    (11, 11, 3, 3, 3, 1, 2, (2, 2), (3, 2), False),
]


@pytest.mark.parametrize("geo", GEOMETRIES)
def test_numpy_conv_pool_equals_the_twins(geo):
    h, w, c, kh, kw, s, d, (pt, pl), (ph, pw), relu = geo
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, h, w, c)).astype(np.float32)
    kernel = rng.standard_normal((kh, kw, c, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    oh = (h + 2 * pt - d * (kh - 1) - 1) // s + 1
    ow = (w + 2 * pl - d * (kw - 1) - 1) // s + 1
    shape = (3, oh // ph, ow // pw, 4)
    outs = [np.empty(shape, np.float32) for _ in range(2)]
    wins = [np.empty(shape, np.uint8) for _ in range(2)]
    args = (x, kernel, bias, s, s, d, d, pt, pl, relu, ph, pw)
    conv_pool.conv2d_relu_maxpool_ref(*args, outs[0], wins[0])
    conv_pool_numpy.conv2d_relu_maxpool_numpy(*args, outs[1], wins[1])
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(wins[1], wins[0])
    dpool = rng.standard_normal(shape).astype(np.float32)
    grads = [(np.empty_like(kernel), np.empty_like(bias)) for _ in range(2)]
    conv_pool.conv2d_relu_maxpool_backward_filter_ref(x, dpool, wins[0], s, s, d, d, pt, pl,
                                                      ph, pw, *grads[0])
    partial = np.empty((2, kh * kw * c + 1, 4), np.float32)
    conv_pool_numpy.backward_filter_partials_numpy(x, dpool, wins[0], kh, kw, s, s, d, d,
                                                   pt, pl, ph, pw, partial)
    total = partial.sum(axis=0)
    np.testing.assert_allclose(total[:-1].reshape(kernel.shape), grads[0][0], rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(total[-1], grads[0][1], rtol=1e-4, atol=1e-4)
    dys = [np.full((3, oh, ow, 4), 7, np.float32) for _ in range(2)]
    conv_pool.unpool_gradient_ref(dpool, wins[0], ph, pw, dys[0])
    conv_pool_numpy.unpool_gradient_numpy(dpool, wins[0], ph, pw, dys[1])
    np.testing.assert_array_equal(dys[1], dys[0])
    z = rng.standard_normal((3, oh, ow, 4)).astype(np.float32)
    conv_pool.relu_maxpool_ref(z, relu, ph, pw, outs[0], wins[0])
    conv_pool_numpy.relu_maxpool_numpy(z, relu, ph, pw, outs[1], wins[1])
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(wins[1], wins[0])


class _SwitchAt(Callback):
    """Run the first ``batch`` batches on the numpy versions, then on numba."""

    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def on_train_batch_begin(self, batch, logs=None):
        _cold.set_mode("numpy" if batch < self.batch else "compile")


def _train(mode, switch_at=None):
    set_random_seed(0)
    model = Sequential([Input((12, 12, 1)), Conv2D(6, 3, activation="relu"), MaxPooling2D(),
                        Conv2D(40, 3, activation="relu"), MaxPooling2D(), Flatten(),
                        Dense(16, activation="relu"), Dropout(0.2),
                        Dense(5, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((96, 12, 12, 1), dtype=np.float32)
    y = rng.integers(0, 5, 96)
    previous = _cold.mode()
    _cold.set_mode(mode)
    try:
        callbacks = [] if switch_at is None else [_SwitchAt(switch_at)]
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False,
                  callbacks=callbacks)
    finally:
        _cold.set_mode(previous)
    return [w.numpy() for w in model.weights]


def test_numpy_versions_train_like_the_kernels_and_switching_is_seamless():
    calls = _cold.fallback_calls()
    compiled = _train("compile")
    on_numpy = _train("numpy")
    assert _cold.fallback_calls() == calls  # "numpy" mode is not counted as a fallback
    switched = _train("compile", switch_at=3)  # numpy for batches 0-2, then numba
    for a, b, c in zip(compiled, on_numpy, switched):
        np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-5)
        np.testing.assert_allclose(c, a, rtol=2e-3, atol=2e-5)
    assert any(not np.array_equal(a, w) for a, w in zip(compiled, _initial_weights()))


def _initial_weights():
    set_random_seed(0)
    model = Sequential([Input((12, 12, 1)), Conv2D(6, 3, activation="relu"), MaxPooling2D(),
                        Conv2D(40, 3, activation="relu"), MaxPooling2D(), Flatten(),
                        Dense(16, activation="relu"), Dropout(0.2),
                        Dense(5, activation="softmax")])
    return [w.numpy() for w in model.weights]


CHILD_SCRIPT = """
import numpy as np
from core.kernels import _cold, activations
_cold.set_mode("fallback")
y = np.array([1.0, -1.0, 2.0], np.float32); dy = np.ones(3, np.float32)
out = np.empty(3, np.float32)
activations.relu_backward(y, dy, out)
assert out.tolist() == [1.0, 0.0, 1.0], out
assert _cold.fallback_calls() == 1 and _cold.compiling() == ["relu_backward"]
assert not activations.relu_backward.signatures  # nothing compiled in this process
assert _cold.wait(300), "the child never answered"
activations.relu_backward(y, -dy, out)
assert out.tolist() == [-1.0, 0.0, -1.0], out
assert activations.relu_backward.signatures, "loaded from the child's cache"
assert _cold.fallback_calls() == 1
print("ok")
"""


def test_child_compiles_into_the_cache_and_the_kernel_goes_live(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), NETWEAVER_COLD_START="fallback")
    run = subprocess.run([sys.executable, "-c", CHILD_SCRIPT], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "ok" in run.stdout, run.stdout + run.stderr
    assert any(tmp_path.rglob("*.nbi")), "the child wrote numba's cache index"



def _pools_model():
    """Pools not fused into a conv (core.kernels.pool's own); the Dense before them
    makes fit take their backward too."""
    from core.layers import AveragePooling2D

    return Sequential([Input((8, 8, 3)), Dense(3), MaxPooling2D(padding="same"),
                       AveragePooling2D(3, strides=1, padding="same"), Flatten(),
                       Dense(4, activation="softmax")])


def _sequence_model():
    """The forecaster's and the transformer's kernels: Conv1D, MaxPooling1D, LayerNorm."""
    from core.layers import Conv1D, LayerNormalization, MaxPooling1D, Reshape

    return Sequential([Input((8, 8, 3)), Flatten(), Dense(24), Reshape((8, 3)),
                       Conv1D(5, 3, activation="relu"), MaxPooling1D(2),
                       LayerNormalization(), Flatten(), Dense(4, activation="softmax")])


FAMILIES = {  # the model, and the wrapped kernels it must reach
    "pool": (_pools_model, "pool", ("max_pool2d", "max_pool2d_backward", "avg_pool2d",
                                     "avg_pool2d_backward")),
    "sequence": (_sequence_model, "conv1d", ("im2col_1d", "col2im_1d", "max_pool1d",
                                              "max_pool1d_backward", "relu_bias_backward")),
}


def _train_family(build, mode, switch_at=None):
    set_random_seed(0)
    model = build()
    model.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((48, 8, 8, 3)).astype(np.float32)
    y = rng.integers(0, 4, 48)
    previous = _cold.mode()
    _cold.set_mode(mode)
    try:
        callbacks = [] if switch_at is None else [_SwitchAt(switch_at)]
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False,
                  callbacks=callbacks)
    finally:
        _cold.set_mode(previous)
    return [w.numpy() for w in model.weights]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_pool_conv1d_and_layer_norm_kernels_fall_back_while_compiling(family, monkeypatch):
    """Standalone pools (the ResNet template's MaxPooling2D after an Add), Conv1D
    (forecaster) and LayerNormalization (transformer) compiled at their first call
    before their kernels were wrapped; now they run their twins like the others."""
    import importlib

    build, module, names = FAMILIES[family]
    spied = [(importlib.import_module(f"core.kernels.{module}"), n) for n in names]
    if family == "sequence":
        spied += [(importlib.import_module("core.kernels.layer_norm"), n)
                  for n in ("layer_norm_forward", "layer_norm_backward")]
    used = []
    for mod, name in spied:
        kernel = getattr(mod, name)

        def spy(*args, _twin=kernel.fallback, _name=name):
            used.append(_name)
            return _twin(*args)

        monkeypatch.setattr(kernel, "fallback", spy)
    compiled = _train_family(build, "compile")
    assert used == []
    on_numpy = _train_family(build, "numpy")
    assert {n for _, n in spied} == set(used)
    switched = _train_family(build, "compile", switch_at=2)
    for a, b, c in zip(compiled, on_numpy, switched):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(c, a, rtol=1e-4, atol=1e-6)
    set_random_seed(0)
    fresh = build()
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(compiled, fresh.weights))


class _FakeChild:
    """Stands in for the compile child: records the requests written to it."""

    def __init__(self):
        self.lines = []
        self.stdin = self

    def poll(self):
        return None

    def write(self, line):
        self.lines.append(__import__("json").loads(line))

    def flush(self):
        pass


def test_the_free_child_takes_the_kernel_longest_on_numpy_first(monkeypatch):
    """One request at a time; when the child is free it gets the queued kernel with the
    most numpy time so far (first come, first served compiled Adam last)."""
    from core.kernels import activations

    child = _FakeChild()
    monkeypatch.setattr(_cold, "_child", child)
    monkeypatch.setattr(_cold, "_pending", {})
    monkeypatch.setattr(_cold, "_unsent", {})
    monkeypatch.setattr(_cold, "_inflight", [None])
    kernels = [activations.relu_forward, activations.relu_backward, activations.gelu_forward]
    for k, seconds in zip(kernels, (0.0, 0.1, 2.0)):
        monkeypatch.setattr(k, "_numpy_seconds", seconds)
    sig = (__import__("numba").types.float32[:],)
    for k in kernels:
        assert _cold._ask_child(k, sig)
    assert [r["name"] for r in child.lines] == ["relu_forward"]  # the child was free
    assert sorted(_cold.compiling()) == ["gelu_forward", "relu_backward", "relu_forward"]
    monkeypatch.setattr(kernels[0], "_compiled_elsewhere", lambda s, ok: None)
    monkeypatch.setattr(kernels[2], "_compiled_elsewhere", lambda s, ok: None)
    _cold._on_reply(child.lines[0]["id"], True)
    assert [r["name"] for r in child.lines] == ["relu_forward", "gelu_forward"]
    _cold._on_reply(child.lines[1]["id"], True)
    assert [r["name"] for r in child.lines][-1] == "relu_backward"
    assert _cold.compiling() == ["relu_backward"]


def test_a_dead_child_fails_only_its_own_request_once_a_new_child_took_over(monkeypatch):
    """A compile child that dies after a newer one started (``_ask_child`` found it
    dead) loses only the request written to it; its reader must not clear the newer
    child's queue (it did: those kernels then compiled at their call, and a request sent
    to the new child was answered for an entry no longer there)."""
    from core.kernels import activations

    old, new = _FakeChild(), _FakeChild()
    monkeypatch.setattr(_cold, "_child", old)
    monkeypatch.setattr(_cold, "_pending", {})
    monkeypatch.setattr(_cold, "_unsent", {})
    monkeypatch.setattr(_cold, "_inflight", [None])
    monkeypatch.setattr(_cold, "_sent_to", {})
    monkeypatch.setattr(_cold, "_start_child", lambda: new)
    failed = []
    first, second, third = (activations.relu_forward, activations.relu_backward,
                            activations.gelu_forward)
    for k in (first, second, third):
        monkeypatch.setattr(k, "_compiled_elsewhere",
                            lambda sig, ok, k=k: failed.append((k.__name__, ok)))
    sig = (__import__("numba").types.float32[:],)
    assert _cold._ask_child(first, sig)  # written to the old child
    monkeypatch.setattr(old, "poll", lambda: 1)  # the old child died
    assert _cold._ask_child(second, sig)  # starts the new child, which takes it
    assert _cold._ask_child(third, sig)  # queued behind it
    assert [r["name"] for r in new.lines] == ["relu_backward"]
    _cold._child_gone(old)  # the old child's reader reaches EOF
    assert failed == [("relu_forward", False)]  # compiled at its call instead
    assert _cold.compiling() == ["gelu_forward", "relu_backward"]
    _cold._on_reply(new.lines[0]["id"], True)
    assert [r["name"] for r in new.lines] == ["relu_backward", "gelu_forward"]
    assert failed[-1] == ("relu_backward", True)
    _cold._child_gone(new)  # the current child dies: what it still owed fails
    assert failed[-1] == ("gelu_forward", False) and _cold.compiling() == []


def _text_model():
    """Embedding(mask_zero) -> LSTM -> GRU -> SimpleRNN -> Dense: every recurrent step
    kernel family (the fused tanh/sigmoid steps, masked rows) and the Embedding gradient."""
    from core.layers import GRU, LSTM, Embedding, SimpleRNN

    return Sequential([Input((40,)), Embedding(30, 6, mask_zero=True),
                       LSTM(5, return_sequences=True), GRU(4, return_sequences=True),
                       SimpleRNN(3), Dense(2, activation="softmax")])


def _train_text(mode, switch_at=None):
    set_random_seed(0)
    model = _text_model()
    model.compile(optimizer=optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(2)
    x = rng.integers(1, 30, (96, 40))  # 32 x 40 ids a batch: the Embedding kernel's size
    x[::3, 30:] = 0  # padded ends: the masked rows of the step kernels
    y = (x[:, 0] > 15).astype(np.int64)
    previous = _cold.mode()
    _cold.set_mode(mode)
    try:
        callbacks = [] if switch_at is None else [_SwitchAt(switch_at)]
        model.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False,
                  callbacks=callbacks)
    finally:
        _cold.set_mode(previous)
    return [w.numpy() for w in model.weights]


def test_recurrent_step_kernels_and_embedding_fall_back_while_compiling(monkeypatch):
    """The recurrent step kernels and the Embedding gradient compiled at their first call
    (the text classifier's first batch waited ~15 s on a fresh install); now they run
    their numpy versions (``core.kernels.recurrent_numpy``) while compiling, and a model
    trained on them, on numba, or switching mid-epoch ends with the same weights
    (float32: the kernels' tanh is a 6-ulp approximation, numpy's is not)."""
    from core.kernels import embedding, recurrent, recurrent_fast, recurrent_gru

    names = {recurrent_fast: ("lstm_forward_step", "lstm_step_backward", "gru_forward_step",
                              "gru_step_backward"),
             recurrent: ("simple_rnn_step", "simple_rnn_step_backward"),
             recurrent_gru: (), embedding: ("embedding_grad",)}
    used = []
    for mod, kernel_names in names.items():
        for name in kernel_names:
            kernel = getattr(mod, name)

            def spy(*args, _twin=kernel.fallback, _name=name):
                used.append(_name)
                return _twin(*args)

            monkeypatch.setattr(kernel, "fallback", spy)
    compiled = _train_text("compile")
    assert used == []
    on_numpy = _train_text("numpy")
    assert {n for ns in names.values() for n in ns} == set(used)
    switched = _train_text("compile", switch_at=2)
    for a, b, c in zip(compiled, on_numpy, switched):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(c, a, rtol=1e-4, atol=1e-5)
    set_random_seed(0)
    fresh = _text_model()
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(compiled, fresh.weights))
