"""Issue 14, session 13 (helper rasta-seg): segments compared by their time course with the slow drift removed.

Segmentation stays on the series as it is (segments.segment_activity unchanged); only the rows that
the distances compare (segments.segment_features) are filtered in time, inside each segment, the
filter restarted at the segment's first row (no tail from the previous event). Variants of the
static part (the slopes over +-2 rows are kept as they are unless said):

  kept          segment_features as on main
  rastaP        RASTA-like IIR band-pass (numerator 0.2, 0.1, 0, -0.1, -0.2; pole P, e.g. 0.94:
                time constant 1 / (1 - P) ~ 17 rows) on each dimension of the segment's rows, the
                rows before the segment taken equal to its first row (zero initial state)
  hpW           high-pass: each row minus the centred moving average over W rows (within the segment,
                edge rows repeated)
  detrend       per-segment least-squares line removed from each dimension (detrend2: a parabola)
  sumX          X + the filtered rows (X one of the above), i.e. the drift halved
  catX          today's static part, X's static part and the slopes side by side
  X_fslope      X with the slopes taken of the filtered rows too
  X_wide        X on series with at least FEATURE_WARP_MIN_DIMS dimensions (an ordered axis), kept below

Every variant's D (warped_distances) and decoy distances R0 are computed with segment_features
swapped for the variant (so find_group, decoys and the feature-axis stretches all see it), on the
same recordings as dev_extract_groups.py (bdev/dev/wide, 70 distinct-word nulls, --extra-nulls fresh
nulls, 50 synthetic 3-D nulls). Each variant is read at its equal-null bar twice: as the fixed bar
(group score alone) and as main's adaptive bar (score + ADAPTIVE_BAR_SLOPE x neighbour_contrast,
i.e. dev_extract_groups' adapt_nn_-2.5, whose bar b0 = 1.1 + 2.5 x 0.73 = 2.925 on main).

    python benchmarks/dev_rasta_seg.py --front bands --variants kept,rasta0.94,hp20,detrend \
        --extra-nulls 80 --out benchmarks/results/rasta_seg/bands.txt

--vdev (session 16): each variant's b0 from the dev draws, read on the voice-disjoint vdev draw;
there a variant may be "ROWS+warpsW" or "warpsW": the feature-axis stretches widened to +-0.1 ... +-W.

Caches (benchmarks/.cache/rasta_seg_*): the feature rows per recording (per front), and each
variant's segments and distances (per front and variant). Dev draws only: tune here.
"""

from __future__ import annotations

import argparse
import contextlib
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as B
import dev_extract_groups as G
from _common import tee_output

from tenfold import extract, segments
from tenfold.metrics import interval_f1

CACHE = Path(__file__).parent / ".cache"
_ORIGINAL = segments.segment_features
RASTA_NUM = np.array([0.2, 0.1, 0.0, -0.1, -0.2])   # the RASTA numerator: a slope over +-2 rows


def _rasta(seg: np.ndarray, pole: float) -> np.ndarray:
    """Causal RASTA band-pass along rows, the rows before the first equal to it (zero state)."""
    return lfilter(RASTA_NUM, np.array([1.0, -pole]), seg - seg[:1], axis=0)


def _hp(seg: np.ndarray, w: int) -> np.ndarray:
    return seg - segments._smooth(seg, min(w, len(seg)))


def _detrend(seg: np.ndarray, order: int = 1) -> np.ndarray:
    """The least-squares polynomial of `order` in the row index removed from each dimension."""
    n = len(seg)
    if n <= order:
        return seg - seg.mean(axis=0)
    t = np.linspace(-1.0, 1.0, n)
    V = np.vander(t, order + 1)
    coef, *_ = np.linalg.lstsq(V, seg, rcond=None)
    return seg - V @ coef


def _filter_of(name: str):
    if name.startswith("rasta"):
        p = float(name[5:])
        return lambda seg: _rasta(seg, p)
    if name.startswith("hp"):
        w = int(name[2:])
        return lambda seg: _hp(seg, w)
    if name.startswith("detrend"):
        order = int(name[7:] or 1)
        return lambda seg: _detrend(seg, order)
    raise ValueError(name)


def _slopes(seg: np.ndarray) -> np.ndarray:
    P = np.pad(seg, ((2, 2), (0, 0)), mode="edge")
    n = len(seg)
    return (P[3:3 + n] - P[1:1 + n] + 2 * (P[4:4 + n] - P[0:n])) / 10.0


def make_features(name: str):
    """A segment_features replacement for variant `name` (see the module docstring)."""
    if name == "kept":
        return _ORIGINAL
    wide_only = name.endswith("_wide")
    name = name[:-len("_wide")] if wide_only else name
    fslope = name.endswith("_fslope")
    base = name[:-len("_fslope")] if fslope else name
    mode = "sum" if base.startswith("sum") else "cat" if base.startswith("cat") else "plain"
    filt = _filter_of(base[3:] if mode != "plain" else base)

    def feats(X: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        Y = segments._scale(np.asarray(X, dtype=np.float64))
        d = Y.shape[1]
        if wide_only and np.asarray(X).shape[1] < segments.FEATURE_WARP_MIN_DIMS:
            return _ORIGINAL(X, starts, ends)
        P = np.pad(Y, ((2, 2), (0, 0)), mode="edge")
        n = len(Y)
        dY = (P[3:3 + n] - P[1:1 + n] + 2 * (P[4:4 + n] - P[0:n])) / 10.0
        Z = np.zeros((n, (3 if mode == "cat" else 2) * d))
        for s, e in zip(starts, ends):
            raw = Y[s:e]
            f = filt(raw)
            if mode == "sum":
                f = raw + f
            seg = f - f.mean(axis=0)
            Z[s:e, :d] = seg / (seg.std(axis=0) + segments.SEGMENT_SD_FLOOR)
            col = d
            if mode == "cat":
                r0 = raw - raw.mean(axis=0)
                Z[s:e, d:2 * d] = Z[s:e, :d]
                Z[s:e, :d] = r0 / (r0.std(axis=0) + segments.SEGMENT_SD_FLOOR)
                col = 2 * d
            sl = _slopes(f) if fslope else dY[s:e]
            Z[s:e, col:] = sl / (sl.std(axis=0) + segments.SLOPE_SD_FLOOR)
        return Z

    return feats


@contextlib.contextmanager
def features_swapped(name: str):
    segments.segment_features = make_features(name)
    try:
        yield
    finally:
        segments.segment_features = _ORIGINAL


def base_records(front: str, extra_nulls: int, only: str = "") -> list:
    """Per recording: draw, cond, one_voice, fixed (the shapelet search's result where the segment
    search does not apply: the same for every variant, segmentation being unchanged), X, truth, lo, hi.
    only: dev_extract_groups' vdev or vtrain draw instead."""
    path = CACHE / (f"rasta_seg_X_{front}_{only}.pkl" if only else f"rasta_seg_X_{front}_{extra_nulls}.pkl")
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    out, n_distinct = [], {}
    for name, cond, X, truth, lo, hi in G.draws(front, extra_nulls, only):
        X = np.asarray(X, np.float64)
        s, _, cov = segments.segment_activity(X, lo, hi)
        rec = {"draw": name, "cond": cond, "fixed": None, "one_voice": None, "X": X, "lo": lo, "hi": hi,
               "truth": truth}
        if cond == "distinct":
            rec["one_voice"] = n_distinct.get(name, 0) % 2 == 0
            n_distinct[name] = n_distinct.get(name, 0) + 1
        if not (cov >= segments.MIN_COVERAGE and len(s) >= 3):
            h = extract.find_instances(X, lo, hi, random_state=0)
            other = list(zip(h.starts.tolist(), h.ends.tolist()))
            rec["fixed"] = float(len(other) == 0) if cond == "distinct" else interval_f1(other, truth, 0.5)
        out.append(rec)
    CACHE.mkdir(exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(out, f)
    return out


class Slim:
    """What a Case holds that the search needs (s, e, D, R0), computed with the swapped features."""

    def __init__(self, X, lo, hi):
        c = G.Case(X, lo, hi)
        self.s, self.e, self.D, self.R0, self.cpu_d = c.s, c.e, c.D, c.R0, c.cpu_d
        self.kept = None


def variant_cases(front: str, extra_nulls: int, name: str, recs: list, rows: str | None = None) -> tuple[list, list]:
    """Each recording's Slim case (and the 50 synthetic nulls') for variant name, cached; rows: the
    segment_features variant to swap in (default: name itself)."""
    path = CACHE / f"rasta_seg_{front}_{extra_nulls}_{name}.pkl"
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    with features_swapped(rows or name):
        cases = [Slim(r["X"], r["lo"], r["hi"]) if r["fixed"] is None else None for r in recs]
        syn = []
        for seed in range(4, 54):
            rng = np.random.default_rng(seed)
            X, _ = G.events_in_noise(rng, G.event_shapes(rng, 16), list(range(16)))
            syn.append(Slim(X, 25, 60))
    out = (cases, syn)
    with open(path, "wb") as f:
        pickle.dump(out, f)
    return out


def _sig(c, rule: str) -> tuple[np.ndarray, float]:
    if len(c.D) < 2:
        return np.zeros(0, np.int64), 0.0
    if c.kept is None:
        c.kept = segments.best_group(c.D, c.R0)
    m, z = c.kept
    if rule == "adaptive":     # z >= 1.1 + 2.5 (0.73 - contrast)  <=>  z + 2.5 contrast >= 2.925
        z = z + segments.ADAPTIVE_BAR_SLOPE * segments.neighbour_contrast(c.D)
    elif rule.startswith("slope"):   # another adaptive slope (its b0 found at equal nulls)
        z = z + float(rule[5:]) * segments.neighbour_contrast(c.D)
    return m, float(z)


def run(args) -> None:
    recs = base_records(args.front, args.extra_nulls)
    names = args.variants.split(",")
    rules = ["fixed", "adaptive"] + [f"slope{b}" for b in args.slopes.split(",") if b]
    rows = [{k: r[k] for k in ("draw", "cond", "fixed", "one_voice")} | {"var": {}} for r in recs]
    syn: dict = {}
    cpu: dict = {}
    secs = sum(len(r["X"]) for r in recs) * B.HOP_S
    for name in names:
        t0 = time.time()
        cases, syn_cases = variant_cases(args.front, args.extra_nulls, name, recs)
        cpu[name] = sum(c.cpu_d for c in cases if c is not None)
        for rule in rules:
            v = f"{name}/{rule}"
            for r, rec, c in zip(rows, recs, cases):
                if c is None:
                    continue
                m, sig = _sig(c, rule)
                f1 = G.group_f1(rec, c, m, len(rec["X"]))
                r["var"][v] = (m, sig, f1)
            syn[v] = np.array([_sig(c, rule)[1] for c in syn_cases])
        print(f"[{name}: {time.time() - t0:.0f} s]", file=sys.stderr)
    vs = [f"{n}/{rule}" for rule in rules for n in names]
    G.equal_null_tables(rows, syn, vs, args.front, args.extra_nulls)
    print(f"paired against {names[0]}, each at its equal-null bar (adaptive rule): mean F1 difference (se), "
          "recordings better/worse")
    print("\n".join(G.paired_lines(rows, syn, f"{names[0]}/adaptive", [f"{name}/adaptive" for name in names[1:]])))
    if args.select:
        G.select_rule(rows, syn, vs)
    print("main's bars (fixed 1.1; adaptive b0 2.925):")
    for v in vs[:2 * len(names)]:
        print(G.table(rows, syn[v], v, segments.MIN_SIGNIFICANCE if v.endswith("fixed") else
                      segments.MIN_SIGNIFICANCE + segments.ADAPTIVE_BAR_SLOPE * segments.ADAPTIVE_BAR_REFERENCE))
    if args.curve:
        G.trade_curve(rows, syn, vs)
    print(G.cell_counts(rows))
    print("CPU per 10 s of audio, D + R0: " + "; ".join(f"{k} {10 * v / secs:.4f} s" for k, v in cpu.items()))


def check_match(names: list, n: int, out: str) -> None:
    """match() on dev_match_cands' dev pairs (eval_bands: seed0 1 with n pairs, 7/8/9 with 30) and its dev
    null pairs, then bench_extract_match_null.py's dev seeds (generic 3-D / walks / gestures), per variant."""
    import bench_extract_match_null as MN
    import dev_match_cands as MC
    sets = {s: MC.pairs(s, n if s == 1 else 30, "eval_bands") for s in MC.DEV_SEED0S}
    nulls = [q for s in MC.NULL_SEEDS for q in MC.null_pairs(s, n if s == 160 else 40, "eval_bands")]
    for name in names:
        with features_swapped(name):
            cells = []
            for s, P in sets.items():
                f1, _ = MC.evaluate(P, [])   # (the empty null list gives a NaN share, unused)
                cells.append(f"seed0 {s} {f1:.3f}")
            f1, empty = MC.evaluate([p for P in sets.values() for p in P], nulls)
            print(f"match() eval_bands {name}: F1@.5 pooled {f1:.3f} ({'; '.join(cells)}) | null pairs nothing found "
                  f"{empty:.1%} of {len(nulls)}")
            MN.main(["--seeds", "40", "--first", "0", "--out", out, "--tag", f"match_null_dev_{name}"])


@contextlib.contextmanager
def warps_of(name: str):
    """A variant "ROWS+warpsW" (session 16): the segment rows ROWS (a name above; "kept" if absent) with
    segments.FEATURE_WARPS widened to +-0.1, +-0.2, ... +-W. Yields ROWS."""
    rows, _, w = name.partition("+warps")
    if not w and rows.startswith("warps"):
        rows, w = "kept", rows[len("warps"):]
    old = segments.FEATURE_WARPS
    if w:
        steps = np.arange(1, round(float(w) / 0.1) + 1) * 0.1
        segments.FEATURE_WARPS = tuple(np.round(np.r_[-steps[::-1], steps], 2))
    try:
        yield rows or "kept"
    finally:
        segments.FEATURE_WARPS = old


def check_vdev(front: str, names: list) -> None:
    """Session 16: each variant's adaptive-bar b0 at equal nulls on the dev draws (bdev/dev/wide and the
    50 synthetic nulls), read on the vdev draw (dev_extract_groups.VDEV_SPEAKERS)."""
    import dev_learned_group as LG
    recs, vrecs = base_records(front, 0), base_records(front, 0, "vdev")

    def rows(rs, cs):
        out = []
        for r, c in zip(rs, cs):
            if c is not None and len(c.D) >= 2:
                m, z = _sig(c, "adaptive")
                f1 = 0.0 if r["cond"] == "distinct" else G.group_f1({**r, "n": len(r["X"])}, c, m)
                out.append((r["draw"], r["cond"], z, f1))
        return out

    print(f"front {front}; b0 at equal nulls on the dev draws, read on vdev ({len(vrecs)} recordings)")
    for name in names:
        with warps_of(name) as rows_name:
            cases, syn = variant_cases(front, 0, name, recs, rows_name)
            with features_swapped(rows_name):
                vcases = [Slim(r["X"], r["lo"], r["hi"]) if r["fixed"] is None else None for r in vrecs]
        dev_rows = rows(recs, cases) + [("syn_fit", "distinct", _sig(c, "adaptive")[1], 0.0) for c in syn]
        v_rows = rows(vrecs, vcases)
        b = LG.equal_null_bar(dev_rows, {"bdev", "dev", "wide", "syn_fit"})
        print(f"{name:12s} b0 {b:.3f} | dev " + " ".join(f"{c} {LG._cond_mean(dev_rows, c, b):.3f}" for c in G.CONDS)
              + " | vdev " + " ".join(f"{c} {LG._cond_mean(v_rows, c, b):.3f}" for c in G.CONDS)
              + f", nulls nothing found {np.mean([LG._value(x, b) for x in v_rows if x[1] == 'distinct']):.2f}"
              + f" | vdev no bar vpw_many {LG._cond_mean(v_rows, 'vpw_many', -np.inf):.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--front", default="bands", choices=sorted(G.FRONTS))
    ap.add_argument("--variants", default="kept,rasta0.94,hp20,detrend")
    ap.add_argument("--extra-nulls", type=int, default=80)
    ap.add_argument("--curve", action="store_true")
    ap.add_argument("--slopes", default="", help="other adaptive-bar slopes, comma-separated (e.g. 1.5,3.5)")
    ap.add_argument("--select", action="store_true", help="each rule's b0 chosen on bdev+dev, read on wide "
                    "(dev_extract_groups.select_rule)")
    ap.add_argument("--out", default="")
    ap.add_argument("--vdev", action="store_true", help="instead: each variant's b0 from the dev draws, read on vdev")
    ap.add_argument("--match", type=int, default=0, help="instead: match() on N dev pairs of dev_match_cands and "
                    "bench_extract_match_null's dev seeds, per variant (files beside --out)")
    args = ap.parse_args(argv)
    with tee_output(args.out, f"dev_rasta_seg.py {' '.join(argv if argv is not None else sys.argv[1:])}"):
        if args.vdev:
            check_vdev(args.front, args.variants.split(","))
        elif args.match:
            check_match(args.variants.split(","), args.match, str(Path(args.out or "benchmarks/results/rasta_seg/x").parent))
        else:
            run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
