"""``core.runtime``: the thread policy holds in every engine call, for any layer, and
does not depend on what the script imported first."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core import gemm_split, ops, runtime
from core.callbacks import LambdaCallback
from core.layers import Dense, Layer
from core.models import Sequential

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
needs_blas = pytest.mark.skipif(runtime.blas_threads() is None,
                                reason="no BLAS whose thread count threadpoolctl can set")


@pytest.fixture
def policy():
    """Restores the default policy after a test that changes it."""
    yield
    runtime.configure(blas_threads=1, gemm_threads=min(runtime.cores(), 8))
    runtime._policy["kernel_threads"] = None  # (configure takes no None: numba's own count)


@needs_blas
def test_engine_calls_run_blas_on_the_policy_count_and_restore_it(policy):
    before = runtime.blas_threads()
    seen = []
    spy = LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(runtime.blas_threads()),
                         on_test_batch_end=lambda b, logs: seen.append(runtime.blas_threads()))
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.ones((8, 2), "float32")
    model.fit(x, y, batch_size=4, verbose=0, validation_data=(x, y), callbacks=[spy])
    assert seen == [1, 1, 1, 1]  # two train batches, two validation batches
    assert runtime.blas_threads() == before
    with runtime.engine_call():
        with runtime.engine_call():
            assert runtime.blas_threads() == 1
        assert runtime.blas_threads() == 1
        runtime.configure(blas_threads=2)  # a running call switches at once
        assert runtime.blas_threads() == 2
    assert runtime.blas_threads() == before
    seen.clear()
    model.fit(x, y, batch_size=4, verbose=0, callbacks=[spy])
    assert seen == [2, 2]


@needs_blas
def test_the_policy_holds_on_a_worker_thread_after_the_main_thread_set_blas(policy):
    """The app trains on a QThread. threadpoolctl lets only one Python thread change
    OpenBLAS' count; once the main thread had set it (a user's threadpool_limits, or an
    engine call there), a fit on another thread kept BLAS on the full count."""
    import threading

    from threadpoolctl import threadpool_limits

    seen = []
    spy = LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(runtime.blas_threads()))
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.ones((8, 2), "float32")
    with threadpool_limits(limits=2, user_api="blas"):  # the main thread sets a count
        worker = threading.Thread(target=lambda: model.fit(x, y, batch_size=4, verbose=0,
                                                           callbacks=[spy]))
        worker.start()
        worker.join()
        after = runtime.blas_threads()
    assert seen == [1, 1]
    assert after == 2  # and the user's count comes back


def test_configure_refuses_bad_counts_and_reports_the_policy(policy):
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="blas_threads"):
            runtime.configure(blas_threads=bad)
    info = runtime.configure(gemm_threads=3)
    assert info["gemm_threads"] == 3 and info["blas_threads"] == 1
    assert info["cores"] >= 1 and isinstance(info["blas"], list)
    assert all({"library", "threads", "version", "path"} <= set(b) for b in info["blas"])


class OpsDense(Layer):
    """A user's Dense written with core.ops: notes BLAS' thread count when it runs."""

    seen: list = []

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 4), initializer="glorot_uniform")

    def call(self, x):
        OpsDense.seen.append(runtime.blas_threads())
        return ops.matmul(x, self.w)


@needs_blas
def test_a_layer_built_from_ops_matmul_gets_the_same_policy(policy):
    model = Sequential([OpsDense(input_shape=(5,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    OpsDense.seen = []
    model.fit(np.ones((6, 5), "float32"), np.ones((6, 1), "float32"), batch_size=3,
              verbose=0)
    model.predict(np.ones((6, 5), "float32"), verbose=0)
    assert OpsDense.seen and set(OpsDense.seen) == {1}


@pytest.mark.parametrize("shape", [(4096, 96, 64), (200, 1000, 100), (130, 20, 5)])
def test_split_matmul_equals_numpy(policy, shape):
    """Each part is a single-threaded BLAS call on its rows: numpy's values to rounding
    (BLAS blocks a thinner product differently, so not always bit for bit)."""
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype("float32")
    b = rng.standard_normal((k, n)).astype("float32")
    runtime.configure(gemm_threads=2)
    with runtime.engine_call():
        expected = np.matmul(a, b)
        got = runtime.matmul(a, b)
        out = np.full((m, n), np.nan, "float32")
        runtime.matmul(a, b, out=out)
        parts = runtime._split_parts(a, b)
    assert (parts is not None) == (m * k * n >= runtime.SPLIT_MIN)
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(out, got)


def test_products_are_shared_by_one_thread_per_core_by_default():
    assert runtime.report()["gemm_threads"] == min(runtime.cores(), 8)


@pytest.mark.parametrize("m, n, axis", [(4096, 64, "rows"), (128, 5408, "columns"),
                                        (128, 128, "rows")])
def test_a_product_is_cut_along_its_longer_side(m, n, axis):
    got_axis, ranges = gemm_split.cut(m, n, 2)
    side = m if axis == "rows" else n
    assert got_axis == axis and ranges[0][0] == 0 and ranges[-1][1] == side
    assert all(e - s >= gemm_split.MIN_SIDE for s, e in ranges)
    assert gemm_split.cut(100, 100, 2) is None  # a part would be thinner than MIN_SIDE


class NeverStarts:
    """An executor whose helpers never get a core (a loaded machine, at worst)."""

    def __init__(self):
        self.futures = []

    def submit(self, fn, *args):
        from concurrent.futures import Future
        self.futures.append(Future())  # never run; cancel() succeeds
        return self.futures[-1]


@pytest.mark.parametrize("shape", [(512, 300, 96), (96, 300, 512)])
def test_the_caller_computes_every_part_a_helper_did_not_start(shape):
    m, k, n = shape
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k)).astype("float32")
    b = rng.standard_normal((k, n)).astype("float32")
    parts = gemm_split.cut(m, n, 4)
    late = NeverStarts()
    out = np.full((m, n), np.nan, "float32")
    gemm_split.run(a, b, out, parts, late)
    assert len(late.futures) == len(parts[1]) - 1
    assert all(f.cancelled() for f in late.futures)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)


def test_a_split_product_over_columns_writes_only_its_output(policy):
    """dx = dy @ W.T of the seed CNN's Dense: cut by columns, written in place."""
    rng = np.random.default_rng(2)
    dy = rng.standard_normal((128, 128)).astype("float32")
    w = rng.standard_normal((5408, 128)).astype("float32")
    runtime.configure(gemm_threads=2)
    with runtime.engine_call():
        assert runtime._split_parts(dy, w.T)[0] == "columns"
        got = runtime.matmul(dy, w.T)
    np.testing.assert_allclose(got, dy.astype(np.float64) @ w.T.astype(np.float64),
                               rtol=1e-4, atol=1e-3)


_PROBE = r"""
import sys
first = sys.argv[1]
if first != "core":
    import numpy
if first == "torch":
    import torch
sys.path.insert(0, sys.argv[2])
import numpy as np
from core import runtime, utils
from core.callbacks import LambdaCallback
from core.layers import Conv2D, Dense, Flatten, MaxPooling2D
from core.models import Sequential
utils.set_random_seed(0)
model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), MaxPooling2D(),
                    Flatten(), Dense(64, activation="relu"), Dense(3, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
rng = np.random.default_rng(0)
x, y = rng.random((96, 8, 8, 1), dtype=np.float32), rng.integers(0, 3, 96)
seen = []
model.fit(x, y, batch_size=32, verbose=0, callbacks=[LambdaCallback(
    on_train_batch_end=lambda b, logs: seen.append(runtime.report()["blas_threads"]))])
inside = []
model.predict(x, verbose=0, callbacks=[LambdaCallback(
    on_predict_batch_end=lambda b, logs: inside.append(runtime.blas_threads()))])
print(__import__("json").dumps({"seen": seen, "inside": sorted(set(inside)),
                                "weights": [float(np.sum(w.value)) for w in model.weights]}))
"""


@needs_blas
def test_import_order_changes_neither_the_policy_nor_the_results():
    firsts = ["core", "numpy"]
    try:
        import torch  # noqa: F401
        firsts.append("torch")
    except ImportError:
        pass
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENBLAS", "OMP_", "NETWEAVER"))}
    results = {}
    for first in firsts:
        out = subprocess.run([sys.executable, "-c", _PROBE, first, REPO], env=env,
                             capture_output=True, text=True, timeout=600, check=False)
        assert out.returncode == 0, out.stderr[-2000:]
        results[first] = json.loads(out.stdout.strip().splitlines()[-1])
    for first, r in results.items():
        assert r["seen"] == [1, 1, 1], first
        assert r["inside"] == [1], first
        np.testing.assert_allclose(r["weights"], results["core"]["weights"], rtol=1e-5,
                                   err_msg=first)


_WAIT_PROBE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import core.kernels, core.layers, core.models  # importing writes no environment
at_import = os.environ.get("OMP_WAIT_POLICY")
from numba.np.ufunc import parallel
from core import runtime
from core.kernels import pool
import numpy as np
started_before = parallel._is_initialized
x = np.ones((2, 4, 4, 3), "float32")
y = np.empty((2, 2, 2, 3), "float32"); arg = np.empty((2, 2, 2, 3), np.int32)
with runtime.engine_call():  # a parallel kernel inside an engine call
    pool.max_pool2d(x, 2, 2, 2, 2, 0, 0, 0, 0, y, arg)
print(json.dumps({"at_import": at_import, "started_before": started_before,
                  "after": os.environ.get("OMP_WAIT_POLICY"),
                  "state": runtime.report()["kernel_wait"],
                  "layer": runtime.report()["numba"]["threading_layer"]}))
"""


@pytest.mark.parametrize("user", [None, "ACTIVE"])
def test_kernel_threads_sleep_by_a_run_time_choice_not_an_import_time_write(user):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "NUMBA_THREADING"))}
    if user:
        env["OMP_WAIT_POLICY"] = user
    out = subprocess.run([sys.executable, "-c", _WAIT_PROBE, REPO], env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["at_import"] == user  # nothing written at import
    assert r["started_before"] is False
    if r["layer"] == "omp":  # the policy libgomp read when numba started it
        assert r["after"] == (user or "PASSIVE")
        assert r["state"] == ("user" if user else "passive")


_TORCH_FIRST_PROBE = """
import json, sys
import numpy, torch  # torch loads its own libgomp (default, spinning wait policy)
sys.path.insert(0, sys.argv[1])
from core import runtime
from core.kernels import pool
import numpy as np
x = np.ones((2, 4, 4, 3), "float32")
y = np.empty((2, 2, 2, 3), "float32"); arg = np.empty((2, 2, 2, 3), np.int32)
with runtime.engine_call():
    pool.max_pool2d(x, 2, 2, 2, 2, 0, 0, 0, 0, y, arg)
gomps = sorted({l.split()[-1] for l in open("/proc/self/maps") if "libgomp" in l})
print(json.dumps({"state": runtime.report()["kernel_wait"], "gomps": gomps,
                  "layer": runtime.report()["numba"]["threading_layer"],
                  "openmp": [o["path"] for o in runtime.report()["openmp"]],
                  "max": float(y.max())}))
"""


def test_with_torch_imported_first_numba_runs_on_its_own_passive_openmp():
    """torch's libgomp, loaded (and its policy read) at ``import torch``, must not be the
    one numba's workers run on: numba's pool is loaded against its own libgomp."""
    pytest.importorskip("torch")
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("Linux only")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "NUMBA_THREADING"))}
    out = subprocess.run([sys.executable, "-c", _TORCH_FIRST_PROBE, REPO], env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["max"] == 1.0
    if r["layer"] == "omp" and len(r["gomps"]) > 1:  # torch's libgomp and numba's
        assert r["state"] == "passive, own OpenMP"
    # report() names every OpenMP runtime mapped into the process
    assert sorted(os.path.realpath(p) for p in r["openmp"]) == \
        sorted(os.path.realpath(p) for p in r["gomps"])


def test_products_split_over_no_more_threads_than_the_kernels_use(policy):
    a = np.ones((512, 512), "float32")
    runtime.configure(gemm_threads=2, kernel_threads=1)
    with runtime.engine_call():
        assert runtime._split_parts(a, a) is None
    runtime.configure(kernel_threads=2)
    with runtime.engine_call():
        import numba
        assert (runtime._split_parts(a, a) is not None) == (numba.get_num_threads() >= 2)
