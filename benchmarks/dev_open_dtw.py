"""Open-boundary DTW for the segment search (issue 14, session 13, helper open-dtw): dev draws only.

Needs the tag dev/open-dtw-kernel (not merged): segments.dtw_distances(..., slack=...) and the C++
kernel's open boundaries were not kept (a clear negative; benchmarks/notes/extract.md, session 13).

Activity segments start late, end early, or carry a neighbour's tail; segments.dtw_distances(...,
slack=s) lets a path leave out up to s of each segment's first and last rows and normalises by
the rows it aligns. This script compares slacks on dev_extract_groups' draws (bdev/dev/wide, their
all-distinct-word nulls, the 50 synthetic 3-D nulls, and --extra-nulls fresh nulls), with the
slack applied to every DTW call of the search (warped distances and decoys), on the same segments:

  (a) the true words' activity segments (IoU >= 0.5 with a true instance): share whose nearest
      segment is also a true word (1-NN), the per-recording AUC of true-true against true-other
      pairs, and the score of the group of true segments (mean silhouette x k, and plus
      ADAPTIVE_BAR_SLOPE x neighbour_contrast as the adaptive bar reads it), with the share of
      recordings where it clears the variant's equal-null bar;
  (b) the full search at equal nulls (dev_extract_groups.equal_null_bar: pooled distinct-word nulls
      find nothing in >= 93%, synthetic in >= 92%), for find_group with the fixed bar ("kept") and
      with the adaptive bar ("adapt_nn_-2.5", segments.group_bar, what find_instances uses; its
      equal-null bar is b0 in bar = b0 - 2.5 x neighbour_contrast, 2.925 in src), plus the fresh nulls.

    python benchmarks/dev_open_dtw.py --front bands [--slacks 0,0.1,0.2,0.3] [--extra-nulls 80]
    python benchmarks/dev_open_dtw.py --match --recipe eval_bands --slacks 0,0.2

--match: match() F1@.5 on dev_match_cands' dev pairs (seed0 1, 7, 8, 9) and nothing found on its dev
null pairs (seeds 160, 777, featurised with the same recipe), find_instances with its own bar
(not re-set to equal nulls), per slack; results to benchmarks/results/open_dtw/match_<recipe>.txt.

Caches (one pickle per front, slack and null count, in dev_extract_groups' format, so
`dev_extract_groups.py --cache FILE` reads them too) go to benchmarks/.cache/open_dtw/; results to
benchmarks/results/open_dtw/<front>.txt.
"""

from __future__ import annotations

import argparse
import functools
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as B
import dev_extract_groups as G

from tenfold import extract, segments
from tenfold.metrics import interval_f1

ROOT = Path(__file__).parent
VARIANTS = ("kept", "adapt_nn_-2.5")   # fixed bar; segments.group_bar (bar = b0 - 2.5 x contrast)
_DTW = segments.dtw_distances


def use_slack(slack: str | float) -> None:
    """Make every DTW call of the segment search use this slack ("S" or "S:BAND": also that band;
    with BAND = DTW_BAND - S the radius stays about the closed one's, since the kernel widens it by S)."""
    s, _, band = str(slack).partition(":")
    kw = {"slack": float(s)} | ({"band": float(band)} if band else {})
    segments.dtw_distances = functools.partial(_DTW, **kw)


def build(front: str, all_slacks: list, extra_nulls: int, cache_dir: Path) -> dict:
    """Per slack, dev_extract_groups.recordings()'s (recs, synthetic cases), from one pass over the draws
    (slacks whose pickle exists are read from it)."""
    paths = {s: cache_dir / f"{front}_slack{s.replace(':', 'band')}_x{extra_nulls}.pkl" for s in all_slacks}
    out = {}
    for s, p in paths.items():
        if p.exists():
            with open(p, "rb") as f:
                out[s] = pickle.load(f)
    slacks = [s for s in all_slacks if s not in out]
    if not slacks:
        return {s: out[s] for s in all_slacks}
    recs: dict = {s: [] for s in slacks}
    n_distinct: dict = {}
    t0 = time.time()
    for i, (name, cond, X, truth, lo, hi) in enumerate(G.draws(front, extra_nulls)):
        X = np.asarray(X, np.float64)
        one_voice = None
        if cond == "distinct":
            one_voice = n_distinct.get(name, 0) % 2 == 0
            n_distinct[name] = n_distinct.get(name, 0) + 1
        fixed = None
        for s in slacks:
            use_slack(s)
            c = G.Case(X, lo, hi)
            if s == slacks[0] and not (c.coverage >= segments.MIN_COVERAGE and len(c.s) >= 3):
                use_slack(0)                        # the shapelet search decides; no DTW there
                h = extract.find_instances(X, lo, hi, random_state=0)
                other = list(zip(h.starts.tolist(), h.ends.tolist()))
                fixed = float(len(other) == 0) if cond == "distinct" else interval_f1(other, truth, 0.5)
            recs[s].append({"draw": name, "cond": cond, "fixed": fixed, "one_voice": one_voice, "case": c,
                            "lo": lo, "hi": hi, "n": len(X), "truth": truth})
        if i % 50 == 0:
            print(f"  {front}: {i} recordings, {time.time() - t0:.0f} s", flush=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for s in slacks:
        use_slack(s)
        out[s] = (recs[s], list(G.synthetic_cases()))
        with open(paths[s], "wb") as f:
            pickle.dump(out[s], f)
    use_slack(0)
    return {s: out[s] for s in all_slacks}


def rows_of(recs: list) -> list:
    """dev_extract_groups.run()'s rows: each variant's (members, significance, F1@.5)."""
    return [G.row_of(rec, VARIANTS) for rec in recs]


def true_words(recs: list, bars: dict) -> dict:
    """(a): per condition, 1-NN and AUC of the true words' segments, and their group's score."""
    out: dict = {}
    for rec in recs:
        c = rec["case"]
        if rec["cond"] == "distinct" or rec["fixed"] is not None or len(c.s) < 4:
            continue
        tgt = np.array([any(G._iou((a, b), t) >= 0.5 for t in rec["truth"]) for a, b in zip(c.s, c.e)])
        o = out.setdefault(rec["cond"], {"nn": [], "auc": [], "z": [], "za": [], "pass": [], "pass_a": []})
        if tgt.sum() < 2:
            o["pass"].append(0.0)
            o["pass_a"].append(0.0)
            continue
        Di = c.D + np.diag(np.full(len(c.D), np.inf))
        o["nn"].extend(tgt[np.argmin(Di[tgt], axis=1)].tolist())
        tt = c.D[np.ix_(tgt, tgt)][~np.eye(tgt.sum(), dtype=bool)]
        to = c.D[np.ix_(tgt, ~tgt)].ravel()
        if to.size:
            o["auc"].append(float(np.mean(tt[:, None] < to[None, :])))
        m = np.flatnonzero(tgt)
        z = G._score(c.D, c.R0, m)
        za = z + segments.ADAPTIVE_BAR_SLOPE * segments.neighbour_contrast(c.D)
        o["z"].append(z)
        o["za"].append(za)
        o["pass"].append(float(z >= bars["kept"]))
        o["pass_a"].append(float(za >= bars["adapt_nn_-2.5"]))
    return out


def report(front: str, data: dict) -> str:
    lines = [f"front {front}; dev draws bdev/dev/wide (+ xnull: fresh all-distinct-word nulls, seeds 9900+)",
             ("(b) full search at equal nulls (distinct >= 93% pooled bdev/dev/wide, synthetic >= 92%); F1@.5 pooled "
              "one_few/one_many/vpw_few/vpw_many (wide vpw_many); nothing found: distinct one voice/vpw, synthetic, "
              "xnull one voice/vpw; CPU of D + R0 per 10 s of audio"),
             ("| slack | search | bar | one few | one many | vpw few | vpw many | wide vpw many | distinct one/vpw "
              "| synthetic | xnull one/vpw | xnull-pooled bar: vpw many, one many | CPU / 10 s |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    diag = ["", ("(a) true words' activity segments (IoU >= .5), recordings where the segment search applies: "
                 "1-NN same word | median AUC | true group's score median (kept / adaptive significance) | share "
                 "above the equal-null bar (kept / adaptive)"),
            "| slack | cond | 1-NN | AUC | score | adaptive sig | pass kept | pass adaptive |",
            "|---|---|---|---|---|---|---|---|"]
    for s, (recs, syn_cases) in data.items():
        rows = rows_of(recs)
        base = [r for r in rows if r["draw"] != "xnull"]
        secs = sum(r["n"] for r in recs) * B.HOP_S
        cpu = 10 * sum(r["case"].cpu_d for r in recs) / secs
        syn = G.synthetic_nulls(VARIANTS, syn_cases)
        bars = {}
        for v in VARIANTS:
            b = G.equal_null_bar(base, syn[v], v)
            bars[v] = b
            bx = G.equal_null_bar(rows, syn[v], v)

            def cell(rs, cond, bar, ov=None, draw=None, v=v):
                return np.mean([G._value(r, v, bar) for r in rs if r["cond"] == cond
                                and (ov is None or r["one_voice"] == ov) and (draw is None or r["draw"] == draw)])
            xn = [r for r in rows if r["draw"] == "xnull"]
            xs = (f"{cell(xn, 'distinct', b, True):.2f}/{cell(xn, 'distinct', b, False):.2f}" if xn else "-")
            lines.append(f"| {s} | {v} | {b:.3f} | " + " | ".join(f"{cell(base, c, b):.3f}" for c in G.CONDS)
                         + f" | {cell(base, 'vpw_many', b, draw='wide'):.3f}"
                         + f" | {cell(base, 'distinct', b, True):.2f}/{cell(base, 'distinct', b, False):.2f}"
                         + f" | {np.mean(syn[v] < b):.2f} | {xs}"
                         + f" | {bx:.3f}: {cell(base, 'vpw_many', bx):.3f}, {cell(base, 'one_many', bx):.3f}"
                         + f" | {cpu:.4f} s |")
        for cond, o in true_words(recs, bars).items():
            diag.append(f"| {s} | {cond} | {np.mean(o['nn']):.3f} | {np.median(o['auc']):.3f} | "
                        f"{np.median(o['z']):.2f} | {np.median(o['za']):.2f} | {np.mean(o['pass']):.2f} | "
                        f"{np.mean(o['pass_a']):.2f} |")
    n = {c: "/".join(str(sum(r["cond"] == c and r["draw"] == d for r in recs))
                     for d in ("bdev", "dev", "wide", "xnull")) for c in (*G.CONDS, "distinct")}
    return "\n".join([*lines, *diag, "", f"recordings per cell (bdev/dev/wide/xnull): {n}; synthetic: {len(syn_cases)}"])


def match_rows(recipe: str, slacks: list, n: int) -> str:
    """--match: match() per slack on the dev pairs and dev null pairs of dev_match_cands."""
    import dev_match_cands as M
    sets = {s: M.pairs(s, n if s == 1 else 30, recipe) for s in M.DEV_SEED0S}
    nulls = {s: M.null_pairs(s, n if s == 160 else 40, recipe) for s in M.NULL_SEEDS}
    lines = [(f"match() recipe {recipe}: dev pairs seed0 {M.DEV_SEED0S} ({'/'.join(str(len(P)) for P in sets.values())}), "
              f"null pairs seeds {M.NULL_SEEDS} ({'/'.join(str(len(N)) for N in nulls.values())})"),
             "| slack | match F1@.5 per draw | mean | null pairs nothing found | CPU s |", "|---|---|---|---|---|"]
    for s in slacks:
        use_slack(s)
        t0 = time.process_time()
        f1s = [M.evaluate(P, [])[0] for P in sets.values()]
        es = [M.evaluate([], N)[1] for N in nulls.values()]
        lines.append(f"| {s} | " + " / ".join(f"{f:.3f}" for f in f1s) + f" | {np.mean(f1s):.3f} | "
                     + " / ".join(f"{e:.0%}" for e in es) + f" | {time.process_time() - t0:.0f} |")
        print(lines[-1], flush=True)
    use_slack(0)
    return "\n".join(lines)


def shrink(front: str, slacks: list, extra_nulls: int, cache_dir: Path) -> str:
    """--shrink: how much each slack shrinks D relative to slack 0, per pair class (median ratio and
    [10%, 90%]): same word (true segments, IoU >= .5), a true segment and another word, two other
    words, and pairs in all-distinct-word nulls; and the true group's a (mean distance to the other
    members) and b (mean of its NEAR_OUTSIDERS nearest outsiders) relative to slack 0."""
    data = build(front, ["0", *[s for s in slacks if s != "0"]], extra_nulls, cache_dir)
    base = data["0"][0]
    lines = [f"front {front}: D(slack) / D(0) per pair class, median [10%, 90%]",
             "| slack | cond | same word | true vs other word | other vs other | member a | member b |",
             "|---|---|---|---|---|---|---|"]
    for s in slacks:
        if s == "0":
            continue
        acc: dict = {}
        for r0, r1 in zip(base, data[s][0]):
            c0, c1 = r0["case"], r1["case"]
            if r0["fixed"] is not None or len(c0.s) < 4:
                continue
            q = c1.D / np.where(c0.D > 0, c0.D, np.nan)
            off = ~np.eye(len(q), dtype=bool)
            cond = "vpw" if r0["cond"].startswith("vpw") else ("one" if r0["cond"].startswith("one") else
                                                                   "null")
            a = acc.setdefault(cond, {k: [] for k in ("tt", "to", "oo", "a", "b")})
            if cond == "null":
                a["oo"].extend(q[off].tolist())
                continue
            tgt = np.array([any(G._iou((x, y), t) >= 0.5 for t in r0["truth"]) for x, y in zip(c0.s, c0.e)])
            if tgt.sum() < 2 or (~tgt).sum() < segments.NEAR_OUTSIDERS:
                continue
            a["tt"].extend(q[np.ix_(tgt, tgt)][~np.eye(tgt.sum(), dtype=bool)].tolist())
            a["to"].extend(q[np.ix_(tgt, ~tgt)].ravel().tolist())
            a["oo"].extend(q[np.ix_(~tgt, ~tgt)][~np.eye((~tgt).sum(), dtype=bool)].tolist())
            m, o = np.flatnonzero(tgt), np.flatnonzero(~tgt)
            for D, key in ((c0.D, 0), (c1.D, 1)):
                am = D[np.ix_(m, m)].sum(axis=1) / (len(m) - 1)
                bm = np.sort(D[np.ix_(m, o)], axis=1)[:, :segments.NEAR_OUTSIDERS].mean(axis=1)
                if key == 0:
                    a0, b0 = am, bm
            a["a"].extend((am / a0).tolist())
            a["b"].extend((bm / b0).tolist())
        for cond, a in acc.items():
            def f(v):
                return f"{np.nanmedian(v):.3f} [{np.nanquantile(v, 0.1):.3f}, {np.nanquantile(v, 0.9):.3f}]" \
                    if len(v) else "-"
            lines.append(f"| {s} | {cond} | " + " | ".join(f(a[k]) for k in ("tt", "to", "oo", "a", "b")) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--front", default="bands", choices=sorted(G.FRONTS))
    ap.add_argument("--slacks", default="0,0.1,0.2,0.3")
    ap.add_argument("--extra-nulls", type=int, default=80)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "open_dtw"))
    ap.add_argument("--out", default="", help="results file (default benchmarks/results/open_dtw/<front>.txt)")
    ap.add_argument("--match", action="store_true", help="match() on dev_match_cands' dev pairs instead")
    ap.add_argument("--recipe", default="eval_bands", choices=["eval", "eval_bands", "speech"])
    ap.add_argument("--n", type=int, default=60, help="with --match: pairs of the first dev draw and null pairs")
    ap.add_argument("--shrink", action="store_true", help="D(slack) / D(0) per pair class (from the caches)")
    args = ap.parse_args(argv)
    slacks = [f"{float(x):g}" if ":" not in x else x for x in args.slacks.split(",")]
    head = f"dev_open_dtw.py {' '.join(argv if argv is not None else sys.argv[1:])}\n"
    if args.match:
        text = head + match_rows(args.recipe, slacks, args.n)
        name = f"match_{args.recipe}.txt"
    elif args.shrink:
        text = head + shrink(args.front, slacks, args.extra_nulls, Path(args.cache_dir))
        name = f"shrink_{args.front}.txt"
        print(text)
    else:
        text = head + report(args.front, build(args.front, slacks, args.extra_nulls, Path(args.cache_dir)))
        name = f"{args.front}.txt"
        print(text)
    out = Path(args.out) if args.out else ROOT / "results" / "open_dtw" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
