"""Diagnostic (issue 14, session 16): a learned group objective and a learned bar for the segment search.

Session 15 found that every F1 point lost on dev is an objective miss: the true group scores below
the reported one under mean silhouette x k. This asks whether a model of scale-free group statistics,
fitted on dev, picks better groups and tells repeats from chance better than the hand-made score.

Per candidate group of best_group (seed x size neighbourhoods, duplicates removed), FEATURES: the
silhouettes (mean, min, median), today's score z, size (k, log k, k / S), log S, the members' mean
distance to each other (a) and to their nearest outsiders (b) over the recording's median distance,
the worst member's a over its nearest outsider, the largest within-group distance, the AUC of
within-group against member-to-outsider distances, the recording's neighbour contrast h (the adaptive
bar's statistic), the members' length spread and fit to the user's range, and whether the group holds
every segment.
  ranker  a linear score per group, fitted listwise (softmax over a recording's candidate groups,
          cross-entropy against softmax(20 x group F1)) on recordings with a repeat: its argmax is
          the group;
  bar     a logistic model of the chosen group's features, fitted to the group's F1 (0 on nulls),
          the four classes (speech repeats and nulls, synthetic repeats and nulls) weighted equally:
          its logit is the significance.
Fitted on bdev + dev + the first halves of the synthetic nulls (tests' generator, seeds 4-28) and of
60 synthetic series with a repeated event (seeds 300-329); read on wide, the fresh nulls (xnull) and
the second synthetic halves. Compared with main (kept: best_group's group, adaptive bar z + 2.5 h) at
three bars: equal nulls over every null (the adoption rule: distinct-word >= 93%, synthetic >= 92%),
over the fit draws' nulls only, and over the speech nulls only (synthetic ignored: not a candidate).

--cv: out of fold (the three draws as folds, synthetic series in thirds) with 150 more synthetic nulls
(seeds 1000-1149), for four sets of statistics, groups of >= 2 and >= 3, at the rule's bar and at
the speech nulls' bar. --gated: main decides whether anything is reported; the ranker (out of fold)
chooses among the groups that pass main's bar. --length: main's choice among groups whose members
all lie in [min_length, max_length].

--vdev: models fitted on every dev draw, bars from the dev draws' nulls, read on the voice-disjoint vdev
draw (dev_extract_groups.VDEV_SPEAKERS), for every statistic set (+ log d: the dimension count as one
more statistic, a domain covariate), groups of >= 2 and >= 3.
--vtrain: the vdev reading again, fitted with and without two more draws from 41 other espeak-ng voices
(dev_extract_groups.VTRAIN_SPEAKERS); and, fitted on the dev draws alone, read on vdev + vtrain (120 recordings with a
voice per word and many distractors, none of their voices fitted on); and the same fitted on the
speech draws alone (no synthetic series, no log d, the speech nulls' bar).

--heldout: both models refitted on every dev draw, the bar chosen at speech-only equal nulls, then
bench_extract.py run with them in place of best_group's choice and the adaptive bar (the remaining
arguments go to bench_extract.py). A diagnostic of generalisation to new voices, not a candidate;
its match() rows compare the learned significance with main's bar units and are not meaningful.

    python benchmarks/dev_learned_group.py [--cv] [--gated] [--length] [--vdev] [--vtrain] [--out F]
    python benchmarks/dev_learned_group.py --heldout -- --sets heldout --n 40 --no-stumpy \
        --recipe eval_bands --out benchmarks/results/learned_group --tag heldout_n40
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).parent))
import dev_extract_groups as G
import dev_search_miss as M
from _common import tee_output

from tenfold import extract, group_model, segments
from tenfold.datasets import event_shapes, events_in_noise

Case = G.Case      # the cache was pickled by dev_extract_groups run as __main__: its Case is looked up here
FEATURES = list(group_model.STATISTICS)
ADAPT = 2.5                 # main's adaptive bar: z - (-2.5) x h against a fixed bar
RANK_SHARPNESS = 20.0       # target distribution softmax(20 x F1): the best groups of a recording
RIDGE = {"ranker": 1e-3, "bar": 1e-2}
FIT_DRAWS = {"bdev", "dev", "syn_fit", "synrep_fit"}
CHECK_DRAWS = {"wide", "xnull", "syn_chk", "synrep_chk"}


def group_features(D: np.ndarray, R: np.ndarray, s: np.ndarray, e: np.ndarray, lo: int, hi: int,
                   groups: list) -> np.ndarray:
    """(len(groups), len(FEATURES)): each candidate group's statistics (tenfold.group_model since
    session 17; session 16's own loop subsampled the outsider distances of the AUC for large groups)."""
    return group_model.group_statistics(D, R, s, e, lo, hi, groups)


def unique_candidates(D: np.ndarray) -> list:
    return group_model.candidate_groups(D)


def synthetic_repeats():
    """(rec, case) of 60 3-D series: one event 3-6 times among 9-15 others (gain per dimension 0.5-2 in
    every second one), the tests' generator, seeds 300-359; range 25-60 as the synthetic nulls'."""
    for i, seed in enumerate(range(300, 360)):
        rng = np.random.default_rng(seed)
        m, K = int(rng.integers(10, 17)), int(rng.integers(3, 7))
        order = list(range(1, m)) + [0] * K
        rng.shuffle(order)
        X, truth = events_in_noise(rng, event_shapes(rng, m), order, gain=(0.5, 2.0) if i % 2 else None)
        c = G.Case(X, 25, 60)
        if c.coverage >= segments.MIN_COVERAGE and len(c.s) >= 3:
            yield ({"draw": "synrep_fit" if i < 30 else "synrep_chk", "cond": "synrep", "fixed": None,
                    "one_voice": None, "case": c, "lo": 25, "hi": 60, "n": len(X), "truth": truth}, c)


def items(recs: list, syn_cases: list, repeats: bool = True) -> list:
    """Per searched recording: (rec, candidate groups, features, approximate F1 of each group); the
    synthetic nulls' cases and (repeats) the synthetic series with a repeat after the recordings."""
    out = []
    recs = [r for r in recs if r["fixed"] is None and len(r["case"].D) >= 2]
    syn = [({"draw": "syn_fit" if i < 25 else "syn_chk", "cond": "distinct", "fixed": None, "one_voice": None,
             "case": c, "lo": 25, "hi": 60, "n": 0, "truth": []}, c) for i, c in enumerate(syn_cases)]
    for r, c in [(r, r["case"]) for r in recs] + syn + (list(synthetic_repeats()) if repeats else []):
        groups = unique_candidates(c.D)
        F = group_features(c.D, c.R0, c.s, c.e, r["lo"], r["hi"], groups)
        if r["cond"] == "distinct":
            y = np.zeros(len(groups))
        else:                     # F1 from the segments matched to the truth (exact F1 is read below)
            tg, K = set(M.true_group(r, c).tolist()), len(r["truth"])
            y = np.array([2 * len(tg & set(g.tolist())) / (len(g) + K) for g in groups])
        out.append((r, groups, F, y))
    return out


class Linear:
    """The statistics in cols, standardised; a weight vector (last: the constant); fitted by L-BFGS."""

    def __init__(self, F: np.ndarray, cols: np.ndarray):
        self.cols = cols
        self.mu, self.sd = F[:, cols].mean(axis=0), F[:, cols].std(axis=0) + 1e-12

    def x(self, F: np.ndarray) -> np.ndarray:
        return (F[:, self.cols] - self.mu) / self.sd

    def z(self, F: np.ndarray) -> np.ndarray:
        return self.x(F) @ self.w[:-1] + self.w[-1]


ALL_COLS = np.arange(len(FEATURES))


def fit_ranker(its: list, cols: np.ndarray = ALL_COLS) -> Linear:
    reps = [it for it in its if it[0]["cond"] not in ("distinct", "synrep")]
    model = Linear(np.vstack([it[2] for it in reps]), cols)
    blocks = [(model.x(it[2]), it[3]) for it in reps]

    def loss(w):
        total, grad = 0.0, np.zeros_like(w)
        for X, y in blocks:
            z = X @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            q = np.exp(RANK_SHARPNESS * (y - y.max()))
            q /= q.sum()
            total -= float((q * np.log(p + 1e-300)).sum())
            grad += X.T @ (p - q)
        return total / len(blocks) + RIDGE["ranker"] * (w @ w), grad / len(blocks) + 2 * RIDGE["ranker"] * w

    w = minimize(loss, np.zeros(len(cols)), jac=True, method="L-BFGS-B").x
    model.w = np.r_[w, 0.0]
    return model


def fit_bar(chosen: list, cols: np.ndarray = ALL_COLS) -> Linear:
    """chosen: (rec, features of the chosen group, its F1)."""
    F = np.array([c[1] for c in chosen])
    model = Linear(F, cols)
    X = np.hstack([model.x(F), np.ones((len(F), 1))])
    y = np.array([c[2] for c in chosen])
    null = np.array([c[0]["cond"] == "distinct" for c in chosen])
    syn = np.array([c[0]["draw"].startswith("syn") for c in chosen])
    wt = np.zeros(len(F))
    for a in (False, True):
        for b in (False, True):
            cls = (null == a) & (syn == b)
            wt[cls] = 0.25 / max(cls.sum(), 1)

    def loss(w):
        p = 1 / (1 + np.exp(-(X @ w)))
        nll = -float((wt * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))).sum())
        reg = np.r_[w[:-1], 0.0]
        return nll + RIDGE["bar"] * float(reg @ reg), X.T @ (wt * (p - y)) + 2 * RIDGE["bar"] * reg

    model.w = minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B").x
    return model


def fit(its: list, draws: set, cols: np.ndarray = ALL_COLS) -> tuple[Linear, Linear]:
    sub = [it for it in its if it[0]["draw"] in draws]
    ranker = fit_ranker(sub, cols)
    chosen = []
    for r, groups, F, y in sub:
        i = int(np.argmax(ranker.z(F)))
        chosen.append((r, F[i], 0.0 if r["cond"] == "distinct" else G.group_f1(r, r["case"], groups[i])))
    return ranker, fit_bar(chosen, cols)


def rows_of(its: list, ranker: Linear | None, bar: Linear | None) -> list:
    """(draw, cond, significance, F1 of the chosen group) per recording; main's choice without models."""
    out = []
    zi, hi = FEATURES.index("z"), FEATURES.index("h")
    for r, groups, F, _ in its:
        if ranker is None:
            i = int(np.argmax(F[:, zi]))
            sig = F[i, zi] + ADAPT * F[i, hi]
        else:
            i = int(np.argmax(ranker.z(F)))
            sig = float(bar.z(F[i:i + 1])[0])
        f1 = 0.0 if r["cond"] == "distinct" else G.group_f1(r, r["case"], groups[i])
        out.append((r["draw"], r["cond"], sig, f1))
    return out


def _value(x, b: float) -> float:
    return float(x[2] < b) if x[1] == "distinct" else (x[3] if x[2] >= b else 0.0)


def equal_null_bar(rows: list, draws: set, synthetic: bool = True) -> float:
    """Smallest bar at which the distinct-word nulls of draws find nothing in >= 93% and (with
    synthetic) the synthetic nulls among draws in >= 92%."""
    nd = [x for x in rows if x[1] == "distinct" and x[0] in draws and not x[0].startswith("syn")]
    ns = [x for x in rows if x[0] in draws and x[0].startswith("syn_")] if synthetic else []
    for b in sorted({x[2] for x in nd + ns}):
        b = float(np.nextafter(b, np.inf))
        if np.mean([_value(x, b) for x in nd]) >= 0.93 and (not ns or np.mean([_value(x, b) for x in ns]) >= 0.92):
            return b
    return float("inf")


def line(name: str, rows: list, b: float) -> str:
    def cell(pred):
        v = [_value(x, b) for x in rows if pred(x)]
        return f"{np.mean(v):.2f}" if v else "-"
    cells = [f"{cond} " + "/".join(cell(lambda x, c=cond, d=d: x[1] == c and x[0] == d) for d in ("bdev", "dev", "wide"))
             for cond in G.CONDS]
    cells.append("synrep fit/chk " + "/".join(cell(lambda x, d=d: x[0] == d) for d in ("synrep_fit", "synrep_chk")))
    nulls = "/".join(cell(lambda x, d=d: x[1] == "distinct" and x[0] == d)
                     for d in ("bdev", "dev", "wide", "xnull", "syn_fit", "syn_chk"))
    return f"{name:8s} bar {b:7.3f} | " + " | ".join(cells) + f" | nothing found bdev/dev/wide/xnull/syn fit/chk {nulls}"


def report(its: list) -> None:
    ranker, bar = fit(its, FIT_DRAWS)
    print("ranker weights: " + " ".join(f"{n}={w:+.2f}" for n, w in zip(FEATURES, ranker.w)))
    print("bar weights:    " + " ".join(f"{n}={w:+.2f}" for n, w in zip(FEATURES, bar.w)) + f" const={bar.w[-1]:+.2f}")
    main_rows, learned_rows = rows_of(its, None, None), rows_of(its, ranker, bar)
    print("F1@.5 per draw bdev/dev/wide (fit: bdev, dev, synthetic halves; check: wide, xnull, synthetic halves)")
    every = {"bdev", "dev", "wide", "syn_fit", "syn_chk"}
    for label, draws, synthetic in (("equal nulls over every null (the rule)", every, True),
                                    ("equal nulls over the fit draws' nulls", FIT_DRAWS, True),
                                    ("equal nulls over the speech nulls only (not a candidate)", every, False)):
        print(label)
        for name, rows in (("kept_a", main_rows), ("learned", learned_rows)):
            print("  " + line(name, rows, equal_null_bar(rows, draws, synthetic)))
    print("no bar")
    for name, rows in (("kept_a", main_rows), ("learned", learned_rows)):
        print("  " + line(name, rows, -np.inf))
    for cond in ("vpw_many", "vpw_few", "one_many"):
        d = np.array([y[3] - x[3] for x, y in zip(main_rows, learned_rows) if x[1] == cond and x[0] == "wide"])
        print(f"no bar, wide {cond}: learned - kept {d.mean():+.3f} (se {d.std(ddof=1) / np.sqrt(len(d)):.3f}, "
              f"n {len(d)}, better {int((d > 1e-9).sum())}, worse {int((d < -1e-9).sum())})")


STAT_SETS = {
    "all 20": FEATURES,
    "without bmed, b1, wmax, all": [f for f in FEATURES if f not in ("bmed", "b1", "wmax", "all")],
    "14": ["sil", "silmin", "z", "k", "logk", "logS", "a", "b", "amax/b1min", "auc", "h", "inrange", "maxrel", "lensd"],
    "without the length ones": [f for f in FEATURES if f not in ("lensd", "inrange", "maxrel")]}
SPEECH_DRAWS = ("bdev", "dev", "wide")
COMPACT_SETS = {       # session 16: smaller sets read on vdev (is the gain in a few statistics?)
    "8": ["sil", "z", "logk", "a", "b", "h", "inrange", "maxrel"],
    "10": ["sil", "silmin", "z", "k", "logk", "a", "b", "h", "inrange", "maxrel"],
    "6": ["z", "logk", "a", "h", "inrange", "maxrel"],
    "12": ["sil", "silmin", "z", "k", "logk", "a", "b", "auc", "h", "inrange", "maxrel", "lensd"],
    "9": ["sil", "z", "k", "logk", "a", "b", "h", "maxrel", "lensd"]}


def more_synthetic_nulls(n: int = 150) -> list:
    """Items of n more synthetic nulls (the same generator, seeds 1000+): the rule's bar then rests on
    200 synthetic nulls instead of 50."""
    out = []
    for seed in range(1000, 1000 + n):
        rng = np.random.default_rng(seed)
        X, _ = events_in_noise(rng, event_shapes(rng, 16), list(range(16)))
        c = G.Case(X, 25, 60)
        if len(c.D) >= 2:
            groups = unique_candidates(c.D)
            out.append(({"draw": "syn_x", "cond": "distinct", "fixed": None, "one_voice": None, "case": c, "lo": 25,
                         "hi": 60, "n": len(X), "truth": []},
                        groups, group_features(c.D, c.R0, c.s, c.e, 25, 60, groups), np.zeros(len(groups))))
    return out


def at_least(its: list, kmin: int) -> list:
    """Only candidate groups of at least kmin segments (all of them where S < 2 kmin)."""
    ki = FEATURES.index("k")
    out = []
    for r, groups, F, y in its:
        keep = F[:, ki] >= kmin if len(r["case"].D) >= 2 * kmin else np.ones(len(F), bool)
        out.append((r, [g for g, k in zip(groups, keep) if k], F[keep], y[keep]))
    return out


def out_of_fold(its: list, cols: np.ndarray) -> list:
    """rows_of with each speech draw scored by models fitted on the other two, synthetic series in thirds
    (by position), the fresh nulls by the first fold's models."""
    def fold(i, r):
        if r["draw"] in SPEECH_DRAWS:
            return SPEECH_DRAWS.index(r["draw"])
        return 0 if r["draw"] == "xnull" else i % 3
    folds = [fold(i, it[0]) for i, it in enumerate(its)]
    rows = [None] * len(its)
    for f in range(3):
        train = [it for it, g in zip(its, folds) if g != f and it[0]["draw"] != "xnull"]
        ranker, bar = fit(train, {it[0]["draw"] for it in train}, cols)
        idx = [i for i, g in enumerate(folds) if g == f]
        for i, row in zip(idx, rows_of([its[i] for i in idx], ranker, bar)):
            rows[i] = row
    return rows


def _cond_mean(rows: list, cond: str, b: float) -> float:
    return float(np.mean([_value(x, b) for x in rows if x[1] == cond]))


def cv_report(its: list, extra: list) -> None:
    """Out of fold, 200 synthetic nulls (extra: more_synthetic_nulls()): vpw-many (pooled over the draws)
    at the rule's bar and at the speech nulls' bar (synthetic nulls' nothing found in brackets), groups of
    >= 2 and >= 3."""
    every = set(SPEECH_DRAWS) | {"syn_fit", "syn_chk", "syn_x"}
    print("out of fold (draws as folds), 200 synthetic nulls; vpw-many pooled over bdev/dev/wide; + log d: "
          "the series' dimension count as one more statistic (24 bands, 3 synthetic), a domain covariate")
    for kmin in (2, 3):
        data = with_log_d(at_least(its + extra, kmin))
        variants = {"main": rows_of(data, None, None)}
        for name, feats in STAT_SETS.items():
            cols = np.array([FEATURES.index(f) for f in feats])
            variants[f"learned, {name}"] = out_of_fold(data, cols)
            variants[f"learned, {name}, + log d"] = out_of_fold(data, np.r_[cols, len(FEATURES)])
        for name, rows in variants.items():
            syn = [x for x in rows if x[0].startswith("syn_")]
            cells = []
            for label, synthetic in (("rule", True), ("speech nulls only", False)):
                b = equal_null_bar(rows, every, synthetic)
                cells.append(f"{label}: {_cond_mean(rows, 'vpw_many', b):.3f} (synthetic nulls "
                             f"{np.mean([_value(x, b) for x in syn]):.2f}; vpw few {_cond_mean(rows, 'vpw_few', b):.3f}, "
                             f"one many {_cond_mean(rows, 'one_many', b):.3f})")
            print(f"  groups >= {kmin} {name:46s} " + " | ".join(cells))


def gated_report(its: list) -> None:
    """Main decides whether anything is reported (best z + 2.5 h at the rule's bar); the ranker (out of
    fold) chooses among the groups that pass. Paired against main per condition."""
    zi, hi = FEATURES.index("z"), FEATURES.index("h")
    b = equal_null_bar(rows_of(its, None, None), set(SPEECH_DRAWS) | {"syn_fit", "syn_chk"})
    print(f"gated ranker at main's rule bar {b:.3f}, out of fold; per condition main -> gated (paired mean, se, better/worse)")
    for name, feats in STAT_SETS.items():
        cols = np.array([FEATURES.index(f) for f in feats])
        res: dict = {c: [] for c in G.CONDS}
        for f, held in enumerate(SPEECH_DRAWS):
            ranker = fit_ranker([it for it in its if it[0]["draw"] in SPEECH_DRAWS and it[0]["draw"] != held], cols)
            for r, groups, F, _ in its:
                if r["draw"] != held or r["cond"] not in G.CONDS:
                    continue
                s = F[:, zi] + ADAPT * F[:, hi]
                ik = int(np.argmax(F[:, zi]))
                if s[ik] < b:
                    res[r["cond"]].append((0.0, 0.0))
                    continue
                ok = np.flatnonzero(s >= b)
                j = ok[int(np.argmax(ranker.z(F[ok])))]
                res[r["cond"]].append((G.group_f1(r, r["case"], groups[ik]), G.group_f1(r, r["case"], groups[j])))
        cells = []
        for c, v in res.items():
            a = np.array(v)
            d = a[:, 1] - a[:, 0]
            cells.append(f"{c} {a[:, 0].mean():.3f} -> {a[:, 1].mean():.3f} ({d.mean():+.3f}, "
                         f"{d.std(ddof=1) / np.sqrt(len(d)):.3f}, {int((d > 1e-9).sum())}/{int((d < -1e-9).sum())})")
        print(f"  {name:28s} " + " | ".join(cells))


def length_report(its: list) -> None:
    """Main's choice among groups whose members all lie in [min_length, max_length] (none: nothing)."""
    zi, hi, ri = FEATURES.index("z"), FEATURES.index("h"), FEATURES.index("inrange")
    rows = []
    for r, groups, F, _ in its:
        ok = np.flatnonzero(F[:, ri] == 1)
        if len(ok) == 0:
            rows.append((r["draw"], r["cond"], -np.inf, 0.0))
            continue
        i = ok[int(np.argmax(F[ok, zi]))]
        rows.append((r["draw"], r["cond"], F[i, zi] + ADAPT * F[i, hi],
                     0.0 if r["cond"] == "distinct" else G.group_f1(r, r["case"], groups[i])))
    every = set(SPEECH_DRAWS) | {"syn_fit", "syn_chk"}
    main_rows = rows_of(its, None, None)
    print("length filter: members only among segments inside the user's range")
    for name, rs in (("main", main_rows), ("in range", rows)):
        b = equal_null_bar(rs, every)
        print("  " + line(name, rs, b))
        print("  " + line(name, rs, b if name == "main" else equal_null_bar(main_rows, every)) + "  (main's bar)")
        print("  " + line(name, rs, -np.inf))


def with_log_d(its: list) -> list:
    """The dimension count (24 bands, 3 synthetic) appended as one more statistic."""
    return [(r, g, np.hstack([F, np.full((len(F), 1), np.log(3 if r["draw"].startswith("syn") else 24))]), y)
            for r, g, F, y in its]


def vdev_report(its: list, extra: list, vdev: list) -> None:
    """Models fitted on every dev draw, bars chosen on the dev draws' nulls (200 synthetic with extra),
    then read on the vdev draw (voices in no other pool; its own all-distinct-word nulls)."""
    every = set(SPEECH_DRAWS) | {"syn_fit", "syn_chk", "syn_x"}
    fit_draws = {it[0]["draw"] for it in its}
    print(f"vdev: {len(vdev)} recordings searched on segments, voices in no other pool "
          "(models fitted on every dev draw; bars from the dev draws' nulls; F1@.5 on vdev)")
    for kmin in (2, 3):
        base = with_log_d(at_least(its + extra, kmin))
        target = with_log_d(at_least(vdev, kmin))
        variants = [("main", None, None, True)]
        for name, feats in STAT_SETS.items():
            cols = np.array([FEATURES.index(f) for f in feats])
            variants += [(f"learned, {name}", cols, True, True), (f"learned, {name}, + log d", np.r_[cols, len(FEATURES)], True, True),
                         (f"learned, {name}, speech bar", cols, True, False)]
        if kmin == 2:
            variants += [(f"learned, {name} compact, + log d", np.r_[[FEATURES.index(f) for f in feats], len(FEATURES)],
                          True, True) for name, feats in COMPACT_SETS.items()]
        for name, cols, _, synthetic in variants:
            if cols is None:
                dev_rows, v_rows = rows_of(base, None, None), rows_of(target, None, None)
            else:
                ranker, bar = fit(base, fit_draws | {"syn_x"}, cols)
                dev_rows, v_rows = rows_of(base, ranker, bar), rows_of(target, ranker, bar)
            b = equal_null_bar(dev_rows, every, synthetic)
            nulls = np.mean([_value(x, b) for x in v_rows if x[1] == "distinct"])
            print(f"  groups >= {kmin} {name:46s} bar {b:7.3f} | " + " ".join(
                f"{c} {_cond_mean(v_rows, c, b):.3f}" for c in G.CONDS) + f" | vdev nulls nothing found {nulls:.2f}")


def vtrain_report(its: list, extra: list, vdev: list, vtrain: list) -> None:
    """The vdev reading of every statistic set (+ log d), fitted on the dev draws alone and with vtrain."""
    every = set(SPEECH_DRAWS) | {"syn_fit", "syn_chk", "syn_x"}
    target = with_log_d(vdev)
    both = with_log_d(vdev + vtrain)
    print(f"fitted with and without {len(vtrain)} vtrain recordings ({len(G.VTRAIN_SPEAKERS)} more voices), read on vdev; "
          "fitted on the dev draws alone, read on vdev + vtrain (voices in no fitted draw)")
    for label, train in (("dev draws", its + extra), ("dev draws + vtrain", its + extra + vtrain)):
        base = with_log_d(train)
        b = equal_null_bar(rows_of(base, None, None), every)
        for tag, rows in (("vdev", rows_of(target, None, None)), ("vdev + vtrain", rows_of(both, None, None))):
            if label == "dev draws":
                print(f"  {'main':20s} {'':28s} on {tag:13s}: " + " ".join(f"{c} {_cond_mean(rows, c, b):.3f}" for c in G.CONDS)
                      + f" | nulls nothing found {np.mean([_value(x, b) for x in rows if x[1] == 'distinct']):.2f}")
        for name, feats in {**STAT_SETS, **COMPACT_SETS}.items():
            for logd in (False, True):
                cols = np.array([FEATURES.index(f) for f in feats])
                ranker, bar = fit(base, {it[0]["draw"] for it in base}, np.r_[cols, len(FEATURES)] if logd else cols)
                b = equal_null_bar(rows_of(base, ranker, bar), every)
                reads = [("vdev", target)] + ([("vdev + vtrain", both)] if label == "dev draws" else [])
                for tag, data in reads:
                    if not logd and tag == "vdev":
                        continue
                    rows = rows_of(data, ranker, bar)
                    print(f"  {label:20s} {name:28s} {'+ log d' if logd else '       '} on {tag:13s}: "
                          + " ".join(f"{c} {_cond_mean(rows, c, b):.3f}" for c in G.CONDS)
                          + f" | nulls nothing found {np.mean([_value(x, b) for x in rows if x[1] == 'distinct']):.2f}")


def speech_only_report(its: list, vdev: list, vtrain: list) -> None:
    """Models fitted on the speech draws alone (no synthetic series, no log d), the bar at the speech nulls'
    equal-null level, read on vdev + vtrain: the design where series with a feature axis (>=
    FEATURE_WARP_MIN_DIMS dimensions) take the learned score and the others keep the silhouette score."""
    speech = [it for it in its if not it[0]["draw"].startswith("syn")]
    target = vdev + vtrain
    print("fitted on the speech draws alone, bar at the speech nulls' equal-null level, read on vdev + vtrain")
    for name, feats in {**STAT_SETS, **COMPACT_SETS}.items():
        ranker, bar = fit(speech, {it[0]["draw"] for it in speech}, np.array([FEATURES.index(f) for f in feats]))
        b = equal_null_bar(rows_of(speech, ranker, bar), set(SPEECH_DRAWS), synthetic=False)
        rows = rows_of(target, ranker, bar)
        print(f"  {name:28s} " + " ".join(f"{c} {_cond_mean(rows, c, b):.3f}" for c in G.CONDS)
              + f" | nulls nothing found {np.mean([_value(x, b) for x in rows if x[1] == 'distinct']):.2f}")


def heldout(its: list, bench_args: list) -> int:
    import bench_extract as B
    ranker, bar = fit(its, {it[0]["draw"] for it in its})
    rows = rows_of(its, ranker, bar)
    b = equal_null_bar(rows, {"bdev", "dev", "wide"}, synthetic=False)
    print(f"models fitted on every dev draw; bar {b:.3f} (speech nulls only); dev at that bar: {line('learned', rows, b)}")
    original = segments.find_group

    def learned_group(X, lo, hi):
        g = original(X, lo, hi)
        if len(g.seg_starts) < 3:
            return g
        groups = unique_candidates(g.distances)
        F = group_features(g.distances, g.decoy_distances, g.seg_starts, g.seg_ends, lo, hi, groups)
        i = int(np.argmax(ranker.z(F)))
        m = groups[i]
        sig = float(bar.z(F[i:i + 1])[0]) - b          # reported iff the learned logit reaches b
        return segments.Group(g.seg_starts[m], g.seg_ends[m], sig, m, g.seg_starts, g.seg_ends, g.distances,
                              g.features, g.decoy_distances, g.coverage)

    def find(X, lo, hi, recipe, seed):
        if recipe not in ("eval", "eval_bands"):
            raise SystemExit(f"--recipe {recipe}: only eval / eval_bands (default arguments) are diagnosed")
        return extract.find_instances(X, lo, hi, random_state=seed, min_group_score=0.0)

    segments.find_group = learned_group
    B.find = find
    return B.main(bench_args)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    bench_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="benchmarks/.cache/groups_bands.pkl")
    ap.add_argument("--heldout", action="store_true", help="run bench_extract.py with the models (args after --)")
    ap.add_argument("--cv", action="store_true", help="also: out of fold, 200 synthetic nulls, statistic sets")
    ap.add_argument("--gated", action="store_true", help="also: the ranker choosing among groups that pass main's bar")
    ap.add_argument("--length", action="store_true", help="also: main's choice among groups inside the range")
    ap.add_argument("--vdev", action="store_true", help="also: fitted on every dev draw, read on the vdev draw")
    ap.add_argument("--vdev-cache", default="benchmarks/.cache/groups_bands_vdev.pkl")
    ap.add_argument("--vtrain", action="store_true", help="also: fitted with 41 more voices, read on vdev")
    ap.add_argument("--vtrain-cache", default="benchmarks/.cache/groups_bands_vtrain.pkl")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    if not Path(args.cache).exists():
        raise SystemExit(f"{args.cache} missing: build it with dev_extract_groups.py --front bands --cache ... "
                         "--extra-nulls 80")
    recs, syn_cases = G.recordings("bands", [], args.cache, 80)
    its = items(recs, syn_cases)
    if args.heldout:
        return heldout(its, bench_args)
    with tee_output(args.out, f"dev_learned_group.py {' '.join(argv)}"):
        report(its)
        extra = more_synthetic_nulls() if args.cv or args.vdev or args.vtrain else []
        if args.cv:
            cv_report(its, extra)
        if args.gated:
            gated_report(its)
        if args.length:
            length_report(its)
        if args.vdev or args.vtrain:
            vdev = items(G.recordings("bands", [], args.vdev_cache, 0, only="vdev")[0], [], repeats=False)
            if args.vdev:
                vdev_report(its, extra, vdev)
            if args.vtrain:
                vtrain = items(G.recordings("bands", [], args.vtrain_cache, 0, only="vtrain")[0], [], repeats=False)
                vtrain_report(its, extra, vdev, vtrain)
                speech_only_report(its, vdev, vtrain)
    return 0


if __name__ == "__main__":
    sys.exit(main())
