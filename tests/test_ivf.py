"""IVFBoltIndex: probing all lists equals the flat index, probing fewer scans only those lists,
re-ranking, ids, every ISA and thread count alike, bad input, save/load and hostile files."""

import copy
import os

import numpy as np
import pytest

import tenfold
from tenfold import _io
from tenfold.datasets import synthetic_embeddings
from test_io import hostile_value, memory_limit, mutate_array, mutate_meta

N, D, NLIST = 3000, 32, 16


@pytest.fixture(scope="module")
def data():
    both = synthetic_embeddings(N + 40, D, seed=3)   # queries from the same mixture as the rows
    return both[:N], both[N:]


@pytest.fixture(scope="module")
def encoder(data):
    return tenfold.BoltEncoder(ncodebooks=8).fit(data[0])


def make(encoder, X, refine="float32", nlist=NLIST, **kw):
    index = tenfold.IVFBoltIndex(encoder, nlist, refine=refine, **kw)
    index.train(X)
    index.add(X)
    return index


@pytest.fixture(scope="module")
def index(encoder, data):
    return make(encoder, data[0])


def exact_top(X, Q, k):
    d = ((Q[:, None, :].astype(np.float64) - X[None]) ** 2).sum(-1)
    return np.argsort(d, axis=1, kind="stable")[:, :k], np.sort(d, axis=1)[:, :k]


def test_all_lists_probed_equals_the_flat_index(encoder, data, index):
    X, Q = data
    flat = tenfold.BoltIndex(encoder)
    flat.add(X)
    k = 10
    Df, If = flat.search(Q, k)
    Dv, Iv = index.search(Q, k, nprobe=NLIST)
    np.testing.assert_array_equal(Dv, Df)   # same sums, same dequantization
    for q in range(len(Q)):                 # same rows above the k-th sum (ties there may differ)
        strict = Df[q] < Df[q, -1]
        assert set(If[q][strict]) == set(Iv[q][Dv[q] < Dv[q, -1]])


def test_rerank_of_every_row_is_exact_search(data, index):
    X, Q = data
    D, I = index.search(Q, 5, rerank=N, nprobe=NLIST)
    want_i, want_d = exact_top(X, Q, 5)
    np.testing.assert_array_equal(I, want_i)
    np.testing.assert_allclose(D, want_d, rtol=1e-4, atol=1e-4)


def test_few_probes_return_only_rows_of_the_probed_lists(data, index):
    X, Q = data
    lists_of_row = index.assign(X)
    for nprobe in (1, 3):
        probes = index.probe(Q, nprobe)
        _, I = index.search(Q, 10, nprobe=nprobe)
        for q in range(len(Q)):
            got = I[q][I[q] >= 0]
            assert np.isin(lists_of_row[got], probes[q]).all()
    # recall against exact search: one list misses neighbours that all lists find
    truth, _ = exact_top(X, Q, 10)
    rec = [np.mean([len(set(t) & set(f)) for t, f in zip(truth, index.search(Q, 10, rerank=100, nprobe=p)[1])])
           for p in (1, NLIST)]
    assert rec[0] < rec[1] and rec[1] >= 9.5, rec


def test_unfilled_places_are_minus_one_and_inf(encoder, data):
    X, Q = data
    index = make(encoder, X[:200], nlist=64)   # ~3 rows per list, some lists empty
    D, I = index.search(Q, 50, nprobe=1)
    assert (I == -1).any() and (np.isinf(D) == (I == -1)).all() and (D[I == -1] > 0).all()
    D2, I2 = index.search(Q, 50, nprobe=1, rerank=60)
    assert (np.isinf(D2) == (I2 == -1)).all()


# ~950 rows probed: k = 7 takes the heap path (> 64 rows per wanted row), k = 50 the select path
@pytest.mark.parametrize("k", [7, 50])
def test_isas_and_threads_give_the_same_bits(data, index, k):
    _, Q = data
    Qs = np.repeat(Q, 4, axis=0)   # enough queries for several threads and groups, and (>= 128) for
    # the coarse scoring to be split over threads too
    want = index.search(Qs, k, nprobe=5, n_threads=1)
    for isa in tenfold.supported_isas():
        with tenfold.use_isa(isa):
            for threads in (1, 2, 3):
                got = index.search(Qs, k, nprobe=5, n_threads=threads)
                np.testing.assert_array_equal(got[0], want[0], err_msg=isa)
                np.testing.assert_array_equal(got[1], want[1], err_msg=isa)


@pytest.mark.parametrize("k", [2, 300])   # heap and select paths
def test_a_list_probed_twice_is_scanned_once(data, index, k):
    from tenfold import _core

    _, Q = data
    c = index._lists
    luts = index.encoder.lookup_tables(Q, 1)[0]
    once = np.tile(np.array([[3, 5, -1, -1]], np.int32), (len(Q), 1))
    twice = np.tile(np.array([[3, 5, 3, 5]], np.int32), (len(Q), 1))
    want = _core.bolt_ivf_search(c.blocked, index._ncols, c.block_off, c.sizes, c.row_start, once, luts, k, 2)
    got = _core.bolt_ivf_search(c.blocked, index._ncols, c.block_off, c.sizes, c.row_start, twice, luts, k, 2)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_heap_and_select_paths_find_the_same_sums(data, index):
    _, Q = data
    for nprobe in (1, 5, NLIST):
        D_heap, I_heap = index.search(Q, 3, nprobe=nprobe)        # many rows per wanted row
        D_sel, I_sel = index.search(Q, 400, nprobe=nprobe)        # few rows per wanted row
        np.testing.assert_array_equal(D_heap, D_sel[:, :3])
        for q in range(len(Q)):   # the same rows wherever the sum is not tied at the cut
            strict = D_heap[q] < D_heap[q, -1]
            assert set(I_heap[q][strict]) == set(I_sel[q][D_sel[q] < D_heap[q, -1]])


def test_ids_remove_reset_reconstruct(encoder, data):
    X, Q = data
    index = make(encoder, X[:1000])
    index.add_with_ids(X[1000:1010], np.arange(50_000, 50_010))
    assert len(index) == 1010
    with pytest.raises(ValueError, match="already in the index"):
        index.add_with_ids(X[:1], [50_003])
    with pytest.raises(ValueError, match="distinct"):
        index.add_with_ids(X[:2], [7, 7])
    np.testing.assert_array_equal(index.reconstruct([50_004, 3]), X[[1004, 3]])
    _, I = index.search(X[1000:1010], 1, rerank=20, nprobe=NLIST)
    np.testing.assert_array_equal(I[:, 0], np.arange(50_000, 50_010))
    assert index.remove_ids(np.array([3, 50_004, 123_456])) == 2
    assert len(index) == 1008 and not np.isin([3, 50_004], index.ids).any()
    with pytest.raises(ValueError, match="not in the index"):
        index.reconstruct([3])
    _, I = index.search(X[[3, 1004]], 5, rerank=50, nprobe=NLIST)
    assert not np.isin([3, 50_004], I).any()
    index.add(X[2000:2001])   # ids continue after the largest so far
    assert 50_010 in index.ids
    index.reset()
    assert len(index) == 0 and index.is_trained
    index.add(X[:5])
    np.testing.assert_array_equal(np.sort(index.ids), np.arange(5))
    # without kept vectors: reconstruct decodes the codes; float16 keeps half precision
    plain = make(encoder, X[:500], refine=None)
    np.testing.assert_array_equal(plain.reconstruct([10]), encoder.decode(encoder.encode(X[10:11])))
    half = make(encoder, X[:500], refine="float16")
    np.testing.assert_array_equal(half.reconstruct([10]), X[10:11].astype(np.float16).astype(np.float32))


@pytest.mark.parametrize("metric", ["dot", "cosine"])
def test_inner_product_metrics(data, metric):
    X, Q = data
    enc = tenfold.BoltEncoder(ncodebooks=8, metric=metric).fit(X)
    index = make(enc, X)
    D, I = index.search(Q, 5, rerank=N, nprobe=NLIST)
    Xn, Qn = (enc.normalize(X), enc.normalize(Q))
    want = np.sort(Qn @ Xn.T, axis=1)[:, ::-1][:, :5]
    np.testing.assert_allclose(D, want, rtol=1e-4, atol=1e-5)
    if metric == "dot":   # queries probe the lists of the largest inner product with the centroid
        np.testing.assert_array_equal(index.probe(Q, 1)[:, 0],
                                      np.argmax(Q @ index.centroids_.T, axis=1))


def test_bad_input(encoder, data, index):
    X, Q = data
    with pytest.raises(TypeError, match="encoder"):
        tenfold.IVFBoltIndex("enc", 4)
    with pytest.raises(ValueError, match="not fitted"):
        tenfold.IVFBoltIndex(tenfold.BoltEncoder(), 4)
    with pytest.raises(TypeError, match="nlist"):
        tenfold.IVFBoltIndex(encoder, True)
    with pytest.raises(ValueError, match="nlist"):
        tenfold.IVFBoltIndex(encoder, 0)
    with pytest.raises(ValueError, match="nprobe"):
        tenfold.IVFBoltIndex(encoder, 4, nprobe=5)
    fresh = tenfold.IVFBoltIndex(encoder, 4)
    for call in (lambda: fresh.add(X), lambda: fresh.search(Q), lambda: fresh.save("x.tfz")):
        with pytest.raises(ValueError, match="not trained"):
            call()
    with pytest.raises(ValueError, match="at least nlist"):
        tenfold.IVFBoltIndex(encoder, 64).train(X[:10])
    with pytest.raises(ValueError, match="columns"):
        fresh.train(X[:, :5])
    with pytest.raises(ValueError, match="reset"):
        index.train(X)
    for bad, err in ((0, ValueError), (NLIST + 1, ValueError), (2.0, TypeError)):
        with pytest.raises(err, match="nprobe"):
            index.search(Q, 5, nprobe=bad)
    with pytest.raises(ValueError, match="columns"):
        index.search(Q[:, :7])
    with pytest.raises(ValueError, match="NaN"):
        index.search(np.full((1, D), np.nan))
    with pytest.raises(ValueError, match="rerank"):
        index.search(Q, 10, rerank=5)
    plain = make(encoder, X[:100], refine=None, nlist=4)
    with pytest.raises(ValueError, match="refine"):
        plain.search(Q, 5, rerank=10)
    with pytest.raises(ValueError, match="empty"):
        plain.empty_copy().search(Q)
    with pytest.raises(TypeError, match="ids"):
        index.remove_ids([[1]])


# ------------------------------------------------------------------------ persistence

def test_save_load_round_trip(tmp_path, encoder, data, index):
    X, Q = data
    copy_ = make(encoder, X, nprobe=3)
    copy_.remove_ids(np.arange(0, N, 7))
    path = tmp_path / "ivf.tfz"
    copy_.save(path)
    for mmap in (False, True):
        loaded = tenfold.load(path, mmap=mmap)
        assert isinstance(loaded, tenfold.IVFBoltIndex) and loaded.nprobe == 3 and loaded.refine == "float32"
        for kw in ({}, {"rerank": 40, "nprobe": 5}):
            got, want = loaded.search(Q, 8, **kw), copy_.search(Q, 8, **kw)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(loaded.ids, copy_.ids)
    loaded.add(X[:3])   # a loaded index (even a mapped one) takes more rows
    assert len(loaded) == len(copy_) + 3


def saved(tmp_path, index):
    path = tmp_path / "ref.tfz"
    index.save(path)
    return _io.read(path)


def rewrite(tmp_path, type_name, meta, arrays):
    path = tmp_path / "hostile.tfz"
    _io.save(path, type_name, meta, arrays, verify=False)
    return path


HOSTILE = [
    (lambda m, a: m.update(nprobe=NLIST + 1), "nprobe"),
    (lambda m, a: m.update(nlist=2**40), "nlist"),
    (lambda m, a: m.update(ntotal=m["ntotal"] + 1), "list sizes"),
    (lambda m, a: m.update(refine="float64"), "refine"),
    (lambda m, a: m.update(next_id=1), "ids"),
    (lambda m, a: a.update(list_sizes=np.eye(1, NLIST, 0, dtype=np.int64)[0] * N), "codes"),
    (lambda m, a: a.update(list_sizes=-a["list_sizes"]), "list_sizes"),
    (lambda m, a: a.update(ids=np.zeros_like(a["ids"])), "distinct"),
    (lambda m, a: a.update(ids=a["ids"].astype(np.int32)), "int64"),
    (lambda m, a: a.update(coarse_centroids=a["coarse_centroids"] * np.nan), "coarse_centroids"),
    (lambda m, a: a.update(coarse_centroids=a["coarse_centroids"][:-1]), "coarse_centroids"),
    (lambda m, a: a.update(vectors=a["vectors"][:-1]), "vectors"),
    (lambda m, a: a.pop("vectors"), "vectors"),
    (lambda m, a: a.update(codes_blocked=a["codes_blocked"].astype(np.int16)), "uint8"),
]


@pytest.mark.parametrize("change, match", HOSTILE, ids=[h[1] + str(i) for i, h in enumerate(HOSTILE)])
def test_hostile_fields_are_value_errors(tmp_path, index, change, match):
    type_name, meta, arrays = saved(tmp_path, index)
    change(meta, arrays)
    with pytest.raises(ValueError, match=match):
        tenfold.load(rewrite(tmp_path, type_name, meta, arrays))


def fuzz(tmp_path, index, Q, n_cases, seed):
    """Mutated well-formed files (and flipped bytes): each loads and then searches with finite
    results of the right shape, or raises ValueError; nothing else."""
    type_name, meta, arrays = saved(tmp_path, index)
    blob = (tmp_path / "ref.tfz").read_bytes()
    loaded = 0
    for case in range(n_cases):
        rng = np.random.default_rng([seed, case])
        if rng.random() < 0.3:
            data = bytearray(blob)
            for pos in rng.integers(0, len(data), size=rng.integers(1, 4)):
                data[pos] ^= int(rng.integers(1, 256))
            (tmp_path / "bad.tfz").write_bytes(bytes(data))
            with pytest.raises(ValueError):
                tenfold.load(tmp_path / "bad.tfz")
            continue
        m, a = copy.deepcopy(meta), {k: v.copy() for k, v in arrays.items()}
        for _ in range(rng.integers(1, 3)):
            if rng.random() < 0.5:
                mutate_meta(rng, m)
            else:
                mutate_array(rng, a)
        if rng.random() < 0.2:   # a field set to a hostile value of any type
            key = sorted(m)[rng.integers(len(m))]
            m[key] = hostile_value(rng, m[key])
        try:
            model = tenfold.load(rewrite(tmp_path, type_name, m, a), mmap=bool(rng.integers(2)))
        except ValueError:
            continue
        loaded += 1
        try:
            D, I = model.search(Q, 7, nprobe=min(3, model.nlist))
            assert D.shape == I.shape == (len(Q), 7)
            assert not np.isnan(D).any() and ((I >= -1) & (I < model._lists.next_id)).all()
            model.search(Q, 7, nprobe=min(3, model.nlist), rerank=20 if model.refine else None)
            model.add(Q[:2])
        except ValueError:
            pass
    return loaded


def test_fuzzed_files_load_or_raise_value_error(tmp_path, index, data):
    with memory_limit(2 << 30):
        assert fuzz(tmp_path, index, data[1], 80, seed=0) >= 3


@pytest.mark.fuzz
def test_fuzzed_files_long(tmp_path, index, data):
    """`make fuzz`: TENFOLD_FUZZ_EXAMPLES // 4 cases, seed TENFOLD_FUZZ_SEED (default 1000)."""
    cases = int(os.environ.get("TENFOLD_FUZZ_EXAMPLES", "0")) // 4
    if not cases:
        pytest.skip("long campaign: run by `make fuzz` (TENFOLD_FUZZ_EXAMPLES)")
    with memory_limit(2 << 30):
        fuzz(tmp_path, index, data[1], cases, seed=int(os.environ.get("TENFOLD_FUZZ_SEED", "1000")))


# ------------------------------------------------------------------------ Dask

def test_sharded_index_of_ivf_shards_matches_one_index(tmp_path, encoder, data, index):
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    import tenfold.dask as tdask

    X, Q = data
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        sharded = tdask.ShardedIndex(index, client=client)
        sharded.add(X, chunk_rows=1000)
        assert sharded.nshards == 3 and len(sharded) == N
        # every probed row re-ranked: the same exact answer; codes only: the same sums
        for kw in ({"rerank": N, "nprobe": 4}, {"nprobe": NLIST}, {"nprobe": 2}):
            D, I = sharded.search(Q, 6, **kw)
            Dw, Iw = index.search(Q, 6, **kw)
            np.testing.assert_array_equal(D, Dw)
            if "rerank" in kw:   # exact distances: no ties
                np.testing.assert_array_equal(I, Iw)
        # R candidates per shard: at least as close as R over the whole index
        D, _ = sharded.search(Q, 6, rerank=30, nprobe=4)
        assert (D <= index.search(Q, 6, rerank=30, nprobe=4)[0]).all()
        assert sharded.remove_ids(np.arange(10)) == 10
        sharded.save(tmp_path / "idx")
        loaded = tdask.load_index(tmp_path / "idx", client=client)
        np.testing.assert_array_equal(loaded.search(Q, 5, nprobe=3)[1], sharded.search(Q, 5, nprobe=3)[1])
        with pytest.raises(ValueError, match="nprobe"):
            tdask.ShardedIndex(encoder, client=client).search(Q, nprobe=2)
        with pytest.raises(ValueError, match="not trained"):
            tdask.ShardedIndex(tenfold.IVFBoltIndex(encoder, 4), client=client)


def test_no_queries_give_empty_results(data, index):
    Q = np.zeros((0, D), np.float32)   # zero strides, as numpy makes empty arrays
    for kw in ({}, {"rerank": 20}):
        Dist, I = index.search(Q, k=5, nprobe=2, **kw)
        assert Dist.shape == I.shape == (0, 5) and Dist.dtype == np.float32 and I.dtype == np.int64
