"""Every SIMD path of the Bolt kernels against the scalar reference, bit for bit."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tenfold
from tenfold import _core

SIMD = [i for i in tenfold.supported_isas() if i != "scalar"]


def _blocked(codes):
    n, ncols = codes.shape
    buf = np.zeros(((n + 31) // 32) * 32 * ncols, dtype=np.uint8)
    _core.bolt_pack_blocked(np.ascontiguousarray(codes), buf, 0)
    return buf


def _reference_sums(codes, luts):
    """Plain numpy: sum over codebooks of the table entry each code selects."""
    idx = np.empty((codes.shape[0], 2 * codes.shape[1]), dtype=np.intp)
    idx[:, 0::2], idx[:, 1::2] = codes & 15, codes >> 4
    C = idx.shape[1]
    return np.stack([luts[q][np.arange(C), idx].sum(axis=1) for q in range(luts.shape[0])])


@pytest.mark.parametrize("n", [1, 5, 31, 32, 33, 63, 100, 1000])
@pytest.mark.parametrize("ncols", [1, 3, 8, 9, 32])
def test_scan_matches_reference_all_paths(n, ncols):
    rng = np.random.default_rng(n * 100 + ncols)
    codes = rng.integers(0, 256, size=(n, ncols), dtype=np.uint8)
    luts = rng.integers(0, 128, size=(7, 2 * ncols, 16), dtype=np.uint8)
    expected = _reference_sums(codes, luts)
    blocked = _blocked(codes)
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name):
            got = _core.bolt_scan(blocked, n, ncols, luts, 1)[:, :n]
        np.testing.assert_array_equal(got, expected, err_msg=name)


def test_scan_exact_at_largest_codebook_count():
    # C = 256 tables of 127 sum to 32512: neither the byte pair sums nor uint16 may wrap.
    n, ncols = 70, 128
    codes = np.zeros((n, ncols), dtype=np.uint8)
    luts = np.full((2, 256, 16), 127, dtype=np.uint8)
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name):
            got = _core.bolt_scan(_blocked(codes), n, ncols, luts, 1)[:, :n]
        assert (got == 32512).all(), name


@given(n=st.integers(1, 300), ncols=st.integers(1, 20), nq=st.integers(1, 9), k=st.integers(1, 40),
       seed=st.integers(0, 2**32 - 1), levels=st.sampled_from([2, 16, 128]))
def test_search_paths_agree_with_sorted_reference(n, ncols, nq, k, seed, levels):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(n, ncols), dtype=np.uint8)
    # few levels force many ties: the tie rule (smaller id first) must hold on every path
    luts = rng.integers(0, levels, size=(nq, 2 * ncols, 16), dtype=np.uint8)
    sums = _reference_sums(codes, luts)
    k_run = min(k, n)
    order = np.lexsort((np.broadcast_to(np.arange(n), sums.shape), sums), axis=1)[:, :k_run]
    blocked = _blocked(codes)
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name):
            dist, ids = _core.bolt_search(blocked, n, ncols, luts, k_run, 1)
        np.testing.assert_array_equal(ids, order, err_msg=name)
        np.testing.assert_array_equal(dist, np.take_along_axis(sums, order, axis=1), err_msg=name)


@pytest.mark.parametrize("n,k", [(9000, 10), (9000, 40), (9000, 70), (9000, 300), (130_000, 200), (700, 699)])
@pytest.mark.parametrize("levels", [3, 128])
def test_search_selection_strategies_agree_with_sorted_reference(n, k, levels):
    # every way search picks its k best: the TopK scan (k < 32), the TopK with a counting
    # threshold (k >= 32, n > 512 k), counting selection over all sums (n <= 512 k); 130,000
    # rows exceed the counting selection's limit. Few levels: ties decided by the smaller row.
    rng = np.random.default_rng(n + k + levels)
    ncols, nq = 5, 9
    codes = rng.integers(0, 256, size=(n, ncols), dtype=np.uint8)
    luts = rng.integers(0, levels, size=(nq, 2 * ncols, 16), dtype=np.uint8)
    luts[3] = 0  # every sum equal
    blocked = _blocked(codes)
    with tenfold.use_isa("scalar"):
        sums = _core.bolt_scan(blocked, n, ncols, luts, 1)[:, :n].astype(np.int64)
    order = np.lexsort((np.broadcast_to(np.arange(n), sums.shape), sums), axis=1)[:, :k]
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name):
            for threads in (1, 2):
                dist, ids = _core.bolt_search(blocked, n, ncols, luts, k, threads)
                np.testing.assert_array_equal(ids, order, err_msg=f"{name} {threads}")
                np.testing.assert_array_equal(dist, np.take_along_axis(sums, order, axis=1), err_msg=name)
                _, loose = _core.bolt_search(blocked, n, ncols, luts, k, threads, False)
                np.testing.assert_array_equal(np.sort(loose, axis=1), np.sort(order, axis=1), err_msg=name)


def test_sampled_selection_falls_back_when_the_sample_misleads():
    # The counting selection first guesses a limit from every 9th sum (k = 300) and collects the
    # sums at or below it. Here every sampled row but the first 52 has a large sum, and so does
    # every other row: the guess lets 52 rows through, fewer than k, and the full count must
    # take over. Rows 9 * i for i >= 52 and all others: sum 100; the 52 early sampled rows: 0.
    n, ncols, k = 9000, 5, 300
    codes = np.full((n, ncols), 0xFF, dtype=np.uint8)
    codes[np.arange(52) * 9] = 0
    codes[5000:5400] = 0x11  # code 1 in every codebook: sum 20, the next 400 best
    luts = np.zeros((2, 2 * ncols, 16), dtype=np.uint8)
    luts[:, :, 15], luts[:, :, 1] = 10, 2
    sums = _reference_sums(codes, luts).astype(np.int64)
    order = np.lexsort((np.broadcast_to(np.arange(n), sums.shape), sums), axis=1)[:, :k]
    assert sums[0, order[0, -1]] == 20  # the k-th best lies beyond the sampled limit
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name):
            dist, ids = _core.bolt_search(_blocked(codes), n, ncols, luts, k, 1)
            _, loose = _core.bolt_search(_blocked(codes), n, ncols, luts, k, 1, False)
        np.testing.assert_array_equal(ids, order, err_msg=name)
        np.testing.assert_array_equal(np.sort(loose, axis=1), np.sort(order, axis=1), err_msg=name)


@pytest.mark.parametrize("k", [5, 40, 300])
def test_fused_tables_and_search_equal_the_two_calls(k):
    # bolt_search_queries builds the tables inside the search (per thread when the queries are
    # split: 30,000 rows x 80 queries is enough work for that); same bits as lookup_tables +
    # bolt_search, for the TopK scan, the counting TopK and the counting selection
    rng = np.random.default_rng(k)
    n, d = 30_000, 24
    X = rng.normal(size=(n, d)).astype(np.float32)
    enc = tenfold.BoltEncoder(ncodebooks=8, n_iter=2).fit(X[:2000])
    blocked = _blocked(enc.encode(X))
    Q = rng.normal(size=(80, d)).astype(np.float32)
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name):
            luts, scale, offset = enc.lookup_tables(Q)
            want = _core.bolt_search(blocked, n, 4, luts, k, 1)
            for threads in (1, 2):
                got = _core.bolt_search_queries(Q, enc._lut_centroids, enc.bounds_, False, blocked, n, k, threads)
                for g, w in zip(got, want + (scale, offset)):
                    np.testing.assert_array_equal(g, w, err_msg=f"{name} {threads}")


def test_scan_and_search_span_several_code_tiles():
    # Codes are scanned tile by tile (256 KiB: 64 blocks of 32 rows at 128 byte columns); top-k
    # heaps and sums must carry across tiles, including a partial last tile.
    rng = np.random.default_rng(21)
    n, ncols, nq, k = 64 * 32 * 3 + 45, 128, 5, 7
    codes = rng.integers(0, 256, size=(n, ncols), dtype=np.uint8)
    luts = rng.integers(0, 100, size=(nq, 2 * ncols, 16), dtype=np.uint8)
    sums = _reference_sums(codes, luts)
    order = np.lexsort((np.broadcast_to(np.arange(n), sums.shape), sums), axis=1)[:, :k]
    blocked = _blocked(codes)
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name):
            np.testing.assert_array_equal(_core.bolt_scan(blocked, n, ncols, luts, 1)[:, :n], sums, err_msg=name)
            dist, ids = _core.bolt_search(blocked, n, ncols, luts, k, 1)
        np.testing.assert_array_equal(ids, order, err_msg=name)


def test_search_threads_agree():
    rng = np.random.default_rng(3)
    n, ncols = 300_000, 4
    codes = rng.integers(0, 256, size=(n, ncols), dtype=np.uint8)
    luts = rng.integers(0, 8, size=(5, 8, 16), dtype=np.uint8)
    with pytest.raises(ValueError, match="<= 127"):
        _core.bolt_search(_blocked(codes[:10]), 10, ncols, luts + 125, 3, 1)
    blocked = _blocked(codes)
    one = _core.bolt_search(blocked, n, ncols, luts, 25, 1)
    four = _core.bolt_search(blocked, n, ncols, luts, 25, 4)
    np.testing.assert_array_equal(one[0], four[0])
    np.testing.assert_array_equal(one[1], four[1])


@pytest.mark.parametrize("n", [1, 3, 4, 5, 37])
@pytest.mark.parametrize("ncodebooks,d", [(2, 2), (4, 13), (16, 128), (8, 31), (6, 50)])
def test_encode_paths_agree(n, ncodebooks, d):
    rng = np.random.default_rng(d * n)
    X = rng.normal(size=(max(n, 40), d)).astype(np.float32)
    enc = tenfold.BoltEncoder(ncodebooks=ncodebooks).fit(X)
    X = X[:n]
    with tenfold.use_isa("scalar"):
        expected = enc.encode(X)
    # brute-force nearest centroid per subspace
    b = enc.bounds_
    for c in range(ncodebooks):
        diff = ((X[:, None, b[c]:b[c + 1]] - enc.centroids_[None, :, b[c]:b[c + 1]]) ** 2).sum(-1)
        got = (expected[:, c // 2] >> (4 * (c % 2))) & 15
        chosen = diff[np.arange(n), got]
        assert np.all(chosen <= diff.min(axis=1) * (1 + 1e-5) + 1e-5)
    for name in SIMD:
        with tenfold.use_isa(name):
            np.testing.assert_array_equal(enc.encode(X), expected, err_msg=name)


def test_encode_non_contiguous_and_unaligned_input(isa):
    rng = np.random.default_rng(1)
    base = rng.normal(size=(101, 64)).astype(np.float32)
    enc = tenfold.BoltEncoder(ncodebooks=8).fit(base)
    strided = np.asfortranarray(base)[::2]
    raw = np.zeros(base.size * 4 + 4, dtype=np.uint8)
    unaligned = raw[1:1 + base.size * 4].view(np.float32).reshape(base.shape)  # off 16-byte alignment
    unaligned[:] = base
    expected = enc.encode(np.ascontiguousarray(base))
    np.testing.assert_array_equal(enc.encode(strided), expected[::2])
    np.testing.assert_array_equal(enc.encode(unaligned), expected)


@pytest.mark.parametrize("row,col", [(3, 0), (12, 63), (16, 5)])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_encode_detects_nonfinite_on_every_path(row, col, value, isa):
    # 17 rows: rows 0-15 take the 8-row SIMD path, row 16 the single-row tail
    X = np.random.default_rng(0).normal(size=(17, 64)).astype(np.float32)
    enc = tenfold.BoltEncoder(ncodebooks=8).fit(X)
    X[row, col] = value
    with pytest.raises(ValueError, match=f"NaN or infinite values \\(first in row {row}\\)"):
        enc.encode(X)


@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_query_tables_match_numpy(metric):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(300, 37)).astype(np.float32)
    enc = tenfold.BoltEncoder(ncodebooks=6, metric=metric).fit(X)
    Q = X[:13]
    b, cent = enc.bounds_, enc.centroids_.astype(np.float64)
    for c in range(6):
        q, k = Q[:, None, b[c]:b[c + 1]].astype(np.float64), cent[None, :, b[c]:b[c + 1]]
        want = ((q - k) ** 2).sum(-1) if metric == "l2" else -(q * k).sum(-1)
        got = _core.bolt_query_tables(Q, enc.centroids_, enc.bounds_, metric == "dot", 2)[:, c]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
    luts, scale, offset = enc.lookup_tables(Q)
    assert luts.max() <= _core.BOLT_MAX_LUT_ENTRY and (luts.min(axis=2) == 0).all()


def _numpy_lookup_tables(enc, Q):
    """The numpy quantization BoltEncoder.lookup_tables used before it moved to C++: the C++
    tables must keep its exact bits (saved results and tests depend on them)."""
    tables = _core.bolt_query_tables(np.ascontiguousarray(Q), enc.centroids_, enc.bounds_, enc.inner_product, 1)
    low = tables.min(axis=2)
    shifted = tables - low[:, :, None]
    span = shifted.max(axis=(1, 2))
    s = np.where(span > 0, 127 / np.where(span > 0, span, 1.0), 1.0)
    luts = np.rint(shifted * s[:, None, None]).clip(0, 127).astype(np.uint8)
    return luts, s, low.sum(axis=1)


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("d,C", [(37, 6), (64, 16), (97, 32), (300, 150), (257, 256), (16, 2)])
def test_lookup_tables_equal_numpy_bits_on_every_path(metric, d, C):
    # odd widths, C above numpy's 128-term pairwise block (offset sums), constant columns
    # (a table whose entries are all equal), an all-zero query (span 0 when the metric is dot)
    rng = np.random.default_rng(d * 1000 + C)
    X = rng.normal(size=(400, d)).astype(np.float32) * rng.uniform(0.01, 100, size=d).astype(np.float32)
    X[:, 3] = 2.5
    enc = tenfold.BoltEncoder(ncodebooks=C, metric=metric, n_iter=2).fit(X)
    Q = rng.normal(size=(23, d)).astype(np.float32) * 7
    Q[4] = 0
    want = _numpy_lookup_tables(enc, Q)
    raw = np.zeros(23 * d * 2 * 4 + 1, dtype=np.uint8)  # float rows at an odd address, every other row
    strided = raw[1:1 + 23 * 2 * d * 4].view(np.float32).reshape(46, d)[::2]
    strided[:] = Q
    assert not strided.flags.c_contiguous and strided.ctypes.data % 4
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name):
            for q_in, threads in ((Q, 1), (strided, 2), (Q[5:6], 1)):
                got = enc.lookup_tables(q_in, threads)
                rows = slice(5, 6) if len(q_in) == 1 else slice(None)
                for g, w, what in zip(got, want, ("luts", "scale", "offset")):
                    np.testing.assert_array_equal(g, w[rows], err_msg=f"{name} {what}")


def test_encode_refuses_huge_values_on_every_path(isa):
    # |x| >= 2**60 would overflow the float32 scores; such rows are refused, never mis-coded
    X = np.random.default_rng(1).normal(size=(17, 64)).astype(np.float32)
    enc = tenfold.BoltEncoder(ncodebooks=8).fit(X)
    for row in (2, 16):
        Y = X.copy()
        Y[row, 7] = -3e18
        with pytest.raises(ValueError, match=f"too large.*row {row}"):
            enc.encode(Y)
    Y = X.copy()
    Y[5, 1] = 1e17  # below the limit: encoded
    assert enc.encode(Y).shape == (17, 4)


def test_centroid_sums_match_numpy_for_any_thread_count():
    # k-means update step: rows summed per code in every subspace (uneven widths, several
    # 8192-row chunks); bits identical for any number of threads
    rng = np.random.default_rng(5)
    n, d, C = 2 * 8192 + 37, 13, 4
    X = rng.normal(size=(n, d)).astype(np.float32)
    codes = rng.integers(0, 256, size=(n, C // 2), dtype=np.uint8)
    bounds = np.array([0, 3, 6, 9, 13], dtype=np.int32)
    sums, counts = _core.bolt_centroid_sums(X, codes, bounds, 1)
    for c in range(C):
        own = (codes[:, c // 2] >> (4 * (c % 2))) & 15
        np.testing.assert_array_equal(counts[c], np.bincount(own, minlength=16))
        for k in range(16):
            want = X[own == k, bounds[c]:bounds[c + 1]].astype(np.float64).sum(axis=0)
            np.testing.assert_allclose(sums[k, bounds[c]:bounds[c + 1]], want, rtol=1e-12, atol=1e-9)
    for threads in (2, 3):
        again = _core.bolt_centroid_sums(X, codes, bounds, threads)
        np.testing.assert_array_equal(again[0], sums)
        np.testing.assert_array_equal(again[1], counts)
    with pytest.raises(ValueError, match="codes must have shape"):
        _core.bolt_centroid_sums(X, codes[:-1], bounds, 1)


def test_kmeans_fit_is_deterministic_and_lloyd_lowers_error(monkeypatch):
    X = np.random.default_rng(8).normal(size=(3000, 24)).astype(np.float32)

    def fit(n_iter, threads):
        monkeypatch.setenv("TENFOLD_NUM_THREADS", str(threads))
        enc = tenfold.BoltEncoder(ncodebooks=6, n_iter=n_iter, random_state=3).fit(X)
        return enc, float(((enc.decode(enc.encode(X)) - X) ** 2).sum(axis=1).mean())

    (one, err1), (full, err16), (full2, _) = fit(1, 1), fit(16, 1), fit(16, 2)
    np.testing.assert_array_equal(full.centroids_, full2.centroids_)
    assert err16 < 0.9 * err1


def test_search_stops_taking_rows_once_k_zero_distances_are_held():
    # all-zero tables: every row ties at 0; the first k ids win and the heap closes (threshold 0)
    codes = np.random.default_rng(2).integers(0, 256, size=(200, 4), dtype=np.uint8)
    luts = np.zeros((5, 8, 16), dtype=np.uint8)
    luts[1] = 1  # a query whose heap never closes
    for name in tenfold.supported_isas():
        with tenfold.use_isa(name):
            dist, ids = _core.bolt_search(_blocked(codes), 200, 4, luts, 3, 1)
        np.testing.assert_array_equal(ids, np.tile([0, 1, 2], (5, 1)), err_msg=name)
        np.testing.assert_array_equal(dist[1], [8, 8, 8], err_msg=name)
        assert (dist[[0, 2, 3, 4]] == 0).all(), name


@pytest.mark.parametrize("d", [1, 7, 8, 13, 33, 100, 385])
def test_rerank_paths_agree_bit_for_bit_on_odd_and_unaligned_input(d):
    rng = np.random.default_rng(d)
    V = rng.normal(size=(40, d)).astype(np.float32)
    raw = np.zeros(4 * 6 * d + 1, dtype=np.uint8)
    Q = np.frombuffer(raw.data, dtype=np.float32, count=6 * d, offset=1).reshape(6, d)  # not 4-byte aligned
    Q[...] = rng.normal(size=(6, d))
    assert Q.ctypes.data % 4 != 0
    cand = np.stack([rng.permutation(40)[:17] for _ in range(6)]).astype(np.int64)
    V16 = V.astype(np.float16).view(np.uint16)
    for dot in (False, True):
        results = {}
        for name in tenfold.supported_isas():
            with tenfold.use_isa(name):
                results[name] = (_core.bolt_rerank_f32(V, 40, Q, cand, 9, dot, 1),
                                 _core.bolt_rerank_f16(V16, 40, Q, cand, 9, dot, 2))
        for name, got in results.items():
            for (dist, rows), (ref_dist, ref_rows) in zip(got, results["scalar"]):
                np.testing.assert_array_equal(rows, ref_rows, err_msg=name)
                assert dist.tobytes() == ref_dist.tobytes(), name


def test_search_with_non_contiguous_queries_and_rerank_matches_contiguous(isa):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(700, 19)).astype(np.float32)
    index = tenfold.BoltIndex(tenfold.BoltEncoder(ncodebooks=4).fit(X), refine="float16")
    index.add(X)
    wide = rng.normal(size=(9, 38)).astype(np.float32)
    Q = wide[:, ::2]  # strided view
    for a, b in zip(index.search(Q, 5, rerank=60), index.search(np.ascontiguousarray(Q), 5, rerank=60)):
        np.testing.assert_array_equal(a, b)
