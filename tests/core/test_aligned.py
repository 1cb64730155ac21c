"""``core.aligned``: the engine's long-lived buffers start on a cache line, whatever
offset malloc would have given (the per-process speed spread of issue 12)."""

import numpy as np
import pytest

from core import aligned
from core.layers import Conv2D, Dense, Flatten, MaxPooling2D
from core.models import Sequential
from core.variables import Variable


def _aligned(a) -> bool:
    return a.ctypes.data % aligned.ALIGN == 0


@pytest.mark.parametrize("shape, dtype", [
    ((3, 5), "float32"), (7, "float64"), ((2, 0), "float32"), ((4, 4, 3), "uint8"),
    ((), "int32"), ((3,), "complex128")])
def test_empty_zeros_and_copy_keep_numpys_shape_dtype_and_layout(shape, dtype):
    for make in (aligned.empty, aligned.zeros):
        a = make(shape, dtype)
        want = np.empty(shape, dtype)
        assert a.shape == want.shape and a.dtype == want.dtype and a.flags.c_contiguous
        assert a.flags.writeable and (a.size == 0 or _aligned(a))
    assert not aligned.zeros(shape, dtype).any()
    src = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    c = aligned.copy(src)
    np.testing.assert_array_equal(c, src)
    assert c.size == 0 or not np.shares_memory(c, src)


def test_object_arrays_are_never_made_from_raw_bytes():
    a = aligned.zeros(3, object)
    assert a.dtype == object and list(a) == [0, 0, 0]


def test_a_variable_owns_an_aligned_copy_of_its_initial_value():
    init = np.ones((5, 7), "float32")[:, 1:]  # not contiguous, and misaligned
    v = Variable(init, name="kernel")
    assert _aligned(v.value) and v.value.flags.c_contiguous
    init[...] = 5  # Keras: the variable does not alias what it was made from
    assert float(v.value.sum()) == 5 * 6
    whole = np.ones((4, 4), "float32")  # contiguous: np.require would have kept it
    w = Variable(whole, name="w")
    whole[...] = 3
    assert float(w.value.sum()) == 16 and _aligned(w.value)
    assert _aligned(v.grad_buffer())
    assert Variable(np.zeros((), "int32"), name="iteration").value.shape == ()


def test_training_buffers_weights_slots_and_batches_are_aligned():
    rng = np.random.default_rng(0)
    x = rng.random((40, 10, 10, 1)).astype("float32")
    y = rng.integers(0, 3, 40)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(10, 10, 1)),
                        MaxPooling2D(2), Flatten(), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert all(_aligned(v.value) for v in model.weights)
    assert all(_aligned(v.value) for v in model.optimizer.variables if v.value.ndim)
    assert all(_aligned(v.grad) for v in model.trainable_variables)
    conv = model.layers[0]
    assert conv._scratch._arrays and all(_aligned(a) for a in conv._scratch._arrays.values())
