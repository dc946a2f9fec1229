"""Development check of group-recall ideas for the segment search (issue 14): dev speakers only.

Question: with a voice per word, `find_group` returns 2-5 of 6-8 repeats. Can the found group be
grown, or re-scored, by averaging out the speaker (a DTW barycentre of the members, or their
mean distance profile) or by diffusion on the segments' k-nearest-neighbour graph (personalised
PageRank from the members)? Everything here works on `find_group`'s own distances and features;
nothing in `tenfold` is changed. The recordings, bar and scoring are those of
dev_extract_groups.py (bdev/dev/wide draws, all-distinct-word nulls, 50 synthetic 3-D series).

    python benchmarks/dev_extract_growth.py        # ~5 min on 2 loaded cores

Prints (and writes to benchmarks/results/dev_extract_growth.txt) F1@IoU.5 per condition and draw (bdev/dev/wide) for:
  * the kept setting (bar 1.1) and three ceilings: no bar, no bar plus perfect growth, and the
    true segments as the group (what segmentation allows);
  * growth rules that add the best-ranked non-member while it is as much an outlier of the
    non-members as the members are of each other (leave-one-out), ranked by mean distance to the
    members, by personalised PageRank, or by distance to the members' DTW barycentre;
  * candidate groups ordered by PageRank instead of by DTW distance inside best_group;
  * significance taken from the barycentre (leave-one-out silhouette against the barycentre);
  * how the missing repeats rank among the non-members under each ranking.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import dev_extract_groups as G

from tenfold import extract, segments
from tenfold.datasets import event_shapes, events_in_noise
from tenfold.metrics import interval_f1

BAR = segments.MIN_SIGNIFICANCE
LABEL_IOU = 0.3          # a segment counts as a repeat when it overlaps a true instance this much
PPR_NEIGHBOURS = 5       # k of the kNN graph (3 and 8 ranked no better)
PPR_ALPHA = 0.9          # restart 0.1 (0.5 and 0.99 ranked no better)
DBA_ITERS = 3
GROWTH_STEPS = 3         # at most this many members added (DBA: each step re-averages)
OUT = Path(__file__).parent / "results" / "dev_extract_growth.txt"
LINES: list[str] = []


def say(line: str) -> None:
    print(line, flush=True)
    LINES.append(line)


def _iou(a, b) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


def load():
    """One find_group per dev recording: its distances, features and group, plus segment labels."""
    recs = []
    for name, cond, X, truth, lo, hi in G.draws():
        X = np.asarray(X, np.float64)
        g = segments.find_group(X, lo, hi)
        other = None
        if not (g.coverage >= segments.MIN_COVERAGE and len(g.seg_starts) >= 3):   # the shapelet search decides
            h = extract.find_instances(X, lo, hi, random_state=0)
            other = list(zip(h.starts.tolist(), h.ends.tolist()))
        lab = np.array([any(_iou((s, e), t) >= LABEL_IOU for t in truth) for s, e in zip(g.seg_starts, g.seg_ends)])
        recs.append({"name": name, "cond": cond, "X": X, "truth": truth, "lo": lo, "hi": hi, "g": g, "other": other,
                     "lab": lab, "members": g.members, "sig": g.significance})
    syn = []
    for seed in range(4, 54):
        rng = np.random.default_rng(seed)
        X, _ = events_in_noise(rng, event_shapes(rng, 16), list(range(16)))
        syn.append({"X": X, "g": segments.find_group(X, 25, 60)})
    return recs, syn


def evaluate(recs, label, members=None, sig=None, bar=BAR):
    """Print F1@.5 per condition (bdev/dev/wide) and the distinct-word nothing-found share."""
    res: dict = {}
    for i, r in enumerate(recs):
        m = r["members"] if members is None else members[i]
        z = r["sig"] if sig is None else sig[i]
        if r["other"] is not None:
            pred = r["other"]
        elif len(m) >= 2 and z >= bar:
            m = np.sort(np.asarray(m, np.int64))
            s, e = extract._fit_range(r["g"].seg_starts[m], r["g"].seg_ends[m], r["lo"], r["hi"], len(r["X"]))
            pred = list(zip(s.tolist(), e.tolist()))
        else:
            pred = []
        v = float(len(pred) == 0) if r["cond"] == "distinct" else interval_f1(pred, r["truth"], 0.5)
        res.setdefault(r["cond"], {}).setdefault(r["name"], []).append(v)
    cells = " ".join(f"{c} " + "/".join(f"{np.mean(d[n]):.2f}" for n in ("bdev", "dev", "wide")) for c, d in res.items())
    say(f"{label:50s} | {cells}")


# ---- rankings of the non-members -------------------------------------------------------------

def knn_graph(D: np.ndarray, k: int = PPR_NEIGHBOURS) -> np.ndarray:
    """Symmetrically normalised kNN affinity with self-tuning widths (distance to the k-th neighbour)."""
    S = len(D)
    Dn = D.copy()
    np.fill_diagonal(Dn, np.inf)
    kk = min(k, S - 1)
    nn = np.argsort(Dn, axis=1)[:, :kk]
    width = Dn[np.arange(S), nn[:, -1]]
    W = np.zeros((S, S))
    for i in range(S):
        W[i, nn[i]] = np.exp(-Dn[i, nn[i]] ** 2 / (width[i] * width[nn[i]]))
    W = np.maximum(W, W.T)
    deg = np.maximum(W.sum(1), 1e-300)
    return W / np.sqrt(deg[:, None] * deg[None, :])


def ppr(Sm: np.ndarray, seeds) -> np.ndarray:
    """Personalised PageRank (manifold ranking) scores from the seed segments."""
    y = np.zeros(len(Sm))
    y[list(seeds)] = 1.0
    return np.linalg.solve(np.eye(len(Sm)) - PPR_ALPHA * Sm, y)


def dtw_path(A: np.ndarray, B: np.ndarray, band: float):
    """Optimal band-limited DTW alignment of A's rows to B's rows, as (i, j) pairs."""
    n, m = len(A), len(B)
    C = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    w = max(int(np.ceil(band * max(n, m))), abs(n - m))
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(max(1, i - w), min(m, i + w) + 1):
            acc[i, j] = C[i - 1, j - 1] + min(acc[i - 1, j], acc[i, j - 1], acc[i - 1, j - 1])
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin([acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]]))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return path


def barycentre_distances(r_or_g, X, members) -> np.ndarray:
    """Warped DTW distance of every segment to the members' DBA barycentre (started at their medoid)."""
    g = r_or_g
    s, e, Z, D = g.seg_starts, g.seg_ends, g.features, g.distances
    members = np.asarray(members)
    med = members[np.argmin(D[np.ix_(members, members)].sum(1))]
    B = Z[s[med]:e[med]].copy()
    for _ in range(DBA_ITERS):
        acc, cnt = np.zeros_like(B), np.zeros(len(B))
        for mm in members:
            A = Z[s[mm]:e[mm]]
            for i, j in dtw_path(A, B, segments.DTW_BAND):
                acc[j] += A[i]
                cnt[j] += 1
        B = acc / cnt[:, None]
    return segments.warped_distances(X, s, e, B, np.array([0]), np.array([len(B)]))[:, 0]


def robust_z(p_out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """How far below the non-members' median x lies, in their robust spread (scale-free)."""
    med = np.median(p_out)
    return (med - x) / (np.median(np.abs(p_out - med)) * 1.4826 + 1e-12)


# ---- growth rules ----------------------------------------------------------------------------

def grow(r, rank: str, c: float):
    """Add the best-ranked non-member while its z >= c x the members' smallest leave-one-out z."""
    g, D = r["g"], r["g"].distances
    m, S = list(r["members"]), len(D)
    Sm = knn_graph(D) if rank == "ppr" else None
    for _ in range(GROWTH_STEPS):
        out = np.setdiff1d(np.arange(S), m)
        if len(m) >= S // 2 or len(out) < 3:
            break
        if rank == "mean":        # distance profile averaged over the members (higher z = closer)
            z_out = robust_z(D[np.ix_(out, m)].mean(1), D[np.ix_(out, m)].mean(1))
            z_loo = robust_z(D[np.ix_(out, m)].mean(1), D[np.ix_(m, m)].sum(1) / (len(m) - 1))
        elif rank == "ppr":       # log PageRank from the members; members' from the others
            f = np.log(np.maximum(ppr(Sm, m)[out], 1e-300))
            loo = np.log(np.maximum([ppr(Sm, [x for x in m if x != y])[y] for y in m], 1e-300))
            z_out, z_loo = robust_z(-f, -f), robust_z(-f, -loo)
        else:                     # DTW barycentre of the members; each member's of the others
            d = barycentre_distances(g, r["X"], m)
            loo = np.array([barycentre_distances(g, r["X"], [x for x in m if x != y])[y] for y in m])
            z_out, z_loo = robust_z(d[out], d[out]), robust_z(d[out], loo)
        j = int(np.argmax(z_out))
        if z_out[j] < c * z_loo.min():
            break
        m.append(int(out[j]))
    return np.array(m)


def best_group_ppr(D: np.ndarray, R: np.ndarray):
    """best_group with each seed's candidate groups ordered by PageRank from it instead of by DTW."""
    S = len(D)
    if S < 2:
        return np.zeros(0, np.int64), 0.0
    F = np.linalg.inv(np.eye(S) - PPR_ALPHA * knn_graph(D))
    best, best_z = np.zeros(0, np.int64), -np.inf
    for i in range(S):
        f = F[:, i].copy()
        f[i] = np.inf
        order = np.argsort(-f, kind="stable")
        for k in [*range(2, S // 2 + 1), S]:
            z = segments._group_score(D, R, order[:k]) * (segments.DECOY_ONLY_WEIGHT if k == S else 1.0)
            if z > best_z:
                best, best_z = np.sort(order[:k]), z
    return best, float(best_z)


def barycentre_silhouette(g, X) -> float:
    """Members' mean silhouette against the barycentre (leave-one-out vs 3 nearest non-members) x k."""
    m = g.members
    out = np.setdiff1d(np.arange(len(g.seg_starts)), m)
    if len(m) < 2 or len(out) < 3:
        return -np.inf
    near = np.sort(barycentre_distances(g, X, m)[out])[:segments.NEAR_OUTSIDERS].mean()
    a = np.array([barycentre_distances(g, X, [x for x in m if x != y])[y] for y in m])
    return float(((near - a) / np.maximum(near, a)).mean() * len(m))


def main() -> int:
    recs, syn = load()
    seg = [r for r in recs if r["other"] is None]
    say(f"{len(recs)} dev recordings ({len(seg)} on the segment search), {len(syn)} synthetic nulls; bar {BAR}")
    evaluate(recs, f"kept: silhouette x k, bar {BAR}")
    evaluate(recs, "ceiling: no bar", bar=-np.inf)
    full = [np.union1d(r["members"], np.flatnonzero(r["lab"])) if r["lab"][r["members"]].mean() > 0.5 else r["members"]
            for r in recs]
    evaluate(recs, "ceiling: perfect growth, bar kept", members=full)
    evaluate(recs, "ceiling: perfect growth, no bar", members=full, bar=-np.inf)
    evaluate(recs, "ceiling: the true segments, no bar", bar=-np.inf,
             members=[np.flatnonzero(r["lab"]) if r["lab"].sum() >= 2 else r["members"] for r in recs])

    passing = [i for i, r in enumerate(recs) if r["other"] is None and r["sig"] >= BAR and len(r["members"]) >= 2]
    # Ranking diagnostic: on voice-per-word groups that are mostly repeats and miss some.
    diag: dict = {}
    for i in passing:
        r = recs[i]
        m, lab, D = r["members"], r["lab"], r["g"].distances
        out = np.setdiff1d(np.arange(len(lab)), m)
        if r["cond"] not in ("vpw_few", "vpw_many") or lab[m].mean() <= 0.5 or not lab[out].any() or lab[out].all():
            continue
        for name, sc in (("mean distance", -D[:, m].mean(1)), ("nearest member", -D[:, m].min(1)),
                         ("PageRank", ppr(knn_graph(D), m)), ("barycentre", -barycentre_distances(r["g"], r["X"], m))):
            pos, neg = out[lab[out]], out[~lab[out]]
            auc = np.mean([(sc[p] > sc[neg]).mean() for p in pos])
            top = out[np.argmax(sc[out])]
            diag.setdefault(name, []).append((auc, lab[top]))
    for name, v in diag.items():
        a = np.array(v, float)
        say(f"ranking of missing repeats by {name:15s}: AUC vs other non-members {a[:, 0].mean():.3f}, "
              f"best non-member is a repeat in {int(a[:, 1].sum())} of {len(a)} groups")

    for rank, cs in (("mean", (1.0, 0.7, 0.5)), ("ppr", (1.5, 1.2, 1.0)), ("dba", (1.0, 0.8, 0.6))):
        grown = {i: {c: grow(recs[i], rank, c) for c in cs} for i in passing}
        for c in cs:
            evaluate(recs, f"growth by {rank}, z >= {c} x members' min LOO z",
                     members=[grown[i][c] if i in grown else r["members"] for i, r in enumerate(recs)])

    alt = [best_group_ppr(r["g"].distances, r["g"].decoy_distances) if r["other"] is None else (r["members"], r["sig"])
           for r in recs]
    syn_alt = np.array([best_group_ppr(s["g"].distances, s["g"].decoy_distances)[1] for s in syn])
    syn_sig = np.array([s["g"].significance for s in syn])
    for bar in (BAR, 1.2):
        evaluate(recs, f"kept, bar {bar} (synthetic nothing {np.mean(syn_sig < bar):.2f})", bar=bar)
        evaluate(recs, f"PageRank-ordered candidates, bar {bar} (synth. {np.mean(syn_alt < bar):.2f})",
                 members=[a[0] for a in alt], sig=[a[1] for a in alt], bar=bar)

    bsig = np.array([barycentre_silhouette(r["g"], r["X"]) if r["other"] is None else -np.inf for r in recs])
    bsyn = np.array([barycentre_silhouette(s["g"], s["X"]) for s in syn])
    nulls = bsig[[r["cond"] == "distinct" and r["other"] is None for r in recs]]
    bar = min(b for b in np.sort(np.concatenate([nulls, bsyn])) if np.isfinite(b)
              and np.mean(nulls < b) >= 0.93 and np.mean(bsyn < b) >= 0.92)
    evaluate(recs, f"barycentre silhouette x k, bar {bar:.2f} (synth. {np.mean(bsyn < bar):.2f})", sig=bsig, bar=bar)
    OUT.write_text("\n".join(LINES) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
