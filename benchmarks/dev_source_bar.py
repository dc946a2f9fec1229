"""Development yardstick for a group bar that depends on how diverse the segments' SOURCES are (issue 14,
session 13, helper source-bar): dev draws only (bdev/dev/wide, nulls, the 80 fresh nulls, synthetic 3-D nulls).

`segments.segment_features` removes each segment's own mean and divides each dimension by its spread within
the segment, so the group search never sees segment-level offsets. Those offsets tell "one source" (every
segment from one voice / sensor / machine: alike per-segment means and spreads) from "a source per event"
(every segment from another one). One voice's all-distinct-word nulls score 1.2-1.4 by chance and bind the
bar; here statistics of the offsets (per-segment mean vectors and log spreads of the `_scale`d rows) are
measured per recording, and bar rules b0 + b1 x h (+ the current contrast term) fitted on bdev+dev at equal
nulls, read on wide and on the fresh nulls.

    python benchmarks/dev_source_bar.py --front bands --cache benchmarks/.cache/source_bar_bands.pkl \
        --out benchmarks/results/source_bar/bands.md

The cache (built on the first run, ~10-20 min per front) holds dev_extract_groups' recordings (with
--extra-nulls 80) plus each segment's mean and spread per dimension.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import dev_extract_groups as G
from _common import tee_output

from tenfold import segments


class SrcCase(G.Case):
    """G.Case plus each candidate segment's mean (mu) and standard deviation (sd) per dimension of the
    series-scaled rows (segments._scale), and its length."""

    def __init__(self, X: np.ndarray, lo: int, hi: int, kinds=()):
        super().__init__(X, lo, hi, kinds)
        Y = segments._scale(np.asarray(X, np.float64))
        self.mu = np.array([Y[s:e].mean(axis=0) for s, e in zip(self.s, self.e)]).reshape(len(self.s), Y.shape[1])
        self.sd = np.array([Y[s:e].std(axis=0) for s, e in zip(self.s, self.e)]).reshape(len(self.s), Y.shape[1])
        self.len = (self.e - self.s).astype(float)


G.Case = SrcCase        # recordings() and synthetic_cases() build SrcCase


def _pairs(A: np.ndarray) -> np.ndarray:
    """Euclidean distances between all pairs of rows (upper triangle), per dimension (RMS)."""
    S = len(A)
    iu = np.triu_indices(S, 1)
    return np.sqrt(((A[iu[0]] - A[iu[1]]) ** 2).mean(axis=1)) if S >= 2 else np.zeros(0)


STATS = ("mrel", "lsd", "msum", "fdim", "mnn", "mraw", "c")


def source_stat(c: SrcCase, stat: str) -> float:
    """A scale-free statistic of how diverse the segments' sources are (larger = more diverse).

    mrel: median pair distance between segment means / median within-segment spread (RMS per dim);
    lsd:  median pair distance between log spreads (log(sd + SEGMENT_SD_FLOOR)), RMS per dim;
    msum: mrel + lsd;
    fdim: median over dims of (sd of the segment means / median within-segment sd);
    mnn:  median over segments of (nearest other segment's mean / median distance to the others' means);
    mraw: median pair distance between segment means (series-sd units, no within-spread reference);
    c:    segments.neighbour_contrast(D) (the current bar's statistic).
    """
    S = len(c.s)
    if S < 3:
        return np.nan
    if stat == "c":
        return segments.neighbour_contrast(c.D)
    within = np.median(np.sqrt((c.sd ** 2).mean(axis=1)))
    if stat == "mrel":
        return float(np.median(_pairs(c.mu)) / max(within, 1e-12))
    if stat == "mraw":
        return float(np.median(_pairs(c.mu)))
    if stat == "lsd":
        return float(np.median(_pairs(np.log(c.sd + segments.SEGMENT_SD_FLOOR))))
    if stat == "msum":
        return source_stat(c, "mrel") + source_stat(c, "lsd")
    if stat == "fdim":
        return float(np.median(c.mu.std(axis=0) / np.maximum(np.median(c.sd, axis=0), 1e-12)))
    if stat == "mnn":
        M = np.sqrt(((c.mu[:, None] - c.mu[None]) ** 2).mean(axis=2))
        o = M[~np.eye(S, dtype=bool)].reshape(S, S - 1)
        return float(np.median(o.min(axis=1) / np.maximum(np.median(o, axis=1), 1e-12)))
    raise ValueError(f"statistics are {STATS}, not {stat!r}")


def _rank(x):
    return np.argsort(np.argsort(x)).astype(float)


def _spear(a, b) -> float:
    return float(np.corrcoef(_rank(a), _rank(b))[0, 1])


def diagnostic(recs: list, syn_cases: list) -> None:
    """Per statistic: median [10%, 90%] per class, AUC one-voice null > vpw null (and reverse sign if below
    .5), Spearman with the nulls' kept best score."""
    classes: dict = {}
    for rec in recs:
        if rec["fixed"] is not None:
            continue
        key = (f"null_{'one' if rec['one_voice'] else 'vpw'}" if rec["cond"] == "distinct" else rec["cond"])
        classes.setdefault(key, []).append(rec["case"])
    classes["synthetic"] = syn_cases
    print("\n## Statistics per class: median [10%, 90%] (n)\n")
    print("kept best score: " + "; ".join(
        f"{k} {np.median([G._kept(c)[1] for c in v]):.2f} [{np.quantile([G._kept(c)[1] for c in v], .1):.2f}, "
        f"{np.quantile([G._kept(c)[1] for c in v], .9):.2f}] ({len(v)})" for k, v in classes.items()))
    print()
    for stat in STATS:
        h = {k: np.array([source_stat(c, stat) for c in v]) for k, v in classes.items()}
        z = {k: np.array([G._kept(c)[1] for c in v]) for k, v in classes.items()}
        hn = np.concatenate([h["null_one"], h["null_vpw"]])
        zn = np.concatenate([z["null_one"], z["null_vpw"]])
        print(f"- {stat}: " + "; ".join(f"{k} {np.nanmedian(v):.3f} [{np.nanquantile(v, .1):.3f}, "
                                         f"{np.nanquantile(v, .9):.3f}]" for k, v in h.items()))
        print(f"  AUC null vpw > null one {G._auc(h['null_vpw'], h['null_one']):.3f}; vpw_many > one_many "
              f"{G._auc(h['vpw_many'], h['one_many']):.3f}; vpw_few > one_few {G._auc(h['vpw_few'], h['one_few']):.3f}"
              f" | Spearman(h, best score) nulls {_spear(hn, zn):.2f}, one-voice nulls "
              f"{_spear(h['null_one'], z['null_one']):.2f}, vpw nulls {_spear(h['null_vpw'], z['null_vpw']):.2f},"
              f" synthetic {_spear(h['synthetic'], z['synthetic']):.2f} | Spearman(h, c) nulls "
              f"{_spear(hn, np.array([source_stat(c, 'c') for c in classes['null_one'] + classes['null_vpw']])):.2f}")


def build_rows(recs: list, syn_cases: list, rules: dict):
    """dev_extract_groups rows with one variant per rule: significance = kept score - offset(case), so that
    the equal-null b0 it is compared with acts as the bar b0 + offset."""
    rows = []
    for rec in recs:
        c = rec["case"]
        r = {k: rec[k] for k in ("draw", "cond", "fixed", "one_voice")}
        r["var"] = {}
        if r["fixed"] is None:
            m, z = G._kept(c)
            f1 = G.group_f1(rec, c, m)
            for name, off in rules.items():
                r["var"][name] = (m, z - off(c, rec), f1)
        rows.append(r)
    syn = {name: np.array([G._kept(c)[1] - off(c, None) for c in syn_cases]) for name, off in rules.items()}
    return rows, syn


def _is_vpw(rec) -> bool:
    """The recording's true kind (a voice per word), for the oracle rule; synthetic nulls (rec None): one source."""
    if rec is None:
        return False
    return rec["cond"].startswith("vpw") if rec["cond"] != "distinct" else not rec["one_voice"]


def make_rules(spec: str) -> dict:
    """name -> offset(case, rec). fixed: 0; cur: -2.5 c (the current group_bar, b0 refitted);
    lin_STAT_B1: -B1 x STAT (higher diversity, lower bar); both_STAT_B1_B2: -B1 x STAT - B2 x c;
    step_STAT_T_DELTA: -DELTA where STAT > T (two bars); oracle_DELTA: -DELTA on recordings that truly
    have a voice per word (the best any perfect source statistic could do with two bars);
    oraclec_DELTA: the oracle plus the current contrast term."""
    def offset(c, r, kind: str, stat: str = "c", x: float = 0.0, y: float = 0.0) -> float:
        if kind == "fixed":
            return 0.0
        if kind == "cur":
            return -segments.ADAPTIVE_BAR_SLOPE * source_stat(c, "c")
        if kind == "lin":
            return -x * source_stat(c, stat)
        if kind == "both":
            return -x * source_stat(c, stat) - y * source_stat(c, "c")
        if kind == "step":
            return -y * float(source_stat(c, stat) > x)
        if kind == "oracle":
            return -x * float(_is_vpw(r))
        return -x * float(_is_vpw(r)) - segments.ADAPTIVE_BAR_SLOPE * source_stat(c, "c")   # oraclec

    rules: dict = {}
    for name in spec.split(","):
        p = name.split("_")
        if p[0] in ("fixed", "cur") and len(p) == 1:
            rules[name] = functools.partial(offset, kind=p[0])
        elif p[0] in ("lin", "both", "step") and len(p) == 3 + (p[0] != "lin"):
            rules[name] = functools.partial(offset, kind=p[0], stat=p[1], x=float(p[2]),
                                            y=float(p[3]) if len(p) > 3 else 0.0)
        elif p[0] in ("oracle", "oraclec") and len(p) == 2:
            rules[name] = functools.partial(offset, kind=p[0], x=float(p[1]))
        else:
            raise ValueError(f"unknown rule {name!r}")
    return rules


def ceiling(recs: list, syn_cases: list) -> None:
    """F1 per condition (bdev+dev+wide) and nothing found per null kind at fixed bars down to none at all:
    what any bar can reach at most."""
    rows, _ = build_rows(recs, syn_cases, {"fixed": lambda c, r: 0.0})
    rows = [r for r in rows if r["draw"] != "xnull"]
    print("\n## Fixed bars down to none (bar -1): one_few/one_many/vpw_few/vpw_many | nulls one voice/vpw\n")
    for b in (-1.0, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1):
        f = [np.mean([G._value(r, "fixed", b) for r in rows if r["cond"] == c]) for c in G.CONDS]
        nl = [np.mean([G._value(r, "fixed", b) for r in rows if r["cond"] == "distinct" and r["one_voice"] == o])
              for o in (True, False)]
        print(f"- bar {b:4.1f}: " + "/".join(f"{x:.3f}" for x in f) + " | " + "/".join(f"{x:.2f}" for x in nl))


def synthetic_repeats(rules: dict) -> None:
    """3-D series (the tests' generator) with one event repeated 3-6 times among 12 distinct ones, seeds
    200-229, without and with a per-dimension gain 0.5-2 per event: the share of true groups that pass each
    rule's bar (b0 from the caller: the rule's equal-null b0 over bdev+dev) and the statistics there."""
    from tenfold.datasets import event_shapes, events_in_noise
    print("\n## Synthetic true repeats (3-D, one event x 3-6 among 12 distinct)\n")
    for gain in (None, (0.5, 2.0)):
        cases, zs = [], []
        for seed in range(200, 230):
            rng = np.random.default_rng(seed)
            k = int(rng.integers(3, 7))
            order = [0] * k + list(range(1, 13))
            rng.shuffle(order)
            X, _ = events_in_noise(rng, event_shapes(rng, 13), order, gain=gain)
            c = SrcCase(X, 25, 60)
            cases.append(c)
            zs.append(G._kept(c)[1])
        zs = np.array(zs)
        print(f"- gain {gain}: score median {np.median(zs):.2f}, min {zs.min():.2f}; mraw median "
              f"{np.median([source_stat(c, 'mraw') for c in cases]):.3f}, c median "
              f"{np.median([source_stat(c, 'c') for c in cases]):.3f}; passing: " + ", ".join(
                  f"{n} {np.mean([z - off(c, None) >= b0 for z, c in zip(zs, cases)]):.2f}"
                  for n, (off, b0) in rules.items()))


def run(args) -> None:
    recs, syn_cases = G.recordings(args.front, (), args.cache, args.extra_nulls)
    print(f"front {args.front}; {sum(r['fixed'] is None for r in recs)} recordings on segments of {len(recs)}; "
          f"synthetic {len(syn_cases)}")
    if args.diag:
        diagnostic(recs, syn_cases)
        ceiling(recs, syn_cases)
    if args.rules:
        rules = make_rules(args.rules)
        rows, syn = build_rows(recs, syn_cases, rules)
        print("\n## Rules fitted on bdev+dev at equal nulls, read on wide and the fresh nulls\n")
        G.select_rule(rows, syn, list(rules))
        fit = [r for r in rows if r["draw"] in ("bdev", "dev")]
        synthetic_repeats({v: (off, G.equal_null_bar(fit, syn[v], v)) for v, off in rules.items()})
        print("\n## Equal nulls over bdev+dev+wide (and with xnull pooled in)\n")
        for v in rules:
            base = [r for r in rows if r["draw"] != "xnull"]
            print(G.table(rows, syn[v], v, G.equal_null_bar(base, syn[v], v)), " <- equal nulls")
            print(G.table(rows, syn[v], v, G.equal_null_bar(rows, syn[v], v)), " <- equal nulls, xnull pooled")
        if "cur" in rules:   # the current group_bar itself, its own b0
            b0 = segments.MIN_SIGNIFICANCE + segments.ADAPTIVE_BAR_SLOPE * segments.ADAPTIVE_BAR_REFERENCE
            print(G.table(rows, syn["cur"], "cur", b0), " <- group_bar as in src")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--front", default="bands", choices=sorted(G.FRONTS))
    ap.add_argument("--cache", default="")
    ap.add_argument("--extra-nulls", type=int, default=80)
    ap.add_argument("--diag", action="store_true", help="statistics per class, AUC, Spearman")
    ap.add_argument("--rules", default="", help="comma-separated: fixed, cur, lin_STAT_B1, both_STAT_B1_B2")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    with tee_output(args.out, f"dev_source_bar.py {' '.join(argv if argv is not None else sys.argv[1:])}\n"):
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
