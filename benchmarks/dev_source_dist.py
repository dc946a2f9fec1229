"""Development yardstick: segment-level means and spread profiles added back into the distances
(issue 14, session 13, helper source-bar, second task): dev draws only.

`segments.segment_features` removes each segment's own mean and divides each dimension by its spread
within the segment, so D never sees a segment's mean vector m (a word's long-term average spectrum) or
its log spread profile l = log(sd + SEGMENT_SD_FLOOR) (which dimensions move within it). Both may hold
word content, not only the source. Here they are added back, down-weighted and scale-free:

    M[i, j] = RMS over dimensions of (m_i - m_j) (with the feature-axis stretch search of
              warped_distances on series with >= FEATURE_WARP_MIN_DIMS dimensions: the smaller of
              the unwarped and the warped distances, symmetrised), divided by its median over pairs;
    add: D' = D + lam x median(D) x M;     mul: D' = D x (1 + lam x M);
    addr, mulr: the same with M's ranks (per row, symmetrised, over the median) instead of its values;
    (the decoy distances R0 the same way: decoy j has segment j's mean and spread).

STAT in m (means), mt (means, tilt removed), s (log spreads), ms (m + s, each normalised); warp w (the
stretch search), W (a wider one, -0.2..0.2) or n (none).

    python benchmarks/dev_source_dist.py --front bands --cache benchmarks/.cache/source_bar_bands.pkl --pairs
    python benchmarks/dev_source_dist.py --front bands --cache benchmarks/.cache/source_bar_bands.pkl \
        --variants kept,add_m_w_0.25,add_m_w_0.5 --out benchmarks/results/source_bar/dist_bands.md

The cache is dev_source_bar.py's (its SrcCase holds each candidate segment's mean and spread per
dimension of the series-scaled rows); built on the first run if missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import dev_extract_groups as G
import dev_source_bar as SB
from _common import tee_output

import __main__
from tenfold import segments
from tenfold.metrics import interval_f1

__main__.SrcCase = SB.SrcCase       # the cache was pickled by dev_source_bar run as a script


def _rms_pairs(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(S, S) RMS over dimensions of A[i] - B[j]."""
    return np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).mean(axis=2))


WIDE_WARPS = (-0.2, -0.15, -0.1, -0.05, 0.05, 0.1, 0.15, 0.2)


def level_distances(c, stat: str, warp: str) -> np.ndarray:
    """(S, S) distances between segment-level vectors (means and/or log spreads), each normalised by its
    median over pairs (scale-free); with warp, the smaller over the stretches segments.FEATURE_WARPS of the
    feature axis (applied to the vector; series with >= FEATURE_WARP_MIN_DIMS dimensions), symmetrised; W: over
    WIDE_WARPS. Parts: m (means), mt (means with their linear trend over the dimension index removed), s (log
    spreads), ms (m + s)."""
    S = len(c.s)
    out = np.zeros((S, S))
    if S < 2:
        return out
    off = ~np.eye(S, dtype=bool)
    for part in ("m", "s") if stat == "ms" else (stat,):
        V = c.mu if part in ("m", "mt") else np.log(c.sd + segments.SEGMENT_SD_FLOOR)
        d = V.shape[1]
        if part == "mt":        # each mean vector's straight-line trend over the dimension index removed (a tilt)
            A = np.vstack([np.ones(d), np.linspace(-1, 1, d)]).T
            V = V - (V @ np.linalg.pinv(A).T) @ A.T
        M = _rms_pairs(V, V)
        if warp != "n" and d >= segments.FEATURE_WARP_MIN_DIMS:
            for alpha in segments.FEATURE_WARPS if warp == "w" else WIDE_WARPS:
                M = np.minimum(M, _rms_pairs(V @ segments._axis_warp(alpha, d).T, V))
            M = np.minimum(M, M.T)
        out += M / max(float(np.median(M[off])), 1e-300)
    return out


def distances(c, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(D', R0') of a variant; kept: (D, R0)."""
    if name == "kept" or len(c.s) < 2:
        return c.D, c.R0
    form, stat, warp, lam = name.split("_")
    lam = float(lam)
    key = (stat, warp)
    cache = c.__dict__.setdefault("_lvl", {})
    if key not in cache:
        cache[key] = level_distances(c, stat, warp)
    M = cache[key]
    S = len(c.s)
    if form.endswith("r"):      # ranks instead of values: mean of M[i, j]'s rank in row i and in row j
        Rk = np.argsort(np.argsort(M + np.diag(np.full(S, -np.inf)), axis=1), axis=1) / max(S - 1, 1)
        M = 0.5 * (Rk + Rk.T) * (1 - np.eye(S))
        M = M / max(float(np.median(M[~np.eye(S, dtype=bool)])), 1e-300)
        form = form[:-1]
    if form == "add":
        med = float(np.median(c.D[~np.eye(S, dtype=bool)]))
        return c.D + lam * med * M, c.R0 + lam * med * M
    if form == "mul":
        return c.D * (1 + lam * M), c.R0 * (1 + lam * M)
    raise ValueError(f"unknown form {form!r}")


def pair_table(recs: list, names: list) -> None:
    """Same-word pairs against the nulls' closest pairs, per variant (distances relative to each
    recording's median pair): per-recording AUC (a same-word pair nearer than a target-other pair), 1-NN
    of target segments, medians of same-word / target-other pairs, and the all-distinct-word nulls'
    per-recording closest pair (one voice / voice per word) and 5% quantile."""
    print("\n## Pairs: distances / the recording's median pair\n")
    print("| variant | one_many AUC | 1-NN | vpw_many AUC | 1-NN | same-word one / vpw | target-other | "
          "null closest pair one / vpw | null 5% one / vpw | same-word vpw < null-vpw closest |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for v in names:
        auc, nn, same, other, closest, q5 = {}, {}, {}, [], {}, {}
        for rec in recs:
            if rec["fixed"] is not None or rec["cond"] not in ("one_many", "vpw_many", "distinct") \
                    or rec["draw"] == "xnull":
                continue
            c = rec["case"]
            S = len(c.s)
            if S < 4:
                continue
            D, _ = distances(c, v)
            off = ~np.eye(S, dtype=bool)
            M = D / np.median(D[off])
            if rec["cond"] == "distinct":
                k = "one" if rec["one_voice"] else "vpw"
                closest.setdefault(k, []).append(float(M[off].min()))
                q5.setdefault(k, []).append(float(np.quantile(M[off], 0.05)))
                continue
            tgt = np.array([any(G._iou((a, b), t) >= 0.5 for t in rec["truth"]) for a, b in zip(c.s, c.e)])
            if tgt.sum() < 2:
                continue
            tt = M[np.ix_(tgt, tgt)][~np.eye(tgt.sum(), dtype=bool)]
            to = M[np.ix_(tgt, ~tgt)].ravel()
            cond = rec["cond"]
            auc.setdefault(cond, []).append(float(np.mean(tt[:, None] < to[None, :])))
            Mi = M + np.diag(np.full(S, np.inf))
            nn.setdefault(cond, []).extend(tgt[np.argmin(Mi[tgt], axis=1)].tolist())
            same.setdefault(cond, []).extend(tt.tolist())
            other.extend(to.tolist())
        below = np.mean(np.asarray(same["vpw_many"])[:, None] < np.asarray(closest["vpw"])[None, :])
        print(f"| {v} | {np.median(auc['one_many']):.3f} | {np.mean(nn['one_many']):.2f} | "
              f"{np.median(auc['vpw_many']):.3f} | {np.mean(nn['vpw_many']):.2f} | "
              f"{np.median(same['one_many']):.2f} / {np.median(same['vpw_many']):.2f} | {np.median(other):.2f} | "
              f"{np.median(closest['one']):.2f} / {np.median(closest['vpw']):.2f} | "
              f"{np.median(q5['one']):.2f} / {np.median(q5['vpw']):.2f} | {below:.2f} |")


def score_table(recs: list, syn_cases: list, names: list) -> None:
    """Best-group score per class under each variant's distances (no bar): median and the 10% quantile for
    true groups, the 90% quantile for nulls (bdev+dev+wide; synthetic: 3-D series of 16 distinct events)."""
    print("\n## Best-group scores: true groups median [10%], nulls median [90%]\n")
    for v in names:
        out: dict = {}
        for r in recs:
            if r["fixed"] is not None or r["draw"] == "xnull":
                continue
            k = ("null_one" if r["one_voice"] else "null_vpw") if r["cond"] == "distinct" else r["cond"]
            if k in ("null_one", "null_vpw", "one_many", "vpw_many"):
                out.setdefault(k, []).append(segments.best_group(*distances(r["case"], v))[1])
        out["synthetic"] = [segments.best_group(*distances(c, v))[1] for c in syn_cases]
        print(f"- {v}: " + "; ".join(
            f"{k} {np.median(x):.2f} [{np.quantile(x, 0.9 if k.startswith(('null', 'syn')) else 0.1):.2f}]"
            for k, x in out.items()))


def build_rows(recs: list, syn_cases: list, names: list, bars: tuple) -> tuple[list, dict]:
    """dev_extract_groups rows: per variant and bar kind (fixed: the score; cur: score + slope x
    neighbour_contrast(D'), i.e. group_bar on D' with its b0 refitted), (members, significance, F1)."""
    rows = []
    keys = [f"{v}|{b}" for v in names for b in bars]

    def sig(D, z, b):
        return z if b == "fixed" else z + segments.ADAPTIVE_BAR_SLOPE * segments.neighbour_contrast(D)

    for rec in recs:
        c = rec["case"]
        r = {k: rec[k] for k in ("draw", "cond", "fixed", "one_voice")}
        r["var"] = {}
        if r["fixed"] is None:
            for v in names:
                D, R = distances(c, v)
                m, z = segments.best_group(D, R)
                f1 = G.group_f1(rec, c, m)
                for b in bars:
                    r["var"][f"{v}|{b}"] = (m, sig(D, z, b), f1)
        rows.append(r)
    syn = {k: [] for k in keys}
    for c in syn_cases:
        for v in names:
            D, R = distances(c, v)
            z = segments.best_group(D, R)[1]
            for b in bars:
                syn[f"{v}|{b}"].append(sig(D, z, b))
    return rows, {k: np.array(x) for k, x in syn.items()}


def synthetic_repeats(names: list, bars: tuple, b0: dict) -> None:
    """3-D series with one event repeated 3-6 times among 12 distinct ones (seeds 200-229, as in
    dev_source_bar): share of true groups found with IoU-matched members at each variant's equal-null b0."""
    from tenfold.datasets import event_shapes, events_in_noise
    print("\n## Synthetic true repeats (3-D, one event x 3-6 among 12 distinct): F1@.5 at the equal-null b0\n")
    for gain in (None, (0.5, 2.0)):
        res = {k: [] for k in b0}
        for seed in range(200, 230):
            rng = np.random.default_rng(seed)
            k = int(rng.integers(3, 7))
            order = [0] * k + list(range(1, 13))
            rng.shuffle(order)
            X, truth = events_in_noise(rng, event_shapes(rng, 13), order, gain=gain)
            c = SB.SrcCase(X, 25, 60)
            for v in names:
                D, R = distances(c, v)
                m, z = segments.best_group(D, R)
                for b in bars:
                    s = z if b == "fixed" else z + segments.ADAPTIVE_BAR_SLOPE * segments.neighbour_contrast(D)
                    ok = len(m) >= 2 and s >= b0[f"{v}|{b}"]
                    f1 = interval_f1(list(zip(c.s[m].tolist(), c.e[m].tolist())), truth, 0.5) if ok else 0.0
                    res[f"{v}|{b}"].append(f1)
        print(f"- gain {gain}: " + ", ".join(f"{k} {np.mean(x):.2f}" for k, x in res.items()))


def run(args) -> None:
    recs, syn_cases = G.recordings(args.front, (), args.cache, args.extra_nulls)
    names = args.variants.split(",")
    print(f"front {args.front}; {sum(r['fixed'] is None for r in recs)} recordings on segments of {len(recs)}; "
          f"synthetic {len(syn_cases)}; dims {next(r['case'].mu.shape[1] for r in recs if r['fixed'] is None)}")
    if args.pairs:
        pair_table(recs, names)
    if args.scores:
        score_table(recs, syn_cases, names)
    if args.search:
        bars = tuple(args.bars.split(","))
        rows, syn = build_rows(recs, syn_cases, names, bars)
        keys = list(syn)
        print("\n## Rules fitted on bdev+dev at equal nulls, read on wide and the fresh nulls\n")
        G.select_rule(rows, syn, keys)
        print("\n## Equal nulls over bdev+dev+wide (and with xnull pooled in)\n")
        base = [r for r in rows if r["draw"] != "xnull"]
        b0 = {}
        for k in keys:
            b0[k] = G.equal_null_bar(base, syn[k], k)
            print(G.table(rows, syn[k], k, b0[k]), " <- equal nulls")
            print(G.table(rows, syn[k], k, G.equal_null_bar(rows, syn[k], k)), " <- equal nulls, xnull pooled")
        if args.synthetic:
            synthetic_repeats(names, bars, b0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--front", default="bands", choices=sorted(G.FRONTS))
    ap.add_argument("--cache", default="")
    ap.add_argument("--extra-nulls", type=int, default=80)
    ap.add_argument("--variants", default="kept,add_m_w_0.25,add_m_w_0.5",
                    help="comma-separated: kept, or FORM_STAT_WARP_LAM (FORM add|mul|addr|mulr, STAT m|mt|s|ms, WARP w|W|n)")
    ap.add_argument("--pairs", action="store_true", help="pair diagnostic")
    ap.add_argument("--scores", action="store_true", help="best-group scores per class (no bar)")
    ap.add_argument("--search", action="store_true", help="group search at equal nulls")
    ap.add_argument("--bars", default="fixed,cur", help="fixed (one bar) and/or cur (group_bar's form on D')")
    ap.add_argument("--synthetic", action="store_true", help="synthetic true repeats at the equal-null b0")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    with tee_output(args.out, f"dev_source_dist.py {' '.join(argv if argv is not None else sys.argv[1:])}\n"):
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
