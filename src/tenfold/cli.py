"""The ``tenfold`` command (also ``python -m tenfold``)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Sequence

import numpy as np

import tenfold
from ._progress import progress


def _median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


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
    scanned = n * nq
    rows.append(["numpy X @ Q.T + argpartition", f"{results['exact'] * 1e3:.1f} ms",
                 f"{scanned / results['exact'] / 1e9:.2f}", "1.00", "exact"])
    rows.append([f"tenfold Bolt ({ncodebooks // 2} B/vector, {tenfold.isa()})", f"{results['search'] * 1e3:.1f} ms",
                 f"{scanned / results['search'] / 1e9:.2f}", f"{results['exact'] / results['search']:.1f}x",
                 f"recall@{k} {recall:.3f}"])
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
        rows.append(["faiss IndexPQFastScan", f"{t_f * 1e3:.1f} ms", f"{scanned / t_f / 1e9:.2f}",
                     f"{results['exact'] / t_f:.1f}x", f"recall@{k} {frec:.3f}"])
    print(f"\nBolt k-NN search: {n:,} vectors of d={d}, {nq} queries, k={k}, {threads} thread(s); "
          f"encode {n / results['encode'] / 1e6:.1f} M vectors/s, fit {results['fit']:.1f} s")
    return rows


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
    rows = demo_sprintz(min(args.n, 2_000_000))
    print(_table(rows, ["data: method", "ratio", "compress MB/s", "decompress MB/s", "check"]))
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
    p.set_defaults(fn=cmd_demo)
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
