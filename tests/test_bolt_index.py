"""BoltIndex beyond plain search: exact re-ranking, ids, metrics, bounds on k, many threads."""

import threading

import numpy as np
import pytest

import tenfold
from tenfold import _core
from conftest import structured_data


@pytest.fixture(scope="module")
def data():
    both = structured_data(4050, 24, np.random.default_rng(11))
    return both[:4000], both[4000:]


@pytest.fixture(scope="module")
def encoders(data):
    X, _ = data
    return {m: tenfold.BoltEncoder(ncodebooks=8, metric=m).fit(X) for m in ("l2", "dot", "cosine")}


def _exact(X, Q, metric):
    """Scores where smaller is better, in float64."""
    X, Q = X.astype(np.float64), Q.astype(np.float64)
    if metric == "l2":
        return ((Q[:, None, :] - X[None]) ** 2).sum(-1)
    if metric == "cosine":
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        Q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    return -(Q @ X.T)


@pytest.mark.parametrize("metric", ["l2", "dot", "cosine"])
@pytest.mark.parametrize("refine", ["float32", "float16"])
def test_rerank_is_exact_among_candidates_and_lifts_recall(data, encoders, metric, refine):
    X, Q = data
    index = tenfold.BoltIndex(encoders[metric], refine=refine)
    index.add(X[:1500])
    index.add(X[1500:])
    exact = _exact(X, Q, metric)
    truth = np.argsort(exact, axis=1, kind="stable")[:, :10]
    _, cand = index.search(Q, 60)
    D, I = index.search(Q, 10, rerank=60)
    for q in range(len(Q)):
        # the 10 exactly-best rows among the 60 candidates by code, in order
        best = cand[q][np.argsort(exact[q, cand[q]], kind="stable")[:10]]
        got_scores = exact[q, I[q]]
        np.testing.assert_allclose(got_scores, exact[q, best], rtol=2e-3 if refine == "float16" else 1e-5,
                                   atol=1e-3)
    sign = -1 if metric != "l2" else 1
    np.testing.assert_allclose(sign * D, np.take_along_axis(exact, I, 1), rtol=2e-3 if refine == "float16" else 1e-5,
                               atol=1e-2 if refine == "float16" else 1e-4)
    recall_codes = np.mean([len(set(t) & set(r)) / 10 for t, r in zip(truth, index.search(Q, 10)[1])])
    I200 = index.search(Q, 10, rerank=200)[1]
    recall_rerank = np.mean([len(set(t) & set(r)) / 10 for t, r in zip(truth, I200)])
    assert recall_rerank >= 0.95 and recall_rerank > recall_codes + 0.2, (recall_codes, recall_rerank)
    _, Iall = index.search(Q[:3], 10, rerank=len(X))  # every row re-ranked: the exact answer
    np.testing.assert_array_equal(Iall, truth[:3])


def test_rerank_kernel_against_numpy_with_missing_candidates():
    rng = np.random.default_rng(1)
    V = rng.normal(size=(50, 13)).astype(np.float32)  # 13: eight lanes plus a tail
    Q = rng.normal(size=(4, 13)).astype(np.float32)
    cand = np.stack([rng.permutation(50)[:9] for _ in range(4)]).astype(np.int64)  # distinct, as the scan gives
    cand[0, [2, 5]] = -1
    cand[2] = -1  # a query with no candidate at all
    for dot in (False, True):
        dist, rows = _core.bolt_rerank_f32(V, 50, Q, cand, 5, dot, 1)
        for q in range(4):
            valid = sorted({int(c) for c in cand[q] if c >= 0})
            ref = [(float(-(Q[q] @ V[r]) if dot else ((Q[q] - V[r]) ** 2).sum()), r) for r in valid]
            ref.sort()
            want = [r for _, r in ref[:5]] + [-1] * (5 - min(5, len(ref)))
            assert rows[q].tolist() == want
            np.testing.assert_allclose(dist[q, :len(ref[:5])], [d for d, _ in ref[:5]], rtol=1e-5)
            assert np.isinf(dist[q, len(ref[:5]):]).all()
        dist16, rows16 = _core.bolt_rerank_f16(V.astype(np.float16).view(np.uint16), 50, Q, cand, 5, dot, 2)
        d32, r32 = _core.bolt_rerank_f32(V.astype(np.float16).astype(np.float32), 50, Q, cand, 5, dot, 1)
        np.testing.assert_array_equal(dist16, d32)
        np.testing.assert_array_equal(rows16, r32)  # float16 widened exactly, same arithmetic


@pytest.mark.parametrize("n_rows,R", [(300, 3000), (70_000, 40)])
def test_batched_rerank_equals_one_query_at_a_time(n_rows, R):
    # The kernel visits the (query, candidate) pairs of a block of queries in row order. Blocks:
    # R = 3000 allows 21 queries per block (2**16 pairs), so 50 queries make three; 70,000 rows
    # outnumber the pairs (bucketed by groups of rows). Exact ties (repeated vectors), repeated
    # and invalid candidates included; the result must equal the kernel's answer for each query
    # alone, bit for bit, and a plain sort of float64 distances where no two are close.
    rng = np.random.default_rng(n_rows)
    base = rng.integers(-3, 4, size=(40, 9)).astype(np.float32)  # small integers: many equal distances
    V = base[rng.integers(0, 40, size=n_rows)]
    Q = rng.integers(-3, 4, size=(50, 9)).astype(np.float32)
    cand = rng.integers(-2, n_rows + 3, size=(50, R)).astype(np.int64)  # -2, -1 and >= n_rows: invalid
    for dot in (False, True):
        for threads in (1, 3):
            dist, rows = _core.bolt_rerank_f32(V, n_rows, Q, cand, 7, dot, threads)
            for q in range(50):
                d1, r1 = _core.bolt_rerank_f32(V, n_rows, Q[q:q + 1], cand[q:q + 1], 7, dot, 1)
                np.testing.assert_array_equal(dist[q], d1[0])
                np.testing.assert_array_equal(rows[q], r1[0])
                valid = cand[q][(cand[q] >= 0) & (cand[q] < n_rows)]
                d64 = -(V[valid].astype(np.float64) @ Q[q]) if dot else ((V[valid] - Q[q]) ** 2).sum(1, dtype=np.float64)
                want = sorted(zip(d64.tolist(), valid.tolist()))[:7]  # integers: float32 sums are exact here
                assert rows[q].tolist() == [r for _, r in want], (q, dot, threads)


def test_rerank_arguments(data, encoders):
    X, Q = data
    plain = tenfold.BoltIndex(encoders["l2"])
    plain.add(X[:100])
    with pytest.raises(ValueError, match="refine"):
        plain.search(Q, 5, rerank=20)
    with pytest.raises(ValueError, match="refine must be one of"):
        tenfold.BoltIndex(encoders["l2"], refine="int8")
    index = tenfold.BoltIndex(encoders["l2"], refine="float16")
    with pytest.raises(ValueError, match="float16's range"):
        index.add(np.full((2, 24), 1e5))
    with pytest.raises(ValueError, match="add_codes"):
        index.add_codes(encoders["l2"].encode(X[:3]))
    index.add(X[:100])
    with pytest.raises(ValueError, match="rerank .* must be >= k"):
        index.search(Q, 10, rerank=5)
    D, I = index.search(Q[:2], 150, rerank=500)  # more than the index holds: padded
    assert (I[:, 100:] == -1).all() and np.isinf(D[:, 100:]).all() and sorted(I[0, :100]) == list(range(100))


def test_absurd_k_is_refused_before_allocating(data, encoders):
    X, Q = data
    index = tenfold.BoltIndex(encoders["l2"], refine="float32")
    index.add(X[:500])
    for kwargs in ({}, {"rerank": 2**31 - 1}):
        with pytest.raises(ValueError, match="exceeds the 500 vectors"):
            index.search(Q, 2**31 - 1, **kwargs)
    _, I = index.search(Q[:2], 5, rerank=2**31 - 1)  # a huge candidate count is clipped to ntotal
    assert I.shape == (2, 5)


def test_ids_add_remove_reconstruct_reset_and_save(tmp_path, data, encoders):
    X, Q = data
    index = tenfold.BoltIndex(encoders["l2"], refine="float32")
    index.add(X[:300])                                 # ids 0..299
    index.add_with_ids(X[300:600], np.arange(10_000, 10_300))
    index.add(X[600:700])                              # continues after the largest id: 10300..10399
    assert index.ids[-1] == 10_399 and len(index) == 700
    with pytest.raises(ValueError, match="already in the index"):
        index.add_with_ids(X[:2], [5, 123456])
    with pytest.raises(ValueError, match="distinct"):
        index.add_with_ids(X[:2], [7, 7])
    with pytest.raises(ValueError, match=">= 0"):
        index.add_with_ids(X[:1], [-1])
    with pytest.raises(ValueError, match="one entry per row"):
        index.add_with_ids(X[:3], [900_000, 900_001])
    with pytest.raises(TypeError, match="integers"):
        index.add_with_ids(X[:1], [0.5])
    ids = index.ids
    removed = index.remove_ids(np.r_[np.arange(0, 300, 2), 10_000, 10_399, 77_777])
    assert removed == 152 and len(index) == 548
    np.testing.assert_array_equal(index.reconstruct([1, 10_001, 10_398]), X[[1, 301, 698]])
    with pytest.raises(ValueError, match="not in the index"):
        index.reconstruct([0])
    # search on the smaller index equals a fresh index of the remaining rows with the same ids
    keep = ~np.isin(ids, np.r_[np.arange(0, 300, 2), 10_000, 10_399])
    fresh = tenfold.BoltIndex(encoders["l2"], refine="float32")
    fresh.add_with_ids(X[:700][keep], ids[keep])
    for rerank in (None, 40):
        for a, b in zip(index.search(Q, 7, rerank=rerank), fresh.search(Q, 7, rerank=rerank)):
            np.testing.assert_array_equal(a, b)
    index.save(tmp_path / "ids.tfz")
    loaded = tenfold.load(tmp_path / "ids.tfz")
    np.testing.assert_array_equal(loaded.ids, index.ids)
    for a, b in zip(loaded.search(Q, 7, rerank=40), index.search(Q, 7, rerank=40)):
        np.testing.assert_array_equal(a, b)
    loaded.add(X[:1])
    assert loaded.ids[-1] == 10_400  # next id survives save/load
    plain = tenfold.BoltIndex(encoders["l2"])
    plain.add(X[:50])
    np.testing.assert_array_equal(plain.reconstruct([3]), encoders["l2"].decode(plain.codes[3:4]))
    index.reset()
    assert len(index) == 0
    index.add(X[:2])
    assert index.ids.tolist() == [0, 1]


def test_loading_inconsistent_ids_or_vectors_is_a_value_error(tmp_path, data, encoders):
    from tenfold import _io

    X, _ = data
    index = tenfold.BoltIndex(encoders["dot"], refine="float16")
    index.add_with_ids(X[:40], np.arange(40) * 3)
    index.save(tmp_path / "ok.tfz")
    kind, meta, arrays = _io.read(tmp_path / "ok.tfz")
    bad_cases = {
        "duplicate ids": (meta, dict(arrays, ids=np.zeros(40, np.int64))),
        "short ids": (meta, dict(arrays, ids=arrays["ids"][:39])),
        "id beyond next_id": (dict(meta, next_id=5), arrays),
        "vectors shape": (meta, dict(arrays, vectors=arrays["vectors"][:, :5])),
        "vectors nan": (meta, dict(arrays, vectors=np.full_like(arrays["vectors"], 0x7E00))),
        "refine unknown": (dict(meta, refine="int4"), arrays),
        "vectors without refine": (dict(meta, refine=None), arrays),
        "ntotal": (dict(meta, ntotal="40"), arrays),
    }
    for name, (m, a) in bad_cases.items():
        _io.save(tmp_path / "bad.tfz", kind, m, a, verify=False)
        with pytest.raises(ValueError):
            tenfold.load(tmp_path / "bad.tfz")


def test_ip_is_dot_and_cosine_normalizes(data, encoders):
    X, Q = data
    ip = tenfold.BoltEncoder(ncodebooks=8, metric="ip").fit(X)
    np.testing.assert_array_equal(ip.encode(X[:100]), encoders["dot"].encode(X[:100]))
    cos = encoders["cosine"]
    scaled = X[:100] * np.random.default_rng(0).uniform(0.1, 10, size=(100, 1)).astype(np.float32)
    np.testing.assert_array_equal(cos.encode(scaled), cos.encode(X[:100]))  # length does not matter
    index = tenfold.BoltIndex(cos, refine="float32")
    index.add(X)
    D, I = index.search(Q * 7, 5, rerank=200)
    sims = -_exact(X, Q, "cosine")
    np.testing.assert_allclose(D, np.take_along_axis(sims, I, 1), rtol=1e-5)
    assert (D <= 1.0001).all() and (np.diff(D, axis=1) <= 0).all()
    zero = tenfold.BoltIndex(cos)
    zero.add(np.zeros((3, 24)))  # all-zero rows stay zero instead of becoming NaN
    assert np.isfinite(zero.search(Q[:1], 3)[0]).all()


def _stress(make, ops, readers, n_rounds=150):
    """One writer resets the index and applies `ops`, again and again, while 6 readers call
    `readers` (functions of the index returning arrays); each call's result must equal that
    reader's result on one of the versions the writer publishes (computed beforehand)."""
    reference = make()
    snapshot = lambda r, ix: tuple(np.asarray(a).copy() for a in _as_tuple(r(ix)))  # noqa: E731
    expected = [[snapshot(r, reference)] for r in readers]
    for op, args in ops:
        getattr(reference, op)(*args)
        for r, seen in zip(readers, expected):
            seen.append(snapshot(r, reference))
    index = make()
    stop = threading.Event()
    errors, calls = [], [0]

    def read(worker):
        i = worker
        while not stop.is_set():
            which = i % len(readers)
            i += 1
            try:
                got = snapshot(readers[which], index)
                if not any(len(got) == len(e) and all(g.shape == w.shape and np.array_equal(g, w)
                                                      for g, w in zip(got, e)) for e in expected[which]):
                    errors.append((which, [g.shape for g in got]))
                calls[0] += 1
            except Exception as err:  # noqa: BLE001 - reported below
                errors.append(repr(err))

    threads = [threading.Thread(target=read, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    try:
        for _ in range(n_rounds):
            index.reset()
            for op, args in ops:
                getattr(index, op)(*args)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:5]
    assert calls[0] > 20


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def test_six_readers_beside_one_writer_see_whole_versions(data, encoders):
    # scores() once returned padding columns when read beside add(): it read the size twice
    X, Q = data
    ops = [("add", (X[:64],)), ("add", (X[64:97],)), ("add_with_ids", (X[97:130], np.arange(5000, 5033))),
           ("remove_ids", (np.arange(0, 64, 3),)), ("add", (X[130:200],))]
    _stress(lambda: tenfold.BoltIndex(encoders["l2"], refine="float32"), ops,
            [lambda ix: ix.ids, lambda ix: _or_empty(ix, lambda: ix.scores(Q[:3])),
             lambda ix: _or_empty(ix, lambda: ix.search(Q[:5], 7)),
             lambda ix: _or_empty(ix, lambda: ix.search(Q[:4], 5, rerank=30))])


def _or_empty(index, fn):
    try:
        return fn()
    except ValueError as err:
        assert "empty" in str(err)
        return np.zeros(0)


def test_index_pickles_for_dask_workers(data, encoders):
    import pickle

    X, Q = data
    index = tenfold.BoltIndex(encoders["l2"], refine="float16")
    index.add_with_ids(X[:300], np.arange(300) + 7)
    back = pickle.loads(pickle.dumps(index))
    for a, b in zip(back.search(Q, 5, rerank=40), index.search(Q, 5, rerank=40)):
        np.testing.assert_array_equal(a, b)
    back.add(X[:2])  # its own lock: writers work after the trip
    assert back.ids[-2:].tolist() == [307, 308] and len(index) == 300


def test_ids_near_the_int64_limit_keep_the_index_usable(tmp_path, data, encoders):
    """add_with_ids([2**63 - 1]) was accepted; the next add() then raised OverflowError and save()
    wrote a file whose next_id (2**63) its loader refuses: the index was lost. Now the largest
    id is 2**63 - 2, and add() refuses to number rows beyond int64."""
    X, _ = data
    top = 2**63 - 2
    makers = {"flat": lambda: tenfold.BoltIndex(encoders["l2"], refine="float16")}
    ivf = tenfold.IVFBoltIndex(encoders["l2"], 4)
    ivf.train(X)
    makers["ivf"] = ivf.empty_copy
    for kind, make in makers.items():
        index = make()
        for bad in ([2**63 - 1], np.array([2**64 - 1], np.uint64), [-1]):
            with pytest.raises(ValueError, match="ids must be >= 0 and <= 2\\*\\*63 - 2"):
                index.add_with_ids(X[:1], bad)
        index.add_with_ids(X[:2], [5, top])
        with pytest.raises(ValueError, match="beyond 2\\*\\*63 - 1"):
            index.add(X[:1])
        assert index.ntotal == 2
        index.save(tmp_path / f"{kind}.tfz")
        again = tenfold.load(tmp_path / f"{kind}.tfz")
        assert sorted(again.ids.tolist()) == [5, top]
        assert again.search(X[:1], k=1)[1].shape == (1, 1)
