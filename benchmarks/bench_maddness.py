"""MADDNESS benchmark: speed against numpy A @ B (BLAS pinned to 1 thread), physical limits,
accuracy on scikit-learn digits (speed-accuracy curve against PQ and PQ+ridge), and
replace_linear on a small PyTorch MLP.

Writes benchmarks/results/maddness.json, benchmarks/results/maddness.md and
benchmarks/results/maddness_digits.png. Run: `.venv/bin/python benchmarks/bench_maddness.py`
(`--quick` for fewer repeats, `--speed-only` to rerun only the speed section).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import tenfold
from tenfold import _core
from tenfold._bench import cpu_name
from tenfold._bench import median_time as med
from tenfold.maddness import _one_hot, _ridge, _tables

RESULTS = Path(__file__).resolve().parent / "results"
SHAPES = [  # name, N, D, M (the paper's tasks)
    ("CIFAR-10-like", 10_000, 512, 10),
    ("CIFAR-100-like", 10_000, 512, 100),
    ("UCR-like", 1_000, 320, 128),
    ("3x3 filters", 49_284, 27, 2),
]
C_LIST = (2, 4, 8, 16, 32, 64)


def paired(ref, new, repeat):
    """Alternate the two calls so both see the same machine load; returns (median ref time,
    median new time, median of the per-pair ratios ref/new)."""
    ref(), new()
    tr, tn = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        ref()
        t1 = time.perf_counter()
        new()
        t2 = time.perf_counter()
        tr.append(t1 - t)
        tn.append(t2 - t1)
    ratios = np.array(tr) / np.array(tn)
    return float(np.median(tr)), float(np.median(tn)), float(np.median(ratios))


def hot_rounds(ref, new, rounds):
    """Rounds of 2 reference calls then 1 untimed + 5 timed calls of `new` (its input back in
    cache), so both are sampled over the same period of machine load. Returns (median ref,
    median new, best ref, best new)."""
    tr, tn = [], []
    for _ in range(rounds):
        for _ in range(2):
            t = time.perf_counter()
            ref()
            tr.append(time.perf_counter() - t)
        new()
        for _ in range(5):
            t = time.perf_counter()
            new()
            tn.append(time.perf_counter() - t)
    return float(np.median(tr)), float(np.median(tn)), float(np.min(tr)), float(np.min(tn))


def cpu_mhz() -> float:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1])
    except OSError:
        pass
    return float("nan")


def structured(n, d, rng, rank, clusters=64, noise=0.2):
    basis = rng.normal(size=(rank, d)) / np.sqrt(rank)
    centers = rng.normal(size=(clusters, rank)) * 2.0
    latent = centers[rng.integers(clusters, size=n)] + rng.normal(size=(n, rank))
    return (latent @ basis + noise * rng.normal(size=(n, d))).astype(np.float32)


def best(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bandwidths(repeat):
    """Best single-thread read bandwidth (np.max over 2 MB, in cache, and 256 MB, from DRAM)
    and write bandwidth (fill of 4 MB). Best, not median: a physical limit is the best case."""
    out = {}
    for name, nbytes in (("read_cache_GBps", 2 << 20), ("read_dram_GBps", 256 << 20)):
        x = np.ones(nbytes // 4, dtype=np.int32)
        out[name] = nbytes / best(lambda: x.max(), repeat * 3) / 1e9
    y = np.empty(1 << 20, dtype=np.float32)
    out["write_GBps"] = y.nbytes / best(lambda: y.fill(1.0), repeat * 3) / 1e9
    return out


def bench_shapes(repeat, bw):
    rows = []
    rng = np.random.default_rng(0)
    for name, N, D, M in SHAPES:
        ntrain = 10_000
        X = structured(N + ntrain, D, rng, rank=max(4, D // 8))
        A_train, A_c = X[:ntrain], np.ascontiguousarray(X[ntrain:])
        A_f = np.asfortranarray(A_c)
        B = (rng.normal(size=(D, M)) / np.sqrt(D)).astype(np.float32)
        exact = A_c @ B
        t_blas_c = med(lambda: A_c @ B, repeat)
        t_blas_f = med(lambda: A_f @ B, repeat)
        blas = (lambda: A_c @ B) if t_blas_c <= t_blas_f else (lambda: A_f @ B)  # the faster layout
        for agg in ("average", "exact"):
            amm = tenfold.Maddness(ncodebooks=16, aggregate=agg, n_threads=1).fit(A_train, B)
            out = amm.matmul(A_f)
            rel = float(np.linalg.norm(out - exact) / np.linalg.norm(exact))
            t_blas, t_f, sp_f = paired(blas, lambda: amm.matmul(A_f), repeat)
            buf = np.empty((N, M), np.float32, order="F")
            _, t_fo, sp_fo = paired(blas, lambda: amm.matmul(A_f, out=buf), repeat)
            _, t_c, sp_c = paired(blas, lambda: amm.matmul(A_c), repeat)
            _, t_setb_f, sp_t = paired(blas, lambda: amm.set_B(B).matmul(A_f), repeat)
            bufc = np.empty((N, M), np.float32)
            _, t_cc, sp_cc = paired(blas, lambda: amm.matmul(A_c, out=bufc, order="C"), repeat)
            # The fused kernel's two phases timed apart (same call, out= given): encoding only,
            # aggregation only (of all-zero codes; its cost does not depend on the codes).
            core = (amm._plan(), A_f, amm.split_dims_, amm.offsets_, amm.scales_, amm.thresholds_, amm.luts_,
                    amm.mul_, amm.add_, amm.log2g_, 1, buf.T, False)
            t_enc = med(lambda: _core.maddness_matmul(*core, 1), 3 * repeat)
            t_scan = med(lambda: _core.maddness_matmul(*core, 2), 3 * repeat)
            # Hot: MADDNESS timed alone, so the split columns of A stay in cache between calls (as
            # when A was just produced). The paired timings above alternate with BLAS, which streams
            # all of A (20 MB for the CIFAR shapes) through the caches: there A comes from DRAM.
            t_blas_alone, t_hot, t_blas_best, t_hot_best = hot_rounds(blas, lambda: amm.matmul(A_f, out=buf), repeat)
            # Physical limit: the split columns the encoder must read (Fortran order), at the
            # in-cache read bandwidth measured above, plus N*M*C look-ups at 32 per vpshufb and
            # 2 vpshufb per cycle at the reported clock, plus writing the float32 output.
            ndims = len(np.unique(amm.split_dims_))
            read_bytes_f = N * ndims * 4
            lines = len(np.unique(amm.split_dims_ * 4 // 64))  # cache lines touched per row (C order)
            read_bytes_c = N * min(lines * 64, D * 4)
            lookups = N * M * 16
            t_lookup = lookups / (64 * cpu_mhz() * 1e6)
            t_write = N * M * 4 / (bw["write_GBps"] * 1e9)
            limit_f = read_bytes_f / (bw["read_cache_GBps"] * 1e9) + t_lookup + t_write
            limit_f_cold = read_bytes_f / (bw["read_dram_GBps"] * 1e9) + t_lookup + t_write
            limit_c = read_bytes_c / (bw["read_cache_GBps"] * 1e9) + t_lookup + t_write
            rows.append(dict(
                shape=name, N=N, D=D, M=M, ncodebooks=16, aggregate=agg, rel_err=rel,
                blas_c_ms=t_blas_c * 1e3, blas_f_ms=t_blas_f * 1e3,
                maddness_f_ms=t_f * 1e3, maddness_f_out_ms=t_fo * 1e3, speedup_f_out=sp_fo, maddness_c_ms=t_c * 1e3,
                maddness_c_in_c_out_ms=t_cc * 1e3, speedup_c_in_c_out=sp_cc, maddness_f_with_tables_ms=t_setb_f * 1e3,
                encode_f_ms=t_enc * 1e3, scan_ms=t_scan * 1e3,
                blas_ms=t_blas * 1e3, speedup_f=sp_f, speedup_c=sp_c, speedup_f_with_tables=sp_t,
                limit_f_ms=limit_f * 1e3, limit_c_ms=limit_c * 1e3,
                limit_parts_ms=dict(read_f=read_bytes_f / (bw["read_cache_GBps"] * 1e9) * 1e3,
                                    lookups=t_lookup * 1e3, write_out=t_write * 1e3),
                fraction_of_limit_f=limit_f / t_hot, limit_f_cold_ms=limit_f_cold * 1e3,
                fraction_of_limit_f_cold=limit_f_cold / t_fo, maddness_f_hot_ms=t_hot * 1e3,
                blas_alone_ms=t_blas_alone * 1e3, speedup_f_hot=t_blas_alone / t_hot,
                maddness_f_hot_best_ms=t_hot_best * 1e3, blas_best_ms=t_blas_best * 1e3,
                speedup_f_hot_best=t_blas_best / t_hot_best, fraction_of_limit_f_best=limit_f / t_hot_best))
            print(f"{name:15s} {agg:7s} blas {t_blas * 1e3:7.3f} ms | F {t_f * 1e3:6.3f} ms ({sp_f:5.1f}x) "
                  f"F+out {t_fo * 1e3:6.3f} ms ({sp_fo:5.1f}x) "
                  f"C {t_c * 1e3:6.3f} ms ({sp_c:5.1f}x) C->C {t_cc * 1e3:6.3f} ms ({sp_cc:5.1f}x) +tables {t_setb_f * 1e3:6.3f} ms ({sp_t:5.1f}x) | "
                  f"enc {t_enc * 1e3:.3f} scan {t_scan * 1e3:.3f} | hot {t_hot * 1e3:.3f} ms "
                  f"({t_blas_alone / t_hot:5.1f}x) best {t_hot_best * 1e3:.3f} ms ({t_blas_best / t_hot_best:5.1f}x) | limit F {limit_f * 1e3:.3f} ms | rel.err {rel:.3f}",
                  flush=True)
    return rows


# ---------------------------------------------------------------- accuracy on digits
def pq_prototypes(enc, d):
    C = enc.ncodebooks
    P = np.zeros((C, 16, d), dtype=np.float32)
    for c in range(C):
        lo, hi = enc.bounds_[c], enc.bounds_[c + 1]
        P[c, :, lo:hi] = enc.centroids_[:, lo:hi]
    return P


def codes_matrix(packed):
    return np.stack([packed & 15, packed >> 4], axis=2).reshape(packed.shape[0], -1)


def table_output(P, codes_packed, B, bias, aggregate="exact"):
    """Approximate A @ B + bias through tenfold's uint8 tables and scan kernel."""
    C, m = P.shape[0], B.shape[1]
    T = (P.reshape(16 * C, -1) @ B).reshape(C, 16, m).transpose(2, 0, 1).astype(np.float64)
    luts, mul, add, log2g = _tables(T, bias, aggregate)
    n, ncols = codes_packed.shape
    blocked = np.zeros(((n + 31) // 32) * 32 * ncols, dtype=np.uint8)
    _core.bolt_pack_blocked(np.ascontiguousarray(codes_packed), blocked, 0)
    return _core.maddness_scan(blocked, n, luts, mul, add, log2g, 1).T


def bench_digits(repeat):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    X_tr = scaler.transform(X_tr).astype(np.float32)
    X_te = scaler.transform(X_te).astype(np.float32)
    clf = LogisticRegression(max_iter=2000, C=1.0).fit(X_tr, y_tr)
    B = clf.coef_.T.astype(np.float32)                     # (64, 10)
    bias = clf.intercept_.astype(np.float64)
    acc_exact = float(((X_te @ B + bias).argmax(1) == y_te).mean())
    # Timing at N=10,000 rows of that shape (test rows tiled), B known ahead.
    rng = np.random.default_rng(0)
    A_big = X_te[rng.integers(len(X_te), size=10_000)]
    A_big_f = np.asfortranarray(A_big)
    t_blas = med(lambda: A_big @ B + bias, repeat)
    rows = []
    for C in C_LIST:
        res = dict(C=C)
        for agg in ("exact", "average"):
            amm = tenfold.Maddness(ncodebooks=C, aggregate=agg, n_threads=1).fit(X_tr, B, bias=bias)
            out = amm.matmul(X_te)
            res[f"maddness_{agg}_acc"] = float((out.argmax(1) == y_te).mean())
            res[f"maddness_{agg}_rel_err"] = float(np.linalg.norm(out - (X_te @ B + bias)) /
                                                   np.linalg.norm(X_te @ B + bias))
            _, t, sp = paired(lambda: A_big @ B + bias, lambda: amm.matmul(A_big_f), repeat)
            res[f"maddness_{agg}_ms"] = t * 1e3
            res[f"maddness_{agg}_speedup"] = sp
            res["lam"] = amm.lam_
        # Bolt-style PQ (k-means codebooks on C subspaces, uint8 tables) and PQ + ridge prototypes.
        if C <= X.shape[1]:
            enc = tenfold.BoltEncoder(ncodebooks=C, random_state=0).fit(X_tr)
            codes_tr, codes_te = enc.encode(X_tr, n_threads=1), enc.encode(X_te, n_threads=1)
            P = pq_prototypes(enc, X.shape[1])
            out = table_output(P, codes_te, B, bias)
            res["pq_acc"] = float((out.argmax(1) == y_te).mean())
            G = _one_hot(codes_matrix(codes_tr)).astype(np.float64)
            best = None
            for lam in (0.1, 1.0, 10.0, 100.0):  # chosen on the training rows' held-out fifth
                perm = np.random.default_rng(0).permutation(len(X_tr))
                va, tr = perm[: len(perm) // 5], perm[len(perm) // 5:]
                Pr = _ridge(G[tr].T @ G[tr], G[tr].T @ X_tr[tr], lam)
                err = np.linalg.norm(G[va] @ Pr @ B - X_tr[va] @ B)
                if best is None or err < best[0]:
                    best = (err, lam)
            Pr = _ridge(G.T @ G, G.T @ X_tr.astype(np.float64), best[1]).reshape(C, 16, -1).astype(np.float32)
            out = table_output(Pr, codes_te, B, bias)
            res["pq_ridge_acc"] = float((out.argmax(1) == y_te).mean())
            A_big_c = np.ascontiguousarray(A_big)
            _, t_pq, sp = paired(lambda: A_big @ B + bias,
                                 lambda: table_output(P, enc.encode(A_big_c, n_threads=1), B, bias), repeat)
            res["pq_ms"] = t_pq * 1e3
            res["pq_speedup"] = sp
        rows.append(res)
        print(f"digits C={C:3d}: maddness exact {res['maddness_exact_acc']:.3f} avg {res['maddness_average_acc']:.3f} "
              f"({res['maddness_average_speedup']:.1f}x) pq {res.get('pq_acc', float('nan')):.3f} "
              f"pq+ridge {res.get('pq_ridge_acc', float('nan')):.3f} (lam {res['lam']})", flush=True)
    within = [r for r in rows if r["maddness_average_acc"] >= acc_exact - 0.01]
    best = max(within, key=lambda r: r["maddness_average_speedup"]) if within else None
    return dict(exact_acc=acc_exact, blas_ms_10k=t_blas * 1e3, n_train=len(X_tr), n_test=len(X_te), rows=rows,
                best_within_1pt=None if best is None else dict(C=best["C"], speedup=best["maddness_average_speedup"],
                                                               acc=best["maddness_average_acc"]))


def plot_digits(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    rows = res["rows"]
    ax.plot([r["maddness_average_speedup"] for r in rows], [100 * r["maddness_average_acc"] for r in rows], "o-",
            label="MADDNESS (averaging)")
    ax.plot([r["maddness_exact_speedup"] for r in rows], [100 * r["maddness_exact_acc"] for r in rows], "s--",
            label="MADDNESS (exact sums)")
    pq = [r for r in rows if "pq_acc" in r]
    ax.plot([r["pq_speedup"] for r in pq], [100 * r["pq_acc"] for r in pq], "^-", label="PQ (Bolt-style)")
    ax.plot([r["pq_speedup"] for r in pq], [100 * r["pq_ridge_acc"] for r in pq], "v-", label="PQ + ridge prototypes")
    ax.axhline(100 * res["exact_acc"], color="k", lw=1, label="exact (numpy)")
    for r in rows:
        ax.annotate(f"C={r['C']}", (r["maddness_average_speedup"], 100 * r["maddness_average_acc"]),
                    textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("speed-up over numpy A @ B (1 thread, N=10,000, D=64, M=10)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("digits, logistic-regression layer replaced")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


# ---------------------------------------------------------------- replace_linear on an MLP
def bench_torch(repeat):
    try:
        import torch
        import tenfold.torch as tt
    except ImportError:
        return {"skipped": "torch not installed"}
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    torch.set_num_threads(1)
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    Xt, yt = torch.from_numpy(X_tr), torch.from_numpy(y_tr)
    net = torch.nn.Sequential(torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
                              torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for epoch in range(30):
        perm = torch.randperm(len(Xt))
        for i in range(0, len(Xt), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
            opt.step()
    net.eval()
    Xte = torch.from_numpy(X_te)
    rng = np.random.default_rng(0)
    big = torch.from_numpy(X_te[rng.integers(len(X_te), size=4096)])
    with torch.no_grad():
        acc_exact = float((net(Xte).argmax(1).numpy() == y_te).mean())
        logits_exact = net(Xte)
        feats = {}
        hooks = [net[int(k) * 2].register_forward_hook(lambda m, i, o, k=k: feats.__setitem__(k, i[0]))
                 for k in ("1", "2")]
        net(big)
        for h in hooks:
            h.remove()
        t_exact_layers = sum(med(lambda k=k: net[int(k) * 2](feats[k]), repeat) for k in ("1", "2"))
        t_exact_model = med(lambda: net(big), repeat)
    out = {}
    for C in (16, 64):
        model = __import__("copy").deepcopy(net)
        tt.replace_linear(model, torch.from_numpy(X_tr), filter_fn=lambda name, m: m.in_features == 512,
                          ncodebooks=C, n_threads=1)
        with torch.no_grad():
            logits = model(Xte)
            acc = float((logits.argmax(1).numpy() == y_te).mean())
            rel = float((logits - logits_exact).norm() / logits_exact.norm())
            t_layers = sum(med(lambda k=k: model[int(k) * 2](feats[k]), repeat) for k in ("1", "2"))
            t_model = med(lambda: model(big), repeat)
        out[str(C)] = dict(acc=acc, logits_rel_err=rel, swapped_layers_ms=t_layers * 1e3,
                           swapped_layers_speedup=t_exact_layers / t_layers, model_ms=t_model * 1e3,
                           model_speedup=t_exact_model / t_model)
        print(f"torch MLP C={C}: acc {acc:.3f} (exact {acc_exact:.3f}), swapped layers {t_exact_layers * 1e3:.2f} -> "
              f"{t_layers * 1e3:.2f} ms, whole model {t_exact_model * 1e3:.2f} -> {t_model * 1e3:.2f} ms", flush=True)
    return dict(model="MLP 64-512-512-256-10 trained on digits (30 epochs Adam)",
                swapped="Linear(512, 512) and Linear(512, 256)", rows_timed=4096, exact_acc=acc_exact,
                exact_layers_ms=t_exact_layers * 1e3, exact_model_ms=t_exact_model * 1e3, by_C=out)


def write_md(res, path):
    L = []
    L.append("# MADDNESS benchmark\n")
    L.append(f"CPU: {res['cpu']} ({res['cpu_mhz']:.0f} MHz reported), ISA path `{res['isa']}`, 1 thread for "
             f"tenfold and BLAS (threadpoolctl), numpy {res['numpy']}, median of {res['repeat']} runs. "
             f"Shared machine: other jobs ran at the same time, so absolute times are noisy; ratios are "
             f"measured in the same run.\n")
    bw = res["bandwidth"]
    L.append(f"Measured single-thread bandwidth: read {bw['read_cache_GBps']:.1f} GB/s (2 MB, cache), "
             f"{bw['read_dram_GBps']:.1f} GB/s (256 MB); write {bw['write_GBps']:.1f} GB/s.\n")
    L.append("## Speed, ncodebooks=16 (synthesised structured data; B known ahead unless said)\n")
    L.append("Hot: rounds of 2 BLAS calls (faster layout) then 1 untimed and 5 timed MADDNESS calls (out= "
             "given), so A's split columns are in cache as when A was just produced; medians, and the best "
             "runs (min of each over the same rounds). "
             "Paired columns: each MADDNESS call alternates with a BLAS call (median of the per-pair ratios), "
             "so A's split columns come back from DRAM every time (BLAS streams all of A through the caches).\n")
    L.append("| shape | N | D | M | aggregate | BLAS ms | hot, F-order, out= ms (x) | best runs: BLAS / hot ms (x) | "
             "encode / aggregate ms (hot) | limit hot ms (% reached, median / best) | paired F-order ms (x) | paired F, out= ms (x) | paired C-order ms (x) | "
             "paired C in and out, out= ms (x) | paired F + tables ms (x) | rel. err |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res["shapes"]:
        if "speedup_f_hot" in r:
            hot = (f"{r['maddness_f_hot_ms']:.3f} ({r['speedup_f_hot']:.1f}x) | {r['blas_best_ms']:.3f} / "
                   f"{r['maddness_f_hot_best_ms']:.3f} ({r['speedup_f_hot_best']:.1f}x) | {r['encode_f_ms']:.3f} / "
                   f"{r['scan_ms']:.3f} | {r['limit_f_ms']:.3f} ({100 * r['fraction_of_limit_f']:.0f}% / "
                   f"{100 * r['fraction_of_limit_f_best']:.0f}%)")
            cc = f"{r['maddness_c_in_c_out_ms']:.3f} ({r['speedup_c_in_c_out']:.1f}x)"
            blas = r["blas_alone_ms"]
        else:  # results of the earlier benchmark version
            hot, cc, blas = "n/a | n/a | n/a | n/a", "n/a", r["blas_ms"]
        L.append(f"| {r['shape']} | {r['N']} | {r['D']} | {r['M']} | {r['aggregate']} | {blas:.3f} | {hot} | "
                 f"{r['maddness_f_ms']:.3f} ({r['speedup_f']:.1f}x) | "
                 f"{r['maddness_f_out_ms']:.3f} ({r['speedup_f_out']:.1f}x) | "
                 f"{r['maddness_c_ms']:.3f} ({r['speedup_c']:.1f}x) | {cc} | {r['maddness_f_with_tables_ms']:.3f} "
                 f"({r['speedup_f_with_tables']:.1f}x) | {r['rel_err']:.3f} |")
    L.append("\nOne C++ call per matmul: rows are encoded and aggregated 256 at a time, so the codes never "
             "leave L1. encode / aggregate: the two phases of that call timed apart (F-order A, out= given). "
             "Limit (hot, F order) = split columns read at the in-cache read bandwidth + N*M*16 look-ups at 64 "
             "per cycle (2 vpshufb of 32 bytes) at the reported clock + writing the float32 (N, M) output at the "
             "measured write bandwidth. C order must read every cache line that holds a split dimension "
             "(for D=512 and C=16 nearly the whole row). C in and out is the layout of the torch wrapper "
             "(row-major activations in, row-major output written through 8x8 register transposes).\n")
    d = res["digits"]
    L.append("## Accuracy: scikit-learn digits, logistic regression final layer replaced\n")
    L.append(f"{d['n_train']} training rows (also MADDNESS's training rows), {d['n_test']} test rows; exact accuracy "
             f"{100 * d['exact_acc']:.2f}%. Speed-ups timed at N=10,000 rows (D=64, M=10); BLAS "
             f"{d['blas_ms_10k']:.3f} ms.\n")
    L.append("| C | MADDNESS avg acc | speed-up | MADDNESS exact acc | speed-up | PQ acc | PQ+ridge acc | PQ speed-up | lam |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in d["rows"]:
        pq = f"{100 * r['pq_acc']:.2f} | {100 * r['pq_ridge_acc']:.2f} | {r['pq_speedup']:.1f}x" if "pq_acc" in r \
            else "n/a | n/a | n/a"
        L.append(f"| {r['C']} | {100 * r['maddness_average_acc']:.2f} | {r['maddness_average_speedup']:.1f}x | "
                 f"{100 * r['maddness_exact_acc']:.2f} | {r['maddness_exact_speedup']:.1f}x | {pq} | {r['lam']} |")
    b = d["best_within_1pt"]
    L.append("\n" + ("No C stays within 1 point of exact." if b is None else
                     f"Largest speed-up within 1 point of exact: C={b['C']}, {b['speedup']:.1f}x, "
                     f"accuracy {100 * b['acc']:.2f}%.") + "\n")
    L.append("![digits](maddness_digits.png)\n")
    t = res["torch"]
    if "skipped" not in t:
        L.append("## replace_linear on a PyTorch MLP\n")
        L.append(f"{t['model']}; swapped {t['swapped']}; timed on {t['rows_timed']} rows, torch 1 thread. "
                 f"Exact accuracy {100 * t['exact_acc']:.2f}%.\n")
        L.append("| C | accuracy | logits rel. err | swapped layers ms (exact "
                 f"{t['exact_layers_ms']:.2f}) | speed-up | whole model ms (exact {t['exact_model_ms']:.2f}) | speed-up |")
        L.append("|---|---|---|---|---|---|---|")
        for C, r in t["by_C"].items():
            L.append(f"| {C} | {100 * r['acc']:.2f} | {r['logits_rel_err']:.3f} | {r['swapped_layers_ms']:.2f} | "
                     f"{r['swapped_layers_speedup']:.1f}x | {r['model_ms']:.2f} | {r['model_speedup']:.1f}x |")
    L.append("\nNot done: the hard real task (sentence embeddings) - no real embedding set is available offline "
             "on this machine.\n")
    path.write_text("\n".join(L))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--speed-only", action="store_true",
                    help="rerun only the speed section; keep the other sections of the existing results")
    args = ap.parse_args()
    repeat = 5 if args.quick else 9
    RESULTS.mkdir(parents=True, exist_ok=True)
    res = dict(cpu=cpu_name(), cpu_mhz=cpu_mhz(), isa=tenfold.isa(), numpy=np.__version__, repeat=repeat,
               python=sys.version.split()[0])
    if args.speed_only:
        old = json.loads((RESULTS / "maddness.json").read_text())
        res.update({k: v for k, v in old.items() if k not in res and k not in ("bandwidth", "shapes")})
    with threadpool_limits(1):
        res["bandwidth"] = bandwidths(repeat)
        print("bandwidth", res["bandwidth"], flush=True)
        res["shapes"] = bench_shapes(repeat, res["bandwidth"])
        if not args.speed_only:
            res["digits"] = bench_digits(repeat)
            plot_digits(res["digits"], RESULTS / "maddness_digits.png")
            res["torch"] = bench_torch(repeat)
    (RESULTS / "maddness.json").write_text(json.dumps(res, indent=1))
    write_md(res, RESULTS / "maddness.md")
    print((RESULTS / "maddness.md").read_text())


if __name__ == "__main__":
    main()
