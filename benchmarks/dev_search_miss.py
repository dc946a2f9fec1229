"""Diagnostic (issue 14, session 15): when the segment search reports a wrong group, is it a search
miss or an objective miss? Development draws only (bdev/dev/wide of dev_extract_groups.py).

For each voice-per-word recording (few and many distractors) searched on segments:
  found  segments.best_group(D, R0): its score (_group_score, x DECOY_ONLY_WEIGHT for all segments)
         and F1@.5 (no bar);
  true   the segments the truth would pick: segments matched one-to-one to true instances at
         IoU >= 0.5 (each segment cut to the length range alone), its score and F1 (the segment
         ceiling);
  near   a local search (add / remove / swap one member, steepest ascent) started from the true
         group: the best-scoring group next to the truth.
Classes of a recording: found == true; search miss (the true group scores higher than the found
one); near-truth search miss (the true group scores lower, but the local optimum next to it
scores higher than found and has a better F1); objective miss (the rest: the objective prefers
the found group to the truth and to every group the local search finds next to it); no true group
(fewer than 2 segments match the truth). Also: is the true group one of best_group's candidate
groups at all (seed x size neighbourhoods)?

--local: a search variant (local search from the best few seeds' groups, best of them), compared
with kept and adapt_nn_-2.5 without a bar and at equal nulls (dev_extract_groups' helpers).

    python benchmarks/dev_search_miss.py --cache benchmarks/.cache/groups_bands.pkl [--local] [--out F]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).parent))
import dev_extract_groups as G
from _common import tee_output

from tenfold import extract, segments

Case = G.Case      # the cache was pickled by dev_extract_groups run as __main__: its Case is looked up here


def score(c, m) -> float:
    """best_group's objective for members m (sorted or not)."""
    m = np.sort(np.asarray(m, np.int64))
    if len(m) < 2:
        return 0.0
    return G._score(c.D, c.R0, m)


def true_group(rec: dict, c) -> np.ndarray:
    """Segments matched one-to-one to true instances at IoU >= 0.5 (each segment cut to the length
    range on its own, as it would be reported), the assignment maximising the summed IoU."""
    truth = rec["truth"]
    S = len(c.s)
    if not truth or S == 0:
        return np.zeros(0, np.int64)
    iou = np.zeros((S, len(truth)))
    for i in range(S):
        s, e = extract._fit_range(c.s[i:i + 1], c.e[i:i + 1], rec["lo"], rec["hi"], rec["n"])
        for j, t in enumerate(truth):
            iou[i, j] = G._iou((int(s[0]), int(e[0])), t)
    ok = iou >= 0.5
    rows, cols = linear_sum_assignment(-np.where(ok, 1.0 + iou, 0.0))
    keep = ok[rows, cols]
    return np.sort(rows[keep]).astype(np.int64)


def candidates(D: np.ndarray) -> list:
    """best_group's candidate groups (seed, size), each sorted, in its order."""
    return [np.sort(g) for g in segments.candidate_groups(D)]


def local_search(c, start: np.ndarray, max_steps: int = 50) -> tuple[np.ndarray, float]:
    """Steepest ascent from start under score(): add one outsider, remove one member or swap a
    member for an outsider, while the best move raises the score; sizes 2 .. S // 2 (best_group's
    sizes but all segments)."""
    S = len(c.D)
    cur = {int(x) for x in start}
    cur_z = score(c, sorted(cur))
    kmax = max(2, S // 2)
    for _ in range(max_steps):
        best, best_z = None, cur_z
        out = [j for j in range(S) if j not in cur]
        moves = []
        if len(cur) < kmax:
            moves += [cur | {j} for j in out]
        if len(cur) > 2:
            moves += [cur - {i} for i in cur]
        moves += [(cur - {i}) | {j} for i in cur for j in out]
        for g in moves:
            z = score(c, sorted(g))
            if z > best_z + 1e-12:
                best, best_z = g, z
        if best is None:
            break
        cur, cur_z = best, best_z
    return np.array(sorted(cur), np.int64), float(cur_z)


def local_variant(c, n_starts: int = 5) -> tuple[np.ndarray, float]:
    """The best of local searches from the n_starts best distinct candidate groups of best_group."""
    if getattr(c, "local", None) is None:
        if len(c.D) < 4:
            c.local = G._kept(c)
        else:
            cands = {tuple(g) for g in candidates(c.D) if len(g) <= max(2, len(c.D) // 2)}
            ranked = sorted(cands, key=lambda g: -score(c, g))[:n_starts]
            best, best_z = G._kept(c)
            for g in ranked:
                m, z = local_search(c, np.array(g))
                if z > best_z:
                    best, best_z = m, z
            c.local = (best, best_z)
    return c.local


def variant_of(c, name: str) -> tuple[np.ndarray, float]:
    """kept / adapt_STAT_B1 as dev_extract_groups; local, and adapt_local_STAT_B1 (its bar adapted)."""
    if name == "local":
        return local_variant(c)
    if name.startswith("adapt_local_"):
        _, _, stat, b1 = name.split("_")
        m, z = local_variant(c)
        return m, z - float(b1) * G.homogeneity(c.D, c.R0, stat, m)
    return G.variant(c, name)


def diagnose(recs: list) -> list:
    """One dict per searched voice-per-word recording."""
    out = []
    for rec in recs:
        if rec["cond"] not in ("vpw_few", "vpw_many") or rec["fixed"] is not None:
            continue
        c = rec["case"]
        fm, fz = G._kept(c)
        tm = true_group(rec, c)
        d = {"draw": rec["draw"], "cond": rec["cond"], "S": len(c.s), "n_true": len(rec["truth"]),
             "found": fm, "fz": fz, "ff": G.group_f1(rec, c, fm), "true": tm, "tz": score(c, tm),
             "tf": G.group_f1(rec, c, tm)}
        d["same"] = len(tm) == len(fm) and np.array_equal(tm, fm)
        d["reach"] = len(tm) >= 2 and any(len(g) == len(tm) and np.array_equal(g, tm) for g in candidates(c.D))
        if len(tm) >= 2 and not d["same"]:
            nm, nz = local_search(c, tm)
            d["nz"], d["nf"] = nz, G.group_f1(rec, c, nm)
        else:
            d["nz"], d["nf"] = d["tz"], d["tf"]
        if d["same"]:
            d["cls"] = "found == true"
        elif len(tm) < 2:
            d["cls"] = "no true group"
        elif d["tz"] > fz:
            d["cls"] = "search miss (true scores higher)"
        elif d["nz"] > fz and d["nf"] > d["ff"] + 1e-9:
            d["cls"] = "search miss (next to true)"
        else:
            d["cls"] = "objective miss"
        out.append(d)
    return out


CLASSES = ("found == true", "search miss (true scores higher)", "search miss (next to true)",
           "objective miss", "no true group")


def report(diag: list) -> None:
    for cond in ("vpw_few", "vpw_many"):
        ds = [d for d in diag if d["cond"] == cond]
        lost = np.array([d["tf"] - d["ff"] for d in ds])
        print(f"\n{cond}: n = {len(ds)} (bdev/dev/wide "
              + "/".join(str(sum(d['draw'] == w for d in ds)) for w in ("bdev", "dev", "wide"))
              + f"); F1 no bar: found {np.mean([d['ff'] for d in ds]):.3f}, true group (segment ceiling) "
              f"{np.mean([d['tf'] for d in ds]):.3f}; true group among best_group's candidates "
              f"{np.mean([d['reach'] for d in ds if len(d['true']) >= 2]):.2f} of those with one; "
              f"not reachable and not found: {sum((not d['reach']) and not d['same'] and len(d['true']) >= 2 for d in ds)}")
        print("| class | n | share | mean F1 found | mean F1 true | F1 lost (true - found), sum | share of the lost F1 "
              "| mean score found | mean score true | true reachable |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        tot = max(lost.clip(min=0).sum(), 1e-12)
        for k in CLASSES:
            sel = [d for d in ds if d["cls"] == k]
            if not sel:
                print(f"| {k} | 0 | 0.00 | | | | | | | |")
                continue
            lo = np.array([d["tf"] - d["ff"] for d in sel])
            print(f"| {k} | {len(sel)} | {len(sel) / len(ds):.2f} | {np.mean([d['ff'] for d in sel]):.3f} | "
                  f"{np.mean([d['tf'] for d in sel]):.3f} | {lo.sum():.2f} (mean {lo.mean():+.3f}) | "
                  f"{lo.clip(min=0).sum() / tot:.2f} | {np.mean([d['fz'] for d in sel]):.2f} | "
                  f"{np.mean([d['tz'] for d in sel]):.2f} | {np.mean([d['reach'] for d in sel]):.2f} |")
        obj = [d for d in ds if d["cls"] == "objective miss"]
        if obj:
            gap = np.array([d["fz"] - d["tz"] for d in obj])
            worse = sum(d["ff"] >= d["tf"] - 1e-9 for d in obj)
            print(f"objective misses: found minus true score median {np.median(gap):.2f} "
                  f"[10% {np.quantile(gap, 0.1):.2f}, 90% {np.quantile(gap, 0.9):.2f}]; "
                  f"{worse} of {len(obj)} lose no F1 (found F1 >= true F1)")
            kinds: dict = {}
            for d in obj:
                f, t = set(d["found"].tolist()), set(d["true"].tolist())
                kind = ("partial (found inside true)" if f < t else "true plus others" if f > t
                        else "disjoint" if not f & t else "mixed (some true missing, others in)")
                kinds.setdefault(kind, []).append(d)
            print("  found group against the true one: " + "; ".join(
                f"{k} {len(v)} (F1 lost {np.mean([d['tf'] - d['ff'] for d in v]):.3f}, "
                f"found size {np.mean([len(d['found']) for d in v]):.1f}, true size "
                f"{np.mean([len(d['true']) for d in v]):.1f})" for k, v in sorted(kinds.items())))
        miss = [d for d in ds if not d["same"] and len(d["true"]) >= 2]
        print(f"local search from the true group ends above the found score (any F1): "
              f"{sum(d['nz'] > d['fz'] + 1e-12 for d in miss)} of {len(miss)}; its F1 there "
              f"{np.mean([d['nf'] for d in miss]):.3f} (found {np.mean([d['ff'] for d in miss]):.3f})")
        for w in ("bdev", "dev", "wide"):
            sub = [d for d in ds if d["draw"] == w]
            print(f"  {w}: " + ", ".join(f"{k} {sum(d['cls'] == k for d in sub)}" for k in CLASSES))


def compare(recs: list, syn_cases: list, names: list) -> None:
    rows = [G.row_of(rec, names, variant_of) for rec in recs]
    syn = {v: np.array([variant_of(c, v)[1] for c in syn_cases]) for v in names}
    print("\nF1@.5 per draw bdev/dev/wide (pooled); distinct: nothing found")
    print("no bar:")
    for v in names:
        print(G.table(rows, syn[v], v, -1e9))
    G.equal_null_tables(rows, syn, names, "bands", 80)
    print("paired against kept / adapt_nn_-2.5 at their equal-null bars (mean diff (se) better/worse):")
    for ref, oth in (("kept", [n for n in names if n != "kept"]),
                     ("adapt_nn_-2.5", [n for n in names if n.startswith("adapt_local")])):
        if ref in names and oth:
            print(f"vs {ref}:")
            for line in G.paired_lines(rows, syn, ref, oth, 22):
                print("  " + line)
    same = {cond: np.mean([np.array_equal(r["var"]["kept"][0], r["var"]["local"][0]) for r in rows
                           if r["cond"] == cond and r["fixed"] is None]) for cond in (*G.CONDS, "distinct")}
    print("local == kept members (share of searched recordings): "
          + ", ".join(f"{k} {v:.2f}" for k, v in same.items()))
    for label, cases in (("distinct-word nulls (bdev/dev/wide + xnull)",
                          [rec["case"] for rec in recs if rec["cond"] == "distinct" and rec["fixed"] is None]),
                         ("synthetic nulls", syn_cases),
                         ("recordings with a repeat", [rec["case"] for rec in recs
                                                       if rec["cond"] != "distinct" and rec["fixed"] is None])):
        gain = np.array([variant_of(c, "local")[1] - variant_of(c, "kept")[1] for c in cases])
        print(f"local search scores above kept: {label} {int(np.sum(gain > 1e-12))} of {len(gain)}, "
              f"mean gain where it does {gain[gain > 1e-12].mean() if np.any(gain > 1e-12) else 0.0:.3f}")
    print(G.cell_counts(rows))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="benchmarks/.cache/groups_bands.pkl")
    ap.add_argument("--local", action="store_true", help="also compare the local-search variant")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    with tee_output(args.out, f"dev_search_miss.py {' '.join(argv if argv is not None else sys.argv[1:])}"):
        if not Path(args.cache).exists():
            raise SystemExit(f"{args.cache} missing: build it with dev_extract_groups.py --front bands "
                             "--cache ... --extra-nulls 80")
        recs, syn_cases = G.recordings("bands", [], args.cache, 80)
        report(diagnose(recs))
        if args.local:
            compare(recs, syn_cases, ["kept", "adapt_nn_-2.5", "local", "adapt_local_nn_-2.5"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
