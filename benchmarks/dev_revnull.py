"""Issue 14, session 14 (helper revnull): a group bar from the same search run on the recording's own null.

Today find_instances passes the best group when its score s (silhouette x k, segments.best_group)
reaches segments.group_bar(D) = 1.1 + 2.5 x (0.73 - neighbour_contrast(D)): a linear function of one
statistic c. Here the bar is instead the chance maximum s0 of THIS recording: best_group run on null
distance matrices built from the recording's own segments, each computed as D is (the feature-axis
stretches on the first argument, the smaller of the two directions; segments.warped_distances):

  rev   D0[i, j] = distance of segment i to segment j with its rows in reverse order (i != j): a
        segment's frames (source, spectral content) are kept, the order a repeat shares is not;
  rot   segment j rotated by half its length (find_group's decoy kind);
  shuf  segment j's rows permuted in blocks of SHUF_BLOCK rows (a fixed permutation per segment;
        shufN: blocks of N rows);
  flip  segment j's time course kept, its feature axis reversed (static and slope halves each;
        dev_extract_groups' decoy kind): a null of the spectral likeness, not of the order;
  max   the largest s0 of rev and rot (max3: of all three);
  bgK   the runner-up: best_group on null K restricted to the segments outside the recording's best
        group (bg: on D itself, no null; a true group's repeats then do not enter the null).

The null's own search has its own outsiders (the other null columns) and decoys (the null segments
rotated again: by half for rev, by a third for rot and shuf), as find_group's search has.

Bars compared at equal nulls (dev_extract_groups' rule: pooled all-distinct nulls >= 93%,
synthetic 3-D nulls >= 92%; the 80 fresh nulls read at that bar), each as a significance that a
single bar b is compared with:
  cur           s + 2.5 c (main's adaptive bar; b0 2.925 on main);  fixed: s
  ratio_K       s / s0_K                               (s > a s0)
  diff_K        s - s0_K                               (s > s0 + b)
  lin{W}_K      s - W s0_K                             (s > b + W s0)
  floor{F}_K    s / max(F, s0_K)                       (s > max(a F, a s0))
  curlin{W}_K   s + 2.5 c - W s0_K                     (today's bar plus W s0: a mean of the two)
  curmax{A}_K   min(s + 2.5 c - 2.925, s - A s0_K)     (both bars, the second at a = A; b near 0)
  curor{A}_K    max(s + 2.5 c - 2.925, s - A s0_K)     (either bar)
Feature variants (--feats): kept (segment_features as on main) or detrend (session 13's per-segment
linear detrend, dev_rasta_seg's; the nulls are then built from the detrended rows too).

    python benchmarks/dev_revnull.py --front bands --diag --out benchmarks/results/revnull/bands.md

Caches (this worktree's benchmarks/.cache): the feature rows per recording (dev_rasta_seg's
rasta_seg_X_*), each feature variant's D/R0 (rasta_seg_*), and the null matrices (revnull_*).
Dev draws only: tune here.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as B
import dev_extract_groups as G
import dev_rasta_seg as R
from _common import tee_output

from tenfold import segments

CACHE = Path(__file__).parent / ".cache"
NULL_KINDS = ("rev", "rot", "shuf")      # plus shufN (blocks of N rows) and flip
SHUF_BLOCK = 5           # rows per block of the shuffled null (50 ms at a 10 ms hop: about a phone)


def null_rows(Z: np.ndarray, starts: np.ndarray, ends: np.ndarray, kind: str) -> np.ndarray:
    """Each segment's rows of Z reversed (rev), rotated by half its length (rot), permuted in blocks
    of SHUF_BLOCK rows (shuf, or N rows: shufN; the permutation seeded by the segment's index, so
    deterministic), or with the feature axis reversed (flip)."""
    Zn = Z.copy()
    for i, (s0, e0) in enumerate(zip(starts, ends)):
        seg = Z[s0:e0]
        if kind == "rev":
            Zn[s0:e0] = seg[::-1]
        elif kind == "rot":
            Zn[s0:e0] = np.roll(seg, -((e0 - s0) // 2), axis=0)
        elif kind.startswith("shuf"):
            blocks = np.array_split(np.arange(e0 - s0), max(1, (e0 - s0) // int(kind[4:] or SHUF_BLOCK)))
            order = np.random.default_rng(i).permutation(len(blocks))
            if len(blocks) > 1 and np.array_equal(order, np.arange(len(blocks))):
                order = np.roll(order, 1)            # never the identity
            Zn[s0:e0] = seg[np.concatenate([blocks[k] for k in order])]
        elif kind != "flip":
            raise ValueError(f"null kinds are {NULL_KINDS}, not {kind!r}")
    if kind == "flip":                         # the time course kept, the feature axis reversed
        Zn = G.decoy_features(Z, starts, ends, "flip")
    return Zn


def null_distances(X: np.ndarray, starts: np.ndarray, ends: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(D0, R0n): D0[i, j] the distance of segment i to null segment j, computed as
    segments.warped_distances computes D (stretches of X's feature axis on the first argument, the
    smallest over them, then the smaller of D0[i, j] and D0[j, i]; diagonal 0); R0n the null search's
    decoys, segment i to null segment j rotated again (both ways, the smaller, as find_group's)."""
    X = np.asarray(X, dtype=np.float64)
    base = segments.segment_features(X, starts, ends)
    ZB = null_rows(base, starts, ends, kind)
    M = segments.dtw_distances(base, starts, ends, ZB, starts, ends)
    for alpha in segments.FEATURE_WARPS if X.shape[1] >= segments.FEATURE_WARP_MIN_DIMS else ():
        W = segments._axis_warp(alpha, X.shape[1])
        if np.array_equal(W, np.eye(X.shape[1])):
            continue
        Zw = segments.segment_features(X @ W.T, starts, ends)
        if Zw.shape[1] != ZB.shape[1]:
            continue
        M = np.minimum(M, segments.dtw_distances(Zw, starts, ends, ZB, starts, ends))
    D0 = np.minimum(M, M.T)
    np.fill_diagonal(D0, 0.0)
    decoy = segments.rotated_features(ZB, starts, ends) if kind == "rev" else \
        G.decoy_features(ZB, starts, ends, "third")
    return D0, segments.two_way_distances(base, starts, ends, decoy, starts, ends)


def _null_best(X: np.ndarray, c, kind: str) -> tuple[float, np.ndarray]:
    """(s0, members) of best_group on the null `kind` of case c. bgK: the runner-up on null K (bg alone:
    on D itself), i.e. best_group on the segments outside the recording's best group (its members
    left out, so that a true group's repeats do not enter the null)."""
    if not kind.startswith("bg"):
        D0, Rn = null_distances(X, c.s, c.e, kind)
        m, z = segments.best_group(D0, Rn)
        return float(z), m
    if getattr(c, "kept", None) is None:
        c.kept = segments.best_group(c.D, c.R0)
    D0, Rn = null_distances(X, c.s, c.e, kind[2:]) if kind[2:] else (c.D, c.R0)
    keep = np.setdiff1d(np.arange(len(c.s)), c.kept[0])
    m, z = segments.best_group(D0[np.ix_(keep, keep)], Rn[np.ix_(keep, keep)])
    return float(z), keep[m]


def self_check() -> None:
    """null_distances with the null's rows left as they are must give warped_distances' D exactly (the
    null is computed as D is), and every null must be symmetric with a zero diagonal."""
    rng = np.random.default_rng(0)
    for d in (3, 12):                       # unwarped (few dimensions) and with the feature-axis stretches
        X = rng.normal(size=(700, d))
        s = np.arange(0, 640, 64)
        e = s + rng.integers(25, 60, len(s))
        D = segments.warped_distances(X, s, e)
        saved = globals()["null_rows"]
        globals()["null_rows"] = lambda Z, a, b, k: Z.copy()
        try:
            same = null_distances(X, s, e, "rev")[0]
        finally:
            globals()["null_rows"] = saved
        assert np.array_equal(same, D), f"identity null differs from D (d={d}): {np.abs(same - D).max()}"
        for k in (*NULL_KINDS, "shuf20", "flip"):
            D0 = null_distances(X, s, e, k)[0]
            assert np.array_equal(D0, D0.T) and not np.diag(D0).any(), k
            assert not np.array_equal(D0, D), k
    print("self-check passed: the identity null reproduces warped_distances exactly (3 and 12 dimensions); "
          "every null is symmetric with a zero diagonal and differs from D")


def synthetic_X():
    for seed in range(4, 54):
        rng = np.random.default_rng(seed)
        X, _ = G.events_in_noise(rng, G.event_shapes(rng, 16), list(range(16)))
        yield X


def null_scores(front: str, feats: str, recs: list, cases: list, syn_cases: list, kinds) -> tuple[list, list, dict]:
    """Per recording (None where the segment search does not apply) and per synthetic null: dict kind ->
    (s0, members) of best_group on that null, plus the CPU seconds of each kind's matrices."""
    path = CACHE / f"revnull_{front}_{feats}.pkl"
    store: dict = {"rec": [{} for _ in recs], "syn": [{} for _ in syn_cases], "cpu": {}}
    if path.exists():
        with open(path, "rb") as f:
            store = pickle.load(f)
    todo = [k for k in kinds if k not in store["cpu"]]
    if todo:
        with R.features_swapped(feats):
            for k in todo:
                t0 = time.process_time()
                cpu = 0.0
                for slot, rec, c in zip(store["rec"], recs, cases):
                    if c is None or len(c.s) < 2:
                        continue
                    t1 = time.process_time()
                    slot[k] = _null_best(rec["X"], c, k)
                    cpu += time.process_time() - t1
                for slot, X, c in zip(store["syn"], synthetic_X(), syn_cases):
                    if len(c.s) < 2:
                        continue
                    slot[k] = _null_best(X, c, k)
                store["cpu"][k] = cpu
                print(f"[null {k}: {time.process_time() - t0:.0f} s CPU]", file=sys.stderr)
        with open(path, "wb") as f:
            pickle.dump(store, f)
    return store["rec"], store["syn"], store["cpu"]


CUR_B0 = segments.MIN_SIGNIFICANCE + segments.ADAPTIVE_BAR_SLOPE * segments.ADAPTIVE_BAR_REFERENCE


def s0_of(nd: dict, kind: str) -> float:
    if kind == "max":
        return max(nd["rev"][0], nd["rot"][0])
    if kind == "max3":
        return max(nd[k][0] for k in NULL_KINDS)
    return nd[kind][0]


def significance(v: str, s: float, c: float, nd: dict) -> float:
    """The significance of variant v (see the module docstring) from the score s, the contrast c and the nulls."""
    cur = s + segments.ADAPTIVE_BAR_SLOPE * c
    if v == "cur":
        return cur
    if v == "fixed":
        return s
    form, kind = v.rsplit("_", 1)
    s0 = s0_of(nd, kind)
    tiny = 1e-9
    if form == "ratio":
        return s / max(s0, tiny)
    if form == "diff":
        return s - s0
    if form.startswith("curlin"):
        return cur - float(form[6:]) * s0
    if form.startswith("curmax"):
        return min(cur - CUR_B0, s - float(form[6:]) * s0)
    if form.startswith("curor"):
        return max(cur - CUR_B0, s - float(form[5:]) * s0)
    if form.startswith("lin"):
        return s - float(form[3:]) * s0
    if form.startswith("floor"):
        return s / max(float(form[5:]), s0, tiny)
    raise ValueError(v)


def kinds_needed(names) -> list:
    need = set()
    for v in names:
        if v in ("cur", "fixed"):
            continue
        k = v.rsplit("_", 1)[1]
        need |= {"rev", "rot"} if k == "max" else set(NULL_KINDS) if k == "max3" else {k}
    for k in need:
        b = k.removeprefix("bg")
        if b and b not in (*NULL_KINDS, "flip") and not (b.startswith("shuf") and b[4:].isdigit()):
            raise ValueError(f"null kinds are {NULL_KINDS} or shufN, not {k!r}")
    return sorted(need)


def _auc(a, b) -> float:
    return G._auc(a, b)


def diagnose(classes: dict) -> None:
    """Per class: s, s0 (per kind) and c; then AUCs of true-group recordings against each null class,
    and how well s0 and c track the nulls' chance scores (Spearman over the nulls)."""
    def q(x):
        x = np.asarray(x, float)
        return f"{np.median(x):.2f} [{np.quantile(x, 0.1):.2f}, {np.quantile(x, 0.9):.2f}]"

    def rank(x):
        return np.argsort(np.argsort(x)).astype(float)

    have = set.intersection(*[set(nd) for cl in classes.values() for _, _, nd in cl])
    kinds = [k for k in ("rev", "rot", "shuf", "flip") if k in have] + sorted(k for k in have if k[4:].isdigit()) \
        + sorted(k for k in have if k.startswith("bg")) \
        + (["max"] if {"rev", "rot"} <= have else [])
    print("\n#### Diagnostic: score s of the best group, s0 on each null, contrast c; median [10%, 90%]\n")
    print("| class | n | s | " + " | ".join(f"s0 {k}" for k in kinds) + " | c | s - bar(c) |")
    print("|---|---|---|" + "---|" * len(kinds) + "---|---|")
    for name, cl in classes.items():
        s = [x[0] for x in cl]
        print(f"| {name} | {len(cl)} | {q(s)} | " + " | ".join(q([s0_of(nd, k) for _, _, nd in cl]) for k in kinds)
              + f" | {q([x[1] for x in cl])} | {q([x[0] + 2.5 * x[1] - CUR_B0 for x in cl])} |")
    nulls = [x for n, cl in classes.items() if n.startswith(("null", "synthetic")) for x in cl]
    sn = np.array([x[0] for x in nulls])
    print("\nHow well each statistic tracks the nulls' chance maximum s (Spearman over the "
          f"{len(nulls)} distinct-word and synthetic nulls; per null class in brackets):")
    def stat(cl, k):
        return np.array([x[1] if k == "c" else s0_of(x[2], k) for x in cl])

    for k in [*kinds, "c"]:
        rho = float(np.corrcoef(rank(stat(nulls, k)), rank(sn))[0, 1])
        per = []
        for n, cl in classes.items():
            if n.startswith(("null", "synthetic")) and len(cl) > 3:
                per.append(f"{n} {np.corrcoef(rank(stat(cl, k)), rank([x[0] for x in cl]))[0, 1]:.2f}")
        print(f"- {k}: {rho:.2f} ({'; '.join(per)})")
    print("\nAUC, true-group recordings (rows) against null classes (columns), per significance:")
    forms = [("s", lambda x, k: x[0], None), ("s - bar(c)", lambda x, k: x[0] + 2.5 * x[1], None)] + \
        [(f"s / s0 {k}", lambda x, k: x[0] / max(s0_of(x[2], k), 1e-9), k) for k in kinds] + \
        [(f"s - s0 {k}", lambda x, k: x[0] - s0_of(x[2], k), k) for k in kinds]
    null_names = [n for n in classes if n.startswith(("null", "synthetic"))]
    true_names = [n for n in classes if not n.startswith(("null", "synthetic"))]
    print("\n| significance | " + " | ".join(f"{t} vs {n}" for t in true_names for n in null_names) + " |")
    print("|---|" + "---|" * (len(true_names) * len(null_names)))
    for fname, f, k in forms:
        print(f"| {fname} | " + " | ".join(
            f"{_auc([f(x, k) for x in classes[t]], [f(x, k) for x in classes[n]]):.3f}"
            for t in true_names for n in null_names) + " |")


def why(recs: list, cases: list, nrec: list, kinds=("rev", "rot", "shuf")) -> None:
    """Why s0 sits where it does: per class (bdev and dev draws only), the pair-distance structure of
    D and of each null D0, each relative to its own median pair, L = log(D / median): sd of L, the
    closest pair's L, the Spearman correlation of L(D) and L(D0) over pairs, and the best group's
    size in D and in D0 (median [10%, 90%] over recordings)."""
    def q(x):
        x = np.asarray(x, float)
        return f"{np.median(x):.2f} [{np.quantile(x, 0.1):.2f}, {np.quantile(x, 0.9):.2f}]"

    def rank(x):
        return np.argsort(np.argsort(x)).astype(float)

    out: dict = {}
    for rec, c, nd in zip(recs, cases, nrec):
        if c is None or rec["draw"] not in ("bdev", "dev") or len(c.s) < 4 or rec["cond"] in ("one_few", "vpw_few"):
            continue
        key = f"null {'one voice' if rec['one_voice'] else 'vpw'}" if rec["cond"] == "distinct" else rec["cond"]
        o = out.setdefault(key, {})
        off = ~np.eye(len(c.s), dtype=bool)
        mats = {"D": c.D} | {k: null_distances(rec["X"], c.s, c.e, k)[0] for k in kinds}
        LD = np.log(c.D[off] / np.median(c.D[off]))
        for k, M in mats.items():
            L = np.log(np.maximum(M[off], 1e-300) / np.median(M[off]))
            o.setdefault(f"sd {k}", []).append(L.std())
            o.setdefault(f"min {k}", []).append(L.min())
            if k != "D":
                o.setdefault(f"rho {k}", []).append(float(np.corrcoef(rank(LD), rank(L))[0, 1]))
                o.setdefault(f"k {k}", []).append(len(nd[k][1]))
        o.setdefault("k D", []).append(len(c.kept[0]))
    print("\n#### Why: pair structure of D and of the nulls D0 (bdev+dev; L = log(distance / median pair))\n")
    cols = [f"sd {k}" for k in ("D", *kinds)] + [f"min {k}" for k in ("D", *kinds)] + \
        [f"rho {k}" for k in kinds] + [f"k {k}" for k in ("D", *kinds)]
    print("| class | n | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for key, o in out.items():
        print(f"| {key} | {len(o['k D'])} | " + " | ".join(q(o[c]) for c in cols) + " |")


def run(args) -> None:
    recs = R.base_records(args.front, args.extra_nulls)
    names = args.variants.split(",")
    kinds = sorted(set(kinds_needed(names)) | ({"rev", "rot"} if args.diag else set())
                   | ({"rev", "rot", "shuf"} if args.why else set()))
    rows_all = {}
    syn_all = {}
    secs = sum(len(r["X"]) for r in recs) * B.HOP_S
    for feats in args.feats.split(","):
        cases, syn_cases = R.variant_cases(args.front, args.extra_nulls, feats, recs)
        nrec, nsyn, cpu = null_scores(args.front, feats, recs, cases, syn_cases, kinds)
        nrec = [{k: v for k, v in nd.items() if k in kinds} for nd in nrec]     # only this run's nulls
        nsyn = [{k: v for k, v in nd.items() if k in kinds} for nd in nsyn]
        cpu = {k: v for k, v in cpu.items() if k in kinds}
        print(f"front {args.front}, features {feats}: CPU per 10 s of audio, D + R0 "
              f"{10 * sum(c.cpu_d for c in cases if c is not None) / secs:.4f} s; null matrices (D0 + decoys "
              "not counted; one warped DTW matrix set each): "
              + "; ".join(f"{k} +{10 * v / secs:.4f} s" for k, v in cpu.items()))
        classes: dict = {}
        for rec, c, nd in zip(recs, cases, nrec):
            row = {k: rec[k] for k in ("draw", "cond", "fixed", "one_voice")} | {"var": {}}
            if c is not None:
                if c.kept is None:
                    c.kept = segments.best_group(c.D, c.R0) if len(c.D) >= 2 else (np.zeros(0, np.int64), 0.0)
                m, s = c.kept
                cc = segments.neighbour_contrast(c.D)
                f1 = G.group_f1(rec, c, m, len(rec["X"]))
                for v in names:
                    sig = significance(v, s, cc, nd) if len(m) >= 2 else -np.inf
                    row["var"][f"{feats}/{v}"] = (m, sig, f1)
                if len(m) >= 2:
                    key = (f"null {'one voice' if rec['one_voice'] else 'vpw'}" if rec["cond"] == "distinct"
                           else rec["cond"])
                    classes.setdefault(key, []).append((s, cc, nd))
            rows_all.setdefault(id(rec), row)["var"].update(row["var"])
        syn_list = []
        for c, nd in zip(syn_cases, nsyn):
            if c.kept is None:
                c.kept = segments.best_group(c.D, c.R0) if len(c.D) >= 2 else (np.zeros(0, np.int64), 0.0)
            m, s = c.kept
            cc = segments.neighbour_contrast(c.D)
            syn_list.append((s, cc, nd))
        for v in names:
            syn_all[f"{feats}/{v}"] = np.array([significance(v, s, cc, nd) for s, cc, nd in syn_list])
        classes["synthetic 3-D"] = syn_list
        if args.why:
            with R.features_swapped(feats):
                why(recs, cases, nrec, ("rev", "rot", "shuf", *[k for k in kinds if k[4:].isdigit()]))
        if args.diag:
            order = ["one_few", "one_many", "vpw_few", "vpw_many", "null one voice", "null vpw", "synthetic 3-D"]
            diagnose({k: classes[k] for k in order if k in classes})
    rows = list(rows_all.values())
    vs = [f"{f}/{v}" for f in args.feats.split(",") for v in names]
    print()
    G.equal_null_tables(rows, syn_all, vs, args.front, args.extra_nulls)
    print(f"paired against {vs[0]}, each at its equal-null bar: mean F1 difference (se), recordings better/worse; "
          "xnull one voice/vpw nothing found")
    print("\n".join(G.paired_lines(rows, syn_all, vs[0], vs[1:], width=22)))
    if args.select:
        G.select_rule(rows, syn_all, vs)
    print(G.cell_counts(rows))

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--front", default="bands", choices=sorted(G.FRONTS))
    ap.add_argument("--feats", default="kept", help="feature variants, comma-separated: kept, detrend")
    ap.add_argument("--variants", default="cur,fixed,ratio_rev,ratio_rot,ratio_max,diff_rev,diff_rot,diff_max")
    ap.add_argument("--extra-nulls", type=int, default=80)
    ap.add_argument("--diag", action="store_true", help="distributions of s, s0, c per class and AUCs")
    ap.add_argument("--why", action="store_true", help="pair structure of D and the nulls (bdev+dev)")
    ap.add_argument("--select", action="store_true", help="each variant's bar chosen on bdev+dev, read on wide")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    with tee_output(args.out, f"dev_revnull.py {' '.join(argv if argv is not None else sys.argv[1:])}"):
        self_check()
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
