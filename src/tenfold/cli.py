"""The ``tenfold`` command (also ``python -m tenfold``)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Sequence

import numpy as np

import tenfold
from ._bench import median_time as _median_time
from ._progress import progress


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def synthetic_embeddings(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Low-rank Gaussian mixture plus noise, the shape of real embedding sets."""
    rng = np.random.default_rng(seed)
    rank = max(4, d // 8)
    basis = rng.normal(size=(rank, d)) / np.sqrt(rank)
    centers = rng.normal(size=(64, rank)) * 2.0
    latent = centers[rng.integers(64, size=n)] + rng.normal(size=(n, rank))
    return (latent @ basis + 0.25 * rng.normal(size=(n, d))).astype(np.float32)


def demo_bolt(n: int, d: int, nq: int, k: int, ncodebooks: int, threads: int) -> list[list[str]]:
    steps = ["data", "fit", "encode", "search", "exact"]
    rows: list[list[str]] = []
    results: dict[str, object] = {}
    X = Q = None
    for step in progress(steps, len(steps), "bolt demo", enabled=True):
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

            def exact():
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


def planted_series(n: int, d: int, K: int, lo: int, hi: int, seed: int = 0, *, noise: float = 0.3,
                   walk: bool = False, shape: np.ndarray | None = None):
    """K time-stretched instances (lengths in [lo, hi]) of one smooth shape in noise (a random
    walk of it if walk=True). The shape (hi, d) is random unless given. Returns (x, truth, shape)
    with truth the [start, end) of every instance."""
    rng = np.random.default_rng(seed)
    if shape is None:
        shape = rng.normal(size=(hi, d)).cumsum(0)
        shape = (shape - shape.mean(0)) / shape.std(0)
    x = rng.normal(size=(n, d)) * noise
    if walk:
        x = x.cumsum(0)
    sp = hi + hi // 4 + 1
    slots = np.sort(rng.choice(np.arange(n // sp - 1), K, replace=False)) * sp + rng.integers(0, hi // 4, K)
    truth = []
    for s in slots:
        L = int(rng.integers(lo, hi + 1))
        inst = np.stack([np.interp(np.linspace(0, hi - 1, L), np.arange(hi), shape[:, j]) for j in range(d)], 1)
        x[s:s + L] += 2 * inst * np.hanning(L)[:, None] ** 0.5
        truth.append((int(s), int(s + L)))
    return x, truth, shape


def interval_f1(pred: list, truth: list, iou: float = 0.5) -> float:
    """F1 with one-to-one matching of intervals (greedy on IoU, highest first)."""
    if not pred or not truth:
        return 0.0
    M = np.array([[max(0, min(p[1], t[1]) - max(p[0], t[0])) / (max(p[1], t[1]) - min(p[0], t[0]))
                   for t in truth] for p in pred])
    tp = 0
    while M.size and M.max() >= iou:
        i, j = np.unravel_index(M.argmax(), M.shape)
        tp += 1
        M[i, :] = -1
        M[:, j] = -1
    return 2 * tp / (len(pred) + len(truth))


def demo_extract(n_series: int = 5, with_stumpy: bool = False) -> list[list[str]]:
    """EXTRACT on synthesised series (n=3000, d=4, 3-8 stretched instances, length 50..70),
    against stumpy's multidimensional motifs (told the true K and the mean length) if installed."""
    from . import extract

    data = [planted_series(3000, 4, 3 + seed % 6, 50, 70, seed=seed)[:2] for seed in range(n_series)]
    f1s, times = [], []
    for x, truth in progress(data, n_series, "extract demo", enabled=True):
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


def synthetic_sensors(n: int, nvars: int, bits: int, seed: int = 0) -> np.ndarray:
    """Multichannel sensor-like integers: drifting oscillations, steps, plateaus and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    freq = rng.uniform(1 / 400, 1 / 40, size=nvars)
    sig = np.sin(2 * np.pi * freq * t + rng.uniform(0, 6, nvars)) + 0.3 * np.sin(2 * np.pi * 7 * freq * t)
    steps = np.cumsum(rng.random((n, nvars)) < 0.0005, axis=0) % 3 * 0.3
    sig = sig + steps
    top = (1 << (bits - 1)) - 1
    x = np.rint(sig / np.abs(sig).max() * 0.8 * top + rng.normal(0, 3 if bits == 16 else 0.6, size=(n, nvars)))
    return x.astype(np.int8 if bits == 8 else np.int16)


def demo_sprintz(n: int) -> list[list[str]]:
    """Sprintz vs the stdlib's zlib and lzma (and zstd if installed) on synthesised sensor data."""
    import lzma
    import zlib

    from . import sprintz

    datasets = [("16-bit, 1 var", synthetic_sensors(n, 1, 16)[:, 0]),
                ("16-bit, 8 vars", synthetic_sensors(n // 8, 8, 16, 1)),
                ("8-bit, 32 vars", synthetic_sensors(n // 16, 32, 8, 2))]
    codecs: list[tuple[str, Callable, Callable]] = [
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
                                                      len(datasets) * len(codecs), "sprintz demo", enabled=True):
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


def cmd_demo(args: argparse.Namespace) -> int:
    print(f"tenfold {tenfold.__version__} on the {tenfold.isa()} path (supported: {', '.join(tenfold.supported_isas())})")
    rows = demo_bolt(args.n, 128, 100, 10, 16, args.threads)
    print(_table(rows, ["method", "time", "G codes/s", "speed-up", "accuracy"]))
    print()
    print("MADDNESS: approximate A @ B, A (10,000 x 512) synthesised embeddings of 100 classes, "
          "B (512 x 100) class means, B known ahead, 10,000 training rows")
    rows = demo_maddness(10_000, 512, 100, 16, args.threads)
    print(_table(rows, ["method", "time", "speed-up", "accuracy"]))
    print()
    rows = demo_sprintz(min(args.n, 2_000_000))
    print(_table(rows, ["data: method", "ratio", "compress MB/s", "decompress MB/s", "check"]))
    print()
    print(_table(demo_extract(with_stumpy=args.stumpy), ["method", "time/series", "accuracy", "notes"]))
    return 0


def _parse_length(text: str, rate: float, name: str) -> int:
    """'0.3s', '300ms' (seconds, converted with `rate` frames per second) or a frame count."""
    t = text.strip().lower()
    try:
        if t.endswith("ms"):
            return max(2, int(round(float(t[:-2]) / 1000.0 * rate)))
        if t.endswith("s"):
            return max(2, int(round(float(t[:-1]) * rate)))
        return int(t)
    except ValueError:
        raise SystemExit(f"tenfold: error: {name} must look like 0.3s, 300ms or a frame count, got {text!r}")


def cmd_find_instances(args: argparse.Namespace) -> int:
    from . import audio, extract

    path = args.recording
    if path.lower().endswith(".npy"):
        series = np.load(path, allow_pickle=False)
        min_sig = 0.0
        rate, unit = args.rate, "s" if args.rate != 1.0 else "samples"
        label = f"{series.shape[0]} samples"
    else:
        try:
            sound, sr = audio.read_wav(path)
        except ValueError as err:
            raise SystemExit(f"tenfold find-instances: error: {err}")
        series = audio.speech_features(sound, sr)
        min_sig = audio.SPEECH_MIN_SIGNIFICANCE
        rate, unit = 1.0 / audio.SPEECH_HOP_S, "s"
        label = f"{len(sound) / sr:.2f} s of audio at {sr} Hz -> {series.shape[0]} frames of speech features"
    lo = _parse_length(args.min_length, rate, "--min-length")
    hi = _parse_length(args.max_length, rate, "--max-length")
    t = time.perf_counter()
    try:
        hits = extract.find_instances(series, lo, hi, random_state=args.seed, min_significance=min_sig)
    except (ValueError, TypeError) as err:
        raise SystemExit(f"tenfold: error: {err}")
    took = time.perf_counter() - t
    print(f"{path}: {label}; {len(hits)} instance(s) found in {took * 1e3:.0f} ms")
    rows = [[str(i + 1), f"{s / rate:.3f}", f"{e / rate:.3f}", f"{(e - s) / rate:.3f}", f"{sc:.1f}"]
            for i, (s, e, sc) in enumerate(zip(hits.starts, hits.ends, hits.scores))]
    if rows:
        print(_table(rows, ["#", f"start ({unit})", f"end ({unit})", f"length ({unit})", "score"]))
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise SystemExit("tenfold: error: --plot needs matplotlib (pip install matplotlib)")
        fig, ax = plt.subplots(figsize=(12, 4))
        tt = np.arange(series.shape[0]) / rate
        s2 = series.reshape(series.shape[0], -1)
        z = (s2 - s2.mean(0)) / (s2.std(0) + 1e-12)
        ax.imshow(z.T, aspect="auto", origin="lower", cmap="viridis",
                  extent=(0, tt[-1] if len(tt) else 1, 0, z.shape[1]))
        for s, e in zip(hits.starts, hits.ends):
            ax.axvspan(s / rate, e / rate, color="red", alpha=0.3)
        ax.set_xlabel(f"time ({unit})")
        ax.set_ylabel("feature")
        ax.set_title(f"{len(hits)} instances found by EXTRACT")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"plot written to {args.plot}")
    return 0


def cmd_compress(args: argparse.Namespace) -> int:
    from . import sprintz

    t = time.perf_counter()
    try:
        stats = sprintz.compress_file(args.src, args.dst, forecaster=args.forecaster, entropy=not args.no_entropy)
    except (ValueError, TypeError, OSError) as exc:
        print(f"tenfold compress: error: {exc}", file=sys.stderr)
        return 2
    dt = time.perf_counter() - t
    print(f"{args.src} -> {args.dst}: {stats['raw_bytes']:,} -> {stats['compressed_bytes']:,} bytes "
          f"(ratio {stats['ratio']:.2f}, {stats['raw_bytes'] / max(dt, 1e-9) / 1e6:.0f} MB/s)")
    return 0


def cmd_decompress(args: argparse.Namespace) -> int:
    from . import sprintz

    t = time.perf_counter()
    try:
        shape = sprintz.decompress_file(args.src, args.dst)
    except (ValueError, OSError) as exc:
        print(f"tenfold decompress: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.src} -> {args.dst}: shape {shape} in {time.perf_counter() - t:.2f} s")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    print(f"tenfold {tenfold.__version__}")
    print(f"isa: {tenfold.isa()} (supported: {', '.join(tenfold.supported_isas())})")
    print(f"threads: {tenfold._runtime.default_threads()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tenfold", description=tenfold.__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the main job on synthesised data and compare with numpy/FAISS")
    p.add_argument("--n", type=int, default=1_000_000, help="number of vectors (default 1,000,000)")
    p.add_argument("--threads", type=int, default=1, help="threads for every method (default 1)")
    p.add_argument("--stumpy", action="store_true", help="also run stumpy in the EXTRACT section (slow first call)")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("find-instances", help="find every instance of the repeated event in a WAV (or .npy) file")
    p.add_argument("recording", help="a PCM .wav file (MFCC features are used) or a .npy array (n,) or (n, d)")
    p.add_argument("--min-length", required=True, help="shortest instance: 0.3s, 300ms, or a frame count")
    p.add_argument("--max-length", required=True, help="longest instance: 0.6s, 600ms, or a frame count")
    p.add_argument("--rate", type=float, default=1.0, help="samples per second of a .npy series (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--plot", default=None, help="write a picture with the instances shaded (needs matplotlib)")
    p.set_defaults(fn=cmd_find_instances)
    p = sub.add_parser("compress", help="compress an integer .npy file with Sprintz (lossless)")
    p.add_argument("src", help="input .npy (int8/uint8/int16/uint16, shape (n,) or (n, nvars))")
    p.add_argument("dst", help="output file")
    p.add_argument("--forecaster", choices=["fire", "delta"], default="fire")
    p.add_argument("--no-entropy", action="store_true", help="skip the Huffman stage (faster decoding)")
    p.set_defaults(fn=cmd_compress)
    p = sub.add_parser("decompress", help="decompress a file from `tenfold compress` to .npy")
    p.add_argument("src", help="input written by `tenfold compress`")
    p.add_argument("dst", help="output .npy")
    p.set_defaults(fn=cmd_decompress)
    p = sub.add_parser("info", help="print the SIMD path and thread count in use")
    p.set_defaults(fn=cmd_info)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
