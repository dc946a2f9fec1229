"""tenfold.dask benchmark: ShardedIndex search and compress_to_zarr with 1 and 2 workers
against the single-process call.

LocalCluster with processes (one thread each).
- search: synthetic low-rank mixture, d = 128, 8-byte codes; throughput for a large query batch
  and the fixed cost Dask adds per call (a 1-query search), against one BoltIndex.
- compress_to_zarr: synthetic 8-channel int16 sensor series (random walks plus noise), generated
  chunk by chunk where the tasks run (a blockwise source, as from_zarr or from_array give), written to a Zarr v3 store in a temporary directory on local
  disk with Sprintz (FIRE + entropy stage); against the same graph run in-process, one thread.
Writes benchmarks/results/dask.{json,md}.

    python benchmarks/bench_dask.py [--n 1000000] [--nq 10000] [--zarr 16x1048576 32x4194304]
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median_time, write_results  # noqa: E402

import tenfold  # noqa: E402
import tenfold.dask as tdask  # noqa: E402
from tenfold.datasets import synthetic_embeddings  # noqa: E402


ZARR_CHANNELS = 8


@functools.lru_cache(maxsize=1)
def _sensor_base(rows: int) -> np.ndarray:
    # One recording per process; chunks are shifted copies of it so generating a chunk costs
    # a copy, not the random numbers (the benchmark is about compressing and writing).
    rng = np.random.default_rng(1000)
    walk = np.cumsum(rng.normal(0, 3, size=(rows, ZARR_CHANNELS)), axis=0)
    wave = 400 * np.sin(np.arange(rows)[:, None] / (50 + 20 * np.arange(ZARR_CHANNELS)))
    return np.clip(walk + wave + rng.normal(0, 2, size=walk.shape), -30000, 30000).astype(np.int16)


def _sensor_chunk(i: int, rows: int) -> np.ndarray:
    """Chunk i of a synthetic 8-channel int16 sensor recording (random walks + waves + noise)."""
    return np.roll(_sensor_base(rows), 7919 * i, axis=0)


def _sensor_block(rows: int, block_id=None) -> np.ndarray:
    return _sensor_chunk(block_id[0], rows)


def _sensor_array(nchunks: int, rows: int):
    """The recording as a blockwise Dask array (like from_zarr / from_array sources): each chunk
    is made by its own task, which the write task of compress_to_zarr fuses with."""
    import dask.array as da

    return da.map_blocks(_sensor_block, rows, chunks=((rows,) * nchunks, (ZARR_CHANNELS,)), dtype=np.int16)


def bench_zarr(nchunks: int, chunk_rows: int) -> tuple[list[dict], str]:
    import dask
    from distributed import Client, LocalCluster

    nbytes = nchunks * chunk_rows * ZARR_CHANNELS * 2
    tmp = Path(tempfile.mkdtemp(prefix="tenfold-bench-zarr-"))
    try:
        def run() -> None:
            tdask.compress_to_zarr(_sensor_array(nchunks, chunk_rows), tmp / "store", overwrite=True)

        with dask.config.set(scheduler="synchronous"):
            gen = median_time(lambda: _sensor_array(nchunks, chunk_rows).sum().compute(), 3)
            base = median_time(run, 5)
        rows = [{"setup": "in-process, 1 thread (synchronous scheduler)", "workers": 0, "s": base}]
        # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc map every buffer
        # over 128 KiB afresh (a page fault per 4 KiB); the last row unsets it (None) to show its cost.
        for workers, trim in ((1, True), (2, True), (2, False)):
            cfg = {} if trim else {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
            with dask.config.set(cfg), \
                    LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
                    Client(cl):
                setup = f"LocalCluster, {workers} worker(s)" + ("" if trim else ", glibc malloc defaults")
                rows.append({"setup": setup, "workers": workers, "malloc_trim": trim, "s": median_time(run, 5)})
        z = __import__("zarr").open_array(tmp / "store", mode="r")
        stored = sum(f.stat().st_size for f in (tmp / "store").rglob("*") if f.is_file())
        assert np.array_equal(z[:chunk_rows], _sensor_chunk(0, chunk_rows))  # the store holds what was generated
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [f"## compress_to_zarr, {chunk_rows * ZARR_CHANNELS * 2 // (1 << 20)} MiB chunks\n",
             f"{nchunks} chunks of {chunk_rows:,} rows x {ZARR_CHANNELS} int16 channels ({nbytes / 1e6:.0f} MB raw), "
             f"synthetic sensor series generated inside the tasks (generation alone, in-process: "
             f"{gen * 1e3:.0f} ms); Sprintz FIRE + entropy stage, ratio {nbytes / stored:.2f}; store on local disk; "
             "medians of 5.\n",
             "| setup | time | MB/s (raw) | speed-up vs in-process |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['setup']} | {r['s'] * 1e3:.0f} ms | {nbytes / r['s'] / 1e6:.0f} | {base / r['s']:.2f}x |")
    return rows, "\n".join(lines) + "\n"


def main() -> None:
    from distributed import Client, LocalCluster

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--nq", type=int, default=10_000)
    ap.add_argument("--zarr", nargs="+", default=["16x1048576", "32x4194304"],
                    help="compress_to_zarr configurations CHUNKSxROWS (8 int16 channels per row): one table each")
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
            index.add(X, chunk_rows=(args.n + workers - 1) // workers)  # one shard per worker
            index.search(Q[:1], 10)  # shards built
            rows.append({"setup": f"ShardedIndex, {workers} worker(s)", "workers": workers,
                         "batch_s": median_time(lambda: index.search(Q, 10), 5),
                         "one_query_s": median_time(lambda: index.search(Q[:1], 10), 5)})
    info = machine()
    zarr_rows, zarr_md = [], []
    for config in args.zarr:
        nchunks, chunk_rows = (int(v) for v in config.split("x"))
        r, md = bench_zarr(nchunks, chunk_rows)
        zarr_rows.append({"chunks": nchunks, "chunk_rows": chunk_rows, "rows": r})
        zarr_md.append(md)
    lines = ["# Dask scale-out\n",
             f"Machine: {info['cpu']}, {info['cores']} cores, `{info['isa']}`, {info['date']}. LocalCluster with "
             "processes, 1 thread per worker; the client and scheduler share the same 2 cores.\n",
             "## ShardedIndex search\n",
             f"n = {args.n:,}, d = 128, 8-byte codes, k = 10, batch of {args.nq} queries; medians of 5.\n",
             "| setup | batch time | G codes/s | speed-up vs BoltIndex | 1-query call | Dask overhead per call |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['setup']} | {r['batch_s'] * 1e3:.0f} ms | {args.n * args.nq / r['batch_s'] / 1e9:.2f} | "
                     f"{base / r['batch_s']:.2f}x | {r['one_query_s'] * 1e3:.1f} ms | "
                     f"{(r['one_query_s'] - base_1q) * 1e3:+.1f} ms |")
    write_results("dask", {"machine": info, "n": args.n, "nq": args.nq, "rows": rows, "zarr": zarr_rows},
                  "\n".join(lines) + "\n\n" + "\n".join(zarr_md))


if __name__ == "__main__":
    main()
