"""The C++ tree learner and ridge sums against the numpy reference (tests/maddness_reference.py):
same splits and thresholds, or the same SSE where the two differ only by rounding on a tie; the
same bits on every ISA and thread count; bad arguments refused."""

import numpy as np
import pytest

import tenfold
from tenfold import _core
from tenfold.maddness.ridge import _LAM_GRID, _cv_lam, _one_hot, _onehot_products
from tenfold.maddness.trees import _panels, _quant_params, _quantize, _TreeData, _learn_tree

import maddness_reference as ref
from conftest import structured_data


def _split_sse(q, node, nnodes, thr, R):
    """SSE of R after splitting every node k at q > thr[k] (direct, for comparing near-ties)."""
    child = 2 * node + (q > thr[node])
    total = 0.0
    for c in np.unique(child):
        Rc = R[child == c]
        total += float(((Rc - Rc.mean(0)) ** 2).sum())
    return total


def _nodes(n, nnodes, rng, empty=()):
    node = rng.integers(0, nnodes, size=n)
    for k in empty:
        node[node == k] = (k + 1) % nnodes
    perm = np.argsort(node, kind="stable").astype(np.int32)
    starts = np.searchsorted(node[perm], np.arange(nnodes + 1)).astype(np.int64)
    return node, perm, starts


@pytest.mark.parametrize("m", [1, 7, 8, 13])
def test_split_scan_matches_reference(m):
    rng = np.random.default_rng(m)
    n, nnodes = 700, 4
    # Few distinct byte values (ties between thresholds), a constant column, an empty node.
    QT = np.stack([rng.integers(-128, 128, n), rng.integers(-3, 3, n), np.full(n, 5),
                   rng.integers(0, 40, n) * 6 - 120]).astype(np.int8)
    node, perm, starts = _nodes(n, nnodes, rng, empty=(2,))
    R = rng.normal(size=(n, m)) + (QT[0][:, None] > 10) * rng.normal(size=m)
    R2 = np.einsum("ij,ij->i", R, R)
    loss, thr = _core.maddness_split_scan(QT, np.arange(4, dtype=np.int64), perm, starts, _panels(R), R2, 1)
    for c in range(4):
        ref_loss, ref_thr = ref.best_splits(QT[c], node, nnodes, R, R2)
        assert loss[c] == pytest.approx(ref_loss, rel=1e-9, abs=1e-9)
        if not np.array_equal(thr[c], ref_thr):  # only a tie may pick another threshold
            assert _split_sse(QT[c], node, nnodes, thr[c], R) == pytest.approx(ref_loss, rel=1e-9)
    assert thr[2, 2] == 127 and (thr[2] == 127).all()  # a constant column never splits; nor an empty node
    assert (thr[:, 2] == 127).all()


def test_partition_is_stable_and_matches_the_split():
    rng = np.random.default_rng(1)
    n = 500
    node, perm, starts = _nodes(n, 4, rng)
    q = rng.integers(-128, 128, n).astype(np.int8)
    thr = np.array([0, -50, 127, 60], dtype=np.int8)
    leaf = np.zeros(n, dtype=np.uint8)
    new_starts = _core.maddness_partition(q, thr, perm, starts, leaf)
    expect = 2 * node + (q > thr[node])
    assert np.array_equal(leaf, expect)
    assert np.array_equal(perm, np.argsort(expect, kind="stable"))
    assert np.array_equal(new_starts, np.searchsorted(np.sort(expect), np.arange(9)))


@pytest.mark.parametrize("objective", ["output", "input"])
def test_learn_tree_matches_reference(objective):
    rng = np.random.default_rng(2)
    A = structured_data(900, 13, rng, rank=4, clusters=6, noise=0.3)
    B = rng.normal(size=(13, 5))
    A64 = A.astype(np.float64)
    Ac = A64 - A64.mean(0)
    output = objective == "output"
    R = np.ascontiguousarray(A64 @ B if output else A64)
    offset, scale = _quant_params(A)
    Q = _quantize(A, offset, scale)
    k = 6 if output else 3
    data = _TreeData(np.ascontiguousarray(Q.T), A if output else None, A64.mean(0) if output else None,
                     np.einsum("ij,ij->j", Ac, Ac) if output else None, 1)
    dims, thr, leaf, leaf_R, leaf_n, leaf_A = _learn_tree(data, _panels(R), np.einsum("ij,ij->i", R, R),
                                                          Ac.T @ R if output else None, k)
    ref_dims, ref_thr, ref_leaf = ref.learn_tree(Q, R, Ac if output else None, k, output)
    assert np.array_equal(dims, ref_dims) and np.array_equal(thr, ref_thr)
    assert np.array_equal(leaf, ref_leaf)
    onehot = (ref_leaf[:, None] == np.arange(16)).astype(np.float64)
    np.testing.assert_allclose(leaf_R[:, :R.shape[1]], onehot.T @ R, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(leaf_n, onehot.sum(0))
    if output:
        np.testing.assert_allclose(leaf_A, onehot.T @ Ac, rtol=1e-9, atol=1e-9)


def test_fit_matches_reference_learner_tree_by_tree():
    # The greedy pass of fit replayed with the numpy learner: same trees on the same data.
    rng = np.random.default_rng(3)
    A = structured_data(1500, 16, rng, rank=5, clusters=8, noise=0.3)
    B = rng.normal(size=(16, 6)).astype(np.float32)
    amm = tenfold.Maddness(ncodebooks=6, lam=1.0, shrinkage=0.5).fit(A, B)
    A64 = A.astype(np.float64)
    Ac = A64 - A64.mean(0)
    R = A64 @ B.astype(np.float64)
    offset, scale = _quant_params(A)
    Q = _quantize(A, offset, scale)
    for c in range(6):
        dims, thr, leaf = ref.learn_tree(Q, R, Ac, 8, True)
        assert np.array_equal(dims, amm.split_dims_[c]) and np.array_equal(thr, amm.thresholds_[c]), c
        R = R - 0.5 * ref.leaf_means(leaf, R)[leaf]


def _kernel_outputs():
    rng = np.random.default_rng(4)
    n, p = 5000, 37  # odd widths; > one 4096-row chunk
    X32 = rng.normal(size=(n, p)).astype(np.float32)
    X64 = rng.normal(size=(n, p))
    node, perm, starts = _nodes(n, 8, rng)
    ranges = np.stack([starts[:-1], starts[1:]], axis=1)
    QT = rng.integers(-128, 128, size=(5, n)).astype(np.int8)
    R = rng.normal(size=(n, 19))
    codes = rng.integers(0, 16, size=(n, 6)).astype(np.uint8)
    out = []
    for threads in (1, 2):
        out += list(_core.maddness_group_sums(X32, perm, ranges, True, threads))
        out += list(_core.maddness_group_sums(X64, perm, ranges, False, threads))
        out += list(_core.maddness_panel_sums(_panels(R), perm, ranges, True, threads))
        out += list(_core.maddness_split_scan(QT, np.array([4, 0, 2], dtype=np.int64), perm, starts, _panels(R),
                                              np.einsum("ij,ij->i", R, R), threads))
        out.append(_core.maddness_onehot_sums(codes, X32, threads))
        out.append(_core.maddness_onehot_sums(codes[::2].copy(), X64[::2].copy(), threads))
        out += list(_core.maddness_split_scan(QT, np.array([1, 3], dtype=np.int64), perm, starts, _panels(R),
                                              np.einsum("ij,ij->i", R, R), threads, True))
        out.append(_core.maddness_onehot_sums_grouped(codes, X32, codes[:, 1] % 3, 3, threads))
    out.append(_core.maddness_onehot_gram(codes))
    RP = _panels(R)
    out += list(_core.maddness_shrink_panels(RP, codes[:, 0].copy(), rng.normal(size=(16, 24)), 0.5))
    out.append(RP)
    out.append(_core.maddness_column_order_stats(X32, np.array([0, 3, 4, 2500, 4998, 4999], np.int64), 1))
    out.append(_core.maddness_quantize_transposed(X32, rng.normal(size=p).astype(np.float32),
                                                  rng.uniform(1, 60, size=p).astype(np.float32), 2))
    return out, (X32, X64, perm, ranges, codes)


def test_kernels_same_bits_on_every_isa_and_thread_count():
    outs = {}
    for isa in tenfold.supported_isas():
        with tenfold.use_isa(isa):
            outs[isa], _ = _kernel_outputs()
    first = outs["scalar"]
    half = (len(first) - 6) // 2
    for isa, out in outs.items():
        for a, b in zip(first, out):
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), isa
    for a, b in zip(first[:half], first[half:2 * half]):  # 1 thread against 2
        assert a.tobytes() == b.tobytes()
    # and the values are right
    X32, X64, perm, ranges, codes = _kernel_outputs()[1]
    s, sq = first[0], first[1]
    for g, (b, e) in enumerate(ranges):
        rows = X32[perm[b:e]].astype(np.float64)
        np.testing.assert_allclose(s[g], rows.sum(0), rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(sq[g], (rows ** 2).sum(0), rtol=1e-12, atol=1e-9)
    G = _one_hot(codes).astype(np.float64)
    np.testing.assert_allclose(first[8], G.T @ X32.astype(np.float64), rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(first[-6], G.T @ G)


def test_onehot_products_and_cv_lam_match_dense():
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 16, size=(400, 5)).astype(np.uint8)
    A = rng.normal(size=(400, 9))
    B = rng.normal(size=(9, 4))
    G = _one_hot(codes).astype(np.float64)
    GtG, GtA = _onehot_products(codes, A, 1)
    np.testing.assert_array_equal(GtG, G.T @ G)
    np.testing.assert_allclose(GtA, G.T @ A, rtol=1e-12, atol=1e-12)
    # The expanded held-out error equals the direct one (the formula _cv_lam replaced).
    lam, errs, (GtG_cv, GtA_cv) = _cv_lam(codes, A, B, 4, np.random.default_rng(0))
    fold = np.empty(400, dtype=np.int64)
    fold[np.random.default_rng(0).permutation(400)] = np.arange(400) % 4
    direct = np.zeros(len(_LAM_GRID))
    for f in range(4):
        tr, va = fold != f, fold == f
        for i, lam_i in enumerate(_LAM_GRID):
            P = np.linalg.solve(G[tr].T @ G[tr] + lam_i * np.eye(80), G[tr].T @ A[tr])
            direct[i] += np.sum((G[va] @ P @ B - A[va] @ B) ** 2)
    np.testing.assert_allclose(errs, direct, rtol=1e-7)
    np.testing.assert_array_equal(GtG_cv, GtG)
    np.testing.assert_allclose(GtA_cv, GtA, rtol=1e-12, atol=1e-12)
    assert lam == _LAM_GRID[int(np.argmin(direct))]


def test_fit_same_model_for_any_thread_count():
    rng = np.random.default_rng(6)
    A = structured_data(9000, 24, rng, rank=6, clusters=8, noise=0.3)  # > one 4096-row chunk
    B = rng.normal(size=(24, 10)).astype(np.float32)
    for objective in ("output", "input"):
        a, b = (tenfold.Maddness(ncodebooks=4, objective=objective, n_threads=t).fit(A, B) for t in (1, 2))
        for name in ("split_dims_", "thresholds_", "prototypes_", "luts_"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), (objective, name)


def test_learning_kernels_refuse_bad_arguments():
    n = 10
    QT = np.zeros((3, n), np.int8)
    R = np.zeros((1, n, 8))
    R2 = np.zeros(n)
    perm = np.arange(n, dtype=np.int32)
    starts = np.array([0, n], np.int64)
    with pytest.raises(ValueError, match="candidate"):
        _core.maddness_split_scan(QT, np.array([3], np.int64), perm, starts, R, R2, 1)
    with pytest.raises(ValueError, match="perm"):
        _core.maddness_split_scan(QT, np.array([0], np.int64), np.full(n, n, np.int32), starts, R, R2, 1)
    with pytest.raises(ValueError, match="range"):
        _core.maddness_split_scan(QT, np.array([0], np.int64), perm, np.array([0, n + 1], np.int64), R, R2, 1)
    with pytest.raises(ValueError, match="codes"):
        _core.maddness_onehot_gram(np.full((4, 2), 16, np.uint8))
    with pytest.raises(ValueError, match="range"):
        _core.maddness_group_sums(np.zeros((n, 2), np.float32), perm, np.array([[5, 3]], np.int64), False, 1)


def test_split_bytes_match_numpy_percentile_and_quantize():
    # C++ order statistics + numpy's interpolation == np.percentile, bit for bit; the transposing
    # quantizer == _quantize. Ties, a constant column, tiny n, a misaligned (but C-contiguous) view.
    from tenfold.maddness.trees import _column_percentiles, _split_bytes
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 64, 999, 1001, 5003):
        for ties in (False, True):
            A = (rng.integers(-3, 3, size=(n, 5)) if ties else rng.normal(size=(n, 5)) * 3).astype(np.float32)
            A[:, 2] = 1.5
            raw = np.zeros(A.size * 4 + 1, np.uint8)
            Au = np.frombuffer(raw.data, dtype=np.float32, count=A.size, offset=1).reshape(A.shape)
            Au[...] = A
            for X in (A, Au):
                lo, hi = _column_percentiles(X, 1)
                ref_lo, ref_hi = np.percentile(A, [0.1, 99.9], axis=0)
                assert lo.tobytes() == ref_lo.tobytes() and hi.tobytes() == ref_hi.tobytes(), (n, ties)
                QT, off, sc = _split_bytes(X, 2)
                ref_off, ref_sc = _quant_params(A)
                assert off.tobytes() == ref_off.tobytes() and sc.tobytes() == ref_sc.tobytes()
                assert np.array_equal(QT, _quantize(A, ref_off, ref_sc).T), (n, ties)


def test_column_order_stats_middle_ranks_and_bad_input():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(3001, 3)).astype(np.float32)
    ranks = np.array([0, 1, 1500, 1500, 2999, 3000], np.int64)  # both heaps and the in-place path
    np.testing.assert_array_equal(_core.maddness_column_order_stats(X, ranks, 2), np.sort(X, axis=0)[ranks])
    for ranks in ([2, 40, 2990], [0, 7], [2995, 3000], [3000]):  # both heaps, one heap only
        ranks = np.array(ranks, np.int64)
        np.testing.assert_array_equal(_core.maddness_column_order_stats(X, ranks, 1), np.sort(X, axis=0)[ranks])
    X[5, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        _core.maddness_column_order_stats(X, ranks, 1)
    with pytest.raises(ValueError, match="ranks"):
        _core.maddness_column_order_stats(X[:, :1].copy(), np.array([5, 3], np.int64), 1)
    with pytest.raises(ValueError, match="ranks"):
        _core.maddness_column_order_stats(X[:, :1].copy(), np.array([3001], np.int64), 1)
    with pytest.raises(ValueError, match="offset"):
        _core.maddness_quantize_transposed(X, np.zeros(2, np.float32), np.ones(3, np.float32), 1)


def test_split_scan_left_sums_are_the_left_childrens_sums():
    rng = np.random.default_rng(9)
    n, m, nnodes = 900, 11, 4
    QT = np.stack([rng.integers(-128, 128, n), np.full(n, 5), rng.integers(-4, 4, n)]).astype(np.int8)
    node, perm, starts = _nodes(n, nnodes, rng, empty=(1,))
    R = rng.normal(size=(n, m)) + (QT[0][:, None] > 0) * rng.normal(size=m)
    R2 = np.einsum("ij,ij->i", R, R)
    cands = np.arange(3, dtype=np.int64)
    loss, thr, left = _core.maddness_split_scan(QT, cands, perm, starts, _panels(R), R2, 2, True)
    loss0, thr0 = _core.maddness_split_scan(QT, cands, perm, starts, _panels(R), R2, 1)
    assert loss.tobytes() == loss0.tobytes() and thr.tobytes() == thr0.tobytes()
    assert left.shape == (3, nnodes, 16)
    for c in range(3):
        for k in range(nnodes):
            goes_left = (node == k) & (QT[c] <= thr[c, k])
            np.testing.assert_allclose(left[c, k, :m], R[goes_left].sum(0), rtol=1e-12, atol=1e-10)
            assert (left[c, k, m:] == 0).all()
    assert (left[:, 1] == 0).all()          # the empty node
    assert (thr[1] == 127).all()            # a constant column: every row left, left = the node's sum


def test_shrink_panels_column_sums_equal_panel_sums():
    rng = np.random.default_rng(10)
    n = 9000  # > two 4096-row chunks
    RP = _panels(rng.normal(size=(n, 13)))
    leaf = rng.integers(0, 16, n).astype(np.uint8)
    R2, colsum = _core.maddness_shrink_panels(RP, leaf, rng.normal(size=(16, 16)), 0.5)
    whole = np.array([[0, n]], np.int64)
    ref = _core.maddness_panel_sums(RP, np.arange(n, dtype=np.int32), whole, False, 1)[0][0]
    assert colsum.tobytes() == ref.tobytes()
    np.testing.assert_allclose(R2, np.einsum("pij,pij->i", RP, RP), rtol=1e-12)


def test_onehot_sums_grouped_match_per_group_products():
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 16, size=(5000, 3)).astype(np.uint8)
    X = rng.normal(size=(5000, 7))
    group = rng.integers(0, 4, 5000).astype(np.uint8)
    out = _core.maddness_onehot_sums_grouped(codes, X, group, 4, 1)
    for g in range(4):
        np.testing.assert_allclose(out[g], _one_hot(codes[group == g]).astype(np.float64).T @ X[group == g],
                                   rtol=1e-12, atol=1e-10)
    with pytest.raises(ValueError, match="group"):
        _core.maddness_onehot_sums_grouped(codes, X, group, 3, 1)


@pytest.mark.parametrize("output", [True, False])
def test_start_matches_the_dense_computation(output):
    from tenfold.maddness.trees import _start
    rng = np.random.default_rng(12)
    A = structured_data(5000, 19, rng, rank=5, clusters=6, noise=0.3)
    B = rng.normal(size=(19, 10)).astype(np.float32)
    data, offset, scale, RP, R2, AcR, target_sq = _start(A, B if output else None, 1)
    A64 = A.astype(np.float64)
    Y = A64 @ B.astype(np.float64) if output else A64
    np.testing.assert_allclose(RP, _panels(Y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(R2, np.einsum("ij,ij->i", Y, Y), rtol=1e-12)
    np.testing.assert_allclose(target_sq, np.einsum("ij,ij->i", Y, Y), rtol=1e-12)
    assert np.array_equal(data.QT, _quantize(A, offset, scale).T)
    if output:
        Ac = A64 - A64.mean(0)
        np.testing.assert_allclose(AcR, Ac.T @ Y, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(data.col_sq, np.einsum("ij,ij->j", Ac, Ac), rtol=1e-12)
        np.testing.assert_allclose(data.sum_A(), A64.sum(0), rtol=1e-12, atol=1e-9)
    else:
        assert AcR is None and data.col_sq is None
