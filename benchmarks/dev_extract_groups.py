"""Development yardstick for the segment search's grouping (issue 14): dev speakers only.

Evaluates `tenfold.segments.find_group` at several group-score bars on three development draws
(never the held-out speakers or seeds of bench_extract.py):
  bdev  the benchmark's own dev draw (DEV_SPEAKERS, seeds 1xx, 20 recordings per condition),
  dev   DEV_SPEAKERS, seeds 93xx (8-20 per condition),
  wide  DEV_SPEAKERS plus 10 other espeak-ng voices (WIDE_EXTRA, none in the held-out pool),
        seeds 95xx (16-40 per condition): closer to the held-out pool's variety.
  vdev  (only with draws(only="vdev") / recordings(..., only="vdev"), its own cache) 15 voices in
        no other pool (VDEV_SPEAKERS), seeds 97xx, sized as wide: for reading what was fitted on
        the draws above (session 16: main scores there as held out, 0.66 with a voice per word and
        many distractors, against 0.76 on the draws above).
  vtrain (only with only="vtrain", its own cache) 41 more voices in no other pool (VTRAIN_SPEAKERS),
        two draws sized as wide, seeds 96xx and 94xx (session 16: more voices to fit on).
plus "nothing found" on all-distinct-word recordings of each draw and on synthetic 3-D series of
16 distinct events (tenfold.datasets.events_in_noise, seeds 4-53).

    python benchmarks/dev_extract_groups.py [--bars 1.0,1.1,1.2] [--front mfcc|speech|bands]
    python benchmarks/dev_extract_groups.py --front bands --variants kept,ratio_half,ratio_half_sig

Prints F1@IoU.5 per condition and draw (bdev/dev/wide) and the nothing-found shares per bar.
--front: the features (mfcc: audio.mfcc, 13 with c0, as the evaluation gives them; speech:
audio.speech_features, the CLI's recipe; bands: audio.bands_from_mfcc(audio.mfcc(...))).
--variants: group searches to compare on the same segments and distances (see variant(); session
12, decoy-relative distances); each is also reported at its equal-null bar, the smallest bar at
which distinct-word recordings (pooled) and synthetic 3-D nulls find nothing in >= 93% / >= 92%.
--pairs: how decoy-relative distances separate a word's repeats from other words, pair by pair.
--out FILE: also write what is printed to FILE (results of session 12: benchmarks/results/decoy_ratio/).
Tune on this, report on bench_extract.py's held-out set.
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
from _common import tee_output

from tenfold import audio, extract, segments
from tenfold.datasets import event_shapes, events_in_noise
from tenfold.metrics import interval_f1

WIDE_EXTRA = [("espeak", v) for v in (
    "en-gb-x-gbcwmd", "en-gb-x-gbcwmd+m6", "en-gb-x-gbcwmd+f5", "en-gb-x-gbcwmd+klatt",
    "en-us+m4", "en-us+m7", "en-us+klatt3", "en-us+f5", "en-029+klatt2", "en-gb-x-rp+m6")]
# voices in no other pool (dev, wide, held out): the dev accents with espeak-ng's named variants (session 16)
VDEV_SPEAKERS = [("espeak", f"{lang}+{v}") for lang, variants in (
    ("en-us", ("Andy", "Annie", "Michael", "Steph", "travis")),
    ("en-gb-x-rp", ("Alex", "Linda", "Paul", "Storm", "victor")),
    ("en-029", ("Edward", "Gene", "Jacky", "Lee", "zac"))) for v in variants]
# 41 more named variants on four accents, in no other pool nor in vdev (session 16)
VTRAIN_VARIANTS = ("Adam", "Alicia", "Andrea", "Antonio", "Belinda", "Benjamin", "Boris", "Caleb", "David", "Denis",
                   "Diogo", "Ed", "Edward2", "Gene2", "Gustave", "Henrique", "Hugo", "Iven", "Iven2", "Iven3", "John",
                   "Marcelo", "Marco", "Mario", "Max", "Michel", "Miguel", "Mike", "Pablo", "Pedro", "Quincy", "Rob",
                   "Robert", "Steph2", "Steph3", "anika", "norbert", "sandro", "shelby", "grandma", "grandpa")
VTRAIN_ACCENTS = ("en-us", "en-gb-x-rp", "en-029", "en-gb-x-gbcwmd")
VTRAIN_SPEAKERS = [("espeak", f"{VTRAIN_ACCENTS[i % len(VTRAIN_ACCENTS)]}+{v}") for i, v in enumerate(VTRAIN_VARIANTS)]
CONDS = {"one_few": (False, False), "one_many": (False, True), "vpw_few": (True, False), "vpw_many": (True, True)}


FRONTS = {"mfcc": lambda a: audio.mfcc(a, B.SR), "speech": lambda a: audio.speech_features(a, B.SR),
          "bands": lambda a: audio.bands_from_mfcc(audio.mfcc(a, B.SR))}


def draws(front: str = "mfcc", extra_nulls: int = 0, only: str = ""):
    """(draw, condition, X, truth, lo, hi) for every development recording; with extra_nulls, that many
    more all-distinct-word recordings (draw "xnull": the wide pool, seeds 99xx, alternately one voice
    and a voice per word) at the end. only="vdev" / "vtrain": instead, that draw alone (voices in no
    other pool, for checking what was fitted on the others; see the module docstring)."""
    feats = FRONTS[front]
    assert not set(WIDE_EXTRA) & set(B.HELDOUT_SPEAKERS)
    assert not set(VDEV_SPEAKERS) & set(B.HELDOUT_SPEAKERS + B.DEV_SPEAKERS + WIDE_EXTRA)
    assert not set(VTRAIN_SPEAKERS) & set(VDEV_SPEAKERS + B.HELDOUT_SPEAKERS + B.DEV_SPEAKERS + WIDE_EXTRA)
    if only == "vdev":
        yield from _pool_draw("vdev", VDEV_SPEAKERS, 97, 1, feats)
        return
    if only == "vtrain":
        for base in (96, 94):
            yield from _pool_draw("vtrain", VTRAIN_SPEAKERS, base, 1, feats)
        return
    if only:
        raise ValueError(f"only must be '', 'vdev' or 'vtrain', not {only!r}")
    for ci, (cond, (vpw, many)) in enumerate(CONDS.items()):          # the benchmark's dev draw
        rng = np.random.default_rng(100 + ci)
        for _ in range(20):
            rec = B.make_recording(rng, B.DEV_SPEAKERS, int(rng.integers(3, 9)), voice_per_word=vpw, many=many)
            yield ("bdev", cond, feats(rec.audio), rec.truth, *B.ranges(rec.truth)["0.7/1.3"])
            if vpw and not many:                                       # keep bench_set's rng sequence
                B.make_recording(rng, B.DEV_SPEAKERS, int(rng.integers(2, 6)), voice_per_word=True, many=False,
                                 target=rec.target, exclude=set(rec.speakers))
    rng = np.random.default_rng(150)
    for i in range(20):
        rec = B.make_recording(rng, B.DEV_SPEAKERS, 0, voice_per_word=bool(i % 2), many=True, distinct_only=True)
        hi = int(rng.integers(40, 90))
        yield ("bdev", "distinct", feats(rec.audio), [], int(0.7 * hi / 1.3), hi)
        rng.uniform(5, 20)                                             # bench_nothing's noise length draw
    for name, pool, base, scale in (("dev", B.DEV_SPEAKERS, 93, 2), ("wide", B.DEV_SPEAKERS + WIDE_EXTRA, 95, 1)):
        yield from _pool_draw(name, pool, base, scale, feats)
    for i in range(extra_nulls):
        rng = np.random.default_rng(9900 + i)
        rec = B.make_recording(rng, B.DEV_SPEAKERS + WIDE_EXTRA, 0, voice_per_word=bool(i % 2), many=True,
                               distinct_only=True)
        hi = int(rng.integers(40, 90))
        yield ("xnull", "distinct", feats(rec.audio), [], int(0.7 * hi / 1.3), hi)


def _pool_draw(name: str, pool: list, base: int, scale: int, feats):
    """One draw from a speaker pool: per condition 16/20/30/40 recordings (divided by scale), seeds
    base * 100 + condition; then 20 (scale 2) or 30 all-distinct-word nulls, seeds base * 100 + 50."""
    sizes = {"one_few": 16, "one_many": 20, "vpw_few": 30, "vpw_many": 40}
    for ci, cond in enumerate(("vpw_few", "vpw_many", "one_many", "one_few")):   # seed order
        vpw, many = CONDS[cond]
        rng = np.random.default_rng(base * 100 + ci)
        for _ in range(sizes[cond] // scale):
            rec = B.make_recording(rng, pool, int(rng.integers(3, 9)), voice_per_word=vpw, many=many)
            yield (name, cond, feats(rec.audio), rec.truth, *B.ranges(rec.truth)["0.7/1.3"])
    rng = np.random.default_rng(base * 100 + 50)
    for i in range(20 if scale == 2 else 30):
        rec = B.make_recording(rng, pool, 0, voice_per_word=bool(i % 2), many=True, distinct_only=True)
        hi = int(rng.integers(40, 90))
        yield (name, "distinct", feats(rec.audio), [], int(0.7 * hi / 1.3), hi)


DECOY_KINDS = ("half", "third", "rev", "flip")


def decoy_features(Z: np.ndarray, starts: np.ndarray, ends: np.ndarray, kind: str) -> np.ndarray:
    """Each segment's rows rotated by half (half) or a third (third) of its length, or reversed (rev);
    flip: the time course kept, the feature axis reversed (static and slope halves each)."""
    Zr = Z.copy()
    if kind == "flip":
        d = Z.shape[1] // 2
        Zr[:, :d], Zr[:, d:] = Z[:, d - 1::-1], Z[:, :d - 1:-1]
        return Zr
    for s0, e0 in zip(starts, ends):
        seg = Z[s0:e0]
        Zr[s0:e0] = seg[::-1] if kind == "rev" else np.roll(seg, -((e0 - s0) // (2 if kind == "half" else 3)), axis=0)
    return Zr


class Case:
    """A series' candidate segments, their warped distances D, find_group's decoy distances R0,
    and warped decoy distances R[kind][i, j] (segment i, warped, to segment j's decoy)."""

    def __init__(self, X: np.ndarray, lo: int, hi: int, kinds=()):
        X = np.asarray(X, np.float64)
        s, e, self.coverage = segments.segment_activity(X, lo, hi)
        if len(s) > segments.MAX_SEGMENTS:
            keep = np.sort(np.argsort(-(e - s), kind="stable")[:segments.MAX_SEGMENTS])
            s, e = s[keep], e[keep]
        self.s, self.e = s, e
        t0 = time.process_time()
        Z = segments.segment_features(X, s, e)
        self.D = segments.warped_distances(X, s, e) if len(s) else np.zeros((0, 0))
        self.R0 = segments.two_way_distances(Z, s, e, segments.rotated_features(Z, s, e), s, e) if len(s) \
            else np.zeros((0, 0))     # as find_group computes its decoys (both DTW ways, session 13)
        self.cpu_d = time.process_time() - t0
        self.R, self.cpu_r = {}, {}
        for kind in kinds:
            t0 = time.process_time()
            self.R[kind] = segments.warped_distances(X, s, e, decoy_features(Z, s, e, kind), s, e) if len(s) \
                else np.zeros((0, 0))
            self.cpu_r[kind] = time.process_time() - t0


def _score(D: np.ndarray, R: np.ndarray, m: np.ndarray) -> float:
    z = segments._group_score(D, R, m)
    return z * segments.DECOY_ONLY_WEIGHT if len(m) == len(D) else z


def _contrast(c: Case, form: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Decoy-relative distances (D', R') of one form against one decoy kind."""
    R = c.R[kind]
    Rs, Rm = 0.5 * (R + R.T), np.minimum(R, R.T)
    tiny = 1e-300
    if form == "ratio":                       # D / mean of the two cross-decoy distances
        return c.D / np.maximum(Rs, tiny), R / np.maximum(Rs, tiny)
    if form == "rmin":
        return c.D / np.maximum(Rm, tiny), R / np.maximum(Rm, tiny)
    if form == "pow05":                       # half-way: D / sqrt(Rs)
        return c.D / np.sqrt(np.maximum(Rs, tiny)), R / np.sqrt(np.maximum(Rs, tiny))
    if form == "self":                        # D / geometric mean of each segment's distance to its own decoy
        d = np.sqrt(np.maximum(np.diag(R), tiny))
        N = np.outer(d, d)
        return c.D / N, R / N
    if form.startswith("sub"):                # D - c * min(R_ij, R_ji), floored
        w = float(form[3:])
        fl = 1e-3 * float(np.median(c.D)) if c.D.size else 1e-12
        return np.maximum(c.D - w * Rm, fl) * (1 - np.eye(len(c.D))), np.maximum(R - w * Rm, fl)
    raise ValueError(f"unknown form {form}")


def _score_dout(D: np.ndarray, R: np.ndarray, m: np.ndarray, own: bool = False) -> float:
    """silhouette x k with the members' decoys among each member's outsiders: b is the mean of the
    NEAR_OUTSIDERS nearest of the other segments and the other members' decoys (and its own, with own)."""
    S, k = len(D), len(m)
    if k < 2:
        return 0.0
    inside = np.zeros(S, bool)
    inside[m] = True
    out = np.flatnonzero(~inside)
    a = D[np.ix_(m, m)].sum(axis=1) / (k - 1)
    Rm = R[np.ix_(m, m)].copy()
    if not own:
        Rm[np.arange(k), np.arange(k)] = np.inf
    cand = np.hstack([D[np.ix_(m, out)], Rm])
    b = np.sort(cand, axis=1)[:, :min(k, segments.NEAR_OUTSIDERS)].mean(axis=1)
    sil = (b - a) / np.maximum(np.maximum(a, b), 1e-300)
    if len(out) == 0:
        return float(sil.mean() * np.sqrt(k) * segments.DECOY_ONLY_WEIGHT)
    return float(sil.mean() * k)


def _best(D: np.ndarray, score) -> tuple[np.ndarray, float]:
    """segments.best_group's candidate groups under another score."""
    best, best_z = np.zeros(0, np.int64), -np.inf
    for g in segments.candidate_groups(D):
        z = score(g)
        if z > best_z:
            best, best_z = np.sort(g), z
    return best, float(best_z)


HOMOG_STATS = ("nn", "q10", "lsd", "rd", "logS", "nn3", "nnbg", "q10bg", "lsdbg", "nn3bg")


def homogeneity(D: np.ndarray, R0: np.ndarray, stat: str, members: np.ndarray | None = None) -> float:
    """A scale-free statistic of how alike a recording's segments are (session 12, adaptive-bar).

    nn:   median over segments of (nearest other segment / median distance to the others);
          near 1 when every segment is about as far from all others (alike), small when tight
          pairs stand out;
    nn3:  the same with the mean of the 3 nearest;
    q10:  10% quantile of the pair distances / their median;
    lsd:  sd of log pair distance (small = alike);
    rd:   median decoy distance R0 / median pair distance D (large = real segments alike
          relative to time-scrambled ones);
    logS: log of the number of segments (not homogeneity: a control for the group-size effect);
    STATbg: STAT on the segments outside `members` (the best group), so that a true group's own
    tight pairs do not count as the recording's structure.
    """
    if stat.endswith("bg"):                    # the same on the background: the best group's members left out
        keep = np.setdiff1d(np.arange(len(D)), members if members is not None else [])
        return homogeneity(D[np.ix_(keep, keep)], R0[np.ix_(keep, keep)], stat[:-2])
    S = len(D)
    if S < 3:
        return 0.0
    off = ~np.eye(S, dtype=bool)
    Do = D[off].reshape(S, S - 1)
    if stat == "nn":
        return float(np.median(Do.min(axis=1) / np.median(Do, axis=1)))
    if stat == "nn3":
        return float(np.median(np.sort(Do, axis=1)[:, :3].mean(axis=1) / np.median(Do, axis=1)))
    if stat == "q10":
        return float(np.quantile(Do, 0.1) / np.median(Do))
    if stat == "lsd":
        return float(np.log(np.maximum(Do, 1e-300)).std())
    if stat == "rd":
        return float(np.median(R0[off]) / np.median(Do))
    if stat == "logS":
        return float(np.log(S))
    raise ValueError(f"homogeneity statistics are {HOMOG_STATS}, not {stat!r}")


def _kept(c) -> tuple[np.ndarray, float]:
    """find_group's best group, computed once per case."""
    if getattr(c, "kept", None) is None:
        c.kept = segments.best_group(c.D, c.R0)
    return c.kept


def variant(c: Case, name: str) -> tuple[np.ndarray, float]:
    """(members, significance). kept: find_group as it is. FORM_KIND: the whole search on the
    decoy-relative distances; FORM_KIND_sig: members from kept, significance on the contrast;
    FORM_KIND_ext: members from the contrast, significance from kept.
    adapt_STAT_B1: members and score from kept, significance = score - B1 x homogeneity(STAT), so
    that the bar b0 it is compared with acts as the recording-adaptive bar b0 + B1 x h;
    step_STAT_T_RISE: the bar b0 + RISE where homogeneity(STAT) >= T, else b0."""
    if name == "kept" or len(c.D) < 2:
        return _kept(c)
    if name.startswith("adapt_"):
        _, stat, b1 = name.split("_")
        m, z = _kept(c)
        return m, z - float(b1) * homogeneity(c.D, c.R0, stat, m)
    if name.startswith("step_"):               # two-level: the bar is b0, or b0 + RISE where h >= T
        _, stat, thr, rise = name.split("_")
        m, z = _kept(c)
        return m, z - float(rise) * float(homogeneity(c.D, c.R0, stat, m) >= float(thr))
    parts = name.split("_")
    form, kind, how = parts[0], parts[1], (parts[2] if len(parts) > 2 else "all")
    if form in ("dout", "doutown"):            # decoys of the members as extra outsiders
        R, own = c.R[kind], form == "doutown"
        if how == "all":
            return _best(c.D, lambda g: _score_dout(c.D, R, g, own))
        m, _ = segments.best_group(c.D, c.R0)
        return m, _score_dout(c.D, R, m, own)
    D1, R1 = _contrast(c, form, kind)
    if how == "all":
        return segments.best_group(D1, R1)
    if how == "sig":
        m, _ = segments.best_group(c.D, c.R0)
        return m, _score(D1, R1, m)
    if how == "ext":
        m, _ = segments.best_group(D1, R1)
        return m, _score(c.D, c.R0, m)
    raise ValueError(name)


def row_of(rec: dict, names: list, variant_of=variant) -> dict:
    """One recording's row for the tables: its labels and, on a searched recording (not a fixed
    one), each named variant's (members, significance, F1@.5); variant_of(case, name) gives the
    members and significance (this script's variant by default)."""
    r = {k: rec[k] for k in ("draw", "cond", "fixed", "one_voice")}
    r["var"] = {}
    if r["fixed"] is None:
        for v in names:
            m, sig = variant_of(rec["case"], v)
            r["var"][v] = (m, sig, group_f1(rec, rec["case"], m))
    return r


def kinds_of(names) -> list:
    kinds = sorted({n.split("_")[1] for n in names if n != "kept" and not n.startswith(("adapt_", "step_"))})
    if set(kinds) - set(DECOY_KINDS):
        raise ValueError(f"decoy kinds are {DECOY_KINDS}, not {sorted(set(kinds) - set(DECOY_KINDS))}")
    return kinds


def synthetic_cases(kinds=()):
    """Case of each 3-D series of 16 distinct events (the tests' generator, seeds 4-53)."""
    for seed in range(4, 54):
        rng = np.random.default_rng(seed)
        X, _ = events_in_noise(rng, event_shapes(rng, 16), list(range(16)))
        yield Case(X, 25, 60, kinds)


def synthetic_nulls(names=("kept",), cases=None):
    """Per variant, the significance of the best group in 3-D series of 16 distinct events (the tests' generator)."""
    out = {n: [] for n in names}
    for c in (cases if cases is not None else synthetic_cases(kinds_of(names))):
        for n in names:
            out[n].append(variant(c, n)[1])
    return {n: np.array(v) for n, v in out.items()}


def _value(r: dict, v: str, bar: float) -> float:
    if r["fixed"] is not None:
        return r["fixed"]
    m, sig, f1 = r["var"][v]
    found = len(m) >= 2 and sig >= bar
    return float(not found) if r["cond"] == "distinct" else (f1 if found else 0.0)


def equal_null_bar(rows: list, syn: np.ndarray, v: str, distinct_min: float = 0.93, syn_min: float = 0.92) -> float:
    """The smallest bar at which the pooled distinct-word nulls and the synthetic nulls find nothing enough."""
    cands = sorted({float(r["var"][v][1]) for r in rows if r["cond"] == "distinct" and r["fixed"] is None}
                   | {float(x) for x in syn} | {0.0})
    for b in cands:
        b = float(np.nextafter(b, np.inf))
        dn = np.mean([_value(r, v, b) for r in rows if r["cond"] == "distinct"])
        if dn >= distinct_min and np.mean(syn < b) >= syn_min:
            return b
    return float("inf")


def table(rows: list, syn: np.ndarray, v: str, bar: float) -> str:
    """One line: F1@.5 per condition and draw, nothing found (pooled over bdev/dev/wide), and the
    extra nulls (xnull, one voice / voice per word) when there are any."""
    xn = [r for r in rows if r["draw"] == "xnull"]
    rows = [r for r in rows if r["draw"] != "xnull"]
    extra = "" if not xn else " | xnull one voice/vpw " + "/".join(
        f"{np.mean([_value(r, v, bar) for r in xn if r['one_voice'] == o]):.2f}" for o in (True, False))
    cells = []
    for cond in (*CONDS, "distinct"):
        per = [np.mean([_value(r, v, bar) for r in rows if r["cond"] == cond and r["draw"] == d])
               for d in ("bdev", "dev", "wide")]
        pooled = np.mean([_value(r, v, bar) for r in rows if r["cond"] == cond])
        cells.append(f"{cond} " + "/".join(f"{x:.2f}" for x in per) + f" ({pooled:.2f})")
    split = "/".join(f"{np.mean([_value(r, v, bar) for r in rows if r['cond'] == 'distinct' and r['one_voice'] == o]):.2f}"
                     for o in (True, False))
    return (f"{v:18s} bar {bar:6.3f} | " + " | ".join(cells) + f" (one voice/vpw {split})"
            + f" | synthetic {np.mean(syn < bar):.2f}" + extra)


def equal_null_tables(rows: list, syn: dict, names: list, front: str, extra_nulls: int) -> None:
    """Each variant's table at its equal-null bar on bdev+dev+wide; with fresh nulls (xnull rows), also
    at the bar over them pooled in."""
    base = [r for r in rows if r["draw"] != "xnull"]
    print(f"front {front}; F1@.5 per draw bdev/dev/wide (pooled); distinct: nothing found; each variant at "
          "its equal-null bar (distinct bdev+dev+wide >= 93%, synthetic >= 92%); xnull: the fresh nulls at that bar")
    for v in names:
        print(table(rows, syn[v], v, equal_null_bar(base, syn[v], v)))
    if extra_nulls:
        print("the same, the equal-null bar over the fresh nulls pooled in:")
        for v in names:
            print(table(rows, syn[v], v, equal_null_bar(rows, syn[v], v)))


def paired_lines(rows: list, syn: dict, ref: str, others: list, width: int = 18) -> list:
    """Per variant against ref, each at its own equal-null bar: per condition the mean F1 difference
    (standard error) and how many recordings got better/worse."""
    base = [r for r in rows if r["draw"] != "xnull"]
    b_ref = equal_null_bar(base, syn[ref], ref)
    lines = []
    for v in others:
        b = equal_null_bar(base, syn[v], v)
        cells = []
        for cond in CONDS:
            d = np.array([_value(r, v, b) - _value(r, ref, b_ref) for r in base if r["cond"] == cond])
            cells.append(f"{cond} {d.mean():+.3f} ({d.std(ddof=1) / np.sqrt(len(d)):.3f}) "
                         f"{int(np.sum(d > 1e-9))}/{int(np.sum(d < -1e-9))}")
        lines.append(f"{v:{width}s} " + " | ".join(cells))
    return lines


def cell_counts(rows: list) -> str:
    """Recordings per condition and draw, fresh nulls and synthetic series, as the reports end."""
    n = {c: "/".join(str(sum(r["cond"] == c and r["draw"] == d for r in rows)) for d in ("bdev", "dev", "wide"))
         for c in (*CONDS, "distinct")}
    return f"recordings per cell (bdev/dev/wide): {n} xnull: {sum(r['draw'] == 'xnull' for r in rows)} synthetic: 50"


def select_rule(rows: list, syn: dict, names: list, fit=("bdev", "dev"), check=("wide",)) -> None:
    """Choose an adaptive bar on the fit draws only, then read it on the check draws.

    For each variant: b0 = its equal-null bar over the fit draws' distinct-word nulls (and the
    synthetic nulls); F1@.5 per condition on the fit draws at b0; then the same b0 on the check draws
    (their own nulls, one voice / voice per word). Sorted by vpw_many on the fit draws.
    """
    def cell(rs, v, b, cond, ov=None):
        return float(np.mean([_value(r, v, b) for r in rs if r["cond"] == cond
                              and (ov is None or r["one_voice"] == ov)]))

    fit_rows = [r for r in rows if r["draw"] in fit]
    chk_rows = [r for r in rows if r["draw"] in check]
    print("(xnull: the extra nulls at the fit b0; the last cells: the check draws' own equal-null b0, "
          "93% of their distinct-word nulls and 92% synthetic)")
    out = []
    for v in names:
        b = equal_null_bar(fit_rows, syn[v], v)
        f = [cell(fit_rows, v, b, c) for c in CONDS]
        k = [cell(chk_rows, v, b, c) for c in CONDS]
        nf = (cell(fit_rows, v, b, "distinct", True), cell(fit_rows, v, b, "distinct", False))
        nk = (cell(chk_rows, v, b, "distinct", True), cell(chk_rows, v, b, "distinct", False))
        bk = equal_null_bar(chk_rows, syn[v], v)
        kk = [cell(chk_rows, v, bk, c) for c in CONDS]
        xn = [r for r in rows if r["draw"] == "xnull"]
        nx = (cell(xn, v, b, "distinct", True), cell(xn, v, b, "distinct", False)) if xn else (np.nan, np.nan)
        out.append((f[3], v, b, f, k, nf, nk, float(np.mean(syn[v] < b)), bk, kk, nx))
    print(f"rule chosen on {'+'.join(fit)} (equal-null b0 there), read on {'+'.join(check)}; cells "
          "one_few/one_many/vpw_few/vpw_many | nulls one voice/vpw | synthetic")
    for _, v, b, f, k, nf, nk, sy, bk, kk, nx in sorted(out, key=lambda x: -x[0]):
        print(f"{v:22s} b0 {b:7.3f} | fit " + "/".join(f"{x:.3f}" for x in f) + f" nulls {nf[0]:.2f}/{nf[1]:.2f}"
              + " | check " + "/".join(f"{x:.3f}" for x in k) + f" nulls {nk[0]:.2f}/{nk[1]:.2f} | syn {sy:.2f}"
              + f" | xnull {nx[0]:.2f}/{nx[1]:.2f} | check at its own equal nulls b0 {bk:.3f}: "
              + "/".join(f"{x:.3f}" for x in kk))


def trade_curve(rows: list, syn: dict, names: list, window: float = 0.25) -> None:
    """Each variant's F1 against its nothing-found shares, bar by bar (at every null score within
    `window` of its equal-null bar): to compare variants at truly equal nulls, not only at the
    93% / 92% criterion."""
    base = [r for r in rows if r["draw"] != "xnull"]
    for v in names:
        b0 = equal_null_bar(base, syn[v], v)
        print(f"{v}: bar | distinct nulls bdev+dev+wide, all with xnull, one voice of all | synthetic | "
              "F1 one_few/one_many/vpw_few/vpw_many | wide vpw_many")
        sigs = sorted({float(r["var"][v][1]) for r in rows if r["cond"] == "distinct" and r["fixed"] is None}
                      | {float(x) for x in syn[v]})
        for s in sigs:
            if abs(s - b0) > window:
                continue
            b = float(np.nextafter(s, np.inf))
            d = [np.mean([_value(r, v, b) for r in rs if r["cond"] == "distinct"])
                 for rs in (base, rows, [r for r in rows if r["one_voice"]])]
            f = [np.mean([_value(r, v, b) for r in rows if r["cond"] == c]) for c in CONDS]
            w = np.mean([_value(r, v, b) for r in rows if r["cond"] == "vpw_many" and r["draw"] == "wide"])
            print(f"  {b:7.3f} | " + " ".join(f"{x:.3f}" for x in d) + f" | {np.mean(syn[v] < b):.2f} | "
                  + "/".join(f"{x:.3f}" for x in f) + f" | {w:.3f}" + ("  <- equal nulls" if b == b0 else ""))


def _iou(a, b) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / max(1, max(a[1], b[1]) - min(a[0], b[0]))


def pair_diagnostic(front: str, kinds=("half", "rev", "flip")) -> None:
    """Does the decoy contrast separate a word's repeats from other words better than D does?

    On the draws' many-distractor recordings (each other word used once) and one-voice
    all-distinct-word nulls: segments overlapping a true instance (IoU >= 0.5) are the target.
    Per recording, AUC = P(a target-target pair is nearer than a target-other pair), and 1-NN =
    share of target segments whose nearest segment is a target; pooled medians of each
    distance relative to the recording's median pair, per pair class.
    """
    forms = ["D"] + [f"{f}_{k}" for k in kinds for f in ("ratio", "self")]
    auc: dict = {}
    nn: dict = {}
    rel: dict = {}
    corr: dict = {}
    ratios: dict = {}
    for name, cond, X, truth, lo, hi in draws(front):
        if cond not in ("one_many", "vpw_many", "distinct"):
            continue
        c = Case(np.asarray(X, np.float64), lo, hi, kinds)
        if len(c.s) < 4:
            continue
        tgt = np.array([any(_iou((a, b), t) >= 0.5 for t in truth) for a, b in zip(c.s, c.e)])
        off = ~np.eye(len(c.s), dtype=bool)
        Rh = 0.5 * (c.R[kinds[0]] + c.R[kinds[0]].T)
        raw = c.D / Rh               # not relative to the recording: D against its cross-decoy distance
        if cond == "distinct":
            ratios.setdefault("null pairs (other words)", []).extend(raw[off].tolist())
        elif tgt.sum() >= 2:
            ratios.setdefault(f"{cond} same word", []).extend(raw[np.ix_(tgt, tgt)][~np.eye(tgt.sum(), dtype=bool)])
            ratios.setdefault(f"{cond} target vs other", []).extend(raw[np.ix_(tgt, ~tgt)].ravel().tolist())
        for f in forms:
            M = c.D if f == "D" else _contrast(c, *f.split("_"))[0]
            M = M / np.median(M[off])
            if cond == "distinct":
                rel.setdefault((f, "null pairs (other words)"), []).extend(M[off].tolist())
                if f != "D":          # how much of log D the decoy distances share, within a recording
                    k = f.split("_")[1]
                    Rs = 0.5 * (c.R[k] + c.R[k].T)
                    corr.setdefault(k, []).append(float(np.corrcoef(np.log(c.D[off]), np.log(Rs[off]))[0, 1]))
                continue
            if tgt.sum() < 2:
                continue
            tt = M[np.ix_(tgt, tgt)][~np.eye(tgt.sum(), dtype=bool)]
            to = M[np.ix_(tgt, ~tgt)].ravel()
            auc.setdefault((f, cond), []).append(float(np.mean(tt[:, None] < to[None, :])))
            Mi = M + np.diag(np.full(len(M), np.inf))
            nn.setdefault((f, cond), []).extend(tgt[np.argmin(Mi[tgt], axis=1)].tolist())
            rel.setdefault((f, f"{cond} same word"), []).extend(tt.tolist())
            rel.setdefault((f, f"{cond} target vs other"), []).extend(to.tolist())
    print(f"front {front}: per-recording AUC (median) and 1-NN of target segments, many distractors")
    for f in forms:
        cells = " | ".join(f"{cond} AUC {np.median(auc[(f, cond)]):.3f} 1-NN {np.mean(nn[(f, cond)]):.2f}"
                           for cond in ("one_many", "vpw_many"))
        meds = " ".join(f"{k[1]} {np.median(v):.2f}" for k, v in rel.items() if k[0] == f)
        lg = {k[1]: np.log(np.maximum(v, 1e-12)) for k, v in rel.items() if k[0] == f}
        null = lg["null pairs (other words)"]
        dprime = " ".join(f"{cond} {(np.median(lg[f'{cond} target vs other']) - np.median(lg[f'{cond} same word'])) / null.std():.2f}"
                          for cond in ("one_many", "vpw_many"))
        print(f"{f:12s} {cells} | median / recording median: {meds} | null pairs: sd of log {null.std():.3f}, "
              f"5% quantile {np.exp(np.quantile(null, 0.05)):.2f} | same-word gap in null sds: {dprime}")
    print("null recordings, correlation of log D and log of the mean cross-decoy distance over pairs (median): "
          + " ".join(f"{k} {np.median(v):.2f}" for k, v in corr.items()))
    print(f"D / mean cross-decoy distance ({kinds[0]}), median [10%, 90%]: "
          + "; ".join(f"{k} {np.median(v):.2f} [{np.quantile(v, 0.1):.2f}, {np.quantile(v, 0.9):.2f}]"
                      for k, v in ratios.items()))
    print("(log distances relative to each recording's median pair; a decoy contrast helps if it narrows the "
          "null pairs' spread more than the same-word gap)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", default="1.0,1.1,1.2")
    ap.add_argument("--front", default="mfcc", choices=sorted(FRONTS))
    ap.add_argument("--variants", default="kept",
                    help="comma-separated: kept, or FORM_KIND[_sig|_ext] with FORM in ratio, rmin, pow05, self, "
                         "subC (e.g. sub0.5), dout, doutown (members' decoys as outsiders; whole or _sig) and KIND "
                         "in half, third, rev, flip")
    ap.add_argument("--pairs", action="store_true", help="pair diagnostic of the decoy contrast (no search)")
    ap.add_argument("--out", default="", help="also write what is printed to this file")
    ap.add_argument("--cache", default="", help="pickle of the recordings' segments and distances (read if it "
                    "exists, else written; only without decoy kinds)")
    ap.add_argument("--select", action="store_true", help="choose the variant's bar on bdev+dev, read it on wide")
    ap.add_argument("--extra-nulls", type=int, default=0, help="more all-distinct-word recordings (draw xnull, "
                    "seeds 9900+, never fitted on); use another --cache file with it")
    ap.add_argument("--curve", action="store_true", help="each variant's F1 against its nulls, bar by bar")
    ap.add_argument("--homog", action="store_true", help="homogeneity diagnostic (adaptive bar, session 12)")
    ap.add_argument("--only-vdev", action="store_true", help="the vdev draw instead of bdev/dev/wide (its own "
                    "--cache file; its rows print in the wide column)")
    args = ap.parse_args(argv)
    with tee_output(args.out, f"dev_extract_groups.py {' '.join(argv if argv is not None else sys.argv[1:])}"):
        run(args)
    return 0


def group_f1(rec: dict, c, m: np.ndarray, n: int | None = None) -> float:
    """F1@.5 of group members m of case c (cut to the recording's length range) against its truth;
    0 on an all-distinct recording or for fewer than 2 members. n: the series length (rec["n"])."""
    if rec["cond"] == "distinct" or len(m) < 2:
        return 0.0
    s, e = extract._fit_range(c.s[m], c.e[m], rec["lo"], rec["hi"], rec["n"] if n is None else n)
    return interval_f1(list(zip(s.tolist(), e.tolist())), rec["truth"], 0.5)


def recordings(front: str, kinds, cache: str = "", extra_nulls: int = 0, only: str = ""):
    """Every draw recording as a dict (draw, cond, one_voice, fixed, case, lo, hi, n, truth), and the
    synthetic nulls' cases; with cache (and no decoy kinds), read from / written to that pickle.
    only: the vdev or vtrain draw instead (see draws; give it its own cache file)."""
    if cache and not kinds and Path(cache).exists():
        with open(cache, "rb") as f:
            return pickle.load(f)
    recs: list = []
    n_distinct: dict = {}
    for name, cond, X, truth, lo, hi in draws(front, extra_nulls, only):
        X = np.asarray(X, np.float64)
        c = Case(X, lo, hi, kinds)
        on_segments = c.coverage >= segments.MIN_COVERAGE and len(c.s) >= 3
        rec = {"draw": name, "cond": cond, "fixed": None, "one_voice": None, "case": c, "lo": lo, "hi": hi,
               "n": len(X), "truth": truth}
        if cond == "distinct":                    # draws() alternates one voice / a voice per word
            rec["one_voice"] = n_distinct.get(name, 0) % 2 == 0
            n_distinct[name] = n_distinct.get(name, 0) + 1
        if not on_segments:                       # the shapelet search decides: fixed by the bar here
            h = extract.find_instances(X, lo, hi, random_state=0)
            other = list(zip(h.starts.tolist(), h.ends.tolist()))
            rec["fixed"] = float(len(other) == 0) if cond == "distinct" else interval_f1(other, truth, 0.5)
        recs.append(rec)
    out = (recs, list(synthetic_cases(kinds)))
    if cache and not kinds:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        with open(cache, "wb") as f:
            pickle.dump(out, f)
    return out


def _auc(a, b) -> float:
    """P(a value from a > a value from b), ties half."""
    a, b = np.asarray(a, float)[:, None], np.asarray(b, float)[None, :]
    return float(np.mean((a > b) + 0.5 * (a == b))) if a.size and b.size else float("nan")


def homog_diagnostic(recs: list, syn_cases: list) -> None:
    """Does a homogeneity statistic h separate one-voice from voice-per-word recordings, and do the
    nulls' best-group scores rise with it? Per statistic: h per class (median [10%, 90%]), the AUC of
    one-voice against voice-per-word nulls, and the Spearman correlation of h with the best score."""
    def rank(x):
        return np.argsort(np.argsort(x)).astype(float)

    classes: dict = {}
    for rec in recs:
        if rec["fixed"] is not None:
            continue
        key = (f"null {'one' if rec['one_voice'] else 'vpw'}" if rec["cond"] == "distinct" else rec["cond"])
        classes.setdefault(key, []).append(rec["case"])
    classes["synthetic"] = syn_cases
    print("homogeneity per class: median [10%, 90%]; kept best score median [10%, 90%]")
    print("  score: " + "; ".join(
        f"{k} {np.median([_kept(c)[1] for c in v]):.2f} [{np.quantile([_kept(c)[1] for c in v], 0.1):.2f}, "
        f"{np.quantile([_kept(c)[1] for c in v], 0.9):.2f}] n={len(v)}" for k, v in classes.items()))
    for stat in HOMOG_STATS:
        h = {k: np.array([homogeneity(c.D, c.R0, stat, _kept(c)[0]) for c in v]) for k, v in classes.items()}
        z = {k: np.array([_kept(c)[1] for c in v]) for k, v in classes.items()}
        hn = np.concatenate([h["null one"], h["null vpw"]])
        zn = np.concatenate([z["null one"], z["null vpw"]])
        rho = float(np.corrcoef(rank(hn), rank(zn))[0, 1])
        rho1 = float(np.corrcoef(rank(h["null one"]), rank(z["null one"]))[0, 1])
        slope = float(np.polyfit(hn, zn, 1)[0])
        print(f"  {stat:5s} " + "; ".join(f"{k} {np.median(v):.3f} [{np.quantile(v, 0.1):.3f}, {np.quantile(v, 0.9):.3f}]"
                                       for k, v in h.items())
              + f" | AUC null one > vpw {_auc(h['null one'], h['null vpw']):.2f}; one_many > vpw_many "
              f"{_auc(h['one_many'], h['vpw_many']):.2f}; null vpw > vpw_many {_auc(h['null vpw'], h['vpw_many']):.2f}"
              f" | nulls: Spearman(h, score) {rho:.2f} (one-voice only {rho1:.2f}), slope {slope:.2f}")


def run(args) -> None:
    """Print the tables main() describes."""
    if args.pairs:
        pair_diagnostic(args.front)
        return
    bars = [float(b) for b in args.bars.split(",")]
    names = args.variants.split(",")
    kinds = kinds_of(names)
    recs, syn_cases = recordings(args.front, kinds, args.cache, args.extra_nulls, "vdev" if args.only_vdev else "")
    if args.only_vdev:                  # the tables' columns are bdev/dev/wide
        for rec in recs:
            rec["draw"] = "wide"
    cpu_d, cpu_r, secs = 0.0, {k: 0.0 for k in kinds}, 0.0
    rows: list = []
    for rec in recs:
        c = rec["case"]
        cpu_d += c.cpu_d
        secs += rec["n"] * B.HOP_S
        for k in kinds:
            cpu_r[k] += c.cpu_r[k]
        rows.append(row_of(rec, names))
    if args.homog:
        homog_diagnostic(recs, syn_cases)
    syn = synthetic_nulls(names, syn_cases)
    if args.select:
        select_rule(rows, syn, names)
    if args.curve:
        trade_curve(rows, syn, names)
    print(f"front {args.front}; F1@.5 per draw bdev/dev/wide (pooled); distinct: nothing found")
    for v in names:
        for bar in bars:
            print(table(rows, syn[v], v, bar))
        print(table(rows, syn[v], v, equal_null_bar([r for r in rows if r["draw"] != "xnull"], syn[v], v)),
              " <- equal nulls")
        if any(r["draw"] == "xnull" for r in rows):
            print(table(rows, syn[v], v, equal_null_bar(rows, syn[v], v)), " <- equal nulls, xnull pooled in")
    n = {c: "/".join(str(sum(r["cond"] == c and r["draw"] == d for r in rows)) for d in ("bdev", "dev", "wide"))
         for c in (*CONDS, "distinct")}
    print("recordings per cell (bdev/dev/wide):", n, "synthetic:", len(syn[names[0]]))
    print(f"CPU per 10 s of audio: D + R0 {10 * cpu_d / secs:.4f} s"
          + "".join(f"; warped decoys {k} +{10 * cpu_r[k] / secs:.4f} s" for k in kinds))


if __name__ == "__main__":
    sys.exit(main())
