"""Bolt public API: accuracy on structured data, persistence and bad input."""

import numpy as np
import pytest

import tenfold
from conftest import structured_data


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    both = structured_data(6020, 48, rng)  # queries drawn from the same distribution
    return both[:6000], both[6000:]


@pytest.fixture(scope="module")
def fitted(data):
    X, _ = data
    return {m: tenfold.BoltEncoder(ncodebooks=16, metric=m).fit(X) for m in ("l2", "dot")}


def test_encode_decode_shapes_and_error(data, fitted):
    X, _ = data
    enc = fitted["l2"]
    codes = enc.encode(X)
    assert codes.dtype == np.uint8 and codes.shape == (len(X), 8)
    Xh = enc.decode(codes)
    assert Xh.dtype == np.float32 and Xh.shape == X.shape
    rel = ((X - Xh) ** 2).sum() / ((X - X.mean(0)) ** 2).sum()
    assert rel < 0.2, rel  # 16 centroids per 3-dim subspace explain most of the variance


def test_any_dimension_near_equal_subspaces():
    X = np.random.default_rng(2).normal(size=(300, 37))
    enc = tenfold.BoltEncoder(ncodebooks=6).fit(X)
    widths = np.diff(enc.bounds_)
    assert widths.sum() == 37 and widths.max() - widths.min() <= 1


@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_scores_correlate_with_exact(data, fitted, metric, isa):
    X, Q = data
    index = tenfold.BoltIndex(fitted[metric])
    index.add(X)
    approx = index.scores(Q)
    exact = ((Q[:, None, :] - X[None]) ** 2).sum(-1) if metric == "l2" else Q @ X.T
    assert approx.shape == (len(Q), len(X)) and approx.dtype == np.float32
    assert np.corrcoef(approx.ravel(), exact.ravel())[0, 1] > 0.95


@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_search_consistent_with_scores_and_recall(data, fitted, metric, isa):
    X, Q = data
    index = tenfold.BoltIndex(fitted[metric])
    index.add(X[:3000])
    index.add(X[3000:])  # appending mid-block keeps ids continuous
    D, I = index.search(Q, k=10)
    assert D.dtype == np.float32 and I.dtype == np.int64 and I.shape == (len(Q), 10)
    S = index.scores(Q)
    np.testing.assert_allclose(np.take_along_axis(S, I, axis=1), D, rtol=1e-5, atol=1e-3)
    step = 1 if metric == "l2" else -1
    assert np.all(np.diff(D, axis=1) * step >= 0)  # best first
    exact = ((Q[:, None, :] - X[None]) ** 2).sum(-1) if metric == "l2" else -(Q @ X.T)
    truth = np.argsort(exact, axis=1)[:, :10]
    _, I100 = index.search(Q, k=100)
    recall = np.mean([len(set(t) & set(r)) / 10 for t, r in zip(truth, I100)])
    assert recall > 0.7, recall


def test_k_larger_than_index_pads(fitted, data):
    X, Q = data
    index = tenfold.BoltIndex(fitted["l2"])
    index.add(X[:5])
    D, I = index.search(Q[:2], k=8)
    assert (I[:, 5:] == -1).all() and np.isinf(D[:, 5:]).all()
    assert sorted(I[0, :5]) == list(range(5))
    index_dot = tenfold.BoltIndex(fitted["dot"])
    index_dot.add(X[:5])
    D, _ = index_dot.search(Q[:2], k=8)
    assert (D[:, 5:] == -np.inf).all()


def test_save_load_round_trip(tmp_path, data, fitted):
    X, Q = data
    index = tenfold.BoltIndex(fitted["dot"])
    index.add(X[:777])
    index.save(tmp_path / "i.tfz")
    loaded = tenfold.load(tmp_path / "i.tfz")
    assert isinstance(loaded, tenfold.BoltIndex) and len(loaded) == 777
    np.testing.assert_array_equal(loaded.codes, index.codes)
    for a, b in zip(loaded.search(Q, 7), index.search(Q, 7)):
        np.testing.assert_array_equal(a, b)
    fitted["l2"].save(tmp_path / "e.tfz")
    enc = tenfold.load(tmp_path / "e.tfz")
    assert enc.get_params() == fitted["l2"].get_params()
    np.testing.assert_array_equal(enc.encode(X[:50]), fitted["l2"].encode(X[:50]))


def test_corrupt_files_raise_value_error(tmp_path, fitted):
    path = tmp_path / "e.tfz"
    fitted["l2"].save(path)
    blob = path.read_bytes()
    cases = {
        "truncated": blob[: len(blob) // 2],
        "tiny": blob[:5],
        "magic": b"XXXXXXXX" + blob[8:],
        "version": blob[:8] + (99).to_bytes(4, "little") + blob[12:],
        "flipped": blob[:-10] + bytes([blob[-10] ^ 0xFF]) + blob[-9:],
        "header": blob[:16] + b"[" + blob[17:],
    }
    for name, bad in cases.items():
        p = tmp_path / f"{name}.tfz"
        p.write_bytes(bad)
        with pytest.raises(ValueError):
            tenfold.load(p)
    (tmp_path / "empty.tfz").write_bytes(b"")
    with pytest.raises(ValueError, match="not a tenfold file"):
        tenfold.load(tmp_path / "empty.tfz")


def test_random_corruption_never_crashes(tmp_path, fitted):
    path = tmp_path / "e.tfz"
    fitted["l2"].save(path)
    blob = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for trial in range(200):
        bad = bytearray(blob)
        for pos in rng.integers(0, len(bad), size=rng.integers(1, 4)):
            bad[pos] = rng.integers(0, 256)
        p = tmp_path / "bad.tfz"
        p.write_bytes(bytes(bad))
        try:
            obj = tenfold.load(p)
        except ValueError:
            continue
        assert obj.encode(np.zeros((1, obj.d), dtype=np.float32)).shape == (1, 8)


class TestBadInput:
    def test_params(self):
        for bad in (3, 0, 1, 258):
            with pytest.raises(ValueError, match="ncodebooks"):
                tenfold.BoltEncoder(ncodebooks=bad)
        with pytest.raises(TypeError, match="ncodebooks"):
            tenfold.BoltEncoder(ncodebooks=4.0)
        with pytest.raises(ValueError, match="metric"):
            tenfold.BoltEncoder(metric="angular")

    def test_unfitted(self):
        enc = tenfold.BoltEncoder(4)
        with pytest.raises(ValueError, match="not fitted"):
            enc.encode(np.zeros((2, 8)))
        with pytest.raises(ValueError, match="not fitted"):
            tenfold.BoltIndex(enc)
        with pytest.raises(TypeError, match="BoltEncoder"):
            tenfold.BoltIndex("nope")

    def test_fit_inputs(self):
        enc = tenfold.BoltEncoder(4)
        with pytest.raises(ValueError, match="16 rows"):
            enc.fit(np.zeros((10, 8)))
        with pytest.raises(ValueError, match="<= the dimension"):
            enc.fit(np.zeros((100, 3)))
        with pytest.raises(ValueError, match="empty"):
            enc.fit(np.zeros((0, 8)))
        X = np.random.default_rng(0).normal(size=(100, 8))
        X[7, 3] = np.nan
        with pytest.raises(ValueError, match="NaN or infinite.*row 7"):
            enc.fit(X)
        with pytest.raises(ValueError, match="too large"):
            enc.fit(np.full((100, 8), 1e300))
        with pytest.raises(ValueError, match="too large"):
            enc.fit(np.full((100, 8), 2.0 ** 61, dtype=np.float32))
        with pytest.raises(TypeError, match="real numeric"):
            enc.fit(np.zeros((100, 8), dtype=complex))
        with pytest.raises(TypeError, match="real numeric"):
            enc.fit(np.array([["a"] * 8] * 100))
        with pytest.raises(ValueError, match="2-D"):
            enc.fit(np.zeros(100))

    def test_int_input_is_converted(self, data):
        X, _ = data
        Xi = np.rint(X * 10).astype(np.int32)
        enc = tenfold.BoltEncoder(8).fit(Xi)
        np.testing.assert_array_equal(enc.encode(Xi), enc.encode(Xi.astype(np.float32)))

    def test_query_inputs(self, fitted, data):
        X, Q = data
        index = tenfold.BoltIndex(fitted["l2"])
        with pytest.raises(ValueError, match="empty"):
            index.search(Q, 1)
        index.add(X[:100])
        with pytest.raises(ValueError, match="48 columns"):
            index.search(Q[:, :10], 1)
        with pytest.raises(ValueError, match="k must be >= 1"):
            index.search(Q, 0)
        with pytest.raises(TypeError, match="k must be an int"):
            index.search(Q, 2.5)
        bad = Q.copy()
        bad[3, 0] = np.inf
        with pytest.raises(ValueError, match="NaN or infinite"):
            index.search(bad, 1)
        with pytest.raises(ValueError, match="n_threads"):
            index.search(Q, 1, n_threads=0)
        with pytest.raises(TypeError, match="codes must be uint8"):
            index.add_codes(np.zeros((3, 8), dtype=np.int64))
        with pytest.raises(ValueError, match="codes must have shape"):
            fitted["l2"].decode(np.zeros((3, 5), dtype=np.uint8))
        D, I = index.search(Q[:0], 3)
        assert D.shape == (0, 3) and I.shape == (0, 3)


def test_isa_controls():
    assert tenfold.isa() in tenfold.supported_isas()
    with pytest.raises(ValueError, match="isa must be one of"):
        tenfold.set_isa("sse9")
    if "avx512" not in tenfold.supported_isas():
        with pytest.raises(ValueError, match="cannot run"):
            tenfold.set_isa("avx512")


def test_environment_forces_isa():
    import subprocess
    import sys

    code = "import tenfold; print(tenfold.isa())"
    out = subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "TENFOLD_ISA": "scalar"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "scalar"


@pytest.mark.parametrize("refine", [None, "float16"])
def test_mmap_load_searches_and_reranks_from_the_file(tmp_path, refine):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(140_000, 16)).astype(np.float32)  # codes of 1.1 MB: mapped, not read
    index = tenfold.BoltIndex(tenfold.BoltEncoder(ncodebooks=16).fit(X[:5000]), refine=refine)
    index.add(X)
    index.save(tmp_path / "big.tfz")
    mapped = tenfold.load(tmp_path / "big.tfz", mmap=True)
    c = mapped._contents
    assert isinstance(c.blocked, np.memmap) and not c.blocked.flags.writeable
    rerank = None if refine is None else 40
    if refine is not None:
        assert isinstance(c.vectors, np.memmap)  # exact distances read from the file
    for a, b in zip(mapped.search(X[:9], 12, rerank=rerank), index.search(X[:9], 12, rerank=rerank)):
        np.testing.assert_array_equal(a, b)
    mapped.add(X[:3])  # appending copies the mapped codes into memory
    assert len(mapped) == len(X) + 3
    np.testing.assert_array_equal(mapped.codes[-3:], index.codes[:3])
    blob = (tmp_path / "big.tfz").read_bytes()
    (tmp_path / "cut.tfz").write_bytes(blob[: len(blob) - 100])
    with pytest.raises(ValueError, match="truncated"):
        tenfold.load(tmp_path / "cut.tfz", mmap=True)


def test_seed_beyond_int64_refused_at_construction(tmp_path, data):
    """A seed (or n_iter) a saved file cannot hold (checked to int64 / int32 on load) used to be
    accepted, fitted and saved, and only the load failed: the fitted model was lost. Now refused
    up front."""
    X, _ = data
    with pytest.raises(ValueError, match="random_state"):
        tenfold.BoltEncoder(ncodebooks=4, random_state=2**63)
    enc = tenfold.BoltEncoder(ncodebooks=4, random_state=2**63 - 1).fit(X[:500])
    enc.save(tmp_path / "e.tfz")
    assert tenfold.load(tmp_path / "e.tfz").random_state == 2**63 - 1
    with pytest.raises(ValueError, match="random_state"):
        tenfold.IVFBoltIndex(enc, 4, random_state=2**64)
    for make in (lambda: tenfold.BoltEncoder(4, n_iter=2**31), lambda: tenfold.IVFBoltIndex(enc, 4, n_iter=2**31)):
        with pytest.raises(ValueError, match="n_iter"):   # "until converged" beyond the int32 a file holds
            make()


@pytest.mark.parametrize("refine", [None, "float32"])
def test_no_queries_give_empty_results(data, fitted, refine):
    """Q with zero rows (numpy gives it zero strides) was refused as 'Q rows must be contiguous'."""
    X, _ = data
    index = tenfold.BoltIndex(fitted["l2"], refine=refine)
    index.add(X[:100])
    Q = np.zeros((0, X.shape[1]), np.float32)
    for D, I in [index.search(Q, k=3)] + ([index.search(Q, k=3, rerank=10)] if refine else []):
        assert D.shape == I.shape == (0, 3) and D.dtype == np.float32 and I.dtype == np.int64
    assert index.scores(Q).shape == (0, 100)
    assert fitted["l2"].lookup_tables(Q)[0].shape == (0, 16, 16)


def test_training_data_too_small_for_float32_is_refused(data):
    """Rows of magnitude ~1e-25 (squares underflow in float32) used to give an encoder whose codes
    were all alike (recall of the row itself 0.02 instead of 0.96), silently; data scaled down
    to a largest |x| of 2**-55 give the same codes as unscaled data."""
    X, _ = data
    X = X[:1000]
    ref = tenfold.BoltEncoder(ncodebooks=8).fit(X)
    small = (X.astype(np.float64) * (2.0**-55 / np.abs(X).max())).astype(np.float32)
    assert (tenfold.BoltEncoder(ncodebooks=8).fit(small).encode(small) == ref.encode(X)).mean() > 0.99
    tiny = (X.astype(np.float64) * 1e-25).astype(np.float32)
    for metric in ("l2", "dot"):
        with pytest.raises(ValueError, match="too small"):
            tenfold.BoltEncoder(ncodebooks=8, metric=metric).fit(tiny)
    with pytest.raises(ValueError, match="too small"):
        tenfold.IVFBoltIndex(ref, 4).train(tiny)
    tenfold.BoltEncoder(ncodebooks=8, metric="cosine").fit(tiny)   # rows scaled to unit length: fine
    tenfold.BoltEncoder(ncodebooks=8).fit(np.zeros((100, 16), np.float32))   # all zeros: allowed


def test_masked_arrays_are_refused(data, fitted):
    """A numpy masked array was used as its data with the mask dropped silently (Bolt, MADDNESS,
    EXTRACT); it is now a TypeError naming the argument."""
    X, _ = data
    masked = np.ma.masked_array(X[:100], mask=X[:100] > 1)
    with pytest.raises(TypeError, match="X is a masked array"):
        fitted["l2"].encode(masked)
    with pytest.raises(TypeError, match="X is a masked array"):
        tenfold.BoltEncoder(ncodebooks=4).fit(masked)
    amm = tenfold.Maddness(ncodebooks=4).fit(X[:500], np.ones((X.shape[1], 2)))
    with pytest.raises(TypeError, match="A is a masked array"):
        amm.matmul(masked)
    with pytest.raises(TypeError, match="X is a masked array"):
        tenfold.extract.find_instances(np.ma.masked_array(np.zeros(300), mask=False), 10, 20)
