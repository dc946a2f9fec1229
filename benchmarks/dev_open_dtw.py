"""Open-boundary DTW for the segment search (issue 14, session 13, helper open-dtw): dev draws only.

Activity segments start late, end early, or carry a neighbour's tail; segments.dtw_distances(...,
slack=s) lets a path leave out up to s of each segment's first and last rows and normalises by
the rows it aligns. This script compares slacks on dev_extract_groups' draws (bdev/dev/wide, their
all-distinct-word nulls, the 50 synthetic 3-D nulls, and --extra-nulls fresh nulls), with the
slack applied to every DTW call of the search (warped distances and decoys), on the same segments:

  (a) the true words' activity segments (IoU >= 0.5 with a true instance): share whose nearest
      segment is also a true word (1-NN), the per-recording AUC of true-true against true-other
      pairs, and the score of the group of true segments (mean silhouette x k, and minus
      ADAPTIVE_BAR_SLOPE x neighbour_contrast as the adaptive bar reads it), with the share of
      recordings where it clears the variant's equal-null bar;
  (b) the full search at equal nulls (dev_extract_groups.equal_null_bar: pooled distinct-word nulls
      find nothing in >= 93%, synthetic in >= 92%), for find_group with the fixed bar ("kept") and
      with the adaptive bar ("adapt_nn_2.5", what find_instances uses), plus the fresh nulls.

    python benchmarks/dev_open_dtw.py --front bands [--slacks 0,0.1,0.2,0.3] [--extra-nulls 80]

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
VARIANTS = ("kept", "adapt_nn_2.5")
_DTW = segments.dtw_distances


def use_slack(slack: float) -> None:
    """Make every DTW call of the segment search use this slack."""
    segments.dtw_distances = functools.partial(_DTW, slack=slack)


def build(front: str, slacks: list, extra_nulls: int, cache_dir: Path) -> dict:
    """Per slack, dev_extract_groups.recordings()'s (recs, synthetic cases), from one pass over the draws."""
    paths = {s: cache_dir / f"{front}_slack{s:g}_x{extra_nulls}.pkl" for s in slacks}
    if all(p.exists() for p in paths.values()):
        out = {}
        for s, p in paths.items():
            with open(p, "rb") as f:
                out[s] = pickle.load(f)
        return out
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
                use_slack(0.0)                      # the shapelet search decides; no DTW there
                h = extract.find_instances(X, lo, hi, random_state=0)
                other = list(zip(h.starts.tolist(), h.ends.tolist()))
                fixed = float(len(other) == 0) if cond == "distinct" else interval_f1(other, truth, 0.5)
            recs[s].append({"draw": name, "cond": cond, "fixed": fixed, "one_voice": one_voice, "case": c,
                            "lo": lo, "hi": hi, "n": len(X), "truth": truth})
        if i % 50 == 0:
            print(f"  {front}: {i} recordings, {time.time() - t0:.0f} s", flush=True)
    out = {}
    cache_dir.mkdir(parents=True, exist_ok=True)
    for s in slacks:
        use_slack(s)
        out[s] = (recs[s], list(G.synthetic_cases()))
        with open(paths[s], "wb") as f:
            pickle.dump(out[s], f)
    use_slack(0.0)
    return out


def rows_of(recs: list) -> list:
    """dev_extract_groups.run()'s rows: each variant's (members, significance, F1@.5)."""
    rows = []
    for rec in recs:
        c = rec["case"]
        r = {k: rec[k] for k in ("draw", "cond", "fixed", "one_voice")}
        r["var"] = {}
        if r["fixed"] is None:
            for v in VARIANTS:
                m, sig = G.variant(c, v)
                f1 = 0.0
                if rec["cond"] != "distinct" and len(m) >= 2:
                    s, e = extract._fit_range(c.s[m], c.e[m], rec["lo"], rec["hi"], rec["n"])
                    f1 = interval_f1(list(zip(s.tolist(), e.tolist())), rec["truth"], 0.5)
                r["var"][v] = (m, sig, f1)
        rows.append(r)
    return rows


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
        za = z - segments.ADAPTIVE_BAR_SLOPE * segments.neighbour_contrast(c.D)
        o["z"].append(z)
        o["za"].append(za)
        o["pass"].append(float(z >= bars["kept"]))
        o["pass_a"].append(float(za >= bars["adapt_nn_2.5"]))
    return out


def report(front: str, data: dict) -> str:
    lines = [f"front {front}; dev draws bdev/dev/wide (+ xnull: fresh all-distinct-word nulls, seeds 9900+)",
             "(b) full search at equal nulls (distinct >= 93% pooled bdev/dev/wide, synthetic >= 92%); F1@.5 pooled "
             "one_few/one_many/vpw_few/vpw_many (wide vpw_many); nothing found: distinct one voice/vpw, synthetic, "
             "xnull one voice/vpw; CPU of D + R0 per 10 s of audio",
             "| slack | search | bar | one few | one many | vpw few | vpw many | wide vpw many | distinct one/vpw "
             "| synthetic | xnull one/vpw | xnull-pooled bar: vpw many, one many | CPU / 10 s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    diag = ["", "(a) true words' activity segments (IoU >= .5), recordings where the segment search applies: "
            "1-NN same word | median AUC | true group's score median (kept / adaptive significance) | share "
            "above the equal-null bar (kept / adaptive)",
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

            def cell(rs, cond, bar, ov=None, draw=None):
                return np.mean([G._value(r, v, bar) for r in rs if r["cond"] == cond
                                and (ov is None or r["one_voice"] == ov) and (draw is None or r["draw"] == draw)])
            xn = [r for r in rows if r["draw"] == "xnull"]
            xs = (f"{cell(xn, 'distinct', b, True):.2f}/{cell(xn, 'distinct', b, False):.2f}" if xn else "-")
            lines.append(f"| {s:g} | {v} | {b:.3f} | " + " | ".join(f"{cell(base, c, b):.3f}" for c in G.CONDS)
                         + f" | {cell(base, 'vpw_many', b, draw='wide'):.3f}"
                         + f" | {cell(base, 'distinct', b, True):.2f}/{cell(base, 'distinct', b, False):.2f}"
                         + f" | {np.mean(syn[v] < b):.2f} | {xs}"
                         + f" | {bx:.3f}: {cell(base, 'vpw_many', bx):.3f}, {cell(base, 'one_many', bx):.3f}"
                         + f" | {cpu:.4f} s |")
        for cond, o in true_words(recs, bars).items():
            diag.append(f"| {s:g} | {cond} | {np.mean(o['nn']):.3f} | {np.median(o['auc']):.3f} | "
                        f"{np.median(o['z']):.2f} | {np.median(o['za']):.2f} | {np.mean(o['pass']):.2f} | "
                        f"{np.mean(o['pass_a']):.2f} |")
    n = {c: "/".join(str(sum(r["cond"] == c and r["draw"] == d for r in recs))
                     for d in ("bdev", "dev", "wide", "xnull")) for c in (*G.CONDS, "distinct")}
    return "\n".join(lines + diag + ["", f"recordings per cell (bdev/dev/wide/xnull): {n}; synthetic: "
                                          f"{len(syn_cases)}"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--front", default="bands", choices=sorted(G.FRONTS))
    ap.add_argument("--slacks", default="0,0.1,0.2,0.3")
    ap.add_argument("--extra-nulls", type=int, default=80)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "open_dtw"))
    ap.add_argument("--out", default="", help="results file (default benchmarks/results/open_dtw/<front>.txt)")
    args = ap.parse_args(argv)
    slacks = [float(x) for x in args.slacks.split(",")]
    data = build(args.front, slacks, args.extra_nulls, Path(args.cache_dir))
    text = f"dev_open_dtw.py {' '.join(argv if argv is not None else sys.argv[1:])}\n" + report(args.front, data)
    print(text)
    out = Path(args.out) if args.out else ROOT / "results" / "open_dtw" / f"{args.front}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
