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


def cmd_demo(args: argparse.Namespace) -> int:
    print(f"tenfold {tenfold.__version__} on the {tenfold.isa()} path (supported: {', '.join(tenfold.supported_isas())})")
    rows = demo_bolt(args.n, 128, 100, 10, 16, args.threads)
    print(_table(rows, ["method", "time", "G codes/s", "speed-up", "accuracy"]))
    print()
    print("MADDNESS: approximate A @ B, A (10,000 x 512) synthesised embeddings of 100 classes, "
          "B (512 x 100) class means, B known ahead, 10,000 training rows")
    rows = demo_maddness(10_000, 512, 100, 16, args.threads)
    print(_table(rows, ["method", "time", "speed-up", "accuracy"]))
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
    p = sub.add_parser("info", help="print the SIMD path and thread count in use")
    p.set_defaults(fn=cmd_info)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
