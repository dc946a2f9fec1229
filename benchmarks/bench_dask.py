"""tenfold.dask benchmark: ShardedIndex search with 1 and 2 workers vs one BoltIndex.

LocalCluster with processes (one thread each), synthetic low-rank mixture, d = 128, 8-byte
codes. Reports throughput for a large query batch and the fixed cost Dask adds per call
(a 1-query search). Writes benchmarks/results/dask.{json,md}.

    python benchmarks/bench_dask.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median_time, write_results  # noqa: E402

import tenfold  # noqa: E402
import tenfold.dask as tdask  # noqa: E402
from tenfold.cli import synthetic_embeddings  # noqa: E402


def main() -> None:
    from distributed import Client, LocalCluster

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--nq", type=int, default=3000)
    args = ap.parse_args()
    data = synthetic_embeddings(args.n + args.nq, 128, seed=11)
    X, Q = data[:args.n], data[args.n:]
    enc = tenfold.BoltEncoder(ncodebooks=16).fit(X[:100_000])
    single = tenfold.BoltIndex(enc)
    single.add(X, n_threads=1)
    base = median_time(lambda: single.search(Q, 10, n_threads=1), 5)
    base_1q = median_time(lambda: single.search(Q[:1], 10, n_threads=1), 5)
    rows = [{"setup": "BoltIndex, 1 thread", "workers": 0, "batch_s": base, "one_query_s": base_1q},
            {"setup": "BoltIndex, 2 threads (machine's own scaling)", "workers": 0,
             "batch_s": median_time(lambda: single.search(Q, 10, n_threads=2), 5),
             "one_query_s": median_time(lambda: single.search(Q[:1], 10, n_threads=2), 5)}]
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            index = tdask.ShardedIndex(enc, client=client)
            index.add(X, chunk_rows=(args.n + 2 * workers - 1) // (2 * workers))
            index.search(Q[:1], 10)  # shards built
            rows.append({"setup": f"ShardedIndex, {workers} worker(s)", "workers": workers,
                         "batch_s": median_time(lambda: index.search(Q, 10), 5),
                         "one_query_s": median_time(lambda: index.search(Q[:1], 10), 5)})
    info = machine()
    lines = ["# Dask scale-out: ShardedIndex search\n",
             f"Machine: {info['cpu']}, {info['cores']} cores, `{info['isa']}`, {info['date']}. n = {args.n:,}, "
             f"d = 128, 8-byte codes, k = 10, batch of {args.nq} queries; medians of 5; LocalCluster with processes, "
             "1 thread per worker.\n",
             "| setup | batch time | G codes/s | speed-up vs BoltIndex | 1-query call | Dask overhead per call |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['setup']} | {r['batch_s'] * 1e3:.0f} ms | {args.n * args.nq / r['batch_s'] / 1e9:.2f} | "
                     f"{base / r['batch_s']:.2f}x | {r['one_query_s'] * 1e3:.1f} ms | "
                     f"{(r['one_query_s'] - base_1q) * 1e3:+.1f} ms |")
    write_results("dask", {"machine": info, "n": args.n, "nq": args.nq, "rows": rows}, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
