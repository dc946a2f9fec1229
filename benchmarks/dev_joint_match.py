"""Diagnostic (issue 14, session 16): match() by joint discovery instead of templates.

For each dev pair of dev_match_cands.py (training recording, the same word by other voices; seeds
DEV_SEED0S, --n per seed, eval_bands features), find_instances runs on the two series joined by a
quiet gap (GAP rows of the training series' quietest row), and the instances that fall in the new
series' part are its matches. "joint, overlapping" keeps them only when a training-side instance
overlaps one reported on the training series alone (IoU >= 0.5; no condition when that reported
nothing). Null pairs: two all-distinct-word recordings (NULL_SEEDS); their words may recur across the
two, which the template match() does not look for and joint discovery finds.

    python benchmarks/dev_joint_match.py [--n 40] [--out F]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import dev_match_cands as MC
from _common import tee_output

from tenfold import extract
from tenfold.metrics import interval_f1

GAP = 100        # rows of quiet between the two series (1 s at a 10 ms hop: longer than any merge gap)


def _iou(a: tuple, b: tuple) -> float:
    return max(0, min(a[1], b[1]) - max(a[0], b[0])) / max(1, max(a[1], b[1]) - min(a[0], b[0]))


def joint_matches(h: extract.ExtractResult, X: np.ndarray, X2: np.ndarray, lo: int, hi: int,
                  overlapping: bool) -> list:
    quiet = X[np.argmin(np.linalg.norm(X - np.median(X, axis=0), axis=1))][None, :]
    off = len(X) + GAP
    hc = extract.find_instances(np.vstack([X, np.repeat(quiet, GAP, axis=0), X2]), lo, hi, random_state=0)
    s, e = hc.starts, hc.ends
    if overlapping and len(h):
        ref = list(zip(h.starts.tolist(), h.ends.tolist()))
        if not any(_iou((a, b), t) >= 0.5 for a, b in zip(s[s < len(X)], e[s < len(X)]) for t in ref):
            return []
    keep = s >= off
    return list(zip((s[keep] - off).tolist(), (e[keep] - off).tolist()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    with tee_output(args.out, f"dev_joint_match.py {' '.join(argv if argv is not None else sys.argv[1:])}"):
        P = [p for s in MC.DEV_SEED0S for p in MC.pairs(s, args.n, "eval_bands")]
        N = [p for s in MC.NULL_SEEDS for p in MC.null_pairs(s, args.n, "eval_bands")]
        f1: dict = {"match()": [], "joint": [], "joint, overlapping": []}
        empty: dict = {k: [] for k in f1}
        for X, truth, lo, hi, X2, truth2 in P:
            h = extract.find_instances(X, lo, hi, random_state=0)
            m = h.match(X2)
            f1["match()"].append(interval_f1(list(zip(m.starts.tolist(), m.ends.tolist())), truth2, 0.5))
            f1["joint"].append(interval_f1(joint_matches(h, X, X2, lo, hi, False), truth2, 0.5))
            f1["joint, overlapping"].append(interval_f1(joint_matches(h, X, X2, lo, hi, True), truth2, 0.5))
        for X, lo, hi, X2 in N:
            h = extract.find_instances(X, lo, hi, random_state=0)
            empty["match()"].append(len(h.match(X2)) == 0)
            empty["joint"].append(not joint_matches(h, X, X2, lo, hi, False))
            empty["joint, overlapping"].append(not joint_matches(h, X, X2, lo, hi, True))
        print(f"{len(P)} dev pairs, {len(N)} null pairs (eval_bands)")
        for k, v in f1.items():
            print(f"{k:20s} F1@.5 {np.mean(v):.3f}; null pairs nothing found {np.mean(empty[k]):.2f}")
        d = np.array(f1["joint"]) - np.array(f1["match()"])
        print(f"joint - match(): {d.mean():+.3f} (se {d.std(ddof=1) / np.sqrt(len(d)):.3f}), "
              f"{int((d > 0).sum())} better, {int((d < 0).sum())} worse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
