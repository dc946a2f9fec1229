import sys

import numpy as np
import pytest

import tenfold
from tenfold.maddness.ridge import _one_hot

from conftest import maddness_task, reference_maddness_codes, unpack_maddness_codes

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return maddness_task(0)


@pytest.fixture(scope="module")
def fitted(data):
    A_train, _, B = data
    return {agg: tenfold.Maddness(ncodebooks=16, aggregate=agg).fit(A_train, B) for agg in ("exact", "average")}


def test_accuracy_vs_exact(data, fitted):
    _, A_test, B = data
    exact = A_test @ B
    for agg, amm in fitted.items():
        out = amm.matmul(A_test)
        assert out.shape == exact.shape and out.dtype == np.float32
        rel = np.linalg.norm(out - exact) / np.linalg.norm(exact)
        # Structured (low-rank, clustered) data; 16 codebooks of 4 bits.
        assert rel < 0.2, (agg, rel)


def test_more_codebooks_more_accurate(data):
    A_train, A_test, B = data
    exact = A_test @ B
    errs = [np.linalg.norm(tenfold.Maddness(ncodebooks=C, aggregate="exact", lam=1.0).fit(A_train, B).matmul(A_test)
                           - exact) for C in (2, 8, 16)]
    assert errs[0] > errs[1] > errs[2]


def test_encoder_matches_numpy_reference(data, fitted):
    _, A_test, _ = data
    amm = fitted["exact"]
    assert np.array_equal(unpack_maddness_codes(amm.encode(A_test)), reference_maddness_codes(amm, A_test))


def test_ridge_lowers_training_error(data):
    A_train, _, B = data
    for objective in ("output", "input"):
        amm = tenfold.Maddness(ncodebooks=16, lam=0.01, objective=objective).fit(A_train, B)
        G = _one_hot(unpack_maddness_codes(amm.encode(A_train)))
        approx = G @ amm.prototypes_.reshape(16 * amm.ncodebooks, -1)
        ridge = np.linalg.norm(approx @ B - A_train @ B) if objective == "output" else np.linalg.norm(approx - A_train)
        assert ridge < 0.9 * amm.greedy_train_error_, objective


def test_no_ridge_penalty_is_least_squares(data):
    """lam=0 (documented: a float >= 0) always failed with numpy's 'Singular matrix': one-hot codes
    are collinear (every codebook's 16 columns sum to 1). It is the minimum-norm least-squares
    fit, which a tiny penalty approaches."""
    A_train, A_test, B = data
    G = _one_hot(unpack_maddness_codes(tenfold.Maddness(ncodebooks=16, lam=1e-6).fit(A_train, B).encode(A_train)))
    assert np.linalg.matrix_rank(G.T @ G) < G.shape[1]
    errs, sizes = {}, {}
    for lam in (0.0, 1e-300, 1e-6):
        amm = tenfold.Maddness(ncodebooks=16, lam=lam).fit(A_train, B)
        assert amm.lam_ == lam and np.isfinite(amm.prototypes_).all()
        errs[lam] = np.linalg.norm(amm.matmul(A_test) - A_test @ B) / np.linalg.norm(A_test @ B)
        sizes[lam] = np.linalg.norm(amm.prototypes_)
    # the same fit as a tiny penalty, without a null-space component inflating the tables
    for lam in (0.0, 1e-300):
        assert abs(errs[lam] - errs[1e-6]) < 2e-3 and sizes[lam] <= 1.01 * sizes[1e-6], (errs, sizes)


def test_tables_close_to_float_prototypes(data, fitted):
    _, A_test, B = data
    for amm in fitted.values():
        G = _one_hot(unpack_maddness_codes(amm.encode(A_test)))
        ref = G @ amm.prototypes_.reshape(-1, B.shape[0]) @ B
        out = amm.matmul(A_test)
        # uint8 tables: error per entry bounded by the quantization step of each column.
        step = amm.mul_ if amm.aggregate == "exact" else amm.mul_ / (1 << amm.log2g_)
        bound = amm.ncodebooks * step * (0.5 if amm.aggregate == "exact" else 2.0) + 1e-4
        assert (np.abs(out - ref) <= bound[None, :]).all()


@pytest.mark.parametrize("aggregate", ["exact", "average"])
def test_simd_paths_equal_scalar(data, fitted, aggregate, isa):
    _, A_test, _ = data
    amm = fitted[aggregate]
    rng = np.random.default_rng(1)
    for n in (1, 5, 31, 32, 33, 97, 1000):
        A = A_test[rng.choice(len(A_test), n)] * np.float32(rng.uniform(0.5, 3))
        A[0, :] = 1e30  # far outside the quantization range: clamped
        A[-1, ::2] = -1e30
        variants = [A, np.asfortranarray(A), A_test[:2 * n:2] if 2 * n <= len(A_test) else A, A[:, ::1][::-1]]
        for X in variants:
            got_c, got, got_r = amm.encode(X), amm.matmul(X), amm.matmul(X, order="C")
            with tenfold.use_isa("scalar"):
                ref_c, ref, ref_r = amm.encode(X), amm.matmul(X), amm.matmul(X, order="C")
            assert np.array_equal(got_c, ref_c)
            assert np.array_equal(got, ref) and np.array_equal(got_r, ref_r) and np.array_equal(got_r, ref)


@given(n=st.integers(0, 200), f_order=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_layouts_and_paths_hypothesis(fitted, n, f_order, seed):
    amm = fitted["average"]
    rng = np.random.default_rng(seed)
    A = (rng.normal(size=(n, 48)) * rng.uniform(0.01, 100)).astype(np.float32)
    X = np.asfortranarray(A) if f_order else A
    ref = amm.matmul(np.ascontiguousarray(A))
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name):
            assert np.array_equal(amm.matmul(X), ref)
            assert np.array_equal(amm.encode(X), amm.encode(A))


def test_codes_roundtrip_and_layout(data, fitted):
    _, A_test, _ = data
    amm = fitted["average"]
    codes = amm.encode(A_test)
    assert codes.shape == (len(A_test), 8) and codes.dtype == np.uint8
    assert np.array_equal(amm.matmul_codes(codes), amm.matmul(A_test))
    assert np.array_equal(amm.matmul(A_test.astype(np.float64)), amm.matmul(A_test))
    buf = np.empty((len(A_test), 7), np.float32, order="F")
    assert amm.matmul(A_test, out=buf) is buf and np.array_equal(buf, amm.matmul(A_test))
    with pytest.raises(ValueError, match="out must be"):
        amm.matmul(A_test, out=np.empty((len(A_test), 7), np.float32))
    rowm = amm.matmul(A_test, order="C")
    assert rowm.flags.c_contiguous and np.array_equal(rowm, amm.matmul(A_test))
    buf_c = np.empty((len(A_test), 7), np.float32)
    assert amm.matmul(A_test, out=buf_c, order="C") is buf_c and np.array_equal(buf_c, rowm)


def test_bias_and_set_B(data, fitted):
    A_train, A_test, B = data
    amm = tenfold.Maddness(ncodebooks=16, aggregate="exact", lam=1.0).fit(A_train, B)
    bias = np.arange(7, dtype=np.float32)
    with_bias = tenfold.Maddness(ncodebooks=16, aggregate="exact", lam=1.0).fit(A_train, B, bias=bias)
    np.testing.assert_allclose(with_bias.matmul(A_test), amm.matmul(A_test) + bias, atol=1e-3)
    B2 = np.random.default_rng(3).normal(size=(48, 3))
    # Trees fitted to A alone (objective="input") serve any B equally well.
    out = tenfold.Maddness(ncodebooks=16, objective="input").fit(A_train, B).set_B(B2).matmul(A_test)
    exact = A_test @ B2
    assert out.shape == (len(A_test), 3)
    assert np.linalg.norm(out - exact) / np.linalg.norm(exact) < 0.3


def test_deterministic(data):
    A_train, A_test, B = data
    a = tenfold.Maddness(ncodebooks=8, random_state=3).fit(A_train, B)
    b = tenfold.Maddness(ncodebooks=8, random_state=3).fit(A_train, B)
    assert np.array_equal(a.thresholds_, b.thresholds_) and np.array_equal(a.luts_, b.luts_)
    assert np.array_equal(a.matmul(A_test), b.matmul(A_test))


def test_save_load(tmp_path, data, fitted):
    _, A_test, _ = data
    for agg, amm in fitted.items():
        path = tmp_path / f"m_{agg}.tfz"
        amm.save(path)
        back = tenfold.load(path)
        assert isinstance(back, tenfold.Maddness) and back.aggregate == agg
        assert np.array_equal(back.matmul(A_test), amm.matmul(A_test))


def test_bad_inputs(data, fitted):
    A_train, A_test, B = data
    amm = fitted["exact"]
    with pytest.raises(ValueError, match="not fitted"):
        tenfold.Maddness().matmul(A_test)
    with pytest.raises(ValueError, match="48 rows"):
        tenfold.Maddness(ncodebooks=4).fit(A_train, B[:10])
    with pytest.raises(ValueError, match="columns"):
        amm.matmul(A_test[:, :10])
    with pytest.raises(ValueError, match="at least 64 training rows"):
        tenfold.Maddness(ncodebooks=4).fit(A_train[:20], B)
    bad = A_train.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tenfold.Maddness(ncodebooks=4).fit(bad, B)
    X = A_test.copy()
    X[7, amm.split_dims_[0, 0]] = np.inf
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name), pytest.raises(ValueError, match="NaN or infinite"):
            amm.matmul(X)
    with pytest.raises(ValueError, match="even"):
        tenfold.Maddness(ncodebooks=3).fit(A_train, B)
    with pytest.raises(ValueError, match="aggregate"):
        tenfold.Maddness(aggregate="mean").fit(A_train, B)
    with pytest.raises(ValueError, match="lam"):
        tenfold.Maddness(lam=-1.0).fit(A_train, B)
    with pytest.raises(TypeError):
        amm.matmul(np.array([["a"] * 48]))
    with pytest.raises(ValueError, match="2-D"):
        amm.matmul(A_test[0])
    with pytest.raises(ValueError, match="codes"):
        amm.matmul_codes(np.zeros((3, 5), dtype=np.uint8))
    with pytest.raises(ValueError, match="bias"):
        amm.set_B(B, bias=np.zeros(3))


def test_docstring_examples():
    import doctest

    import tenfold.maddness.model

    for module in (tenfold.maddness, tenfold.maddness.model):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


def test_refit_passes_lower_training_error(data):
    A_train, _, B = data
    exact = A_train @ B
    errs = [np.linalg.norm(tenfold.Maddness(ncodebooks=8, lam=0.01, refit_passes=p, aggregate="exact")
                           .fit(A_train, B).matmul(A_train) - exact) for p in (0, 1)]
    assert errs[1] < errs[0]


def test_refit_passes_beyond_16_codebooks():
    # The backfitting pass indexes the one-hot codes by 16 * c + code: past codebook 15 that
    # overflowed uint8 and raised (found at C=32 on the torch benchmark).
    rng = np.random.default_rng(3)
    A = (rng.normal(size=(400, 6)) @ rng.normal(size=(6, 40))).astype(np.float32)
    B = rng.normal(size=(40, 3)).astype(np.float32)
    exact = A @ B
    errs = [np.linalg.norm(tenfold.Maddness(ncodebooks=18, lam=0.01, refit_passes=p, aggregate="exact")
                           .fit(A, B).matmul(A) - exact) for p in (0, 1)]
    assert errs[1] < errs[0]


def test_threads_agree(fitted):
    amm = fitted["average"]
    A = np.random.default_rng(5).normal(size=(9000, 48)).astype(np.float32)
    one = amm.set_params(n_threads=1).matmul(A)
    two = amm.set_params(n_threads=2).matmul(A)
    amm.set_params(n_threads=None)
    assert np.array_equal(one, two)


def test_constant_outputs_exact():
    A = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    for agg in ("average", "exact"):
        amm = tenfold.Maddness(ncodebooks=4, aggregate=agg).fit(A, np.zeros((8, 2)), bias=np.array([1.5, -2.0]))
        assert np.array_equal(amm.matmul(A[:40]), np.tile(np.float32([1.5, -2.0]), (40, 1)))


def test_averaging_bias_removed(data):
    A_train, A_test, B = data
    exact = tenfold.Maddness(ncodebooks=16, aggregate="exact", lam=1.0).fit(A_train, B)
    avg = tenfold.Maddness(ncodebooks=16, aggregate="average", lam=1.0).fit(A_train, B)
    diff = avg.matmul(A_test) - exact.matmul(A_test)
    step = exact.mul_  # one table step per column
    assert np.all(np.abs(diff.mean(axis=0)) < 1.5 * step)


def test_predict_is_the_argmax_of_matmul():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(1001, 24)).astype(np.float32)
    B = rng.normal(size=(24, 13)).astype(np.float32)
    for C, agg in ((4, "exact"), (16, "average")):
        amm = tenfold.Maddness(ncodebooks=C, aggregate=agg).fit(A, B, bias=rng.normal(size=13))
        for X in (A, np.asfortranarray(A), A[::3], A[5:6], A[:0]):  # layouts, strides, odd sizes
            got = amm.predict(X)
            assert got.dtype == np.int64 and got.shape == (len(X),)
            if len(X):
                assert np.array_equal(got, amm.matmul(X).argmax(axis=1))
    flat = tenfold.Maddness(ncodebooks=4).fit(A, np.zeros((24, 3), np.float32))  # all outputs tie
    assert (flat.predict(A) == 0).all()
    bad = A.copy()
    bad[3, amm.split_dims_[0, 0]] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        amm.predict(bad)


def test_topk_equals_a_stable_sort_of_matmul():
    rng = np.random.default_rng(11)
    A = rng.normal(size=(4200, 24)).astype(np.float32)  # several 64-row buffers, a partial chunk
    B = rng.normal(size=(24, 13)).astype(np.float32)
    for C, agg in ((4, "exact"), (16, "average")):
        amm = tenfold.Maddness(ncodebooks=C, aggregate=agg).fit(A[:2000], B, bias=rng.normal(size=13))
        for X in (A, np.asfortranarray(A), A[::3], A[5:6], A[:0]):  # layouts, strides, odd sizes
            full = amm.matmul(X)
            order = np.argsort(-full, axis=1, kind="stable")  # ties: lower column first
            for k in (1, 2, 5, 13):
                for isa_name in tenfold.supported_isas():
                    with tenfold.use_isa(isa_name):
                        vals, idx = amm.topk(X, k)
                    assert vals.dtype == np.float32 and idx.dtype == np.int64
                    assert vals.shape == idx.shape == (len(X), k)
                    assert np.array_equal(idx, order[:, :k]), (C, k, isa_name)
                    assert np.array_equal(vals, np.take_along_axis(full, idx, axis=1))
    # Ties everywhere: B = 0 and a bias with repeated values.
    flat = tenfold.Maddness(ncodebooks=4).fit(A, np.zeros((24, 6), np.float32),
                                              bias=np.array([1, 3, 3, 0, 3, 1], np.float32))
    vals, idx = flat.topk(A, 4)
    assert (idx == [1, 2, 4, 0]).all() and np.array_equal(vals[0], flat.matmul(A[:1])[0, [1, 2, 4, 0]])
    # Coarse tables make many rows tie between columns: compare with numpy on those rows too.
    coarse = tenfold.Maddness(ncodebooks=2, aggregate="exact").fit(A, B[:, :1] * np.ones((1, 8), np.float32)
                                                                  + rng.integers(0, 2, size=(1, 8)))
    full = coarse.matmul(A)
    _, idx = coarse.topk(A, 3)
    assert np.array_equal(idx, np.argsort(-full, axis=1, kind="stable")[:, :3])
    for bad in (0, 14, 65):
        with pytest.raises(ValueError, match="k must be"):
            amm.topk(A, bad)
    with pytest.raises(TypeError, match="k must be an int"):
        amm.topk(A, 2.0)
    nan = A.copy()
    nan[7, amm.split_dims_[1, 2]] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        amm.topk(nan, 2)


def test_large_results_in_reused_huge_page_blocks():
    # Results from 2 MiB on (when whole huge pages waste <= 1/8) come from a pool of 2 MiB-aligned
    # blocks that freed results return to: a live result's block must never be handed out again,
    # and a reused block must hold the new call's values only.
    rng = np.random.default_rng(3)
    amm = tenfold.Maddness(ncodebooks=4).fit(rng.normal(size=(2000, 16)).astype(np.float32),
                                             rng.normal(size=(16, 100)).astype(np.float32))
    A1, A2 = (rng.normal(size=(10_000, 16)).astype(np.float32) for _ in range(2))
    want1, want2 = (amm.matmul(a, out=np.empty((10_000, 100), np.float32, order="F")) for a in (A1, A2))
    r1 = amm.matmul(A1)  # 4,000,000 bytes: two huge pages
    r2 = amm.matmul(A2)
    assert not np.shares_memory(r1, r2)
    assert np.array_equal(r1, want1) and np.array_equal(r2, want2)
    if sys.platform.startswith("linux"):
        assert r1.ctypes.data % (1 << 21) == 0 and r2.ctypes.data % (1 << 21) == 0
    addr = r1.ctypes.data
    del r1
    r3 = amm.matmul(A2)  # may reuse r1's block
    assert np.array_equal(r3, want2) and np.array_equal(r2, want2)
    if sys.platform.startswith("linux"):
        assert r3.ctypes.data == addr
    # More live results than the pool keeps (32 MiB: 8 of these), all freed, then taken again.
    many = [amm.matmul(A1) for _ in range(10)]
    assert len({r.ctypes.data for r in many}) == 10
    del many
    again = [amm.matmul(A2) for _ in range(10)]
    assert all(np.array_equal(r, want2) for r in again) and len({r.ctypes.data for r in again}) == 10
