"""MADDNESS kernels: every SIMD path equals the scalar reference bit for bit, on the fused
encode + aggregate call, on odd sizes, all layouts and both output orders."""
import numpy as np
import pytest

import tenfold
from tenfold import _core

from conftest import reference_maddness_codes, structured_data, unpack_maddness_codes


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(3)
    A = structured_data(1200, 40, rng, rank=6, clusters=10, noise=0.1)
    out = {}
    for C, M, agg in ((16, 13, "average"), (16, 7, "exact"), (2, 3, "average"), (6, 9, "average"),
                      (32, 8, "average"), (48, 17, "exact")):
        B = rng.normal(size=(40, M)).astype(np.float32)
        out[(C, agg)] = tenfold.Maddness(ncodebooks=C, aggregate=agg, lam=1.0).fit(A, B)
    return A, out


def test_float_thresholds_exact_at_quantization_boundaries(models, isa):
    # Values on both sides of every quantization step of every split column: the SIMD
    # encoder compares floats against derived thresholds and must give the quantizer's codes.
    _, mods = models
    amm = mods[(16, "average")]
    rng = np.random.default_rng(0)
    n = 3000
    A = rng.normal(size=(n, 40)).astype(np.float32)
    for c in range(amm.ncodebooks):
        for level in range(4):
            j, off, sc = amm.split_dims_[c, level], amm.offsets_[c, level], amm.scales_[c, level]
            k = rng.integers(-129, 128, size=n).astype(np.float32)
            a = (off + (k + np.float32(0.5)) / sc).astype(np.float32)
            steps = rng.integers(-3, 4, size=n)
            for _ in range(3):
                a = np.where(steps > 0, np.nextafter(a, np.float32(np.inf)), a)
                a = np.where(steps < 0, np.nextafter(a, np.float32(-np.inf)), a)
                steps = steps - np.sign(steps)
            rows = rng.random(n) < 0.5
            A[rows, j] = a[rows]
    for X in (A, np.asfortranarray(A)):
        assert np.array_equal(unpack_maddness_codes(amm.encode(X)), reference_maddness_codes(amm, A))


@pytest.mark.parametrize("n", [1, 31, 32, 33, 64, 65, 255, 256, 257, 300, 1000])
def test_fused_paths_equal_scalar_all_sizes_layouts_orders(models, n):
    A_all, mods = models
    rng = np.random.default_rng(n)
    A = A_all[rng.integers(len(A_all), size=2 * n + 2)] * np.float32(rng.uniform(0.5, 2))
    A[0, :] = 1e30
    A[-1, ::3] = -1e30
    base = A[:n]
    f_rows = np.zeros((2 * n, 40), np.float32, order="F")
    f_rows[::2] = base
    c_rows = np.zeros((2 * n, 40), np.float32)
    c_rows[::2] = base
    wide_f = np.asfortranarray(np.hstack([A[:n] * 0, base]))
    raw = np.zeros(base.nbytes + 1, np.uint8)
    c_unaligned = raw[1:].view(np.float32).reshape(base.shape)  # rows copied with unaligned loads
    c_unaligned[...] = base
    layouts = {
        "C": np.ascontiguousarray(base),
        "F": np.asfortranarray(base),
        "F rows strided": f_rows[::2],                         # column-major, row stride 2
        "F cols offset": wide_f[:, 40:],                       # column-major view into a wider array
        "C rows strided": c_rows[::2],
        "C cols strided": np.ascontiguousarray(np.repeat(base, 2, axis=1))[:, ::2],
        "C unaligned": c_unaligned,
    }
    for amm in mods.values():
        with tenfold.use_isa("scalar"):
            ref = amm.matmul(layouts["C"])
            ref_codes = amm.encode(layouts["C"])
        for name, X in layouts.items():
            assert np.array_equal(X, layouts["C"]), name
            for isa_name in tenfold.supported_isas():
                with tenfold.use_isa(isa_name):
                    got_f = amm.matmul(X)
                    got_c = amm.matmul(X, order="C")
                    assert got_f.flags.f_contiguous and got_c.flags.c_contiguous
                    assert np.array_equal(got_f, ref), (name, isa_name, amm.ncodebooks)
                    assert np.array_equal(got_c, ref), (name, isa_name, amm.ncodebooks)
                    assert np.array_equal(amm.encode(X), ref_codes), (name, isa_name)
                    assert np.array_equal(amm.matmul_codes(ref_codes), ref), (name, isa_name)


def test_threads_split_rows_identically(models):
    A_all, mods = models
    # >= 16,384 rows per thread (below that one thread is faster): 50,001 rows give 2 and 3 threads
    A = np.asfortranarray(np.tile(A_all, (42, 1))[:50_001])
    for amm in mods.values():
        ref = amm.set_params(n_threads=1).matmul(A)
        for t in (2, 3):
            assert np.array_equal(amm.set_params(n_threads=t).matmul(A), ref)
            assert np.array_equal(amm.set_params(n_threads=t).matmul(A, order="C"), ref)
        amm.set_params(n_threads=None)


def test_in_place_parameter_edits_are_seen(models):
    # The C++ plan caches tables derived from the split arrays; edits in place (as
    # torch's load_state_dict does on shared buffers) must not leave it stale.
    A_all, mods = models
    amm = mods[(16, "average")]
    X = A_all[:200]
    before = amm.matmul(X)
    saved = amm.thresholds_.copy(), amm.luts_.copy()
    try:
        amm.thresholds_[:, 0, 0] = -128          # level 0: every row goes right
        amm.luts_[:] = 255 - amm.luts_
        after = amm.matmul(X)
        assert not np.array_equal(after, before)
        with tenfold.use_isa("scalar"):
            assert np.array_equal(amm.matmul(X), after)
        assert (unpack_maddness_codes(amm.encode(X))[:, 0] >= 8).mean() > 0.95
    finally:
        amm.thresholds_[:], amm.luts_[:] = saved
    assert np.array_equal(amm.matmul(X), before)


def test_bad_split_scales_rejected(models):
    A_all, mods = models
    amm = mods[(2, "average")]
    scales = amm.scales_.copy()
    try:
        for bad in (0.0, -1.0, np.inf, np.nan):
            amm.scales_[0, 1] = bad
            with pytest.raises(ValueError, match="scales must be positive"):
                amm.matmul(A_all[:10])
    finally:
        amm.scales_[:] = scales
    amm.matmul(A_all[:10])


def test_core_matmul_checks_shapes(models):
    A_all, mods = models
    amm = mods[(16, "average")]
    plan = _core.maddness_Plan()
    args = (amm.split_dims_, amm.offsets_, amm.scales_, amm.thresholds_, amm.luts_, amm.mul_, amm.add_, amm.log2g_, 1)
    res, ok = _core.maddness_matmul(plan, A_all[:50], *args)
    assert ok and res.shape == (amm.n_outputs_, 50)
    with pytest.raises(ValueError, match="out buffer"):
        _core.maddness_matmul(plan, A_all[:50], *args, np.empty((3, 3), np.float32), False)
    with pytest.raises(ValueError, match="split dimension"):
        _core.maddness_matmul(plan, A_all[:50, :10], *args)
    with pytest.raises(ValueError, match="ncodebooks"):
        other = mods[(32, "average")]
        _core.maddness_matmul(plan, A_all[:50], amm.split_dims_, amm.offsets_, amm.scales_, amm.thresholds_,
                              other.luts_, other.mul_, other.add_, other.log2g_, 1)


def test_copy_and_pickle_after_use(models):
    # Dask pickles models to ship them; the cached C++ tables must not get in the way.
    import copy
    import pickle

    A_all, mods = models
    amm = mods[(16, "average")]
    ref = amm.matmul(A_all[:100])
    amm.encode(A_all[:10])
    for clone in (copy.deepcopy(amm), pickle.loads(pickle.dumps(amm))):
        assert np.array_equal(clone.matmul(A_all[:100]), ref)


def test_nan_and_inf_in_any_split_value_rejected(models, isa):
    # The AVX2 encoder checks values as its trees load them (no separate pass): every split
    # column, first/last rows of a 32-row block and of the partial last block, both layouts.
    A, mods = models
    amm = mods[(6, "average")]
    n = 301
    X = np.ascontiguousarray(A[:n])
    assert np.all(np.isfinite(amm.matmul(X)))
    for dim in np.unique(amm.split_dims_):
        for row in (0, 31, 32, 287, 288, n - 1):
            for value in (np.nan, np.inf, -np.inf):
                bad = X.copy()
                bad[row, dim] = value
                for layout in (bad, np.asfortranarray(bad)):
                    with pytest.raises(ValueError, match="NaN or infinite"):
                        amm.matmul(layout)
    ok = X.copy()
    unused = np.setdiff1d(np.arange(X.shape[1]), amm.split_dims_)
    ok[:, unused] = np.nan  # columns no tree reads do not enter the result
    np.testing.assert_array_equal(amm.matmul(ok), amm.matmul(X))


@pytest.mark.parametrize("n", [20_480, 20_481])  # n * 13 * 4 bytes >= 1 MiB
def test_streaming_store_path_equals_scalar(models, n):
    # Column-major results of >= 1 MB are written with streaming stores where a column's run
    # starts on a cache line (every column when n % 16 == 0 and the buffer is 64-byte aligned,
    # some of them otherwise), row-major ones by whole blocks of rows (M = 13 <= 128): the
    # values must not change, in fresh and caller-given buffers,
    # aligned and not, and for Fortran-order A read in chunks of several thousand rows.
    A_all, mods = models
    amm = mods[(16, "average")]  # M = 13
    rng = np.random.default_rng(n)
    A = np.asfortranarray(A_all[rng.integers(len(A_all), size=n)])
    with tenfold.use_isa("scalar"):
        ref = amm.matmul(np.ascontiguousarray(A))
        ref_codes = amm.encode(np.ascontiguousarray(A))
    M = amm.n_outputs_
    raw = np.empty(M * n + 32, np.float32)
    lead = (-raw.ctypes.data // 4) % 16  # first float on a 64-byte boundary
    for isa_name in tenfold.supported_isas():
        with tenfold.use_isa(isa_name):
            assert np.array_equal(amm.matmul(A), ref), isa_name
            assert np.array_equal(amm.encode(A), ref_codes), isa_name  # the same long chunks
            assert np.array_equal(amm.matmul(A[::-1][::-1]), ref), isa_name
            # Row-major results stream whole 64-row blocks (rows contiguous, block on a line).
            assert np.array_equal(amm.matmul(A, order="C"), ref), isa_name
            assert np.array_equal(amm.matmul(np.ascontiguousarray(A), order="C"), ref), isa_name
            for shift in (0, 1, 8):  # aligned, 4 bytes off, 32 bytes off
                out = raw[lead + shift:lead + shift + M * n].reshape(M, n).T
                out[:] = np.nan
                assert amm.matmul(A, out=out) is out
                assert np.array_equal(out, ref), (isa_name, shift)
                out_c = raw[lead + shift:lead + shift + M * n].reshape(n, M)
                out_c[:] = np.nan
                assert amm.matmul(A, out=out_c, order="C") is out_c
                assert np.array_equal(out_c, ref), (isa_name, shift)


def test_topk_with_the_group_bound_equals_a_stable_sort():
    # k <= M / 4: the AVX2 top-k only lists the columns at or above a bound on each row's k-th
    # largest (the k-th largest of 2k group maxima). Coarse tables and repeated bias values
    # make ties at and around the bound, which must still resolve to the lower column.
    rng = np.random.default_rng(5)
    A = rng.normal(size=(700, 24)).astype(np.float32)
    M = 40
    B = np.repeat(rng.normal(size=(24, 5)), 8, axis=1).astype(np.float32)  # 8 equal columns each
    for C, bias in ((2, np.tile(np.float32([0, 1, 1, 0]), 10)), (8, rng.normal(size=M))):
        amm = tenfold.Maddness(ncodebooks=C, aggregate="exact").fit(A, B, bias=bias)
        full = amm.matmul(A)
        order = np.argsort(-full, axis=1, kind="stable")
        for k in (2, 3, 7, 10, 11):
            for isa_name in tenfold.supported_isas():
                with tenfold.use_isa(isa_name):
                    vals, idx = amm.topk(A[1:], k)  # 699 rows: a partial 64-row buffer
                assert np.array_equal(idx, order[1:, :k]), (C, k, isa_name)
                assert np.array_equal(vals, np.take_along_axis(full[1:], idx, axis=1)), (C, k, isa_name)
