"""tenfold.dask on a real two-process LocalCluster: same answers as the single-process API."""

import os
import signal
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import tenfold  # noqa: E402
import tenfold.dask as tdask  # noqa: E402
from conftest import structured_data  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    pids = list(client.run(os.getpid).values())
    yield client
    client.close()
    cluster.close()
    time.sleep(0.5)
    for pid in pids:  # clean shutdown: no worker process left behind
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.fixture(scope="module")
def data():
    both = structured_data(23_457, 40, np.random.default_rng(3))
    return both[:23_400], both[23_400:]


@pytest.fixture(scope="module", params=["l2", "dot"])
def encoder(request, data):
    return tenfold.BoltEncoder(ncodebooks=10, metric=request.param).fit(data[0][:4000])


def test_encode_matches_single_process(client, data, encoder):
    X, _ = data
    expected = encoder.encode(X)
    for source in (X, da.from_array(X, chunks=(5000, 17))):
        codes = tdask.encode(encoder, source, chunk_rows=3001)
        assert codes.chunks[1] == (5,)
        np.testing.assert_array_equal(client.compute(codes).result(), expected)


@pytest.mark.parametrize("k", [1, 10, 100])
def test_sharded_search_identical(client, data, encoder, k):
    X, Q = data
    single = tenfold.BoltIndex(encoder)
    single.add(X)
    index = tdask.ShardedIndex(encoder, client=client)
    index.add(X[:10_000], chunk_rows=3333)  # 10,000 is not a multiple of the chunk
    index.add(da.from_array(X[10_000:], chunks=4000))
    assert len(index) == len(X) and index.nshards == 4 + 4
    for got, want in zip(index.search(Q, k), single.search(Q, k)):
        np.testing.assert_array_equal(got, want)


def test_k_beyond_size_and_bad_input(client, data, encoder):
    X, Q = data
    index = tdask.ShardedIndex(encoder, client=client)
    with pytest.raises(ValueError, match="empty"):
        index.search(Q, 3)
    index.add(X[:7], chunk_rows=3)
    D, I = index.search(Q[:2], 9)
    assert (I[:, 7:] == -1).all() and sorted(I[0, :7]) == list(range(7))
    with pytest.raises(ValueError, match="40 columns"):
        index.add(X[:, :5])
    with pytest.raises(ValueError, match="k must be >= 1"):
        index.search(Q, 0)
    with pytest.raises(TypeError, match="BoltEncoder"):
        tdask.ShardedIndex("nope", client=client)
    for bad in (0, -5):   # was dask's "Empty tuples are not allowed in chunks" (or 0 taken as None)
        with pytest.raises(ValueError, match="chunk_rows"):
            index.add(X[:7], chunk_rows=bad)
        with pytest.raises(ValueError, match="chunk_rows"):
            tdask.encode(encoder, X[:7], chunk_rows=bad)
    with pytest.raises(TypeError, match="chunk_rows"):
        tdask.encode(encoder, X[:7], chunk_rows=2.5)
    D, I = index.search(Q[:0], 3)   # no queries: empty results
    assert D.shape == I.shape == (0, 3)


def test_save_and_load_index(client, data, encoder, tmp_path):
    X, Q = data
    index = tdask.ShardedIndex(encoder, client=client)
    index.add(X, chunk_rows=6000)
    index.save(tmp_path / "idx")
    loaded = tdask.load_index(tmp_path / "idx", client=client)
    for got, want in zip(loaded.search(Q, 10), index.search(Q, 10)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="does not hold"):
        tdask.load_index(tmp_path / "nothing", client=client)


def test_killed_worker_costs_time_not_correctness(client, data):
    X, Q = data
    encoder = tenfold.BoltEncoder(ncodebooks=8).fit(X[:3000])
    single = tenfold.BoltIndex(encoder)
    single.add(X)
    expected = single.search(Q, 10)
    index = tdask.ShardedIndex(encoder, client=client)
    index.add(X, chunk_rows=2000)
    distributed.wait(list(index._state.futures))
    holders = {w for ws in client.who_has(list(index._state.futures)).values() for w in ws}
    assert len(holders) == 2  # shards live on both workers
    victim = sorted(holders)[0]
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)  # its shards are gone; search must rebuild them from the source
    got = index.search(Q, 10)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    client.wait_for_workers(2, timeout=180)  # the nanny restarts the worker


def test_maddness_encode_and_matmul(client, data):
    X, _ = data
    B = np.random.default_rng(4).normal(size=(40, 7)).astype(np.float32)
    amm = tenfold.Maddness(ncodebooks=8, lam=1.0).fit(X[:5000], B)
    A = da.from_array(X[:9_999], chunks=(2500, 40))
    np.testing.assert_array_equal(client.compute(tdask.encode(amm, A)).result(), amm.encode(X[:9_999]))
    got = client.compute(tdask.matmul(amm, A)).result()
    np.testing.assert_array_equal(got, amm.matmul(X[:9_999]))
    with pytest.raises(TypeError, match="Maddness"):
        tdask.matmul(tenfold.BoltEncoder(4).fit(X[:100]), A)


def _slow_copy(block):
    time.sleep(0.05)  # long enough that a worker is killed while chunks are in flight
    return block


def test_compress_to_zarr_round_trip_and_killed_worker(client, tmp_path):
    zarr = pytest.importorskip("zarr")
    rng = np.random.default_rng(8)
    x = np.cumsum(rng.integers(-3, 4, size=(40_000, 3)), axis=0).astype(np.int16)
    z = tdask.compress_to_zarr(da.from_array(x, chunks=(7_000, 3)), tmp_path / "a.zarr")
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "a.zarr")[:], x)
    np.testing.assert_array_equal(da.from_zarr(str(tmp_path / "a.zarr")).compute(), x)
    assert z.nbytes_stored() < x.nbytes / 2  # actually compressed
    y = np.arange(1001, dtype=np.uint8)
    tdask.compress_to_zarr(y, tmp_path / "b.zarr", chunk_rows=100, forecaster="delta", entropy=False)
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "b.zarr")[:], y)
    with pytest.raises(TypeError, match="x must have dtype"):
        tdask.compress_to_zarr(np.zeros(10, np.complex64), tmp_path / "c.zarr")
    f = np.round(rng.normal(size=(3000, 2)), 2)  # float64 round-trips bit for bit
    tdask.compress_to_zarr(f, tmp_path / "f.zarr", chunk_rows=1000)
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "f.zarr")[:].view(np.uint64), f.view(np.uint64))

    # a worker killed mid-write: the call still completes with every chunk intact
    big = da.from_array(x, chunks=(1_000, 3)).map_blocks(_slow_copy, dtype=x.dtype)
    pid = next(iter(client.run(os.getpid).values()))
    import threading
    killer = threading.Timer(0.4, os.kill, args=(pid, signal.SIGKILL))
    killer.start()
    tdask.compress_to_zarr(big, tmp_path / "d.zarr")
    killer.join()
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "d.zarr")[:], x)
    client.wait_for_workers(2, timeout=180)


def test_relative_paths_mean_the_clients_directory(client, data, tmp_path, monkeypatch):
    # Workers may run elsewhere (another cwd, another machine on shared storage): a relative
    # path given to the client must still land in the client's directory.
    zarr = pytest.importorskip("zarr")
    elsewhere = tmp_path / "worker-cwd"
    elsewhere.mkdir()
    before = client.run(os.getcwd)
    client.run(os.chdir, str(elsewhere))
    monkeypatch.chdir(tmp_path)
    try:
        X, Q = data
        enc = tenfold.BoltEncoder(ncodebooks=4).fit(X[:2000])
        index = tdask.ShardedIndex(enc, client=client)
        index.add(X[:5000], chunk_rows=2000)
        index.save("idx")
        assert len(list((tmp_path / "idx").glob("shard-*.tfz"))) == 3
        loaded = tdask.load_index("idx", client=client)
        np.testing.assert_array_equal(loaded.search(Q, 5)[1], index.search(Q, 5)[1])
        x = np.arange(3000, dtype=np.int16).reshape(1000, 3)
        tdask.compress_to_zarr(x, "s.zarr", chunk_rows=300)
        np.testing.assert_array_equal(zarr.open_array(tmp_path / "s.zarr")[:], x)
        assert not any(elsewhere.iterdir())
    finally:
        for addr, cwd in before.items():
            client.run(os.chdir, cwd, workers=[addr])


def test_ties_across_shards_go_to_the_smaller_global_id(client, data):
    # the same 50 rows repeated 30 times: every query meets many exact ties, spread over shards
    X, Q = data
    rep = np.tile(X[:50], (30, 1))
    enc = tenfold.BoltEncoder(ncodebooks=8).fit(X[:2000])
    single = tenfold.BoltIndex(enc)
    single.add(rep)
    index = tdask.ShardedIndex(enc, client=client)
    index.add(rep, chunk_rows=170)
    for k in (1, 7, 40):
        got, want = index.search(Q[:20], k), single.search(Q[:20], k)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])


def test_ids_rerank_and_removal_match_one_index(client, data, tmp_path):
    X, Q = data
    enc = tenfold.BoltEncoder(ncodebooks=8, metric="cosine").fit(X[:3000])
    single = tenfold.BoltIndex(enc, refine="float16")
    index = tdask.ShardedIndex(enc, client=client, refine="float16")
    for target in (single, index):
        target.add(X[:5000])
        target.add_with_ids(X[5000:9000], np.arange(10**12, 10**12 + 4000))  # beyond the 47-bit packing
        target.add(X[9000:10000])
    for got, want in zip(index.search(Q, 10), single.search(Q, 10)):
        np.testing.assert_array_equal(got, want)
    # each shard re-ranks its own 50 best: a superset of the single index's 50 candidates, so
    # every place is at least as good; with every row re-ranked both give the exact answer
    D_sharded, _ = index.search(Q, 10, rerank=50)
    assert (D_sharded >= single.search(Q, 10, rerank=50)[0]).all()
    for got, want in zip(index.search(Q, 10, rerank=10_000), single.search(Q, 10, rerank=10_000)):
        np.testing.assert_array_equal(got, want)
    gone = np.r_[np.arange(0, 5000, 7), 10**12 + 5, 10**12 + 4001]
    assert index.remove_ids(gone) == single.remove_ids(gone) == 715 + 2  # ids 10**12 + 4000.. came from add()
    np.testing.assert_array_equal(index.ids, single.ids)
    np.testing.assert_array_equal(index.reconstruct([1, 10**12 + 6]), single.reconstruct([1, 10**12 + 6]))
    with pytest.raises(ValueError, match="not in the index"):
        index.reconstruct([0])
    with pytest.raises(ValueError, match="already in the index"):
        index.add_with_ids(X[:1], [10**12 + 6])
    index.save(tmp_path / "ids")
    loaded = tdask.load_index(tmp_path / "ids", client=client)
    for rerank in (None, 50):
        for got, want in zip(loaded.search(Q, 10, rerank=rerank), index.search(Q, 10, rerank=rerank)):
            np.testing.assert_array_equal(got, want)
    loaded.add(X[:1])
    assert loaded.ids.max() == 10**12 + 5000  # next id survives save/load
    with pytest.raises(ValueError, match="exceeds"):
        loaded.search(Q, 2**31 - 1)
    loaded.reset()
    assert len(loaded) == 0


def test_searches_beside_one_writer_see_whole_versions(client, data):
    import threading

    X, Q = data
    enc = tenfold.BoltEncoder(ncodebooks=8).fit(X[:3000])
    index = tdask.ShardedIndex(enc, client=client)
    expected = []
    reference = tenfold.BoltIndex(enc)
    for i in range(6):
        reference.add(X[i * 500:(i + 1) * 500])
        expected.append(reference.search(Q[:4], 5))
    stop, errors, calls = threading.Event(), [], [0]

    def read():
        while not stop.is_set():
            try:
                D, I = index.search(Q[:4], 5)
            except ValueError as err:  # before the first add
                assert "empty" in str(err)
                continue
            if not any(np.array_equal(I, e[1]) and np.array_equal(D, e[0]) for e in expected):
                errors.append(I[0])
            calls[0] += 1

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            index.reset()
            for i in range(6):
                index.add(X[i * 500:(i + 1) * 500], chunk_rows=250)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors and calls[0] >= 6, (errors[:3], calls)  # every search ran during the writes


def test_compress_to_zarr_refuses_its_own_source(client, tmp_path):
    """compress_to_zarr(da.from_zarr(store), store, overwrite=True) created the new array (erasing
    the old chunks) before the tasks read them: the input was lost and the result all zeros.
    A destination holding an array the input reads is now a ValueError, and the input stays."""
    zarr = pytest.importorskip("zarr")
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("zarr v3 API needed")
    x = np.arange(3000, dtype=np.int16).reshape(1000, 3)
    z = zarr.create_array(str(tmp_path / "src.zarr"), shape=x.shape, chunks=(250, 3), dtype=x.dtype)
    z[:] = x
    for source, dst in ((da.from_zarr(str(tmp_path / "src.zarr")), tmp_path / "src.zarr"),
                        (z, str(tmp_path / "." / "src.zarr")), (da.from_array(z) + 1, tmp_path)):
        with pytest.raises(ValueError, match="read from"):
            tdask.compress_to_zarr(source, dst, overwrite=True)
    assert np.array_equal(zarr.open_array(str(tmp_path / "src.zarr"))[:], x)
    out = tdask.compress_to_zarr(da.from_zarr(str(tmp_path / "src.zarr")), tmp_path / "copy.zarr")
    assert np.array_equal(out[:], x)
