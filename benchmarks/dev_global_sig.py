"""Development yardstick for a group significance on the recording's WHOLE distance scale (issue 14,
session 13, helper global-sig): dev draws only (bdev/dev/wide, 70 nulls, the 80 fresh nulls, 50
synthetic 3-D nulls).

`segments._group_score` compares a group's members with their 3 nearest outsiders (mean silhouette x k).
A true group of a word by 5 voices is loose next to its members' nearest distractors, so it scores like
the chance groups of one voice's different words, although every pair in it lies far below the
recording's typical pair (same word across voices ~0.63 of the median pair; the nulls' closest 5% of
pairs ~0.78, log sd ~0.125). Here the group is scored against the distribution of ALL the recording's
pair distances instead. With L_ij = log(D_ij / median over pairs of D) and w the mean of L over the
group's P = k(k-1)/2 pairs:

  t     -w                       (how far below the typical pair the group lies, in log units)
  tsk   t x sqrt(k)
  tk    t x k
  z     (mean L - w) / sd L x sqrt(P)   (a z-score of the group's pairs against all pairs)
  q     P(a random pair <= the group's median pair) turned into -log10: a rank form (scale-free twice)
  zr    -w / (1.4826 x MAD of L) x sqrt(P)   (z with a robust spread: a true group's own pairs barely move it)
  zrk   -w / (1.4826 x MAD of L) x k
  zrb   (median - w) / (1.4826 x MAD) x k over the pairs not inside the group (zrbs: x sqrt(P))
  tkb   (mean L over pairs with no member - w) x k   (against the background only)
  tsk1  t x sqrt(k - 1)   (the nulls' best chance group of size k has t ~ 0.56 / sqrt(k - 1): flat for chance)
  ez    (t - median t of the recording's candidate groups of size k) / (1.4826 x their MAD)
  pk    k x share of the group's P pairs that are among the recording's P nearest pairs (a clique test)

Variants (each read at its own equal-null bar, as dev_extract_groups does):
  cur                 src as it is: kept group, score + ADAPTIVE_BAR_SLOPE x neighbour_contrast (bar b0)
  fixed               kept group, kept score
  S_sig               kept group (members and extent as today), significance S
  S_all               the best group under S (best_group's candidate groups, sizes 2..S/2; S_allK: K..S/2)
  sumW_S_sig          cur + W x S on the kept group (a sum of the two scores)
  bothD_S_sig         S on the kept group where cur >= src's bar - D, else nothing (both required)
  S_grd               S_all's group, then greedy single-segment additions / removals while S rises
  S_all_cur           members from S_all, significance cur of those members
  adaptB_VARIANT      VARIANT's significance + B x neighbour_contrast (the adaptive bar's form)
  eitherD_S_sig/_all  found where cur >= src's bar + D (kept group), else where S passes (S_sig / S_all)
A group of every segment keeps its decoy comparison at src's bar: its significance is then +inf where cur
passes src's bar, else -inf (S_all: else the best smaller group under S).

    python benchmarks/dev_global_sig.py --front bands --cache benchmarks/.cache/global_sig_bands.pkl \
        --diag --variants cur,t_sig,tk_sig,z_sig --out benchmarks/results/global_sig/bands.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import dev_extract_groups as G
from _common import tee_output

from tenfold import segments

SRC_BAR0 = segments.MIN_SIGNIFICANCE + segments.ADAPTIVE_BAR_SLOPE * segments.ADAPTIVE_BAR_REFERENCE  # 2.925
SCORES = ("t", "tsk", "tk", "z", "q", "zr", "zrk", "tkb", "pk", "tsk1", "ez", "zrb", "zrbs")


def _logrel(c) -> tuple[np.ndarray, float, float, np.ndarray]:
    """(L, mean, sd, sorted off-diagonal values) of L = log(D / median pair), cached on the case."""
    if getattr(c, "_lr", None) is None:
        S = len(c.D)
        off = ~np.eye(S, dtype=bool)
        med = float(np.median(c.D[off]))
        L = np.log(np.maximum(c.D, 1e-300) / max(med, 1e-300))
        vals = np.sort(L[np.triu_indices(S, 1)])
        c._lr = (L, float(vals.mean()), float(vals.std()), vals)
    return c._lr


def gscore(c, m: np.ndarray, kind: str) -> float:
    """Global significance `kind` of the group m (indices) in case c."""
    k = len(m)
    if k < 2:
        return 0.0
    L, mu, sd, vals = _logrel(c)
    W = L[np.ix_(m, m)][np.triu_indices(k, 1)]
    w = float(W.mean())
    t = -w
    if kind == "t":
        return t
    if kind == "tsk":
        return t * np.sqrt(k)
    if kind == "tk":
        return t * k
    if kind == "z":
        return (mu - w) / max(sd, 1e-12) * np.sqrt(len(W))
    if kind in ("zr", "zrk"):                   # robust spread: 1.4826 x MAD of L (centre 0 by construction)
        mad = 1.4826 * float(np.median(np.abs(vals - np.median(vals))))
        return t / max(mad, 1e-12) * (np.sqrt(len(W)) if kind == "zr" else k)
    if kind in ("zrb", "zrbs"):                 # centre and robust spread of the pairs NOT inside the group
        inside = np.zeros(len(L), bool)
        inside[m] = True
        iu = np.triu_indices(len(L), 1)
        ref = L[iu][~(inside[iu[0]] & inside[iu[1]])]
        cen = float(np.median(ref))
        mad = 1.4826 * float(np.median(np.abs(ref - cen)))
        return (cen - w) / max(mad, 1e-12) * (k if kind == "zrb" else np.sqrt(len(W)))
    if kind == "tkb":                          # against the pairs that involve no member
        keep = np.setdiff1d(np.arange(len(L)), m)
        Lb = L[np.ix_(keep, keep)][np.triu_indices(len(keep), 1)]
        return (float(Lb.mean()) - w) * k if len(Lb) else t * k
    if kind == "tsk1":                         # the best chance group's t falls about as 1 / sqrt(k - 1)
        return t * np.sqrt(k - 1)
    if kind == "ez":                           # against the recording's other candidate groups of that size
        cand = np.array(candidate_ts(c, k))
        med = float(np.median(cand))
        mad = 1.4826 * float(np.median(np.abs(cand - med)))
        return (t - med) / max(mad, 1e-3)
    if kind == "pk":                           # clique purity: share of its pairs among the recording's P nearest
        return k * float(np.mean(W <= vals[len(W) - 1]))
    if kind == "q":                            # share of all pairs at or below the group's median pair
        p = (np.searchsorted(vals, np.median(W), side="right") + 0.5) / (len(vals) + 1)
        return float(-np.log10(p))
    raise ValueError(kind)


def cur_of(c, m: np.ndarray, z: float | None = None) -> float:
    """src's adaptive significance in bar-b0 units: score + slope x neighbour_contrast."""
    if z is None:
        z = segments._group_score(c.D, c.R0, m)
        if len(m) == len(c.D):
            z *= segments.DECOY_ONLY_WEIGHT
    return z + segments.ADAPTIVE_BAR_SLOPE * segments.neighbour_contrast(c.D)


def best_global(c, kind: str, kmin: int = 2) -> tuple[np.ndarray, float]:
    """best_group's candidate groups (each segment and its k-1 nearest, re-ranked), sizes 2..S/2, scored by
    `kind`; cached per case and kind. kmin: the smallest size tried."""
    cache = c.__dict__.setdefault("_bg", {})
    if (kind, kmin) in cache:
        return cache[(kind, kmin)]
    D = c.D
    S = len(D)
    best, best_z = np.zeros(0, np.int64), -np.inf
    seen = set()
    for i in range(S):
        order = np.argsort(D[i], kind="stable")
        for k in range(kmin, S // 2 + 1):
            g = np.sort(np.argsort(D[:, order[:k]].mean(axis=1), kind="stable")[:k])
            key = g.tobytes()
            if key in seen:
                continue
            seen.add(key)
            z = gscore(c, g, kind)
            if z > best_z:
                best, best_z = g, z
    cache[(kind, kmin)] = (best, float(best_z))
    return cache[(kind, kmin)]


def candidate_ts(c, k: int) -> list:
    """t of best_group's candidate group of size k seeded at each segment (cached)."""
    cache = c.__dict__.setdefault("_ct", {})
    if k not in cache:
        D = c.D
        out = []
        for i in range(len(D)):
            order = np.argsort(D[i], kind="stable")
            g = np.argsort(D[:, order[:k]].mean(axis=1), kind="stable")[:k]
            out.append(gscore(c, g, "t"))
        cache[k] = out
    return cache[k]


def best_t_of_size(c, k: int) -> float:
    """The highest t over best_group's candidate groups of size k."""
    return max(candidate_ts(c, k))


def greedy(c, kind: str, start: np.ndarray, steps: int = 30) -> tuple[np.ndarray, float]:
    """From `start`, add the outsider or drop the member that raises score `kind` most, while one does
    (sizes 2..S/2); cached per case and kind."""
    cache = c.__dict__.setdefault("_gr", {})
    if kind in cache:
        return cache[kind]
    S = len(c.D)
    g = {int(i) for i in start}
    z = gscore(c, np.array(sorted(g)), kind)
    for _ in range(steps):
        moves = [g | {j} for j in range(S) if j not in g and len(g) < S // 2]
        moves += [g - {j} for j in g if len(g) > 2]
        if not moves:
            break
        vals = [gscore(c, np.array(sorted(h)), kind) for h in moves]
        i = int(np.argmax(vals))
        if vals[i] <= z + 1e-12:
            break
        g, z = moves[i], vals[i]
    cache[kind] = (np.array(sorted(g)), float(z))
    return cache[kind]


def variant(c, name: str) -> tuple[np.ndarray, float]:
    """(members, significance) of variant `name` (see the module docstring)."""
    m, z = G._kept(c)
    if len(c.D) < 2:
        return m, z
    if name == "fixed":
        return m, z
    cur = cur_of(c, m, z)
    if name == "cur":
        return m, cur
    parts = name.split("_")
    if parts[0].startswith("adapt"):           # adaptB_S_all: S + B x neighbour_contrast (cur's adaptive form)
        g, sc = variant(c, "_".join(parts[1:]))
        return g, sc + float(parts[0][5:]) * segments.neighbour_contrast(c.D)
    if parts[0].startswith("either"):          # found where cur passes src's bar + D, or else where S passes
        if cur >= SRC_BAR0 + float(parts[0][6:]):
            return m, np.inf
        parts = parts[1:]
    if len(m) == len(c.D) and (cur >= SRC_BAR0 or parts[1] not in ("grd",) and not parts[1].startswith("all")):
        return m, np.inf if cur >= SRC_BAR0 else -np.inf   # a group of every segment: decoys decide
    if parts[0] in SCORES and parts[1] == "grd":  # the best candidate group, then greedy moves
        g, s = greedy(c, parts[0], best_global(c, parts[0])[0])
        return (g, cur_of(c, g)) if len(parts) > 2 and parts[2] == "cur" else (g, s)
    if parts[0] in SCORES and parts[1].startswith("all"):
        g, s = best_global(c, parts[0], int(parts[1][3:] or 2))
        if len(parts) > 2 and parts[2] == "cur":
            return g, cur_of(c, g)
        return g, s
    if parts[0] in SCORES and parts[1] == "sig":
        return m, gscore(c, m, parts[0])
    if parts[0].startswith("sum"):
        return m, cur + float(parts[0][3:]) * gscore(c, m, parts[1])
    if parts[0].startswith("both"):
        ok = cur >= SRC_BAR0 - float(parts[0][4:])
        return m, gscore(c, m, parts[1]) if ok else -np.inf
    raise ValueError(name)


def _iou(a, b) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / max(1, max(a[1], b[1]) - min(a[0], b[0]))


def _q(v) -> str:
    v = np.asarray([x for x in v if np.isfinite(x)], float)
    if not len(v):
        return "-"
    return f"{np.median(v):.2f} [{np.quantile(v, 0.1):.2f}, {np.quantile(v, 0.9):.2f}]"


def diagnostics(recs: list, syn_cases: list) -> None:
    """Pair level: L of same-word pairs and the nulls' closest pairs; the true group's (segments overlapping
    a true instance) global scores; score level: every score of the kept group and of the best group under
    the score, per class (median [10%, 90%]); AUC of vpw_many kept groups against the pooled nulls."""
    classes: dict = {}
    truegrp: dict = {}
    pairs: dict = {}
    for rec in recs:
        if rec["fixed"] is not None:
            continue
        c = rec["case"]
        if len(c.D) < 4:
            continue
        key = f"null {'one' if rec['one_voice'] else 'vpw'}" if rec["cond"] == "distinct" else rec["cond"]
        classes.setdefault(key, []).append(c)
        L, mu, sd, vals = _logrel(c)
        pairs.setdefault(key, {}).setdefault("sd", []).append(sd)
        pairs[key].setdefault("mean", []).append(mu)
        pairs[key].setdefault("q05", []).append(float(np.quantile(vals, 0.05)))
        pairs[key].setdefault("min", []).append(float(vals[0]))
        if rec["truth"]:
            tgt = np.flatnonzero([any(_iou((a, b), t) >= 0.5 for t in rec["truth"]) for a, b in zip(c.s, c.e)])
            if len(tgt) >= 2:
                W = L[np.ix_(tgt, tgt)][np.triu_indices(len(tgt), 1)]
                pairs[key].setdefault("same", []).extend(W.tolist())
                for s in SCORES:
                    truegrp.setdefault((key, s), []).append(gscore(c, tgt, s))
                truegrp.setdefault((key, "cur"), []).append(cur_of(c, tgt))
                truegrp.setdefault((key, "k"), []).append(len(tgt))
    classes["synthetic"] = syn_cases
    for c in syn_cases:
        L, mu, sd, vals = _logrel(c)
        pairs.setdefault("synthetic", {}).setdefault("sd", []).append(sd)
        pairs["synthetic"].setdefault("mean", []).append(mu)
        pairs["synthetic"].setdefault("q05", []).append(float(np.quantile(vals, 0.05)))
        pairs["synthetic"].setdefault("min", []).append(float(vals[0]))
    print("## Pair level: L = log(D / recording's median pair); per recording, median [10%, 90%] over recordings"
          " (same: over pairs)\n")
    print("| class | n | sd of L | mean L | 5% quantile of L | closest pair L | same-word pairs L |")
    print("|---|---|---|---|---|---|---|")
    for k, p in pairs.items():
        print(f"| {k} | {len(p['sd'])} | {_q(p['sd'])} | {_q(p['mean'])} | {_q(p['q05'])} | {_q(p['min'])} | "
              f"{_q(p.get('same', []))} |")
    print("\n## The TRUE group (segments overlapping an instance, IoU >= .5): its scores, median [10%, 90%]\n")
    print("| class | k | cur | " + " | ".join(SCORES) + " |")
    print("|---|---|---|" + "---|" * len(SCORES))
    for key in ("one_few", "one_many", "vpw_few", "vpw_many"):
        if (key, "k") in truegrp:
            print(f"| {key} | {_q(truegrp[(key, 'k')])} | {_q(truegrp[(key, 'cur')])} | "
                  + " | ".join(_q(truegrp[(key, s)]) for s in SCORES) + " |")
    print("\n## Score level: the KEPT group's scores per class, median [10%, 90%]; the last rows: AUC of "
          "vpw_many (kept group) against each null class (1 = every vpw_many group above every null)\n")
    names = ["cur", "fixed"] + [f"{s}_sig" for s in SCORES] + [f"{s}_all" for s in SCORES]
    table = {k: {v: [variant(c, v)[1] for c in cs] for v in names} for k, cs in classes.items()}
    ks = {k: [len(G._kept(c)[0]) for c in cs] for k, cs in classes.items()}
    kall = {k: {s: [len(best_global(c, s)[0]) for c in cs] for s in SCORES} for k, cs in classes.items()}
    print("| class | kept k | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for k in classes:
        print(f"| {k} | {_q(ks[k])} | " + " | ".join(_q(table[k][v]) for v in names) + " |")
    for nk in ("null one", "null vpw", "synthetic"):
        print(f"| AUC vpw_many > {nk} | | " + " | ".join(f"{G._auc(table['vpw_many'][v], table[nk][v]):.2f}"
                                                     for v in names) + " |")
    print("\n## Per size k: t of the true group (vpw_many, one_many) and of the best chance group of that size "
          "(nulls; best_group's candidates), median [90% quantile]\n")
    print("| k | true vpw_many | true one_many | null one best | null vpw best | synthetic best |")
    print("|---|---|---|---|---|---|")
    for k in range(2, 9):
        cells = []
        for key in ("vpw_many", "one_many"):
            v = [t for t, kk in zip(truegrp.get((key, "t"), []), truegrp.get((key, "k"), [])) if kk == k]
            cells.append(f"{np.median(v):.2f} [{np.quantile(v, 0.9):.2f}] n={len(v)}" if v else "-")
        for key in ("null one", "null vpw", "synthetic"):
            v = [best_t_of_size(c, k) for c in classes[key] if len(c.D) >= 2 * k]
            cells.append(f"{np.median(v):.2f} [{np.quantile(v, 0.9):.2f}]" if v else "-")
        print(f"| {k} | " + " | ".join(cells) + " |")
    print("\nbest group under each score, its size k per class: "
          + "; ".join(f"{k}: " + ", ".join(f"{s} {_q(kall[k][s])}" for s in SCORES) for k in classes))


def oracle(recs: list, syn_cases: list, kinds=("tk", "zrk", "zrb", "zrbs", "z", "tsk1", "tsk", "t")) -> None:
    """Does the score judge the TRUE group (segments overlapping an instance) better than cur does?
    Share of true groups at or above each score's equal-null bar (the bar of S_all, or S_all3 for tsk1),
    and the Jaccard overlap of the kept group with the true group."""
    names = ["cur"] + [f"{k}_all3" if k == "tsk1" else f"{k}_all" for k in kinds]
    rows = rows_of(recs, names)
    base = [r for r in rows if r["draw"] != "xnull"]
    bars = {v: G.equal_null_bar(base, np.array([variant(c, v)[1] for c in syn_cases]), v) for v in names}
    print("\n## The true group judged by each score at that score's equal-null bar (bands of the _all search)\n")
    print("bars: " + ", ".join(f"{v} {b:.3f}" for v, b in bars.items()))
    for cond in ("one_many", "vpw_few", "vpw_many"):
        ok: dict = {v: [] for v in names}
        jac = []
        for rec in recs:
            c = rec["case"]
            if rec["fixed"] is not None or rec["cond"] != cond or len(c.D) < 4:
                continue
            tgt = np.flatnonzero([any(_iou((a, b), t) >= 0.5 for t in rec["truth"]) for a, b in zip(c.s, c.e)])
            if len(tgt) < 2:
                continue
            for v in names:
                ok[v].append((cur_of(c, tgt) if v == "cur" else gscore(c, tgt, v.split("_")[0])) >= bars[v])
            m = G._kept(c)[0]
            jac.append(len(set(m) & set(tgt)) / len(set(m) | set(tgt)))
        print(f"{cond}: true group passes: " + ", ".join(f"{v} {np.mean(x):.2f}" for v, x in ok.items())
              + f" (n={len(jac)}); kept group vs true group Jaccard median {np.median(jac):.2f}, "
              f">= 0.8 in {np.mean(np.array(jac) >= 0.8):.2f}")


def rows_of(recs: list, names: list) -> list:
    return [G.row_of(rec, names, variant) for rec in recs]


def paired(rows: list, syn: dict, names: list) -> None:
    """Each variant at its equal-null bar against the first, recording by recording (vpw_many, one_many)."""
    base = [r for r in rows if r["draw"] != "xnull"]
    b = {v: G.equal_null_bar(base, syn[v], v) for v in names}
    print(f"\npaired against {names[0]} at each one's equal-null bar: mean F1 difference (se), better/worse")
    for v in names[1:]:
        out = []
        for cond in ("one_few", "one_many", "vpw_few", "vpw_many"):
            d = np.array([G._value(r, v, b[v]) - G._value(r, names[0], b[names[0]]) for r in base if r["cond"] == cond])
            out.append(f"{cond} {d.mean():+.3f} ({d.std() / np.sqrt(len(d)):.3f}) {int((d > 0).sum())}/{int((d < 0).sum())}")
        print(f"  {v:18s} " + " | ".join(out))


def run(args) -> None:
    recs, syn_cases = G.recordings(args.front, [], args.cache, args.extra_nulls)
    if args.diag:
        diagnostics(recs, syn_cases)
    if args.oracle:
        oracle(recs, syn_cases)
    names = args.variants.split(",")
    rows = rows_of(recs, names)
    syn = {v: np.array([variant(c, v)[1] for c in syn_cases]) for v in names}
    if args.curve:
        G.trade_curve(rows, syn, names)
    print(f"\n## Equal nulls, front {args.front}; F1@.5 per draw bdev/dev/wide (pooled); distinct: nothing found\n")
    for v in names:
        base = [r for r in rows if r["draw"] != "xnull"]
        print(G.table(rows, syn[v], v, G.equal_null_bar(base, syn[v], v)), " <- equal nulls")
        print(G.table(rows, syn[v], v, G.equal_null_bar(rows, syn[v], v)), " <- equal nulls, xnull pooled in")
    paired(rows, syn, names)
    nall = sum(1 for rec in recs if rec["fixed"] is None and len(rec["case"].D) >= 2
               and len(G._kept(rec["case"])[0]) == len(rec["case"].D))
    print(f"\nrecordings whose kept group holds every segment (decoy comparison kept): {nall}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--front", default="bands", choices=sorted(G.FRONTS))
    ap.add_argument("--cache", required=True, help="pickle of dev_extract_groups' recordings (with --extra-nulls)")
    ap.add_argument("--extra-nulls", type=int, default=80)
    ap.add_argument("--variants", default="cur,fixed,t_sig,tsk_sig,tk_sig,z_sig,q_sig")
    ap.add_argument("--diag", action="store_true", help="pair- and score-level diagnostics")
    ap.add_argument("--curve", action="store_true")
    ap.add_argument("--oracle", action="store_true", help="each score on the TRUE group, at its equal-null bar")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    with tee_output(args.out, f"dev_global_sig.py {' '.join(argv if argv is not None else sys.argv[1:])}"):
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
