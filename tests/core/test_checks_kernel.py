"""``core.kernels.checks`` (``finite_parallel``, ``finite_serial`` and ``all_finite``, which
picks one by size) against their numpy twin, and the data error they feed."""

import numpy as np
import pytest

from core.kernels import checks
from core.layers import Dense
from core.models import Sequential


@pytest.mark.parametrize("kernel", ["all_finite", "finite_parallel", "finite_serial"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, checks.CHUNK - 1, checks.CHUNK, 3 * checks.CHUNK + 5])
def test_finite_checks_match_numpy_twin(kernel, dtype, n):
    check = getattr(checks, kernel)
    rng = np.random.default_rng(n)
    a = (rng.standard_normal(n) * 1e30).astype(dtype)
    assert bool(check(a)) is True and checks.all_finite_ref(a) is True
    for bad in (np.nan, np.inf, -np.inf):
        for pos in {0, n // 2, n - 1} if n else set():
            b = a.copy()
            b[pos] = bad
            assert bool(check(b)) is False is checks.all_finite_ref(b), (bad, pos)
    if n:
        big = np.full(n, np.finfo(dtype).max, dtype)  # huge but finite
        assert check(big) and checks.all_finite_ref(big)


def test_non_finite_training_data_still_names_the_sample():
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((5, 3), "float32")
    x[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"x contains NaN or infinite values \(in 1 sample"
                                         r"\(s\), first at index 3\)"):
        model.fit(x, np.ones((5, 1)), verbose=0)
    x = np.ones((5, 3), "float64")  # predict refuses too
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match="first at index 0"):
        model.predict(x, verbose=0)
