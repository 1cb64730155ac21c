"""The Embedding gradient kernel against its numpy twin (weighted bincount per column):
the same float64 sums in the same order, so equal bit for bit, with repeated ids, ids
absent from the batch (zero rows) and the first/last table rows; also the numpy version
it runs while it compiles (``core.kernels._cold`` mode "numpy")."""

import numpy as np
import pytest

from core.kernels import _cold
from core.kernels import embedding as K


@pytest.fixture(params=["compile", "numpy"], autouse=True)
def cold_mode(request):
    previous = _cold.mode()
    _cold.set_mode(request.param)
    yield request.param
    _cold.set_mode(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,vocab", [(1, 5), (3000, 50), (12800, 10000)])
def test_embedding_grad_equals_bincount_twin(dtype, n, vocab):
    rng = np.random.default_rng(n)
    ids = rng.integers(0, vocab, n)
    ids[0], ids[-1] = 0, vocab - 1
    rows = rng.normal(size=(n, 7)).astype(dtype)
    out = np.full((vocab, 7), np.nan, dtype)  # every row must be written, zeros included
    K.embedding_grad(ids, np.argsort(ids, kind="stable"), rows, out)
    np.testing.assert_array_equal(out, K.embedding_grad_ref(ids, rows, vocab))
    assert out.dtype == dtype
