"""The ``tenfold demo`` sections: each algorithm on synthesised data against numpy and the
libraries it competes with (FAISS, zlib/lzma/zstd, stumpy) when they are installed."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

import tenfold
from ._bench import median_time as _median_time
from ._progress import progress
from ._table import table
from .cli import version
from .datasets import planted_series, synthetic_embeddings, synthetic_sensors
from .metrics import interval_f1


def demo_bolt(n: int, d: int, nq: int, k: int, ncodebooks: int, threads: int) -> list[list[str]]:
    steps = ["data", "fit", "encode", "search", "exact"]
    rows: list[list[str]] = []
    results: dict[str, Any] = {}  # seconds per step, and the result ids (arrays)
    X = Q = np.empty((0, d), np.float32)
    for step in progress(steps, len(steps), "bolt demo"):
        if step == "data":
            X = synthetic_embeddings(n + nq, d)
            X, Q = X[:n], X[n:]
        elif step == "fit":
            t = time.perf_counter()
            enc = tenfold.BoltEncoder(ncodebooks=ncodebooks, metric="l2").fit(X[: min(n, 50_000)])
            results["fit"] = time.perf_counter() - t
        elif step == "encode":
            results["encode"] = _median_time(lambda: enc.encode(X, n_threads=threads), 3)
            index = tenfold.BoltIndex(enc)
            index.add(X, n_threads=threads)
        elif step == "search":
            results["search"] = _median_time(lambda: index.search(Q, k, n_threads=threads), 5)
            _, results["I"] = index.search(Q, k, n_threads=threads)
            _, results["I100"] = index.search(Q, 10 * k, n_threads=threads)
        else:
            sq = (X.astype(np.float32) ** 2).sum(1)

            def exact() -> np.ndarray:
                dist = sq[None, :] - 2 * (Q @ X.T)
                part = np.argpartition(dist, k, axis=1)[:, :k]
                return np.take_along_axis(part, np.argsort(np.take_along_axis(dist, part, 1), 1), 1)

            results["exact"] = _median_time(exact, 3)
            results["truth"] = exact()
    truth, got = results["truth"], results["I"]
    recall = np.mean([len(set(t) & set(g)) / k for t, g in zip(truth, got)])
    recall100 = np.mean([len(set(t) & set(g)) / k for t, g in zip(truth, results["I100"])])
    scanned = n * nq
    rows.append(["numpy X @ Q.T + argpartition", f"{results['exact'] * 1e3:.1f} ms",
                 f"{scanned / results['exact'] / 1e9:.2f}", "1.00", "exact"])
    rows.append([f"tenfold Bolt ({ncodebooks // 2} B/vector, {tenfold.isa()})", f"{results['search'] * 1e3:.1f} ms",
                 f"{scanned / results['search'] / 1e9:.2f}", f"{results['exact'] / results['search']:.1f}x",
                 f"recall {k}@{k} {recall:.3f}, {k}@{10 * k} {recall100:.3f}"])
    try:
        import faiss  # optional anchor
    except ImportError:
        rows.append(["faiss IndexPQFastScan", "not installed", "", "", "pip install faiss-cpu"])
    else:
        faiss.omp_set_num_threads(threads)
        fi = faiss.IndexPQFastScan(d, ncodebooks, 4)
        fi.train(X[: min(n, 50_000)])
        fi.add(X)
        t_f = _median_time(lambda: fi.search(Q, k), 5)
        _, fI = fi.search(Q, k)
        frec = np.mean([len(set(t) & set(g)) / k for t, g in zip(truth, fI)])
        _, fI100 = fi.search(Q, 10 * k)
        frec100 = np.mean([len(set(t) & set(g)) / k for t, g in zip(truth, fI100)])
        rows.append(["faiss IndexPQFastScan", f"{t_f * 1e3:.1f} ms", f"{scanned / t_f / 1e9:.2f}",
                     f"{results['exact'] / t_f:.1f}x", f"recall {k}@{k} {frec:.3f}, {k}@{10 * k} {frec100:.3f}"])
    print(f"\nBolt k-NN search: {n:,} vectors of d={d}, {nq} queries, k={k}, {threads} thread(s); "
          f"encode {n / results['encode'] / 1e6:.1f} M vectors/s, fit {results['fit']:.1f} s")
    return rows


def demo_maddness(n: int, d: int, m: int, ncodebooks: int, threads: int) -> list[list[str]]:
    """Approximate A @ B (a CIFAR-100-like final layer on synthesised embeddings) vs numpy."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
        blas_limit = threadpool_limits(threads)
        blas_note = f"BLAS pinned to {threads} thread(s)"
    except ImportError:  # pragma: no cover - depends on the environment
        blas_limit, blas_note = contextlib.nullcontext(), "BLAS threads not pinned (no threadpoolctl)"
    # m classes in a rank-64 latent space; B holds the class means (a nearest-mean classifier,
    # i.e. a linear final layer). Accuracy = agreement of the argmax with the true class.
    rng = np.random.default_rng(1)
    rank = 64
    basis = rng.normal(size=(rank, d)) / np.sqrt(rank)
    centers = rng.normal(size=(m, rank)) * 1.5
    labels = rng.integers(m, size=n + 10_000)
    X = ((centers[labels] + rng.normal(size=(len(labels), rank))) @ basis
         + 0.25 * rng.normal(size=(len(labels), d))).astype(np.float32)
    A_train, A, y = X[:10_000], np.asfortranarray(X[10_000:]), labels[10_000:]
    B = np.ascontiguousarray((centers @ basis).T, dtype=np.float32)
    B /= np.linalg.norm(B, axis=0, keepdims=True)
    rows: list[list[str]] = []
    with blas_limit:
        exact = A @ B
        t_exact = _median_time(lambda: A @ B, 5)
        amm = tenfold.Maddness(ncodebooks=ncodebooks, n_threads=threads).fit(A_train, B)
        approx = amm.matmul(A)
        t_amm = _median_time(lambda: amm.matmul(A), 5)
        A_c = np.ascontiguousarray(A)
        t_amm_c = _median_time(lambda: amm.matmul(A_c), 5)
    rel = float(np.linalg.norm(approx - exact) / np.linalg.norm(exact))
    acc_exact = float((exact.argmax(1) == y).mean())
    acc = float((approx.argmax(1) == y).mean())
    rows.append([f"numpy A @ B ({blas_note})", f"{t_exact * 1e3:.2f} ms", "1.0x", f"class accuracy {acc_exact:.1%}"])
    rows.append([f"tenfold Maddness C={ncodebooks}, A Fortran order", f"{t_amm * 1e3:.2f} ms",
                 f"{t_exact / t_amm:.1f}x", f"class accuracy {acc:.1%}, rel. err {rel:.3f}"])
    rows.append([f"tenfold Maddness C={ncodebooks}, A C order", f"{t_amm_c * 1e3:.2f} ms",
                 f"{t_exact / t_amm_c:.1f}x", "same"])
    return rows


def demo_extract(n_series: int = 5, with_stumpy: bool = False) -> list[list[str]]:
    """EXTRACT on synthesised series (n=3000, d=4, 3-8 stretched instances, length 50..70),
    against stumpy's multidimensional motifs (told the true K and the mean length) if installed."""
    from . import extract

    data = [planted_series(3000, 4, 3 + seed % 6, 50, 70, seed=seed)[:2] for seed in range(n_series)]
    f1s, times = [], []
    for x, truth in progress(data, n_series, "extract demo"):
        t = time.perf_counter()
        hits = extract.find_instances(x, 50, 70, random_state=0)
        times.append(time.perf_counter() - t)
        f1s.append(interval_f1(list(zip(hits.starts, hits.ends)), truth))
    print(f"\nEXTRACT: {n_series} series of 3,000 x 4, 3-8 planted instances of length 50-70, 1 thread")
    rows = [["tenfold extract.find_instances", f"{np.median(times) * 1e3:.0f} ms", f"F1@IoU.5 {np.mean(f1s):.2f}",
             "given the length range 50-70"]]
    if not with_stumpy:
        rows.append(["stumpy mstump + mmotifs", "skipped", "", "tenfold demo --stumpy (numba compiles ~5-60 s)"])
        return rows
    try:
        import stumpy
    except ImportError:
        rows.append(["stumpy mstump + mmotifs", "not installed", "", "pip install stumpy"])
        return rows
    t = time.perf_counter()
    stumpy.mstump(np.random.default_rng(0).normal(size=(2, 300)), 20)   # numba compilation
    compile_s = time.perf_counter() - t
    sf1, stimes = [], []
    for x, truth in data:
        K = len(truth)
        m = int(round(np.mean([e - s for s, e in truth])))
        T = np.ascontiguousarray(x.T)
        t = time.perf_counter()
        P, I = stumpy.mstump(T, m)
        _, idx, _, _ = stumpy.mmotifs(T, P, I, max_motifs=1, max_matches=K, k=T.shape[0] - 1)
        stimes.append(time.perf_counter() - t)
        starts = sorted(int(i) for i in np.asarray(idx[0])[:K]) if len(idx) else []
        sf1.append(interval_f1([(s, s + m) for s in starts], truth))
    rows.append(["stumpy mstump + mmotifs", f"{np.median(stimes) * 1e3:.0f} ms", f"F1@IoU.5 {np.mean(sf1):.2f}",
                 f"told true K and length; +{compile_s:.1f} s numba compile"])
    return rows


def demo_sprintz(n: int) -> list[list[str]]:
    """Sprintz vs the stdlib's zlib and lzma (and zstd if installed) on synthesised sensor data."""
    import lzma
    import zlib

    from . import sprintz

    datasets = [("16-bit, 1 var", synthetic_sensors(n, 1, 16)[:, 0]),
                ("16-bit, 8 vars", synthetic_sensors(n // 8, 8, 16, 1)),
                ("8-bit, 32 vars", synthetic_sensors(n // 16, 32, 8, 2))]
    codecs: list[tuple[str, Callable[[np.ndarray], bytes], Callable[[bytes], Any]]] = [
        ("sprintz fire+huffman", lambda x: sprintz.compress(x), sprintz.decompress),
        ("sprintz delta", lambda x: sprintz.compress(x, forecaster="delta", entropy=False), sprintz.decompress),
        ("zlib level 6", lambda x: zlib.compress(x.tobytes(), 6), zlib.decompress),
        ("lzma preset 1", lambda x: lzma.compress(x.tobytes(), preset=1), lzma.decompress),
    ]
    try:
        import zstandard
    except ImportError:
        pass
    else:
        codecs.append(("zstd level 3", lambda x: zstandard.ZstdCompressor(level=3).compress(x.tobytes()),
                       lambda b: zstandard.ZstdDecompressor().decompress(b)))
    rows = []
    for (dname, x), (cname, comp, decomp) in progress([(d, c) for d in datasets for c in codecs],
                                                      len(datasets) * len(codecs), "sprintz demo"):
        repeat = 1 if cname.startswith("lzma") else 3
        buf = comp(x)
        tc = _median_time(lambda: comp(x), repeat)
        td = _median_time(lambda: decomp(buf), repeat)
        back = decomp(buf)
        ok = np.array_equal(np.frombuffer(back, x.dtype).reshape(x.shape) if isinstance(back, bytes) else back, x)
        rows.append([f"{dname}: {cname}", f"{x.nbytes / len(buf):.2f}", f"{x.nbytes / tc / 1e6:.0f}",
                     f"{x.nbytes / td / 1e6:.0f}", "lossless" if ok else "MISMATCH"])
    print(f"\nSprintz on synthesised sensor data ({n:,} samples per set, 1 thread, {tenfold.isa()} path)")
    return rows


def run(n: int, threads: int, stumpy: bool) -> None:
    """Print every section's table (what `tenfold demo` shows)."""
    print(f"tenfold {version()} on the {tenfold.isa()} path (supported: {', '.join(tenfold.supported_isas())})")
    rows = demo_bolt(n, 128, 100, 10, 16, threads)
    print(table(rows, ["method", "time", "G codes/s", "speed-up", "accuracy"]))
    print()
    print("MADDNESS: approximate A @ B, A (10,000 x 512) synthesised embeddings of 100 classes, "
          "B (512 x 100) class means, B known ahead, 10,000 training rows")
    rows = demo_maddness(10_000, 512, 100, 16, threads)
    print(table(rows, ["method", "time", "speed-up", "accuracy"]))
    print()
    rows = demo_sprintz(min(n, 2_000_000))
    print(table(rows, ["data: method", "ratio", "compress MB/s", "decompress MB/s", "check"]))
    print()
    print(table(demo_extract(with_stumpy=stumpy), ["method", "time/series", "accuracy", "notes"]))
