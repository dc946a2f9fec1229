"""Development yardstick for the segment search's grouping (issue 14): dev speakers only.

Evaluates `tenfold.segments.find_group` at several group-score bars on three development draws
(never the held-out speakers or seeds of bench_extract.py):
  bdev  the benchmark's own dev draw (DEV_SPEAKERS, seeds 1xx, 20 recordings per condition),
  dev   DEV_SPEAKERS, seeds 93xx (8-20 per condition),
  wide  DEV_SPEAKERS plus 10 other espeak-ng voices (WIDE_EXTRA, none in the held-out pool),
        seeds 95xx (16-40 per condition): closer to the held-out pool's variety.
plus "nothing found" on all-distinct-word recordings of each draw and on synthetic 3-D series of
16 distinct events (tenfold.datasets.events_in_noise, seeds 4-53).

    python benchmarks/dev_extract_groups.py [--bars 1.0,1.1,1.2]

Prints F1@IoU.5 per condition and draw (bdev/dev/wide) and the nothing-found shares per bar.
Tune on this, report on bench_extract.py's held-out set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_extract as B  # noqa: E402

from tenfold import audio, extract, segments  # noqa: E402
from tenfold.datasets import event_shapes, events_in_noise  # noqa: E402
from tenfold.metrics import interval_f1  # noqa: E402

WIDE_EXTRA = [("espeak", v) for v in (
    "en-gb-x-gbcwmd", "en-gb-x-gbcwmd+m6", "en-gb-x-gbcwmd+f5", "en-gb-x-gbcwmd+klatt",
    "en-us+m4", "en-us+m7", "en-us+klatt3", "en-us+f5", "en-029+klatt2", "en-gb-x-rp+m6")]
CONDS = {"one_few": (False, False), "one_many": (False, True), "vpw_few": (True, False), "vpw_many": (True, True)}


def draws():
    """(draw, condition, X, truth, lo, hi) for every development recording."""
    assert not set(WIDE_EXTRA) & set(B.HELDOUT_SPEAKERS)
    for ci, (cond, (vpw, many)) in enumerate(CONDS.items()):          # the benchmark's dev draw
        rng = np.random.default_rng(100 + ci)
        for _ in range(20):
            rec = B.make_recording(rng, B.DEV_SPEAKERS, int(rng.integers(3, 9)), voice_per_word=vpw, many=many)
            yield ("bdev", cond, audio.mfcc(rec.audio, B.SR), rec.truth, *B.ranges(rec.truth)["0.7/1.3"])
            if vpw and not many:                                       # keep bench_set's rng sequence
                B.make_recording(rng, B.DEV_SPEAKERS, int(rng.integers(2, 6)), voice_per_word=True, many=False,
                                 target=rec.target, exclude=set(rec.speakers))
    rng = np.random.default_rng(150)
    for i in range(20):
        rec = B.make_recording(rng, B.DEV_SPEAKERS, 0, voice_per_word=bool(i % 2), many=True, distinct_only=True)
        hi = int(rng.integers(40, 90))
        yield ("bdev", "distinct", audio.mfcc(rec.audio, B.SR), [], int(0.7 * hi / 1.3), hi)
        rng.uniform(5, 20)                                             # bench_nothing's noise length draw
    sizes = {"one_few": 16, "one_many": 20, "vpw_few": 30, "vpw_many": 40}
    for name, pool, base, scale in (("dev", B.DEV_SPEAKERS, 93, 2), ("wide", B.DEV_SPEAKERS + WIDE_EXTRA, 95, 1)):
        for ci, cond in enumerate(("vpw_few", "vpw_many", "one_many", "one_few")):   # seed order
            vpw, many = CONDS[cond]
            rng = np.random.default_rng(base * 100 + ci)
            for _ in range(sizes[cond] // scale):
                rec = B.make_recording(rng, pool, int(rng.integers(3, 9)), voice_per_word=vpw, many=many)
                yield (name, cond, audio.mfcc(rec.audio, B.SR), rec.truth, *B.ranges(rec.truth)["0.7/1.3"])
        rng = np.random.default_rng(base * 100 + 50)
        for i in range(20 if name == "dev" else 30):
            rec = B.make_recording(rng, pool, 0, voice_per_word=bool(i % 2), many=True, distinct_only=True)
            hi = int(rng.integers(40, 90))
            yield (name, "distinct", audio.mfcc(rec.audio, B.SR), [], int(0.7 * hi / 1.3), hi)


def synthetic_nulls():
    """Significance of the best group in 3-D series of 16 distinct events (the tests' generator)."""
    out = []
    for seed in range(4, 54):
        rng = np.random.default_rng(seed)
        X, _ = events_in_noise(rng, event_shapes(rng, 16), list(range(16)))
        out.append(segments.find_group(X, 25, 60).significance)
    return np.array(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", default="1.0,1.1,1.2")
    args = ap.parse_args(argv)
    bars = [float(b) for b in args.bars.split(",")]
    res: dict = {}
    for name, cond, X, truth, lo, hi in draws():
        X = np.asarray(X, np.float64)
        g = segments.find_group(X, lo, hi)
        on_segments = g.coverage >= segments.MIN_COVERAGE and len(g.seg_starts) >= 3
        other = None
        if not on_segments:                       # the shapelet search decides: fixed by the bar here
            h = extract.find_instances(X, lo, hi, random_state=0)
            other = list(zip(h.starts.tolist(), h.ends.tolist()))
        for bar in bars:
            if other is not None:
                pred = other
            elif len(g.members) >= 2 and g.significance >= bar:
                s, e = extract._fit_range(g.starts, g.ends, lo, hi, len(X))
                pred = list(zip(s.tolist(), e.tolist()))
            else:
                pred = []
            v = float(len(pred) == 0) if cond == "distinct" else interval_f1(pred, truth, 0.5)
            res.setdefault(bar, {}).setdefault(cond, {}).setdefault(name, []).append(v)
    syn = synthetic_nulls()
    for bar in bars:
        cells = " ".join(f"{c} " + "/".join(f"{np.mean(d[n]):.2f}" for n in ("bdev", "dev", "wide"))
                         for c, d in res[bar].items())
        print(f"bar {bar:.2f} | {cells} | synthetic 3-D distinct events: nothing found {np.mean(syn < bar):.2f}")
    n = {c: "/".join(str(len(d[k])) for k in ("bdev", "dev", "wide")) for c, d in res[bars[0]].items()}
    print("recordings per cell (bdev/dev/wide):", n, "synthetic:", len(syn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
