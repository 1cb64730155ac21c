"""``core.kernels.checks.all_finite`` against its numpy twin, and the data error it feeds."""

import numpy as np
import pytest

from core.kernels import checks
from core.layers import Dense
from core.models import Sequential


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, checks.CHUNK - 1, checks.CHUNK, 3 * checks.CHUNK + 5])
def test_all_finite_matches_numpy_twin(dtype, n):
    rng = np.random.default_rng(n)
    a = (rng.standard_normal(n) * 1e30).astype(dtype)
    assert checks.all_finite(a) is True and checks.all_finite_ref(a) is True
    for bad in (np.nan, np.inf, -np.inf):
        for pos in {0, n // 2, n - 1} if n else set():
            b = a.copy()
            b[pos] = bad
            assert bool(checks.all_finite(b)) is False is checks.all_finite_ref(b), (bad, pos)
    if n:
        big = np.full(n, np.finfo(dtype).max, dtype)  # huge but finite
        assert checks.all_finite(big) and checks.all_finite_ref(big)


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
