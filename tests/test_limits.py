"""Absurd parameters get a clear error before anything large is allocated (issue 13, item 7:
thread counts everywhere, MADDNESS tables and inputs beyond float32)."""

import sys
from pathlib import Path

import numpy as np
import pytest

import tenfold

DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(DATA))
from make_tfz_fixtures import inputs  # noqa: E402

X, Q, B, _, _, _ = inputs()


def fixture(name):
    return tenfold.load(DATA / f"v1_{name}.tfz")


@pytest.mark.parametrize("bad, error", [(2**31, ValueError), (2**63, ValueError), (0, ValueError),
                                        (-1, ValueError), (True, TypeError), (2.0, TypeError),
                                        ("2", TypeError)])
def test_n_threads_checked_everywhere(bad, error):
    enc = fixture("bolt_encoder")
    index = fixture("bolt_index")
    amm = fixture("maddness")
    calls = [lambda: enc.encode(X, n_threads=bad), lambda: index.add(X, n_threads=bad),
             lambda: index.search(Q, 3, n_threads=bad), lambda: index.scores(Q, n_threads=bad),
             lambda: amm.set_params(n_threads=bad).matmul(X), lambda: amm.set_params(n_threads=bad).encode(X),
             lambda: tenfold.Maddness(ncodebooks=4, n_threads=bad).fit(X, B)]
    for call in calls:
        with pytest.raises(error, match="n_threads"):
            call()


def test_n_threads_limit_itself_works():
    index = fixture("bolt_index")
    assert np.array_equal(index.search(Q, 7, n_threads=2**31 - 1)[1], index.search(Q, 7, n_threads=1)[1])
    assert tenfold._runtime.resolve_threads(np.int64(3)) == 3


def test_thread_environment_variable_out_of_range(monkeypatch):
    monkeypatch.setenv("TENFOLD_NUM_THREADS", str(2**31))
    with pytest.warns(RuntimeWarning, match="TENFOLD_NUM_THREADS"):
        n = tenfold._runtime.default_threads()
    assert 1 <= n <= 2**31 - 1


def test_set_tables_beyond_float32_is_a_value_error():
    amm = fixture("maddness")
    C = amm.ncodebooks
    for T in (np.full((2, C, 16), 1e39),                       # every entry above float32's max
              np.pad(np.full((2, C, 1), 3e38), ((0, 0), (0, 0), (0, 15)))):   # the sum overflows
        with pytest.raises(ValueError, match="float32"):
            amm.set_tables(T)
    with pytest.raises(ValueError, match="float32"):
        amm.set_tables(np.zeros((2, C, 16)), bias=np.full(2, 1e39))
    T = np.random.default_rng(0).normal(size=(2, C, 16)) * 1e36   # large but representable: works
    out = amm.set_tables(T).matmul(X)
    assert np.isfinite(out).all()


def test_maddness_input_beyond_float32_names_the_cause():
    amm = fixture("maddness")
    A = X.astype(np.float64)
    A[5] = 1e39                                 # finite in float64, infinite in float32
    with pytest.raises(ValueError, match="beyond float32's range"):
        amm.matmul(A)
    with pytest.raises(ValueError, match="beyond float32's range"):
        amm.encode(A)
    A = X.copy()
    A[5] = 3e38                                 # finite float32, but signed sums of 4 columns overflow
    with pytest.raises(ValueError, match="beyond float32's range"):
        fixture("maddness_w4").matmul(A)
